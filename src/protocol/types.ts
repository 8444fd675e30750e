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
  path: Type.String(),
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

export const ModelInfo = Type.Object({
  provider: Type.String(),
  id: Type.String(),
  name: Type.String(),
  reasoning: Type.Boolean(),
  input: Type.Array(Type.String()),
  contextWindow: Type.Number(),
  maxTokens: Type.Number(),
});
export type ModelInfo = Static<typeof ModelInfo>;

export const SessionInfo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  repoId: Type.Union([Type.String(), Type.Null()]),
  worktree: Type.String(),
  branch: Type.Union([Type.String(), Type.Null()]),
  /** "provider/modelId" */
  model: Type.Union([Type.String(), Type.Null()]),
  thinkingLevel: ThinkingLevel,
  piSessionFile: Type.String(),
  createdAt: Type.Integer(),
  lastActivity: Type.Integer(),
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

export const SessionState = Type.Object({
  sessionId: Type.String(),
  name: Type.String(),
  model: Type.Union([ModelInfo, Type.Null()]),
  thinkingLevel: ThinkingLevel,
  status: SessionStatus,
  isStreaming: Type.Boolean(),
  isCompacting: Type.Boolean(),
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
