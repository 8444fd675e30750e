/**
 * One session's live view: the chat items, its status and the seq bookkeeping that makes a
 * reconnect lose and duplicate nothing (docs/protocol.md, section 7).
 */
import { signal } from "@preact/signals";
import type { AnyEvent } from "../../src/client/browser.js";
import type { ToolCallDecision } from "../../src/protocol/permissions.js";
import {
  answerNote,
  applyDelta,
  applyMessage,
  itemsFromMessages,
  resultText,
  startAssistant,
  upsertTool,
  withDecisions,
  withStreaming,
  type ChatItem,
  type PiMessage,
} from "./chat-items.js";

export type Status = "idle" | "running" | "interrupted";

export class SessionStream {
  readonly items = signal<ChatItem[]>([]);
  readonly status = signal<Status>("idle");
  readonly loaded = signal(false);
  readonly queued = signal<{ steering: string[]; followUp: string[] }>({ steering: [], followUp: [] });
  /** The highest seq applied; undefined until the first attach. */
  lastSeq: number | undefined;
  epoch: string | undefined;
  /** Events that arrive while get_messages is on its way are applied after it. */
  private buffer: AnyEvent[] | undefined;
  private notices = 0;

  constructor(readonly sessionId: string) {}

  /** Replaces the view with the server's history; events from `seq` on are then applied live. */
  beginReload(): void {
    this.buffer = [];
  }

  /**
   * `history.seq` is where get_messages stood: the buffered events up to it are already in its
   * messages (and in `streaming`, the message being written), so only later ones are applied.
   */
  finishReload(
    history: {
      messages: PiMessage[];
      streaming?: PiMessage;
      seq?: number;
      decisions?: Record<string, ToolCallDecision>;
    },
    seq: number,
    epoch: string,
  ): void {
    const items = itemsFromMessages(history.messages);
    const all = history.streaming ? withStreaming(items, history.streaming) : items;
    this.items.value = withDecisions(all, history.decisions ?? {});
    this.lastSeq = Math.max(seq, history.seq ?? seq);
    this.epoch = epoch;
    const pending = this.buffer ?? [];
    this.buffer = undefined;
    for (const e of pending) this.handle(e);
    this.loaded.value = true;
  }

  notice(text: string, tone: "info" | "error" = "error"): void {
    this.items.value = [...this.items.value, { kind: "notice", key: `notice:${this.notices++}`, text, tone }];
  }

  handle(e: AnyEvent): void {
    if (this.buffer) {
      this.buffer.push(e);
      return;
    }
    // Re-sent events (a pending permission_request on attach) repeat old seqs; apply each seq once.
    if (this.lastSeq !== undefined && e.seq <= this.lastSeq) return;
    this.lastSeq = e.seq;
    if (e.epoch) this.epoch = e.epoch;
    this.apply(e);
  }

  private apply(e: AnyEvent): void {
    const items = this.items.value;
    switch (e.type) {
      case "session_status":
        this.status.value = e.payload.status;
        if (e.payload.status !== "running") this.finishStreaming();
        return;
      case "message_start": {
        const m = e.payload.message as PiMessage;
        if (m.role === "assistant") this.items.value = startAssistant(items);
        return;
      }
      case "message_update":
        this.items.value = applyDelta(items, e.payload.assistantMessageEvent);
        return;
      case "message_end":
        this.items.value = applyMessage(items, e.payload.message as PiMessage, `seq:${e.seq}`);
        return;
      case "tool_execution_start":
        this.items.value = upsertTool(items, e.payload.toolCallId, {
          name: e.payload.toolName,
          args: e.payload.args,
          state: "running",
        });
        return;
      case "tool_execution_update":
        this.items.value = upsertTool(items, e.payload.toolCallId, {
          output: resultText(e.payload.partialResult),
        });
        return;
      case "tool_execution_end":
        this.items.value = upsertTool(items, e.payload.toolCallId, {
          output: resultText(e.payload.result),
          state: e.payload.isError ? "error" : "done",
        });
        return;
      case "agent_end":
        if (!e.payload.success) this.notice(`The run failed: ${e.payload.error?.message ?? "unknown error"}`);
        return;
      case "queue_update":
        this.queued.value = { steering: e.payload.steering, followUp: e.payload.followUp };
        return;
      case "auto_retry_start":
        this.notice(
          `Retrying (${e.payload.attempt}/${e.payload.maxAttempts}): ${e.payload.errorMessage}`,
          "info",
        );
        return;
      case "server_shutdown":
        {
          // The server's usual reason says the same again ("the server is shutting down"): one line.
          const reason = e.payload.reason;
          const own = reason && !/shutting down|stopping/i.test(reason) ? ` (${reason})` : "";
          this.notice(`The server is stopping${own}. The app reconnects when it is back.`, "info");
        }
        return;
      default:
        return;
    }
  }

  /** Says on the tool's card how its approval ended (the request names the call). */
  approvalEnded(toolCallId: string, decision: string, by: string): void {
    this.items.value = upsertTool(this.items.value, toolCallId, { note: answerNote(decision, by) });
  }

  /** Decisions fetched after the fact (a turn's end): the calls rules let through say so too. */
  applyDecisions(decisions: Record<string, ToolCallDecision>): void {
    this.items.value = withDecisions(this.items.value, decisions);
  }

  private finishStreaming(): void {
    const items = this.items.value;
    if (!items.some((i) => i.kind === "assistant" && i.streaming)) return;
    this.items.value = items.map((i) =>
      i.kind === "assistant" && i.streaming ? { ...i, streaming: false } : i,
    );
  }
}
