import { useEffect, useState } from "preact/hooks";
import type { ImportableSession } from "../../../src/protocol/history.js";
import { explainError } from "../errors.js";
import { go } from "../router.js";
import { connection, refreshLists } from "../store.js";
import { ErrorText } from "./ErrorText.js";

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Sessions started in pi's terminal UI on the server, each adopted with its history on Import. */
export function ImportScreen() {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [list, setList] = useState<{ sessions: ImportableSession[]; truncated: boolean } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);

  async function load() {
    if (!conn) return;
    setError(undefined);
    try {
      setList(await conn.request("sessions.importable", {}));
    } catch (err) {
      setError(explainError(err, "Could not list the terminal sessions"));
    }
  }

  useEffect(() => {
    if (connected) void load();
  }, [conn, connected]);

  async function adopt(s: ImportableSession) {
    if (!conn) return;
    setBusy(s.path);
    setError(undefined);
    try {
      const res = await conn.request("session.import", { path: s.path });
      await refreshLists();
      go(`/s/${res.sessionId}`);
    } catch (err) {
      setError(explainError(err, "Could not import the session"));
    } finally {
      setBusy(undefined);
    }
  }

  return (
    <section>
      <div class="chat-head">
        <a href="#/" class="back">
          <span aria-hidden="true">‹</span> Sessions
        </a>
        <h1 tabIndex={-1}>Import from the terminal</h1>
        <button type="button" onClick={() => void load()} disabled={!connected}>
          Refresh
        </button>
      </div>
      <p class="muted small">
        Sessions of pi's terminal UI on the server (<code>~/.pi/agent/sessions</code>). Importing copies the
        history into a new session on a fresh worktree of the repository it ran in; the file stays as it is.
      </p>
      <ErrorText error={error} />
      {list === undefined && !error ? <p class="muted">Loading…</p> : null}
      {list?.sessions.length === 0 ? (
        <p class="empty-state" role="status">
          No terminal sessions found. Sessions you start with <code>pi</code> on the server appear here.
        </p>
      ) : null}
      {list?.truncated ? (
        <p class="muted small" role="status">
          Only the newest 1,000 files are listed.
        </p>
      ) : null}
      <ul class="sessions importable">
        {list?.sessions.map((s) => {
          const title = s.firstMessage ?? "(no message)";
          return (
            <li key={s.path} class="card">
              <p class="title">{title}</p>
              <p class="meta">
                <span class="muted">{when(s.modifiedAt)}</span>
                {s.repoId ? <span class="status">{s.repoId}</span> : null}
              </p>
              <p class="muted small cwd">
                <span class="sr-only">Directory: </span>
                <code>{s.cwd}</code>
              </p>
              {s.importable ? (
                <button
                  type="button"
                  class="primary"
                  disabled={!connected || busy !== undefined}
                  onClick={() => void adopt(s)}
                >
                  {busy === s.path ? "Importing…" : "Import"}
                  <span class="sr-only">: {title}</span>
                </button>
              ) : (
                <p class="muted small">Cannot be imported: {s.reason ?? "unknown reason"}.</p>
              )}
            </li>
          );
        })}
      </ul>
    </section>
  );
}
