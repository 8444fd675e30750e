import { randomUUID } from "node:crypto";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, relative } from "node:path";
import { ProtocolError } from "../protocol/errors.js";
import type { ImportableSession } from "../protocol/history.js";
import { contentText } from "./message-text.js";

/**
 * Sessions of pi's terminal UI, in the server's user's ~/.pi/agent/sessions. Those files are the
 * user's: they are only read (never through a symlink, never outside that directory, never past a
 * size limit), and an import works on a copy.
 */

/** A history past this is not imported (nor read whole to be listed). */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
/** The listing reads this much of each file for its header and first message. */
const HEAD_BYTES = 64 * 1024;
const MAX_LISTED = 1000;
const MAX_DEPTH = 4;
const PREVIEW_CHARS = 200;

export function tuiSessionsDir(): string {
  return join(homedir(), ".pi", "agent", "sessions");
}

function within(path: string, dir: string): boolean {
  const rel = relative(dir, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel);
}

function withinOrSame(path: string, dir: string): boolean {
  return path === dir || within(path, dir);
}

export interface Header {
  id: string;
  cwd: string;
  timestamp?: string;
  version?: number;
}

function parseHeader(line: string): Header | undefined {
  try {
    const h = JSON.parse(line) as Record<string, unknown>;
    if (h.type !== "session" || typeof h.id !== "string" || typeof h.cwd !== "string") return undefined;
    return {
      id: h.id,
      cwd: h.cwd,
      ...(typeof h.timestamp === "string" && { timestamp: h.timestamp }),
      ...(typeof h.version === "number" && { version: h.version }),
    };
  } catch {
    return undefined;
  }
}

function firstUserMessage(lines: string[]): string | null {
  for (const line of lines) {
    if (!line.includes('"user"')) continue;
    try {
      const e = JSON.parse(line) as { type?: unknown; message?: { role?: unknown; content?: unknown } };
      if (e.type === "message" && e.message?.role === "user") {
        const text = contentText(e.message.content).trim();
        return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text;
      }
    } catch {
      // a line cut by the read limit, or one pi would skip too
    }
  }
  return null;
}

function iso(value: string | undefined): string | null {
  const t = value === undefined ? Number.NaN : Date.parse(value);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

function readPrefix(file: string, bytes: number): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Registered repos by real path, to tell which one a session's cwd belongs to. */
export type RepoRoots = Array<{ id: string; realPath: string }>;

/** The registered repo whose real path holds `cwd` (the deepest one, when repos nest). */
export function repoOf(cwd: string, roots: RepoRoots): string | null {
  let real: string;
  try {
    real = realpathSync(cwd);
  } catch {
    return null;
  }
  let best: { id: string; realPath: string } | undefined;
  for (const r of roots) {
    if (withinOrSame(real, r.realPath) && (!best || r.realPath.length > best.realPath.length)) best = r;
  }
  return best?.id ?? null;
}

/** Walks the sessions dir without following symlinks; newest first. */
export function listImportable(roots: RepoRoots): { sessions: ImportableSession[]; truncated: boolean } {
  const dir = tuiSessionsDir();
  const files: Array<{ path: string; mtimeMs: number; size: number }> = [];
  let truncated = false;
  const walk = (d: string, depth: number): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const name of names) {
      if (files.length >= MAX_LISTED) {
        truncated = true;
        return;
      }
      const path = join(d, name);
      const st = lstatSync(path, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory() && depth < MAX_DEPTH) walk(path, depth + 1);
      else if (st.isFile() && name.endsWith(".jsonl"))
        files.push({ path, mtimeMs: st.mtimeMs, size: st.size });
    }
  };
  const top = lstatSync(dir, { throwIfNoEntry: false });
  if (top?.isDirectory()) walk(dir, 1);
  const sessions: ImportableSession[] = [];
  for (const f of files) {
    let prefix: string;
    try {
      prefix = readPrefix(f.path, HEAD_BYTES);
    } catch {
      continue;
    }
    const lines = prefix.split("\n");
    const header = parseHeader(lines[0] ?? "");
    const base = {
      path: f.path,
      modifiedAt: new Date(f.mtimeMs).toISOString(),
      size: f.size,
    };
    if (!header) {
      sessions.push({
        ...base,
        piSessionId: "",
        cwd: "",
        repoId: null,
        firstMessage: null,
        createdAt: null,
        importable: false,
        reason: "not a pi session file (its first line is not a session header)",
      });
      continue;
    }
    const repoId = repoOf(header.cwd, roots);
    const reason =
      f.size > MAX_IMPORT_BYTES
        ? `larger than ${MAX_IMPORT_BYTES / (1024 * 1024)} MiB`
        : repoId === null
          ? `no registered repo holds ${header.cwd}`
          : undefined;
    sessions.push({
      ...base,
      piSessionId: header.id,
      cwd: header.cwd,
      repoId,
      firstMessage: firstUserMessage(lines.slice(1)),
      createdAt: iso(header.timestamp),
      importable: reason === undefined,
      ...(reason !== undefined && { reason }),
    });
  }
  sessions.sort((a, b) => b.modifiedAt.localeCompare(a.modifiedAt));
  return { sessions, truncated };
}

