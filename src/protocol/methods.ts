import { Type, type Static, type TSchema } from "typebox";
import {
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

export const Methods = {
  hello: method({
    scoped: false,
    description:
      "First frame of every connection. Authenticates (unless the upgrade carried a bearer token).",
    params: Type.Object(
      {
        token: Type.Optional(Type.String({ maxLength: 512 })),
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
    }),
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
      },
      Strict,
    ),
    result: Type.Object({
      session: SessionInfo,
      /** Highest seq emitted so far. */
      seq: Type.Integer({ minimum: 0 }),
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
      },
      Strict,
    ),
    result: Type.Object({ accepted: Type.Literal(true), queued: Type.Boolean() }),
  }),
  steer: method({
    scoped: true,
    description: "Queue a message delivered after the current tool calls, before the next LLM call.",
    params: Type.Object(
      { message: Message, images: Type.Optional(Type.Array(ImageInput, { maxItems: 16 })) },
      Strict,
    ),
    result: Type.Object({ queued: Type.Literal(true) }),
  }),
  follow_up: method({
    scoped: true,
    description: "Queue a message delivered when the agent would otherwise stop.",
    params: Type.Object(
      { message: Message, images: Type.Optional(Type.Array(ImageInput, { maxItems: 16 })) },
      Strict,
    ),
    result: Type.Object({ queued: Type.Literal(true) }),
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
    description: "The conversation as pi AgentMessage objects.",
    params: Empty,
    result: Type.Object({ messages: Type.Array(Type.Unknown()) }),
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
} as const;

export type Methods = typeof Methods;
export type MethodName = keyof Methods;
export type ParamsOf<M extends MethodName> = Static<Methods[M]["params"]>;
export type ResultOf<M extends MethodName> = Static<Methods[M]["result"]>;

export function isMethodName(name: string): name is MethodName {
  return Object.hasOwn(Methods, name);
}
