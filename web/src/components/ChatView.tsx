import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { go } from "../router.js";
import { closeStream, connection, openStream, refreshLists, sessions, waitingFor } from "../store.js";
import { ApprovalCard } from "./ApprovalCard.js";
import { ChatItemView } from "./ChatItems.js";
import { Composer } from "./Composer.js";
import { SessionSettings } from "./SessionSettings.js";

export function ChatView({ sessionId }: { sessionId: string }) {
  const [stream] = useState(() => openStream(sessionId));
  useEffect(() => () => closeStream(sessionId), [sessionId]);
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const info = sessions.value.find((s) => s.id === sessionId);
  const items = stream.items.value;
  const pending = waitingFor(sessionId);
  const status = pending.length > 0 ? "waiting for approval" : stream.status.value;

  // Follow the stream while the reader is at the bottom; leave them be once they scroll up.
  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [items, pending.length]);

  async function remove() {
    if (!confirm("Delete this session? Uncommitted changes are committed to its branch first.")) return;
    try {
      await connection.value?.request("session.delete", { sessionId });
      await refreshLists();
      go("/");
    } catch (err) {
      stream.notice(`Could not delete: ${(err as Error).message}`);
    }
  }

  return (
    <section class="chat">
      <div class="chat-head">
        <a href="#/" class="back">
          <span aria-hidden="true">‹</span> Sessions
        </a>
        <h1 tabIndex={-1}>{info?.name ?? sessionId}</h1>
        <span
          class={`status st-${pending.length ? "waiting" : stream.status.value}`}
          data-testid="session-status"
        >
          {status}
        </span>
        <a href={`#/s/${sessionId}/changes`} class="button changes-link">
          Changes
        </a>
      </div>
      <SessionSettings sessionId={sessionId} onDelete={() => void remove()} />
      <div
        class="messages"
        ref={list}
        role="log"
        aria-live="polite"
        aria-label="Conversation"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
        }}
      >
        {!stream.loaded.value ? <p class="muted">Loading the conversation…</p> : null}
        {items.map((item) => (
          <ChatItemView key={item.key} item={item} />
        ))}
        {pending.map((req) => (
          <ApprovalCard key={req.id} req={req} />
        ))}
      </div>
      <Composer stream={stream} />
    </section>
  );
}
