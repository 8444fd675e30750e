import { Type } from "typebox";
import { CoalesceMs } from "./coalesce.js";
import { NativeToolSpec } from "./native-tools.js";
import { ServerInfo } from "./types.js";

/** Unknown keys are tolerated, known ones validated (see methods.ts). */
const Known = {} as const;

export const ReplayVerdict = Type.Union([Type.Literal("none"), Type.Literal("ok"), Type.Literal("gap")]);

/** One session re-attached by hello.resume. */
const ResumedSession = Type.Union([
  Type.Object({
    ok: Type.Literal(true),
    /** "ok": the missed events follow the hello response; "gap": reload with get_messages. */
    replay: ReplayVerdict,
    replayed: Type.Integer({ minimum: 0 }),
    seq: Type.Integer({ minimum: 0 }),
    epoch: Type.String(),
  }),
  Type.Object({
    ok: Type.Literal(false),
    error: Type.Object({ code: Type.String(), message: Type.String() }),
  }),
]);

export const HelloParams = Type.Object(
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
        Known,
      ),
    ),
    /** Tools this client runs for the agent of every session it attaches to. */
    nativeTools: Type.Optional(Type.Array(NativeToolSpec, { maxItems: 64 })),
    /** After a reconnect: re-attach what that connection was attached to and replay what it missed. */
    resume: Type.Optional(
      Type.Object(
        {
          connectionId: Type.String({ minLength: 1, maxLength: 64 }),
          lastSeqBySession: Type.Record(Type.String({ maxLength: 64 }), Type.Integer({ minimum: 0 }), {
            maxProperties: 1000,
          }),
        },
        Known,
      ),
    ),
    /** Default delta window of every session this connection attaches to (session.attach may override it). */
    coalesceMs: Type.Optional(CoalesceMs),
    /** What this client can do; a client that says nothing answers no permission requests. */
    capabilities: Type.Optional(Type.Object({ permissionRequests: Type.Optional(Type.Boolean()) }, Known)),
  },
  Known,
);

export const HelloResult = Type.Object({
  connectionId: Type.String(),
  server: ServerInfo,
  /** What the server supports: resume by hello, and one flag per feature of server.capabilities. */
  capabilities: Type.Object({
    resume: Type.Literal(true),
    /** How long a dropped connection's attachments are kept for hello.resume, seconds. */
    replayWindowSec: Type.Integer({ minimum: 0 }),
    sessions: Type.Boolean(),
    worktrees: Type.Boolean(),
    replay: Type.Boolean(),
    images: Type.Boolean(),
    thinking: Type.Boolean(),
    models: Type.Boolean(),
    chat: Type.Boolean(),
    nativeTools: Type.Boolean(),
    permissions: Type.Boolean(),
  }),
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
  /** Present when params.resume was: what happened to each session. */
  resume: Type.Optional(
    Type.Object({
      /** The connection's attachments were known (it is still open or dropped recently). */
      known: Type.Boolean(),
      sessions: Type.Record(Type.String(), ResumedSession),
    }),
  ),
  /** Present when params.nativeTools was: the tools refused (a name the server's own tools use). */
  nativeTools: Type.Optional(
    Type.Object({
      accepted: Type.Array(Type.String()),
      rejected: Type.Array(Type.Object({ name: Type.String(), reason: Type.String() })),
    }),
  ),
});
