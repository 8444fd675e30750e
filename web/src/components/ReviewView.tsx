import { useEffect, useState } from "preact/hooks";
import type { ResultOf } from "../../../src/protocol/methods.js";
import { chunkFor, parseChunk, splitPatch, type DiffLine } from "../diff.js";
import { connection, refreshLists, sessions } from "../store.js";
import { ErrorText } from "./ErrorText.js";

type Diff = ResultOf<"session.diff">;
type DiffFile = Diff["files"][number];
type FileResult = ResultOf<"session.file">;

/** Lines shown before a long file's diff is folded behind "Show all". */
const FOLD_LINES = 200;
const MAX_BYTES = 4 * 1024 * 1024;

/** A readable sentence for a failed request, by its protocol error code. */
function explain(err: unknown, what: string): string {
  const code = (err as { code?: string }).code;
  const msg = (err as Error).message;
  if (code === "not_found") return `${what}: not found. ${msg}`;
  if (code === "conflict") return `${what}: the worktree is not available (${msg}).`;
  if (code === "limit_exceeded") return `${what}: too large (${msg}).`;
  return `${what}: ${msg}`;
}

const STATUS_MARK: Record<DiffFile["status"], string> = {
  added: "A",
  modified: "M",
  deleted: "D",
  renamed: "R",
};

/** The session's changes since it started: a file list, each file's diff on tap, the file itself. */
export function ReviewView({ sessionId }: { sessionId: string }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const info = sessions.value.find((s) => s.id === sessionId);
  const [diff, setDiff] = useState<Diff | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(false);
  const [maxBytes, setMaxBytes] = useState<number | undefined>();
  // Loaded on its own: the app's focus move ran before this screen's heading existed.
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);

  async function load(bytes = maxBytes) {
    if (!conn) return;
    setLoading(true);
    setError(undefined);
    try {
      setDiff(await conn.request("session.diff", bytes ? { maxBytes: bytes } : {}, sessionId));
    } catch (err) {
      setError(explain(err, "Could not load the changes"));
    } finally {
      setLoading(false);
    }
  }

  useEffect(() => {
    if (!connected) return;
    void load();
    // Opened straight from a link: the session's name comes with the list.
    if (!info) void refreshLists();
  }, [connected, sessionId]);

  const parts = diff ? splitPatch(diff.diff) : new Map<string, string>();
  const adds = diff?.files.reduce((n, f) => n + f.additions, 0) ?? 0;
  const dels = diff?.files.reduce((n, f) => n + f.deletions, 0) ?? 0;

  return (
    <section class="review">
      <div class="chat-head">
        <a href={`#/s/${sessionId}`} class="back">
          <span aria-hidden="true">‹</span> Chat
        </a>
        <h1 tabIndex={-1}>Changes</h1>
        <button type="button" onClick={() => void load()} disabled={!connected || loading}>
          {loading ? "Loading…" : "Refresh"}
        </button>
      </div>
      <p class="muted small">
        {info?.name ?? sessionId}
        {diff
          ? diff.base
            ? ` · since ${diff.base.slice(0, 8)}`
            : " · every file is new (no base commit)"
          : ""}
      </p>
      {!connected && !diff ? <p class="muted">Waiting for the connection…</p> : null}
      <ErrorText error={error} />
      {diff?.truncated ? (
        <div class="truncated" role="status">
          <p>
            The diff is incomplete: the server cut it (at{" "}
            {((maxBytes ?? 1024 * 1024) / 1024 / 1024).toFixed(0)} MiB, or after 10,000 files). Some files
            below may have no diff.
          </p>
          {(maxBytes ?? 0) < MAX_BYTES ? (
            <button
              type="button"
              onClick={() => {
                setMaxBytes(MAX_BYTES);
                void load(MAX_BYTES);
              }}
            >
              Load up to 4 MiB
            </button>
          ) : null}
        </div>
      ) : null}
      {diff && diff.files.length === 0 ? <p class="muted">No changes yet.</p> : null}
      {diff && diff.files.length > 0 ? (
        <>
          <h2>
            {diff.files.length} file{diff.files.length === 1 ? "" : "s"} changed{" "}
            <span class="sr-only">
              , {adds} lines added, {dels} removed
            </span>
            <span aria-hidden="true">
              <span class="n-add">+{adds}</span> <span class="n-del">−{dels}</span>
            </span>
          </h2>
          <ul class="files" aria-label="Changed files">
            {diff.files.map((f) => (
              <FileEntry
                key={`${f.oldPath ?? ""}>${f.path}`}
                file={f}
                chunk={chunkFor(parts, f)}
                sessionId={sessionId}
              />
            ))}
          </ul>
        </>
      ) : null}
    </section>
  );
}

