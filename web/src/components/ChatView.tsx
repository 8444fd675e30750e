import { useEffect, useState } from "preact/hooks";
import type { ChatItem } from "../chat-items.js";
import { go } from "../router.js";
import { closeStream, connection, openStream, refreshLists, sessions, waitingFor } from "../store.js";
import { ApprovalCard } from "./ApprovalCard.js";
import { ChatItemView, prepareItem } from "./ChatItems.js";
import { Composer } from "./Composer.js";
import { ForkButton, useForkPoints } from "./ForkAction.js";
import { SessionSettings } from "./SessionSettings.js";
import { VirtualLog } from "./VirtualLog.js";

/** Heights to assume before an item was ever shown (a phone's width, folded outputs). */
function estimate(item: ChatItem): number {
  switch (item.kind) {
    case "user":
      return 64;
    case "assistant":
      return 72 + 22 * Math.min(40, Math.ceil(item.blocks.reduce((n, b) => n + b.text.length, 0) / 40));
    case "tool":
      return 110;
    case "notice":
      return 32;
  }
}

export function ChatView({ sessionId }: { sessionId: string }) {
  const [stream] = useState(() => openStream(sessionId));
  useEffect(() => () => closeStream(sessionId), [sessionId]);
  // Loaded on its own: the app's focus move ran before this screen's heading existed.
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);
  const info = sessions.value.find((s) => s.id === sessionId);
  const items = stream.items.value;
  const pending = waitingFor(sessionId);
  // Disconnected, the last status heard may no longer hold: it is shown as unknown, not as "idle".
  const online = connection.value?.state.value === "connected";
  const known = pending.length > 0 ? "waiting for approval" : stream.status.value;
  const status = online ? known : "status unknown";
  const forkPoints = useForkPoints(stream);
  const renderItem = (item: ChatItem) => {
    const point = item.kind === "user" ? forkPoints.get(item.key) : undefined;
    if (!point) return <ChatItemView item={item} />;
    return (
      <div class="user-turn">
        <ChatItemView item={item} />
        <ForkButton sessionId={sessionId} point={point} stream={stream} />
      </div>
    );
  };

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
        <span
          class={`status st-${!online ? "unknown" : pending.length ? "waiting" : stream.status.value}`}
          title={online ? undefined : `Last known: ${known}`}
          data-testid="session-status"
        >
          {status}
        </span>
        <a href={`#/s/${sessionId}/changes`} class="button changes-link">
          Changes
        </a>
        <SessionSettings sessionId={sessionId} onDelete={() => void remove()} />
        {/* One line, cut with an ellipsis: the list shows whole titles, the conversation needs the room. */}
        <h1 tabIndex={-1} title={info?.name ?? sessionId}>
          {info?.name ?? sessionId}
        </h1>
      </div>
      <VirtualLog
        pin=".approval"
        items={items}
        renderItem={renderItem}
        estimate={estimate}
        prepare={prepareItem}
        label="Conversation"
        before={!stream.loaded.value ? <p class="muted">Loading the conversation…</p> : null}
        after={pending.map((req) => (
          <ApprovalCard key={req.id} req={req} />
        ))}
      />
      <Composer stream={stream} />
    </section>
  );
}
