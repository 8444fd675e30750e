import type { AssistantMessageEvent, PayloadOf, SessionEvent } from "../protocol/events.js";
import type { AgentSessionEvent } from "./pi.js";

type PiAssistantEvent = Extract<AgentSessionEvent, { type: "message_update" }>["assistantMessageEvent"];

/** The id and name of the tool call at contentIndex, which pi keeps only in the growing `partial`. */
function toolCallAt(e: PiAssistantEvent & { contentIndex: number }): { id?: string; name?: string } {
  const block = (e as { partial?: { content?: unknown[] } }).partial?.content?.[e.contentIndex] as
    { type?: string; id?: unknown; name?: unknown } | undefined;
  if (block?.type !== "toolCall") return {};
  return {
    ...(typeof block.id === "string" && { id: block.id }),
    ...(typeof block.name === "string" && { name: block.name }),
  };
}

/** Keeps what is new in this piece; drops pi's accumulated `partial`, which grows with every token. */
function assistantEvent(e: PiAssistantEvent): AssistantMessageEvent {
  switch (e.type) {
    case "start":
      return { type: "start" };
    case "text_start":
    case "thinking_start":
    case "text_end":
    case "thinking_end":
      return { type: e.type, contentIndex: e.contentIndex };
    case "toolcall_start": {
      const call = toolCallAt(e);
      return {
        type: e.type,
        contentIndex: e.contentIndex,
        ...(call.id !== undefined && { toolCallId: call.id }),
        ...(call.name !== undefined && { toolName: call.name }),
      };
    }
    case "text_delta":
    case "thinking_delta":
      return { type: e.type, contentIndex: e.contentIndex, delta: e.delta };
    case "toolcall_delta": {
      const call = toolCallAt(e);
      return {
        type: e.type,
        contentIndex: e.contentIndex,
        delta: e.delta,
        ...(call.id !== undefined && { toolCallId: call.id }),
      };
    }
    case "toolcall_end":
      return { type: e.type, contentIndex: e.contentIndex, toolCall: e.toolCall };
    case "done":
    case "error":
      return { type: e.type, reason: e.reason };
  }
}

/** A run failed when its last assistant message ended on a provider error; an abort is not a failure. */
function agentEnd(messages: readonly unknown[] | undefined): PayloadOf<"agent_end"> {
  const list = messages ?? [];
  const last = [...list].reverse().find((m) => (m as { role?: unknown }).role === "assistant") as
    { stopReason?: unknown; errorMessage?: unknown } | undefined;
  if (last?.stopReason !== "error") return { messageCount: list.length, success: true };
  const message =
    typeof last.errorMessage === "string" && last.errorMessage.length > 0
      ? last.errorMessage
      : "the model provider returned an error";
  return { messageCount: list.length, success: false, error: { code: "provider_error", message } };
}

/** How a run ended, judged like agentEnd: by its last assistant message. */
export function runOutcome(messages: readonly unknown[] | undefined): "ok" | "error" | "aborted" {
  const list = messages ?? [];
  for (let i = list.length - 1; i >= 0; i--) {
    const m = list[i] as { role?: unknown; stopReason?: unknown };
    if (m.role !== "assistant") continue;
    return m.stopReason === "error" ? "error" : m.stopReason === "aborted" ? "aborted" : "ok";
  }
  return "ok";
}

/** pi's AgentSessionEvent → the protocol's session event, or undefined for events not forwarded. */
export function translate(e: AgentSessionEvent): SessionEvent | undefined {
  switch (e.type) {
    case "agent_start":
      return { type: "agent_start", payload: {} };
    case "agent_end":
      return { type: "agent_end", payload: agentEnd(e.messages) };
    case "turn_start":
      return { type: "turn_start", payload: {} };
    case "turn_end":
      return { type: "turn_end", payload: { toolResultCount: e.toolResults?.length ?? 0 } };
    case "message_start":
      return { type: "message_start", payload: { message: e.message } };
    case "message_update":
      return {
        type: "message_update",
        payload: { assistantMessageEvent: assistantEvent(e.assistantMessageEvent) },
      };
    case "message_end":
      return { type: "message_end", payload: { message: e.message } };
    case "tool_execution_start":
      return {
        type: "tool_execution_start",
        payload: { toolCallId: e.toolCallId, toolName: e.toolName, args: e.args as unknown },
      };
    case "tool_execution_update":
      return {
        type: "tool_execution_update",
        payload: {
          toolCallId: e.toolCallId,
          toolName: e.toolName,
          partialResult: e.partialResult as unknown,
        },
      };
    case "tool_execution_end":
      return {
        type: "tool_execution_end",
        payload: {
          toolCallId: e.toolCallId,
          toolName: e.toolName,
          result: e.result as unknown,
          isError: e.isError === true,
        },
      };
    case "queue_update":
      return { type: "queue_update", payload: { steering: [...e.steering], followUp: [...e.followUp] } };
    case "compaction_start":
      return { type: "compaction_start", payload: { reason: e.reason } };
    case "compaction_end":
      return {
        type: "compaction_end",
        payload: {
          reason: e.reason,
          aborted: e.aborted,
          willRetry: e.willRetry,
          ...(e.errorMessage !== undefined && { errorMessage: e.errorMessage }),
          ...(e.result && { summary: e.result.summary, tokensBefore: e.result.tokensBefore }),
        },
      };
    case "auto_retry_start":
      return {
        type: "auto_retry_start",
        payload: {
          attempt: e.attempt,
          maxAttempts: e.maxAttempts,
          delayMs: e.delayMs,
          errorMessage: e.errorMessage,
        },
      };
    case "auto_retry_end":
      return {
        type: "auto_retry_end",
        payload: {
          success: e.success,
          attempt: e.attempt,
          ...(e.finalError !== undefined && { finalError: e.finalError }),
        },
      };
    case "session_info_changed":
      return { type: "session_info_changed", payload: { name: e.name ?? null } };
    case "thinking_level_changed":
      return { type: "thinking_level_changed", payload: { level: e.level } };
    default:
      return undefined;
  }
}
