import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../src/store/db.js";
import { type SearchDoc, SearchStore } from "../../src/store/search.js";
import { SessionsIndex } from "../../src/store/sessions-index.js";
import { type Dist, dist, now } from "../lib/common.js";

export interface SearchBench {
  sessions: number;
  messages: number;
  /** Seconds to index every message (one transaction per session, as turns do). */
  fillSeconds: number;
  dbMiB: number;
  queries: { kind: string; query: string; hits: number; ms: Dist }[];
}

const MESSAGES_PER_SESSION = 20;
const VOCABULARY = 5000;
const QUERY_REPS = 100;

/** Deterministic pseudo-random numbers, so every run indexes the same text. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function word(i: number): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let w = "";
  for (let n = i + 26 * 27; n > 0; n = Math.floor(n / 26)) w += letters[n % 26];
  return w;
}

/**
 * sessions.search's query on a state.db holding `sessions` sessions of 20 messages each (a
 * Zipf-like vocabulary of 5,000 words, 10–80 words a message, one code word unique to each
 * session): the fill, then p50/p99 of a rare word, two common words, a phrase and a prefix.
 */
export function measureSearch(sessions: number): SearchBench {
  const dir = mkdtempSync(join(tmpdir(), "pi-server-bench-search-"));
  try {
    const db = openDb(join(dir, "state.db"));
    const index = new SessionsIndex(db);
    const store = new SearchStore(db);
    const rand = rng(42);
    // Zipf-like: low word numbers are far more frequent.
    const pick = (): string => word(Math.floor(VOCABULARY ** rand()) - 1);
    const t0 = now();
    for (let s = 0; s < sessions; s++) {
      const id = `s${s}`;
      index.insert({
        id,
        name: `session ${s}`,
        repoId: null,
        worktree: join(dir, id),
        branch: null,
        model: "bench/model",
        thinkingLevel: "off",
        piSessionFile: join(dir, id, "session.jsonl"),
        createdAt: s,
        lastActivity: s,
        status: "idle",
        lastSeq: 0,
        seqReserved: 0,
        mode: "code",
        systemPrompt: null,
      });
      const docs: SearchDoc[] = [];
      for (let m = 0; m < MESSAGES_PER_SESSION; m++) {
        const words = Array.from({ length: 10 + Math.floor(rand() * 70) }, pick);
        if (m === 7) words.push(`codeword${s}`);
        docs.push({
          entryId: `e${m}`,
          role: m % 2 ? "assistant" : "user",
          at: s * 100 + m,
          text: words.join(" "),
        });
      }
      store.add(id, docs, MESSAGES_PER_SESSION);
    }
    const fillSeconds = (now() - t0) / 1000;
    db.pragma("wal_checkpoint(TRUNCATE)");
    const dbMiB =
      ((db.pragma("page_count", { simple: true }) as number) *
        (db.pragma("page_size", { simple: true }) as number)) /
      2 ** 20;

    const kinds: { kind: string; make: () => string }[] = [
      { kind: "rare word (one session)", make: () => `codeword${Math.floor(rand() * sessions)}` },
      {
        kind: "two common words",
        make: () => `${word(Math.floor(rand() * 20))} ${word(20 + Math.floor(rand() * 50))}`,
      },
      {
        kind: "phrase of two mid-frequency words",
        make: () => `"${word(100 + Math.floor(rand() * 100))} ${word(100 + Math.floor(rand() * 100))}"`,
      },
      { kind: "prefix (as typed)", make: () => word(300 + Math.floor(rand() * 300)).slice(0, 3) },
    ];
    const queries = kinds.map(({ kind, make }) => {
      const times: number[] = [];
      let hits = 0;
      let query = "";
      for (let i = 0; i < QUERY_REPS; i++) {
        query = make();
        const t = now();
        hits += store.search(query, 20).length;
        times.push(now() - t);
      }
      return { kind, query, hits: Math.round(hits / QUERY_REPS), ms: dist(times) };
    });
    db.close();
    return { sessions, messages: sessions * MESSAGES_PER_SESSION, fillSeconds, dbMiB, queries };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
