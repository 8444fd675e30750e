import { Type, type Static } from "typebox";

export const ThinkingLevel = Type.Union([
  Type.Literal("off"),
  Type.Literal("minimal"),
  Type.Literal("low"),
  Type.Literal("medium"),
  Type.Literal("high"),
  Type.Literal("xhigh"),
]);
export type ThinkingLevel = Static<typeof ThinkingLevel>;

export const SessionStatus = Type.Union([
  Type.Literal("idle"),
  Type.Literal("running"),
  Type.Literal("interrupted"),
]);
export type SessionStatus = Static<typeof SessionStatus>;

export const ServerInfo = Type.Object({
  name: Type.Literal("pi-server"),
  version: Type.String(),
  piVersion: Type.String(),
  protocolVersion: Type.Integer(),
  capabilities: Type.Array(Type.String()),
  uptimeSeconds: Type.Number(),
});
export type ServerInfo = Static<typeof ServerInfo>;

export const RepoInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  /** The local repository; for a clone url, the server's clone of it in the data dir. */
  path: Type.String(),
  /** Set for a repo registered by clone url. */
  url: Type.Optional(Type.String()),
  /** false when the entry cannot be used; `error` says why. */
  ok: Type.Boolean(),
  error: Type.Optional(Type.String()),
});
export type RepoInfo = Static<typeof RepoInfo>;

export const ModelRef = Type.Object({
  provider: Type.String({ minLength: 1, maxLength: 128 }),
  modelId: Type.String({ minLength: 1, maxLength: 256 }),
});
export type ModelRef = Static<typeof ModelRef>;

/** The model objects pi itself reports (its RPC `Model`), minus request headers, which can hold keys. */
export const ModelInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  api: Type.String(),
  provider: Type.String(),
  baseUrl: Type.String(),
  reasoning: Type.Boolean(),
  input: Type.Array(Type.String()),
  /** USD per million tokens. */
  cost: Type.Object({
    input: Type.Number(),
    output: Type.Number(),
    cacheRead: Type.Number(),
    cacheWrite: Type.Number(),
  }),
  contextWindow: Type.Integer(),
  maxTokens: Type.Integer(),
});
export type ModelInfo = Static<typeof ModelInfo>;

/** A model named just enough to show it: what model_changed, session.attach and the default model carry. */
export const ModelSummary = Type.Object({ id: Type.String(), name: Type.String(), provider: Type.String() });
export type ModelSummary = Static<typeof ModelSummary>;

/** "code": on a git worktree of a repo, with the coding tools; "chat": no repo and no coding tools. */
export const SessionMode = Type.Union([Type.Literal("code"), Type.Literal("chat")]);
export type SessionMode = Static<typeof SessionMode>;

const IsoTime = Type.String({ format: "date-time", description: "ISO-8601, UTC, with milliseconds" });

export const SessionInfo = Type.Object({
  id: Type.String(),
  /** The same as id, under the name the Pi Mobile app reads. */
  sessionId: Type.String(),
  mode: SessionMode,
  name: Type.String(),
  /** Who chose the name: "user" (session.create's name, session.rename), "auto" (generated), "default" (the server's). */
  nameSource: Type.Union([Type.Literal("user"), Type.Literal("auto"), Type.Literal("default")]),
  repoId: Type.Union([Type.String(), Type.Null()]),
  /** The workspace whose settings it runs with; null for a scratch or chat session outside any. */
  workspaceId: Type.Union([Type.String(), Type.Null()]),
  worktree: Type.String(),
  branch: Type.Union([Type.String(), Type.Null()]),
  /** "provider/modelId" */
  model: Type.Union([Type.String(), Type.Null()]),
  thinkingLevel: ThinkingLevel,
  piSessionFile: Type.String(),
  createdAt: IsoTime,
  lastActivityAt: IsoTime,
  status: SessionStatus,
  /** true while the agent is in memory on the server. */
  loaded: Type.Boolean(),
  seq: Type.Integer({ minimum: 0 }),
});
export type SessionInfo = Static<typeof SessionInfo>;

export const ImageInput = Type.Object(
  {
    type: Type.Literal("image"),
    data: Type.String({ minLength: 1 }),
    mimeType: Type.Union([
      Type.Literal("image/png"),
      Type.Literal("image/jpeg"),
      Type.Literal("image/gif"),
      Type.Literal("image/webp"),
    ]),
  },
  { additionalProperties: false },
);
export type ImageInput = Static<typeof ImageInput>;

/** pi's RPC get_state fields, plus what the server adds (status, queues, seq, epoch, worktree). */
export const SessionState = Type.Object({
  sessionId: Type.String(),
  sessionName: Type.String(),
  /** Deprecated spelling of sessionName, kept for existing clients. */
  name: Type.String(),
  mode: SessionMode,
  model: Type.Union([ModelInfo, Type.Null()]),
  thinkingLevel: ThinkingLevel,
  status: SessionStatus,
  isStreaming: Type.Boolean(),
  isCompacting: Type.Boolean(),
  steeringMode: Type.Union([Type.Literal("all"), Type.Literal("one-at-a-time")]),
  followUpMode: Type.Union([Type.Literal("all"), Type.Literal("one-at-a-time")]),
  sessionFile: Type.String(),
  autoCompactionEnabled: Type.Boolean(),
  messageCount: Type.Integer(),
  pendingMessageCount: Type.Integer(),
  steering: Type.Array(Type.String()),
  followUp: Type.Array(Type.String()),
  seq: Type.Integer({ minimum: 0 }),
  /** Changes each time the server process opens the session. */
  epoch: Type.String(),
  worktree: Type.String(),
  branch: Type.Union([Type.String(), Type.Null()]),
});
export type SessionState = Static<typeof SessionState>;

export const DeviceInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  createdAt: Type.Integer(),
  lastSeenAt: Type.Union([Type.Integer(), Type.Null()]),
  lastAddress: Type.Union([Type.String(), Type.Null()]),
  /** "user": uses sessions and answers approvals; "admin": may also change rules, read every audit entry, delete any session. */
  role: Type.Union([Type.Literal("user"), Type.Literal("admin")]),
});
export type DeviceInfo = Static<typeof DeviceInfo>;

/** One changed path of a session.diff, against the commit the session started from. */
export const DiffFile = Type.Object({
  path: Type.String(),
  /** For renamed: the path in the base commit. */
  oldPath: Type.Optional(Type.String()),
  status: Type.Union([
    Type.Literal("added"),
    Type.Literal("modified"),
    Type.Literal("deleted"),
    Type.Literal("renamed"),
  ]),
  additions: Type.Integer({ minimum: 0 }),
  deletions: Type.Integer({ minimum: 0 }),
  /** git sees binary content: no line counts, and the patch says only "Binary files … differ". */
  binary: Type.Boolean(),
});
export type DiffFile = Static<typeof DiffFile>;
