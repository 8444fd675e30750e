/**
 * Decoders with the strictness of the Pi Mobile app's Swift structs (synthesized Decodable, read from
 * its source, see shared/clients/pi-mobile.md): extra keys ignored, required keys present and not
 * null, optional keys absent or null or of the right type, Int a JSON integer, enums closed.
 */
export class DecodeError extends Error {
  override name = "DecodeError";
}

type Obj = Record<string, unknown>;
export type Decoder<T> = (v: unknown, path: string) => T;

const fail = (path: string, what: string, v: unknown): never => {
  throw new DecodeError(`${path}: expected ${what}, got ${JSON.stringify(v)?.slice(0, 120)}`);
};

export const str: Decoder<string> = (v, p) => (typeof v === "string" ? v : fail(p, "String", v));
export const int: Decoder<number> = (v, p) => (Number.isInteger(v) ? (v as number) : fail(p, "Int", v));
export const uint64: Decoder<number> = (v, p) =>
  Number.isInteger(v) && (v as number) >= 0 ? (v as number) : fail(p, "UInt64", v);
export const dbl: Decoder<number> = (v, p) => (typeof v === "number" ? v : fail(p, "Double", v));
export const bool: Decoder<boolean> = (v, p) => (typeof v === "boolean" ? v : fail(p, "Bool", v));
export const any: Decoder<unknown> = (v) => v;
export const dict: Decoder<Obj> = (v, p) =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : fail(p, "dictionary", v);

export function enumOf<T extends string>(...values: T[]): Decoder<T> {
  return (v, p) => (values.includes(v as T) ? (v as T) : fail(p, `one of ${values.join("|")}`, v));
}
export function arr<T>(d: Decoder<T>): Decoder<T[]> {
  return (v, p) => (Array.isArray(v) ? v.map((x, i) => d(x, `${p}[${i}]`)) : fail(p, "array", v));
}
/** Swift Optional: absent or null is nil, anything else must decode. */
export function opt<T>(d: Decoder<T>): Decoder<T | undefined> {
  return (v, p) => (v === undefined || v === null ? undefined : d(v, p));
}
export function struct<T extends Record<string, Decoder<unknown>>>(
  fields: T,
): Decoder<{ [K in keyof T]: ReturnType<T[K]> }> {
  return (v, p) => {
    const o = dict(v, p);
    const out: Obj = {};
    for (const [k, d] of Object.entries(fields)) {
      const value = o[k];
      if (value === undefined || value === null) {
        const r = d(value, `${p}.${k}`);
        if (r === undefined) continue;
        out[k] = r;
      } else out[k] = d(value, `${p}.${k}`);
    }
    return out as { [K in keyof T]: ReturnType<T[K]> };
  };
}
/** A required key: absent or null fails, as for a non-Optional Swift property. */
function req<T>(d: Decoder<T>): Decoder<T> {
  return (v, p) => (v === undefined || v === null ? fail(p, "a value (key required)", v) : d(v, p));
}
export const R = { str: req(str), int: req(int), bool: req(bool), dbl: req(dbl), dict: req(dict) };
export const O = {
  str: opt(str),
  int: opt(int),
  bool: opt(bool),
  dbl: opt(dbl),
  dict: opt(dict),
  any: opt(any),
};

/** Swift's ISO8601DateFormatter, with or without fractional seconds. */
export const isoDate: Decoder<string> = (v, p) => {
  const s = str(v, p);
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s)
    ? s
    : fail(p, "ISO-8601 date", s);
};

// --- RPCTypes.swift ---------------------------------------------------------------------------

export const RPCError = struct({ code: O.str, message: R.str, details: O.str });

export const WSIncomingMessage = struct({
  v: R.int,
  kind: req(enumOf("request", "response", "event")),
  id: O.str,
  ok: O.bool,
  result: O.any,
  error: opt(RPCError),
  sessionId: O.str,
  seq: opt(uint64),
  type: O.str,
  payload: O.any,
});

export const ModelInfo = struct({ id: R.str, name: R.str, provider: R.str });
export const Model = struct({
  id: R.str,
  name: R.str,
  api: R.str,
  provider: R.str,
  baseUrl: R.str,
  reasoning: R.bool,
  input: req(arr(str)),
  cost: req(struct({ input: R.dbl, output: R.dbl, cacheRead: R.dbl, cacheWrite: R.dbl })),
  contextWindow: R.int,
  maxTokens: R.int,
});