/** A TUI session file as read for an import: its header and the lines pi can read. */
export interface TuiSession {
  path: string;
  header: Header;
  entries: string[];
  /** The last model the session used ("provider/modelId"), and the name the user gave it. */
  model: string | undefined;
  name: string | undefined;
}

function refuse(message: string, reason: string): ProtocolError {
  return new ProtocolError("forbidden", message, { reason });
}

/**
 * Reads the file at `path` for an import, or refuses it: a path that leaves ~/.pi/agent/sessions
 * (also through a symlinked directory), a symlink, something not a regular .jsonl file, a file past
 * MAX_IMPORT_BYTES, one whose first line is not pi's session header.
 */
export function readTuiSession(path: string): TuiSession {
  if (!isAbsolute(path))
    throw new ProtocolError("invalid_request", "path must be absolute (sessions.importable lists them)");
  const dir = tuiSessionsDir();
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    throw new ProtocolError("not_found", `there is no ${dir}`);
  }
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) throw new ProtocolError("not_found", `no file ${path}`);
  if (st.isSymbolicLink()) throw refuse(`${path} is a symlink; only pi's own files are imported`, "symlink");
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new ProtocolError("not_found", `no file ${path}`);
  }
  if (!within(real, root)) throw refuse(`${path} is not inside ${dir}`, "outside_sessions_dir");
  if (!st.isFile() || !real.endsWith(".jsonl")) {
    throw new ProtocolError("invalid_request", `${path} is not a pi session file (.jsonl)`, {
      reason: "not_pi",
    });
  }
  const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW);
  let text: string;
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_IMPORT_BYTES) {
      throw new ProtocolError(
        "limit_exceeded",
        `${path} is ${size} bytes; at most ${MAX_IMPORT_BYTES} are imported`,
        { reason: "too_large", maxBytes: MAX_IMPORT_BYTES },
      );
    }
    const buf = Buffer.alloc(size);
    let n = 0;
    while (n < size) {
      const r = readSync(fd, buf, n, size - n, n);
      if (r === 0) break;
      n += r;
    }
    text = buf.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
  const lines = text.split("\n").filter((l) => l.trim().length > 0);
  const header = parseHeader(lines[0] ?? "");
  if (!header) {
    throw new ProtocolError("invalid_request", `${path} is not a pi session file: no session header`, {
      reason: "not_pi",
    });
  }
  const entries: string[] = [];
  let model: string | undefined;
  let name: string | undefined;
  let messages = 0;
  for (const line of lines.slice(1)) {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue; // pi skips a line it cannot read (a write cut short) the same way
    }
    if (typeof e !== "object" || e === null || typeof e.type !== "string") continue;
    entries.push(line);
    if (e.type === "message") {
      messages++;
      const m = e.message as { role?: unknown; provider?: unknown; model?: unknown } | undefined;
      if (m?.role === "assistant" && typeof m.provider === "string" && typeof m.model === "string")
        model = `${m.provider}/${m.model}`;
    } else if (e.type === "model_change" && typeof e.provider === "string" && typeof e.modelId === "string") {
      model = `${e.provider}/${e.modelId}`;
    } else if (e.type === "session_info") {
      name = typeof e.name === "string" && e.name.trim() ? e.name.trim() : undefined;
    }
  }
  if (messages === 0) {
    throw new ProtocolError("invalid_request", `${path} holds no messages`, { reason: "empty" });
  }
  return { path: real, header, entries, model, name };
}

/** The imported history, written as the new session's file: a header of its own, then pi's entries as they were. */
export function writeImportedHistory(session: TuiSession, file: string, worktree: string): void {
  const header = {
    type: "session",
    ...(session.header.version !== undefined && { version: session.header.version }),
    id: randomUUID(),
    timestamp: new Date().toISOString(),
    cwd: worktree,
    parentSession: session.path,
  };
  writeFileSync(file, `${[JSON.stringify(header), ...session.entries].join("\n")}\n`, { mode: 0o600 });
}