function FileEntry({ file, chunk, sessionId }: { file: DiffFile; chunk?: string; sessionId: string }) {
  const [open, setOpen] = useState(false);
  const id = `f-${file.path.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const counts = file.binary ? "binary" : `${file.additions} added, ${file.deletions} removed`;
  return (
    <li class={`file file-${file.status}`} data-path={file.path}>
      <button
        type="button"
        class="file-head"
        aria-expanded={open}
        aria-controls={id}
        aria-label={`${file.path}, ${file.status}${file.oldPath ? ` from ${file.oldPath}` : ""}, ${counts}`}
        onClick={() => setOpen(!open)}
      >
        <span class={`fstatus fs-${file.status}`} aria-hidden="true" title={file.status}>
          {STATUS_MARK[file.status]}
        </span>
        <span class="fpath">
          {file.oldPath ? <span class="muted">{file.oldPath} → </span> : null}
          {file.path}
        </span>
        <span class="fcounts" aria-hidden="true">
          {file.binary ? (
            <span class="muted">binary</span>
          ) : (
            <>
              <span class="n-add">+{file.additions}</span> <span class="n-del">−{file.deletions}</span>
            </>
          )}
        </span>
      </button>
      {open ? (
        <div id={id} class="file-body">
          <p class="fstatus-text small muted" data-testid="file-status">
            {file.status}
          </p>
          {chunk === undefined ? (
            <p class="muted">This file's diff is past the point where the server cut the patch.</p>
          ) : file.binary ? (
            <p class="muted">Binary file: no line diff.</p>
          ) : (
            <DiffBody lines={parseChunk(chunk)} path={file.path} />
          )}
          {file.status !== "deleted" ? <FilePeek sessionId={sessionId} path={file.path} /> : null}
        </div>
      ) : null}
    </li>
  );
}

function DiffBody({ lines, path }: { lines: DiffLine[]; path: string }) {
  const [all, setAll] = useState(false);
  const shown = all ? lines : lines.slice(0, FOLD_LINES);
  return (
    <>
      <div class="diffview" role="group" aria-label={`Diff of ${path}`}>
        {shown.map((l, i) => (
          <div key={i} class={`dl dl-${l.kind}`}>
            <span class="ln" aria-hidden="true">
              {l.old ?? ""}
            </span>
            <span class="ln" aria-hidden="true">
              {l.new ?? ""}
            </span>
            <span class="dt">
              <span class="sign">{l.kind === "add" ? "+" : l.kind === "del" ? "−" : " "}</span>
              <span class="sr-only">
                {l.kind === "add" ? "added: " : l.kind === "del" ? "removed: " : ""}
              </span>
              <span class="code">{l.text}</span>
            </span>
          </div>
        ))}
      </div>
      {shown.length < lines.length ? (
        <button type="button" class="link show-all" onClick={() => setAll(true)}>
          Show all {lines.length} lines ({lines.length - shown.length} more)
        </button>
      ) : null}
    </>
  );
}

function FilePeek({ sessionId, path }: { sessionId: string; path: string }) {
  const [file, setFile] = useState<FileResult | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  async function view() {
    const conn = connection.value;
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    try {
      setFile(await conn.request("session.file", { path }, sessionId));
    } catch (err) {
      setError(explain(err, `Could not open ${path}`));
    } finally {
      setBusy(false);
    }
  }

  if (!file)
    return (
      <>
        <button
          type="button"
          class="view-file"
          aria-label={`View file ${path}`}
          onClick={() => void view()}
          disabled={busy}
        >
          {busy ? "Opening…" : "View file"}
        </button>
        <ErrorText error={error} />
      </>
    );
  return (
    <div class="file-view">
      <div class="row between">
        <h3>{file.path}</h3>
        <button type="button" aria-label={`Hide file ${file.path}`} onClick={() => setFile(undefined)}>
          Hide file
        </button>
      </div>
      <p class="muted small">
        {file.size} bytes{file.truncated ? " — cut at 1 MiB, only the start is shown" : ""}
      </p>
      {file.encoding === "base64" ? (
        <p class="muted">Binary content, not shown.</p>
      ) : (
        <pre class="output" aria-label={`Content of ${file.path}`} tabIndex={0}>
          {file.content}
        </pre>
      )}
    </div>
  );
}