export const HelloResult = struct({
  connectionId: R.str,
  server: req(struct({ name: R.str, version: R.str })),
  capabilities: req(struct({ resume: R.bool, replayWindowSec: O.int })),
});
export const GetDefaultModelResponse = struct({ defaultModel: opt(ModelInfo) });
export const SetDefaultModelResponse = struct({ defaultModel: req(ModelInfo) });
export const GetAvailableModelsResponse = struct({ models: req(arr(Model)) });
export const SessionInfo = struct({
  sessionId: R.str,
  mode: opt(enumOf("chat", "code")),
  createdAt: opt(isoDate),
  lastActivityAt: opt(isoDate),
  name: O.str,
  repoId: O.str,
});
export const SessionListResult = struct({ sessions: req(arr(SessionInfo)) });
export const RepoInfo = struct({
  id: R.str,
  name: R.str,
  fullName: O.str,
  owner: O.str,
  description: O.str,
  htmlUrl: O.str,
  cloneUrl: O.str,
  sshUrl: O.str,
  defaultBranch: O.str,
  path: O.str,
  private: O.bool,
});
export const ReposListResult = struct({ repos: req(arr(RepoInfo)) });
export const SessionCreateResult = struct({ sessionId: R.str });
export const AttachSessionResponse = struct({ ok: R.bool, currentModel: opt(ModelInfo) });
export const SetModelResponse = struct({ model: req(ModelInfo) });
export const GetStateResponse = struct({
  model: opt(Model),
  thinkingLevel: O.str,
  steeringMode: O.str,
  followUpMode: O.str,
  sessionFile: O.str,
  sessionId: O.str,
  isStreaming: O.bool,
  isCompacting: O.bool,
  autoCompactionEnabled: O.bool,
  messageCount: O.int,
  pendingMessageCount: O.int,
});

const ContentBlock = struct({
  type: req(enumOf("text", "thinking", "tool_use", "toolCall", "tool_result")),
  text: O.str,
  thinking: O.str,
  output: O.str,
  toolCallId: O.str,
  id: O.str,
  toolName: O.str,
  name: O.str,
  input: O.any,
  arguments: O.any,
});
const MessageContent: Decoder<string | unknown[]> = (v, p) =>
  typeof v === "string" ? v : arr(ContentBlock)(v, p);
export const Message = struct({
  role: req(enumOf("user", "assistant", "system", "tool", "toolResult")),
  content: opt(MessageContent),
  model: O.str,
  toolCallId: O.str,
  toolName: O.str,
});
export const GetMessagesResponse = struct({ messages: req(arr(Message)) });

// --- event payloads the app decodes strictly (RPCConnection.parseEventPayload) ------------------

const ToolContent = struct({ content: req(arr(struct({ type: R.str, text: O.str }))), details: O.any });
export const EventPayloads: Record<string, Decoder<unknown>> = {
  tool_execution_start: struct({ toolCallId: R.str, toolName: R.str, args: O.any }),
  tool_execution_update: struct({
    toolCallId: R.str,
    toolName: R.str,
    args: O.any,
    partialResult: opt(ToolContent),
  }),
  tool_execution_end: struct({
    toolCallId: R.str,
    toolName: R.str,
    result: opt(ToolContent),
    isError: R.bool,
  }),
  model_changed: struct({ model: req(ModelInfo) }),
  native_tool_request: struct({ callId: R.str, toolName: R.str, args: O.dict }),
  native_tool_cancel: struct({ callId: R.str }),
  auto_retry_start: struct({ attempt: R.int, maxAttempts: R.int, delayMs: R.int, errorMessage: R.str }),
  auto_retry_end: struct({ success: R.bool, attempt: R.int, finalError: O.str }),
};

/** The AssistantMessageEvent the app reads from payload.assistantMessageEvent ‖ payload.event ‖ payload. */
export function assistantEvent(payload: Obj): Obj & { type?: string } {
  const inner = payload.assistantMessageEvent ?? payload.event ?? payload;
  return dict(inner, "payload.assistantMessageEvent") as Obj & { type?: string };
}
