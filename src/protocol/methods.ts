import { Type, type Static, type TSchema } from "typebox";
import {
  AuditEntry,
  ToolCallDecision,
  PermissionOption,
  PermissionRequest,
  Rule,
  RuleDecision,
  RuleScope,
} from "./permissions.js";
import { PushMethods } from "./push.js";
import { CoalesceMs } from "./coalesce.js";
import { HelloParams, HelloResult, ReplayVerdict } from "./hello.js";
import { SearchMethods } from "./search.js";
import { UsageMethods } from "./usage.js";
import { HistoryMethods } from "./history.js";
import {
  DeviceInfo,
  DiffFile,
  ImageInput,
  ModelInfo,
  ModelRef,
  ModelSummary,
  RepoInfo,
  SessionInfo,
  SessionMode,
  SessionState,
  ThinkingLevel,
} from "./types.js";
import { WorkspaceMethods } from "./workspaces.js";

/**
 * Params objects tolerate keys they do not know (a phone app lags the server it talks to, and the Pi
 * Mobile app sends a constant `type` in every command); the keys they know are validated strictly.
 * Unknown keys are ignored: handlers only ever read the declared ones.
 */
const Known = {} as const;
const Empty = Type.Object({}, Known);
const SessionIdParam = Type.String({ minLength: 1, maxLength: 64 });
const Message = Type.String({ minLength: 1, maxLength: 1_000_000 });
/** Chosen by the client; a resend with the same id gets the first answer back with duplicate: true. */
const ClientTurnId = Type.Optional(Type.String({ minLength: 1, maxLength: 128 }));
const Duplicate = Type.Optional(Type.Boolean());
/** session.diff and session.file answer at most this much: a response must fit the send queue. */
export const MAX_READ_BYTES = 4 * 1024 * 1024;
export const DEFAULT_READ_BYTES = 1024 * 1024;

interface MethodSpec<P extends TSchema = TSchema, R extends TSchema = TSchema> {
  params: P;
  result: R;
  /** The request must name a session in the envelope's `sessionId`. */
  scoped: boolean;
  description: string;
}

function method<P extends TSchema, R extends TSchema>(spec: MethodSpec<P, R>): MethodSpec<P, R> {
  return spec;
}

/** steer and follow_up take the same message and answer the same way. */
const QueuedMessageParams = Type.Object(
  {
    message: Message,
    images: Type.Optional(Type.Array(ImageInput, { maxItems: 16 })),
    clientTurnId: ClientTurnId,
  },
  Known,
);
const QueuedResult = Type.Object({ queued: Type.Literal(true), duplicate: Duplicate });

const ModelChoice = {
  provider: ModelRef.properties.provider,
  modelId: ModelRef.properties.modelId,
};

