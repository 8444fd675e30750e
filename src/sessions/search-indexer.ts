import { readFileSync, statSync } from "node:fs";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { Logger } from "pino";
import type { SearchDoc, SearchStore } from "../store/search.js";
import type { SessionsIndex } from "../store/sessions-index.js";
import type { Sdk } from "./pi.js";

type Entry = PiSdk.SessionEntry;

/**
 * What search sees of a pi entry: the text blocks of user and assistant messages. Thinking,
 * tool calls and tool results are left out (tool output is file contents and logs, which would
 * drown what was said).
 */
export function docOf(entry: Entry): SearchDoc | undefined {
  if (entry.type !== "message") return undefined;
  const m = entry.message as { role?: string; content?: unknown; timestamp?: unknown };
  if (m.role !== "user" && m.role !== "assistant") return undefined;
  let text = "";
  if (typeof m.content === "string") text = m.content;
  else if (Array.isArray(m.content)) {
    text = m.content
      .map((c: { type?: string; text?: unknown }) =>
        c.type === "text" && typeof c.text === "string" ? c.text : "",
      )
      .filter((t) => t !== "")
      .join("\n");
  }
  if (text.trim() === "") return undefined;
  const at = typeof m.timestamp === "number" ? m.timestamp : Date.parse(entry.timestamp) || 0;
  return { entryId: entry.id, role: m.role, at, text };
}

/** Indexes the entries of a session not indexed yet (pi's entries only ever grow). */
export function indexEntries(
  store: SearchStore,
  sessionId: string,
  entries: readonly Entry[],
  fileSize = -1,
): void {
  const done = store.progress(sessionId)?.entries ?? 0;
  if (entries.length <= done && fileSize === -1) return;
  const docs = entries.slice(done).flatMap((e) => docOf(e) ?? []);
  store.add(sessionId, docs, entries.length, fileSize);
}

/** After a turn: the session's entries in memory, and the size of the file pi wrote them to. */
export function indexLive(
  store: SearchStore,
  sessionId: string,
  entries: readonly Entry[],
  file: string,
): void {
  let size = -1;
  try {
    size = statSync(file).size;
  } catch {
    // not written yet: the next start reads it again
  }
  indexEntries(store, sessionId, entries, size);
}

/** Reads a session's pi file with pi's own parser (older formats migrated) and indexes what is new. */
function indexFile(sdk: Sdk, store: SearchStore, sessionId: string, file: string): void {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return; // never written (no turn yet) or gone
  }
  if (store.progress(sessionId)?.fileSize === size) return;
  const entries = sdk.parseSessionEntries(readFileSync(file, "utf8"));
  sdk.migrateSessionEntries(entries);
  indexEntries(
    store,
    sessionId,
    entries.filter((e): e is Entry => e.type !== "session"),
    size,
  );
}

/**
 * Brings the index up to date with every session's pi file, one session per event-loop turn, so a
 * data dir with thousands of sessions starts at once and is searchable shortly after. Resolves
 * with the number of sessions looked at; stop() ends it early (shutdown).
 */
export function backfillSearch(
  sdk: Sdk,
  store: SearchStore,
  index: Pick<SessionsIndex, "list">,
  log: Logger,
): { done: Promise<number>; stop(): void } {
  let stopped = false;
  const done = (async () => {
    // Oldest first: the index's row ids then grow with time, which search's ranking window relies on.
    const sessions = index.list().reverse();
    let n = 0;
    for (const s of sessions) {
      if (stopped) break;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (stopped) break;
      try {
        indexFile(sdk, store, s.id, s.piSessionFile);
      } catch (err) {
        log.warn({ err, sessionId: s.id }, "could not index the session for search");
      }
      n++;
    }
    return n;
  })();
  return {
    done,
    stop: () => {
      stopped = true;
    },
  };
}
