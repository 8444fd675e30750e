import type { Db } from "./db.js";

/** One message's searchable text. */
export interface SearchDoc {
  entryId: string;
  role: "user" | "assistant";
  /** The message's timestamp (ms since the epoch). */
  at: number;
  text: string;
}

export interface SearchHit {
  sessionId: string;
  sessionName: string;
  entryId: string;
  role: "user" | "assistant";
  at: number;
  /** A few words around the match, without markers. */
  snippet: string;
  /** [start, end) UTF-16 offsets into snippet of every matched term. */
  highlights: [number, number][];
}

/** The query could not be turned into a search (no words in it). */
export class SearchQueryError extends Error {
  override name = "SearchQueryError";
}

// Private-use markers around matches in FTS5's snippet(); indexed text never contains them.
const OPEN = "\u{E000}";
const CLOSE = "\u{E001}";
const MARKERS = /[\u{E000}\u{E001}]/gu;
const SNIPPET_TOKENS = 16;
/** How many of the newest matches are ranked (see search()). */
const RANKED_WINDOW = 500;
/** Text past this many characters of one message is not indexed (a pasted log, say). */
const MAX_DOC_CHARS = 64 * 1024;

/**
 * A user's query as an FTS5 expression that can never be a syntax error: "quoted text" is a
 * phrase, every other word is a term (FTS5's operators and punctuation are just words), all of
 * them must match, and the last bare word also matches as a prefix (search as you type).
 */
export function ftsQuery(query: string): string {
  const parts: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  let lastBare = -1;
  // An unbalanced quote is a literal character, not an error.
  const balanced = (query.match(/"/g)?.length ?? 0) % 2 === 0;
  const text = balanced ? query : query.replace(/"/g, " ");
  while ((m = re.exec(text)) !== null) {
    const phrase = m[1] ?? m[2] ?? "";
    const words = phrase.replace(/"/g, " ").trim();
    if (words === "" || !/[\p{L}\p{N}]/u.test(words)) continue;
    parts.push(`"${words}"`);
    lastBare = m[2] !== undefined ? parts.length - 1 : -1;
  }
  if (parts.length === 0) throw new SearchQueryError("the query has no words to search for");
  if (lastBare >= 0) parts[lastBare] = `${parts[lastBare]}*`;
  return parts.join(" ");
}

function highlightsOf(marked: string): { snippet: string; highlights: [number, number][] } {
  const highlights: [number, number][] = [];
  let snippet = "";
  let start = -1;
  for (const ch of marked) {
    if (ch === OPEN) start = snippet.length;
    else if (ch === CLOSE) {
      if (start >= 0) highlights.push([start, snippet.length]);
      start = -1;
    } else snippet += ch;
  }
  return { snippet, highlights };
}

interface HitRow {
  session_id: string;
  name: string;
  entry_id: string;
  role: "user" | "assistant";
  at: number;
  marked: string;
}

/** Full-text index of the message text of every session (state.db, FTS5). */
export class SearchStore {
  constructor(private readonly db: Db) {}

  /** Entries of the session already looked at, and the pi file's size when that was read from it. */
  progress(sessionId: string): { entries: number; fileSize: number } | undefined {
    const row = this.db
      .prepare("SELECT entries, file_size FROM search_progress WHERE session_id = ?")
      .get(sessionId) as { entries: number; file_size: number } | undefined;
    return row && { entries: row.entries, fileSize: row.file_size };
  }

  /**
   * Adds the documents of entries [.., entries) and records that many as indexed; rows already
   * there are kept (indexing the same entry twice is harmless). A session no longer in the
   * sessions table is not indexed.
   */
  add(sessionId: string, docs: SearchDoc[], entries: number, fileSize = -1): void {
    const insert = this.db.prepare(
      `INSERT OR IGNORE INTO search_docs (session_id, entry_id, role, at, text)
       SELECT @sessionId, @entryId, @role, @at, @text WHERE EXISTS (SELECT 1 FROM sessions WHERE id = @sessionId)`,
    );
    const progress = this.db.prepare(
      `INSERT INTO search_progress (session_id, entries, file_size)
       SELECT @sessionId, @entries, @fileSize WHERE EXISTS (SELECT 1 FROM sessions WHERE id = @sessionId)
       ON CONFLICT (session_id) DO UPDATE SET entries = MAX(entries, excluded.entries), file_size = excluded.file_size`,
    );
    this.db.transaction(() => {
      for (const d of docs) {
        const text = d.text.replace(MARKERS, " ").slice(0, MAX_DOC_CHARS);
        if (text.trim() === "") continue;
        insert.run({ sessionId, entryId: d.entryId, role: d.role, at: d.at, text });
      }
      progress.run({ sessionId, entries, fileSize });
    })();
  }

  /**
   * Best matches first (FTS5's bm25), newest first among equals. Ranking reads every match, so a
   * word in half of all messages would cost as much as the whole index: only the newest
   * RANKED_WINDOW matches are ranked (rowids grow with time), and snippets are made for the page.
   */
  search(query: string, limit: number): SearchHit[] {
    const match = ftsQuery(query);
    const top = this.db
      .prepare(
        `SELECT id FROM (
           SELECT rowid AS id, bm25(search_fts) AS score FROM search_fts WHERE search_fts MATCH ?
           ORDER BY rowid DESC LIMIT ${RANKED_WINDOW}
         ) ORDER BY score, id DESC LIMIT ?`,
      )
      .all(match, limit) as { id: number }[];
    if (top.length === 0) return [];
    const ids = top.map((r) => r.id);
    const rows = this.db
      .prepare(
        `SELECT search_fts.rowid AS id, d.session_id, s.name, d.entry_id, d.role, d.at,
           snippet(search_fts, 0, '${OPEN}', '${CLOSE}', '…', ${SNIPPET_TOKENS}) AS marked
         FROM search_fts JOIN search_docs d ON d.id = search_fts.rowid JOIN sessions s ON s.id = d.session_id
         WHERE search_fts MATCH ? AND search_fts.rowid IN (${ids.map(() => "?").join(",")})`,
      )
      .all(match, ...ids) as (HitRow & { id: number })[];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.flatMap((id) => {
      const r = byId.get(id);
      if (!r) return [];
      return [
        {
          sessionId: r.session_id,
          sessionName: r.name,
          entryId: r.entry_id,
          role: r.role,
          at: r.at,
          ...highlightsOf(r.marked),
        },
      ];
    });
  }
}