export const Methods = {
  hello: method({
    scoped: false,
    description:
      "First frame of every connection. Authenticates (unless the upgrade carried a bearer token); can resume a dropped connection and offer native tools.",
    params: HelloParams,
    result: HelloResult,
  }),
  "devices.list": method({
    scoped: false,
    description: "Paired devices (owner only).",
    params: Empty,
    result: Type.Object({ devices: Type.Array(DeviceInfo) }),
  }),
  "devices.revoke": method({
    scoped: false,
    description: "Revoke a paired device by id or name; its open connections close at once (owner only).",
    params: Type.Object({ device: Type.String({ minLength: 1, maxLength: 200 }) }, Known),
    result: Type.Object({ revoked: Type.Array(Type.String()) }),
  }),
  "devices.grant": method({
    scoped: false,
    description:
      "Set a paired device's role (by id or name): admin may change rules, read every audit entry and delete any session; user may not (owner only).",
    params: Type.Object(
      {
        device: Type.String({ minLength: 1, maxLength: 200 }),
        role: Type.Union([Type.Literal("user"), Type.Literal("admin")]),
      },
      Known,
    ),
    result: Type.Object({ granted: Type.Array(Type.String()) }),
  }),
  "repos.list": method({
    scoped: false,
    description: "Registered repositories from repos.json, each with whether it is usable.",
    params: Empty,
    result: Type.Object({ repos: Type.Array(RepoInfo) }),
  }),
  "session.create": method({
    scoped: false,
    description:
      "New session: code mode on a fresh git worktree of repoId (branch pi/<id>) or an empty scratch directory; chat mode without a repo and without coding tools. The caller is attached.",
    params: Type.Object(
      {
        /** Default: "code". "chat" takes no repoId. */
        mode: Type.Optional(SessionMode),
        repoId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        /** The workspace whose repo and settings the session gets; repoId alone means the repo's default one. */
        workspaceId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        /** "provider/modelId"; defaults to the workspace's model, then config.json defaultModel. */
        model: Type.Optional(Type.String({ minLength: 3, maxLength: 400 })),
        /** The model as two keys (both or neither); must agree with model when both are given. */
        provider: Type.Optional(ModelChoice.provider),
        modelId: Type.Optional(ModelChoice.modelId),
        thinkingLevel: Type.Optional(ThinkingLevel),
        /** Appended to pi's system prompt, e.g. a chat persona. */
        systemPrompt: Type.Optional(Type.String({ maxLength: 100_000 })),
      },
      Known,
    ),
    result: Type.Object({ sessionId: Type.String(), session: SessionInfo }),
  }),
  "session.list": method({
    scoped: false,
    description: "Every session in the index, newest activity first.",
    params: Empty,
    result: Type.Object({ sessions: Type.Array(SessionInfo) }),
  }),
  "session.attach": method({
    scoped: false,
    description:
      "Subscribe this connection to a session's events, loading it from its pi file if needed. With sinceSeq, missed events are replayed when still buffered.",
    params: Type.Object(
      {
        sessionId: SessionIdParam,
        sinceSeq: Type.Optional(Type.Integer({ minimum: 0 })),
        /** The epoch the client's sinceSeq came from (informative: seqs are never reused across epochs). */
        epoch: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
        /** "lifecycle" skips message_update and tool_execution_update; default "full". */
        level: Type.Optional(Type.Union([Type.Literal("full"), Type.Literal("lifecycle")])),
        /** This attachment's delta window; default: the hello's coalesceMs, else 0. */
        coalesceMs: Type.Optional(CoalesceMs),
      },
      Known,
    ),
    result: Type.Object({
      session: SessionInfo,
      /** Highest seq emitted so far. */
      seq: Type.Integer({ minimum: 0 }),
      /** The session's current epoch. */
      epoch: Type.String(),
      /** With sinceSeq: "ok" = the events after sinceSeq follow this response; "gap" = reload with get_messages. */
      replay: ReplayVerdict,
      replayed: Type.Integer({ minimum: 0 }),
      ok: Type.Literal(true),
      /** The session's model; absent when it has none. */
      currentModel: Type.Optional(ModelSummary),
    }),
  }),
  "session.resume": method({
    scoped: false,
    description:
      "Load a session that is not in memory (unloaded while idle, or not opened since a restart) without attaching to it; a loaded one answers as it is.",
    params: Type.Object({ sessionId: SessionIdParam }, Known),
    result: Type.Object({ session: SessionInfo, seq: Type.Integer({ minimum: 0 }), epoch: Type.String() }),
  }),
  "session.detach": method({
    scoped: false,
    description:
      "Stop receiving a session's events on this connection. Without params.sessionId, the envelope's sessionId.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Known),
    result: Type.Object({ detached: Type.Boolean() }),
  }),
  "session.delete": method({
    scoped: false,
    description:
      "Dispose the agent and remove the worktree. Uncommitted changes are committed to the session's branch (or, without a branch, kept with the history) unless force discards them. Keeps the branch and the pi history unless asked.",
    params: Type.Object(
      {
        sessionId: SessionIdParam,
        force: Type.Optional(Type.Boolean()),
        deleteBranch: Type.Optional(Type.Boolean()),
        deleteHistory: Type.Optional(Type.Boolean()),
      },
      Known,
    ),
    result: Type.Object({
      deleted: Type.Literal(true),
      branchKept: Type.Union([Type.String(), Type.Null()]),
      historyKept: Type.Union([Type.String(), Type.Null()]),
      /** The commit that saved the worktree's uncommitted changes on branchKept; null when there were none. */
      committed: Type.Union([
        Type.Object({ branch: Type.String(), commit: Type.String(), files: Type.Integer({ minimum: 1 }) }),
        Type.Null(),
      ]),
      /** Where the files of a session without a branch were moved; null when there were none. */
      filesKept: Type.Union([Type.String(), Type.Null()]),
    }),
  }),
  "session.diff": method({
    scoped: true,
    description:
      "The unified diff of the session's worktree against the commit it started from (committed, uncommitted and untracked changes), with a per-file summary. A scratch or chat session lists every file as added.",
    params: Type.Object(
      {
        /** Bytes of patch text at most (default 1 MiB); past it the patch is cut and truncated is true. */
        maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_READ_BYTES })),
      },
      Known,
    ),
    result: Type.Object({
      /** The commit diffed against; null for a scratch or chat session (the empty tree). */
      base: Type.Union([Type.String(), Type.Null()]),
      diff: Type.String(),
      /** The patch was cut at maxBytes, or more than 10,000 files changed (files lists the first). */
      truncated: Type.Boolean(),
      files: Type.Array(DiffFile),
    }),
  }),
  "session.file": method({
    scoped: true,
    description:
      "One regular file of the session's worktree: UTF-8 text, or base64 for binary content. The path is relative and may not leave the worktree, also not through a symlink.",
    params: Type.Object(
      {
        path: Type.String({ minLength: 1, maxLength: 4096 }),
        /** Bytes returned at most (default 1 MiB); past it the content is cut and truncated is true. */
        maxBytes: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_READ_BYTES })),
      },
      Known,
    ),
    result: Type.Object({
      /** The path as normalised (relative to the worktree). */
      path: Type.String(),
      /** The file's size in bytes. */
      size: Type.Integer({ minimum: 0 }),
      truncated: Type.Boolean(),
      encoding: Type.Union([Type.Literal("utf8"), Type.Literal("base64")]),
      content: Type.String(),
    }),
  }),
  prompt: method({
    scoped: true,
    description:
      "Send a user message. Answers once accepted; the turn streams as events. While the agent runs, streamingBehavior queues it.",
    params: Type.Object(
      {
        message: Message,
        images: Type.Optional(Type.Array(ImageInput, { maxItems: 16 })),
        streamingBehavior: Type.Optional(Type.Union([Type.Literal("steer"), Type.Literal("followUp")])),
        clientTurnId: ClientTurnId,
      },
      Known,
    ),
    result: Type.Object({ accepted: Type.Literal(true), queued: Type.Boolean(), duplicate: Duplicate }),
  }),
  steer: method({
    scoped: true,
    description: "Queue a message delivered after the current tool calls, before the next LLM call.",
    params: QueuedMessageParams,
    result: QueuedResult,
  }),
  follow_up: method({
    scoped: true,
    description: "Queue a message delivered when the agent would otherwise stop.",
    params: QueuedMessageParams,
    result: QueuedResult,
  }),
  abort: method({
    scoped: true,
    description: "Stop the running turn and drop queued steering and follow-up messages.",
    params: Empty,
    result: Type.Object({
      aborted: Type.Boolean(),
      cleared: Type.Object({ steering: Type.Array(Type.String()), followUp: Type.Array(Type.String()) }),
    }),
  }),
  get_state: method({
    scoped: true,
    description: "The session's current state, with pi's get_state field names.",
    params: Empty,
    result: SessionState,
  }),
  get_messages: method({
    scoped: true,
    description:
      "The conversation as pi AgentMessage objects; with limit, one page ending before index before (default: the end).",
    params: Type.Object(
      {
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        before: Type.Optional(Type.Integer({ minimum: 0 })),
        /** true: pi's messages exactly as stored (image blocks, pi's own roles). Default: the portable form. */
        raw: Type.Optional(Type.Boolean()),
      },
      Known,
    ),
    result: Type.Object({
      /** Portable form: roles user|assistant|toolResult|system, blocks text|thinking|toolCall (docs/protocol.md). */
      messages: Type.Array(Type.Unknown()),
      /** Messages in the whole conversation. */
      total: Type.Integer({ minimum: 0 }),
      /** Index of messages[0] in the conversation. */
      start: Type.Integer({ minimum: 0 }),
      /** Pass as before for the previous page; null when this page starts at the beginning. */
      nextBefore: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
      /**
       * The assistant message being written when the page ends at the conversation's end, as far as
       * it has streamed (same form as messages); absent when none is.
       */
      streaming: Type.Optional(Type.Unknown()),
      /** The session's seq when this answer was made: events up to it are in messages and streaming. */
      seq: Type.Integer({ minimum: 0 }),
      /**
       * How the page's tool calls were decided, by tool call id (the audit log's last word on each):
       * who allowed or denied a call, with which answer, or which rule or policy did. Calls the log
       * no longer holds are absent.
       */
      decisions: Type.Optional(Type.Record(Type.String(), ToolCallDecision)),
    }),
  }),
  get_available_models: method({
    scoped: false,
    description:
      "Models pi can use now (built-in ones with credentials, and models.json ones), as pi's full model objects. modelsError: why pi could not load models.json (then none of its models are listed).",
    params: Empty,
    result: Type.Object({ models: Type.Array(ModelInfo), modelsError: Type.Optional(Type.String()) }),
  }),
  set_model: method({
    scoped: true,
    description: "Switch the session's model. Emits model_changed.",
    params: Type.Object(ModelChoice, Known),
    result: Type.Object({ model: ModelInfo }),
  }),
  get_default_model: method({
    scoped: false,
    description: "The server's default model (config.json defaultModel); absent when none is set or usable.",
    params: Empty,
    result: Type.Object({ defaultModel: Type.Optional(ModelInfo) }),
  }),
  set_default_model: method({
    scoped: false,
    description: "Set the server's default model for new sessions (writes config.json defaultModel).",
    params: Type.Object(ModelChoice, Known),
    result: Type.Object({ defaultModel: ModelInfo }),
  }),
  native_tool_response: method({
    scoped: false,
    description:
      "Answer a native_tool_request sent to this connection: result (any JSON) or error {message}.",
    params: Type.Object(
      {
        callId: Type.String({ minLength: 1, maxLength: 128 }),
        result: Type.Optional(Type.Unknown()),
        error: Type.Optional(Type.Object({ message: Type.String({ maxLength: 100_000 }) }, Known)),
      },
      Known,
    ),
    result: Type.Object({ accepted: Type.Literal(true) }),
  }),
  ...WorkspaceMethods,
  set_thinking_level: method({
    scoped: true,
    description:
      "Set the reasoning level (clamped to what the model supports). Emits thinking_level_changed.",
    params: Type.Object({ level: ThinkingLevel }, Known),
    result: Type.Object({ level: ThinkingLevel }),
  }),
  "permission.respond": method({
    scoped: false,
    description:
      "Answer a pending permission request. The first answer wins; everyone attached gets permission_resolved. A late or unknown id is not_found.",
    params: Type.Object(
      {
        id: Type.String({ minLength: 1, maxLength: 64 }),
        decision: PermissionOption,
        /** With deny_once / deny_always: words for the model (why, what to do instead). */
        message: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
      },
      Known,
    ),
    result: Type.Object({ id: Type.String(), decision: PermissionOption, rules: Type.Array(Rule) }),
  }),
  "permission.get": method({
    scoped: false,
    description:
      "A pending permission request with the tool's whole arguments (a request's `input` shortens strings over 16 KiB).",
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, Known),
    result: Type.Object({ request: PermissionRequest, input: Type.Unknown() }),
  }),
  "permission.list": method({
    scoped: false,
    description: "Pending permission requests, of one session or of all.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Known),
    result: Type.Object({ requests: Type.Array(PermissionRequest) }),
  }),
  "rules.list": method({
    scoped: false,
    description:
      "Permission rules, built-in hard-deny entries first. With sessionId: only the rules that apply to that session.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Known),
    result: Type.Object({ rules: Type.Array(Rule) }),
  }),
  "rules.add": method({
    scoped: false,
    description:
      "Store a permission rule. scope session needs sessionId; scope workspace needs workspace (a repo id) or a sessionId to take it from.",
    params: Type.Object(
      {
        tool: Type.String({ minLength: 1, maxLength: 64 }),
        match: Type.Optional(Type.String({ minLength: 1, maxLength: 1000 })),
        decision: RuleDecision,
        scope: RuleScope,
        sessionId: Type.Optional(SessionIdParam),
        workspace: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        expiresAt: Type.Optional(Type.Integer({ minimum: 0 })),
        note: Type.Optional(Type.String({ maxLength: 500 })),
      },
      Known,
    ),
    result: Type.Object({ rule: Rule }),
  }),
  "rules.remove": method({
    scoped: false,
    description: "Delete a stored rule. Built-in entries refuse with forbidden.",
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, Known),
    result: Type.Object({ removed: Rule }),
  }),
  "audit.list": method({
    scoped: false,
    description: "Policy decisions, newest first. Page with before = the nextBefore of the previous answer.",
    params: Type.Object(
      {
        sessionId: Type.Optional(SessionIdParam),
        limit: Type.Integer({ minimum: 1, maximum: 1000 }),
        before: Type.Optional(Type.Integer({ minimum: 1 })),
      },
      Known,
    ),
    result: Type.Object({
      entries: Type.Array(AuditEntry),
      /** Pass as `before` for the next page; null when this was the last one. */
      nextBefore: Type.Union([Type.Integer(), Type.Null()]),
    }),
  }),
  ...SearchMethods,
  ...UsageMethods,
  ...PushMethods,
  ...HistoryMethods,
} as const;

export type Methods = typeof Methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Static<Methods[M]["params"]>;
export type ResultOf<M extends MethodName> = Static<Methods[M]["result"]>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(Methods, name);
}
