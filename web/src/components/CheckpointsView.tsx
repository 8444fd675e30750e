import { useEffect, useRef, useState } from "preact/hooks";
import type { Checkpoint } from "../../../src/protocol/history.js";
import type { ResultOf } from "../../../src/protocol/methods.js";
import { explainError } from "../errors.js";
import { go } from "../router.js";
import { connection, refreshLists, sessions } from "../store.js";
import { ErrorText } from "./ErrorText.js";

type Revert = ResultOf<"session.revert">;

function when(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** The commits the server made after each turn that changed the worktree, each one a place to go back to. */
export function CheckpointsView({ sessionId }: { sessionId: string }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const info = sessions.value.find((s) => s.id === sessionId);
  const [list, setList] = useState<{ checkpoints: Checkpoint[]; enabled: boolean } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [asking, setAsking] = useState<number | undefined>();
  const [conversation, setConversation] = useState(false);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState<string | undefined>();
  const confirmRef = useRef<HTMLDivElement>(null);
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);

  async function load() {
    if (!conn) return;
    setError(undefined);
    try {
      setList(await conn.request("session.checkpoints", { sessionId }));
    } catch (err) {
      setError(explainError(err, "Could not load the checkpoints"));
    }
  }

  useEffect(() => {
    if (!connected) return;
    void load();
    if (!info) void refreshLists();
  }, [connected, sessionId]);

  useEffect(() => {
    if (asking !== undefined) confirmRef.current?.focus();
  }, [asking]);

  async function revert(c: Checkpoint) {
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    try {
      const res: Revert = await conn.request("session.revert", {
        sessionId,
        checkpoint: c.id,
        ...(conversation ? { conversation: true } : {}),
      });
      setAsking(undefined);
      if (res.sessionId) {
        await refreshLists();
        go(`/s/${res.sessionId}`);
        return;
      }
      setDone(
        `The worktree is back at turn ${c.turn} (commit ${res.commit.slice(0, 7)})` +
          (res.saved ? `; the changes since were saved first in commit ${res.saved.slice(0, 7)}.` : "."),
      );
      await load();
    } catch (err) {
      setError(explainError(err, "Could not revert"));
    } finally {
      setBusy(false);
    }
  }

  const items = list ? list.checkpoints.slice().reverse() : [];
  return (
    <section class="checkpoints">
      <div class="chat-head">
        <a href={`#/s/${sessionId}`} class="back">
          <span aria-hidden="true">‹</span> Chat
        </a>
        <h1 tabIndex={-1}>Checkpoints</h1>
        <button type="button" onClick={() => void load()} disabled={!connected}>
          Refresh
        </button>
      </div>
      <p class="muted small">
        {info?.name ?? sessionId}: the worktree as each turn that changed it left it, newest first.
      </p>
      {list && !list.enabled ? (
        <p class="muted small" role="status">
          Checkpoints are turned off on this server (config <code>checkpoints.enabled</code>).
        </p>
      ) : null}
      <ErrorText error={error} />
      {done ? <p role="status">{done}</p> : null}
      {list?.checkpoints.length === 0 ? (
        <p class="empty-state">
          No checkpoints yet: one is made at the end of every turn that changes files.
        </p>
      ) : null}
      <ol class="sessions" reversed>
        {items.map((c) => (
          <li key={c.id} class="card">
            <p class="title">
              Turn {c.turn}: {c.message}
            </p>
            <p class="meta muted">
              {when(c.createdAt)} · {c.filesChanged} {c.filesChanged === 1 ? "file" : "files"} ·{" "}
              <code>{c.commit.slice(0, 7)}</code>
            </p>
            {c.files.length > 0 ? (
              <details>
                <summary>Files</summary>
                <ul class="small">
                  {c.files.map((f) => (
                    <li key={f}>
                      <code>{f}</code>
                    </li>
                  ))}
                </ul>
              </details>
            ) : null}
            {asking === c.id ? (
              <div
                class="confirm"
                role="group"
                aria-labelledby={`cp-q-${c.id}`}
                tabIndex={-1}
                ref={confirmRef}
              >
                <p id={`cp-q-${c.id}`}>
                  Put the worktree back to turn {c.turn}? Changes made since are committed first, so nothing
                  is lost.
                </p>
                <label class="choice">
                  <input
                    type="checkbox"
                    checked={conversation}
                    onChange={(e) => setConversation(e.currentTarget.checked)}
                  />
                  Also go back in the conversation (opens a new session at that turn)
                </label>
                <div class="row">
                  <button type="button" class="danger" disabled={busy} onClick={() => void revert(c)}>
                    {busy ? "Reverting…" : "Revert"}
                  </button>
                  <button type="button" onClick={() => setAsking(undefined)}>
                    Cancel
                  </button>
                </div>
              </div>
            ) : (
              <button
                type="button"
                disabled={!connected || busy}
                onClick={() => {
                  setDone(undefined);
                  setAsking(c.id);
                }}
              >
                Revert to here<span class="sr-only">: turn {c.turn}</span>
              </button>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}
