import { Type, type Static, type TSchema } from "typebox";
import { NativeToolCancelEvent, NativeToolRequestEvent } from "./native-tools.js";
import { PermissionRequestEvent, PermissionResolvedEvent } from "./permissions.js";
import { ModelSummary, SessionStatus, ThinkingLevel } from "./types.js";

/**
 * One streamed piece of an assistant message, in pi's own `assistantMessageEvent` shape. Unlike pi's
 * event, it never carries the accumulated `partial` message: the final message arrives whole in
 * `message_end`. What pi keeps only in `partial` and a client needs (the id and name of a tool call
 * as it starts) is copied out.
 */
export const AssistantMessageEvent = Type.Object({
  type: Type.Union([
    Type.Literal("start"),
    Type.Literal("text_start"),
    Type.Literal("text_delta"),
    Type.Literal("text_end"),
    Type.Literal("thinking_start"),
    Type.Literal("thinking_delta"),
    Type.Literal("thinking_end"),
    Type.Literal("toolcall_start"),
    Type.Literal("toolcall_delta"),
    Type.Literal("toolcall_end"),
    Type.Literal("done"),
    Type.Literal("error"),
  ]),
  contentIndex: Type.Optional(Type.Integer()),
  delta: Type.Optional(Type.String()),
  /** toolcall_start, toolcall_delta: the call being streamed. */
  toolCallId: Type.Optional(Type.String()),
  /** toolcall_start: the tool being called. */
  toolName: Type.Optional(Type.String()),
  /** toolcall_end: the complete toolCall block. */
  toolCall: Type.Optional(Type.Unknown()),
  reason: Type.Optional(Type.String()),
});
export type AssistantMessageEvent = Static<typeof AssistantMessageEvent>;

const AgentMessage = Type.Unknown({ description: "a pi AgentMessage (user, assistant, toolResult, …)" });

export const EventPayloads = {
  agent_start: Type.Object({}),
  agent_end: Type.Object({
    messageCount: Type.Integer(),
    /** false when the run ended on an error of the model provider (not on an abort). */
    success: Type.Boolean(),
    error: Type.Optional(Type.Object({ code: Type.Optional(Type.String()), message: Type.String() })),
  }),
  turn_start: Type.Object({}),
  turn_end: Type.Object({ toolResultCount: Type.Integer() }),
  message_start: Type.Object({ message: AgentMessage }),
  message_update: Type.Object({ assistantMessageEvent: AssistantMessageEvent }),
  message_end: Type.Object({ message: AgentMessage }),
  tool_execution_start: Type.Object({
    toolCallId: Type.String(),
    toolName: Type.String(),
    args: Type.Unknown(),
  }),
  tool_execution_update: Type.Object({
    toolCallId: Type.String(),
    toolName: Type.String(),
    partialResult: Type.Unknown(),
  }),
  tool_execution_end: Type.Object({
    toolCallId: Type.String(),
    toolName: Type.String(),
    result: Type.Unknown(),
    isError: Type.Boolean(),
  }),
  queue_update: Type.Object({ steering: Type.Array(Type.String()), followUp: Type.Array(Type.String()) }),
  compaction_start: Type.Object({ reason: Type.String() }),
  compaction_end: Type.Object({
    reason: Type.String(),
    aborted: Type.Boolean(),
    willRetry: Type.Boolean(),
    errorMessage: Type.Optional(Type.String()),
    summary: Type.Optional(Type.String()),
    tokensBefore: Type.Optional(Type.Number()),
  }),
  auto_retry_start: Type.Object({
    attempt: Type.Integer(),
    maxAttempts: Type.Integer(),
    delayMs: Type.Number(),
    errorMessage: Type.String(),
  }),
  auto_retry_end: Type.Object({
    success: Type.Boolean(),
    attempt: Type.Integer(),
    finalError: Type.Optional(Type.String()),
  }),
  session_info_changed: Type.Object({ name: Type.Union([Type.String(), Type.Null()]) }),
  thinking_level_changed: Type.Object({ level: ThinkingLevel }),
  session_status: Type.Object({ status: SessionStatus, reason: Type.Optional(Type.String()) }),
  model_changed: Type.Object({
    model: ModelSummary,
    /** model.provider and model.id again, the flat spelling of earlier versions. */
    provider: Type.String(),
    modelId: Type.String(),
  }),
  session_deleted: Type.Object({}),
  /** The server is stopping: a running turn is aborted next (session_status interrupted follows). */
  server_shutdown: Type.Object({ reason: Type.String() }),
  permission_request: PermissionRequestEvent,
  permission_resolved: PermissionResolvedEvent,
  /** Sent only to the connection that offered the tool; outside the session's seq stream (never replayed). */
  native_tool_request: NativeToolRequestEvent,
  /** The call was aborted or timed out: stop working on it, an answer is no longer read. */
  native_tool_cancel: NativeToolCancelEvent,
} satisfies Record<string, TSchema>;

export type EventPayloads = typeof EventPayloads;
export type EventType = keyof EventPayloads;
export type PayloadOf<T extends EventType> = Static<EventPayloads[T]>;

/** A session event before the transport wraps it in the envelope. */
export type SessionEvent = { [T in EventType]: { type: T; payload: PayloadOf<T> } }[EventType];
