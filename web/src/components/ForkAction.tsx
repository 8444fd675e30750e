import { useEffect, useState } from "preact/hooks";
import type { ChatItem } from "../chat-items.js";
import type { ForkPoint } from "../../../src/protocol/history.js";
import { explainError } from "../errors.js";
import { go } from "../router.js";
import type { SessionStream } from "../session-stream.js";
import { connection, refreshLists, setDraft } from "../store.js";

/**
 * The fork points (get_fork_points) matched to the chat's user messages: the n-th user message of
 * the log is the n-th point when their texts agree (a point's text is cut at 200 characters).
 * Asked again whenever the session is idle with another number of user messages.
 */
export function useForkPoints(stream: SessionStream): Map<string, ForkPoint> {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const items = stream.items.value;
  const users = items.filter((i): i is Extract<ChatItem, { kind: "user" }> => i.kind === "user");
  const idle = stream.status.value !== "running" && stream.loaded.value;
  const [points, setPoints] = useState<ForkPoint[]>([]);

  useEffect(() => {
    if (!conn || !connected || !idle) return;
    let stale = false;
    conn.request("get_fork_points", { sessionId: stream.sessionId }).then(
      (r) => !stale && setPoints(r.points),
      () => !stale && setPoints([]),
    );
    return () => {
      stale = true;
    };
  }, [conn, connected, idle, users.length, stream.sessionId]);

  const map = new Map<string, ForkPoint>();
  users.forEach((u, i) => {
    const p = points[i];
    if (p && (p.truncated ? u.text.startsWith(p.text) : u.text === p.text)) map.set(u.key, p);
  });
  return map;
}

/** "Fork from here" under a user message: a new session with the conversation before it, the message ready to edit. */
export function ForkButton({
  sessionId,
  point,
  stream,
}: {
  sessionId: string;
  point: ForkPoint;
  stream: SessionStream;
}) {
  const [busy, setBusy] = useState(false);
  const running = stream.status.value === "running";

  async function fork() {
    const conn = connection.value;
    if (!conn) return;
    setBusy(true);
    try {
      const res = await conn.request("session.fork", { sessionId, entryId: point.entryId });
      if (res.text !== undefined) setDraft(res.sessionId, res.text);
      await refreshLists();
      go(`/s/${res.sessionId}`);
    } catch (err) {
      stream.notice(explainError(err, "Could not fork"));
    } finally {
      setBusy(false);
    }
  }

  const preview = point.text.length > 40 ? `${point.text.slice(0, 40)}…` : point.text;
  return (
    <div class="msg-actions">
      <button type="button" class="link" disabled={busy || running} onClick={() => void fork()}>
        {busy ? "Forking…" : "Fork from here"}
        <span class="sr-only">: {preview}</span>
      </button>
    </div>
  );
}
