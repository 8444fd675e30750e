import { Type, type Static, type TSchema } from "typebox";
import {
  AuditEntry,
  PermissionOption,
  PermissionRequest,
  Rule,
  RuleDecision,
  RuleScope,
} from "./permissions.js";
import {
  DeviceInfo,
  ImageInput,
  ModelInfo,
  ModelRef,
  RepoInfo,
  ServerInfo,
  SessionInfo,
  SessionState,
  ThinkingLevel,
} from "./types.js";

const Strict = { additionalProperties: false } as const;
const Empty = Type.Object({}, Strict);
const SessionIdParam = Type.String({ minLength: 1, maxLength: 64 });
const Message = Type.String({ minLength: 1, maxLength: 1_000_000 });
/** Chosen by the client; a resend with the same id gets the first answer back with duplicate: true. */
const ClientTurnId = Type.Optional(Type.String({ minLength: 1, maxLength: 128 }));
const Duplicate = Type.Optional(Type.Boolean());

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
  Strict,
);
const QueuedResult = Type.Object({ queued: Type.Literal(true), duplicate: Duplicate });

export const Methods = {
  hello: method({
    scoped: false,
    description:
      "First frame of every connection. Authenticates (unless the upgrade carried a bearer token).",
    params: Type.Object(
      {
        token: Type.Optional(Type.String({ maxLength: 512 })),
        /** Random challenge; the answer carries the server's signature over it (see docs/security.md). */
        nonce: Type.Optional(Type.String({ minLength: 16, maxLength: 256 })),
        client: Type.Optional(
          Type.Object(
            {
              name: Type.Optional(Type.String({ maxLength: 128 })),
              version: Type.Optional(Type.String({ maxLength: 64 })),
            },
            Strict,
          ),
        ),
      },
      Strict,
    ),
    result: Type.Object({
      connectionId: Type.String(),
      server: ServerInfo,
      capabilities: Type.Array(Type.String()),
      /** Who the caller authenticated as. */
      principal: Type.Object({
        kind: Type.Union([Type.Literal("owner"), Type.Literal("device")]),
        name: Type.String(),
      }),
      identity: Type.Object({
        serverId: Type.String(),
        publicKey: Type.String(),
        /** Ed25519 over "pi-server hello v1\n<serverId>\n<nonce>", base64url; present when a nonce was sent. */
        signature: Type.Optional(Type.String()),
      }),
    }),
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
    params: Type.Object({ device: Type.String({ minLength: 1, maxLength: 200 }) }, Strict),
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
      Strict,
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
      "New session on a fresh git worktree of repoId (branch pi/<id>), or on an empty scratch directory. The caller is attached.",
    params: Type.Object(
      {
        repoId: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
        name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
        /** "provider/modelId"; defaults to config.json defaultModel. */
        model: Type.Optional(Type.String({ minLength: 3, maxLength: 400 })),
        thinkingLevel: Type.Optional(ThinkingLevel),
      },
      Strict,
    ),
    result: Type.Object({ session: SessionInfo }),
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
      },
      Strict,
    ),
    result: Type.Object({
      session: SessionInfo,
      /** Highest seq emitted so far. */
      seq: Type.Integer({ minimum: 0 }),
      /** The session's current epoch. */
      epoch: Type.String(),
      /** With sinceSeq: "ok" = the events after sinceSeq follow this response; "gap" = reload with get_messages. */
      replay: Type.Union([Type.Literal("none"), Type.Literal("ok"), Type.Literal("gap")]),
      replayed: Type.Integer({ minimum: 0 }),
    }),
  }),
  "session.detach": method({
    scoped: false,
    description: "Stop receiving a session's events on this connection.",
    params: Type.Object({ sessionId: SessionIdParam }, Strict),
    result: Type.Object({ detached: Type.Boolean() }),
  }),
  "session.delete": method({
    scoped: false,
    description:
      "Dispose the agent and remove the worktree (refused with conflict on uncommitted changes unless force). Keeps the branch and the pi history unless asked.",
    params: Type.Object(
      {
        sessionId: SessionIdParam,
        force: Type.Optional(Type.Boolean()),
        deleteBranch: Type.Optional(Type.Boolean()),
        deleteHistory: Type.Optional(Type.Boolean()),
      },
      Strict,
    ),
    result: Type.Object({
      deleted: Type.Literal(true),
      branchKept: Type.Union([Type.String(), Type.Null()]),
      historyKept: Type.Union([Type.String(), Type.Null()]),
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
      Strict,
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
    description: "The session's current state.",
    params: Empty,
    result: Type.Object({ state: SessionState }),
  }),
  get_messages: method({
    scoped: true,
    description:
      "The conversation as pi AgentMessage objects; with limit, one page ending before index before (default: the end).",
    params: Type.Object(
      {
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })),
        before: Type.Optional(Type.Integer({ minimum: 0 })),
      },
      Strict,
    ),
    result: Type.Object({
      messages: Type.Array(Type.Unknown()),
      /** Messages in the whole conversation. */
      total: Type.Integer({ minimum: 0 }),
      /** Index of messages[0] in the conversation. */
      start: Type.Integer({ minimum: 0 }),
      /** Pass as before for the previous page; null when this page starts at the beginning. */
      nextBefore: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
    }),
  }),
  get_available_models: method({
    scoped: false,
    description: "Models pi can use now (built-in ones with credentials, and models.json ones).",
    params: Empty,
    result: Type.Object({ models: Type.Array(ModelInfo) }),
  }),
  set_model: method({
    scoped: true,
    description: "Switch the session's model. Emits model_changed.",
    params: Type.Object(
      { provider: ModelRef.properties.provider, modelId: ModelRef.properties.modelId },
      Strict,
    ),
    result: Type.Object({ model: ModelInfo }),
  }),
  set_thinking_level: method({
    scoped: true,
    description:
      "Set the reasoning level (clamped to what the model supports). Emits thinking_level_changed.",
    params: Type.Object({ level: ThinkingLevel }, Strict),
    result: Type.Object({ level: ThinkingLevel }),
  }),
  "permission.respond": method({
    scoped: false,
    description:
      "Answer a pending permission request. The first answer wins; everyone attached gets permission_resolved. A late or unknown id is not_found.",
    params: Type.Object(
      { id: Type.String({ minLength: 1, maxLength: 64 }), decision: PermissionOption },
      Strict,
    ),
    result: Type.Object({ id: Type.String(), decision: PermissionOption, rules: Type.Array(Rule) }),
  }),
  "permission.get": method({
    scoped: false,
    description:
      "A pending permission request with the tool's whole arguments (a request's `input` shortens strings over 16 KiB).",
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, Strict),
    result: Type.Object({ request: PermissionRequest, input: Type.Unknown() }),
  }),
  "permission.list": method({
    scoped: false,
    description: "Pending permission requests, of one session or of all.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Strict),
    result: Type.Object({ requests: Type.Array(PermissionRequest) }),
  }),
  "rules.list": method({
    scoped: false,
    description:
      "Permission rules, built-in hard-deny entries first. With sessionId: only the rules that apply to that session.",
    params: Type.Object({ sessionId: Type.Optional(SessionIdParam) }, Strict),
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
      Strict,
    ),
    result: Type.Object({ rule: Rule }),
  }),
  "rules.remove": method({
    scoped: false,
    description: "Delete a stored rule. Built-in entries refuse with forbidden.",
    params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) }, Strict),
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
      Strict,
    ),
    result: Type.Object({
      entries: Type.Array(AuditEntry),
      /** Pass as `before` for the next page; null when this was the last one. */
      nextBefore: Type.Union([Type.Integer(), Type.Null()]),
    }),
  }),
} as const;

export type Methods = typeof Methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Static<Methods[M]["params"]>;
export type ResultOf<M extends MethodName> = Static<Methods[M]["result"]>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(Methods, name);
}
