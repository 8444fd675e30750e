import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf, ResultOf } from "../protocol/methods.js";
import { helloChallenge } from "../protocol/invite.js";
import type { NativeToolSpec } from "../protocol/native-tools.js";
import type { ServerInfo } from "../protocol/types.js";
import type { Identity } from "../pairing/identity.js";
import type { AttachLevel, LiveSession, SubscriberTraits, Subscription } from "../sessions/live-session.js";
import { acceptNativeTools } from "../sessions/native-tools.js";
import type { TokenMatch } from "../store/tokens.js";
import type { ConnectionSnapshot } from "./resume.js";

type HelloResult = ResultOf<"hello">;
type HelloParams = ParamsOf<"hello">;
type Tools = ReturnType<typeof acceptNativeTools>;
type ResumeParams = NonNullable<ParamsOf<"hello">["resume"]>;
type ResumeResult = NonNullable<HelloResult["resume"]>;

/** The hello result's capabilities: resume by hello, and a flag for each feature the server lists. */
export function capabilityFlags(server: ServerInfo, replayWindowSec: number): HelloResult["capabilities"] {
  const has = (name: string): boolean => server.capabilities.includes(name);
  return {
    resume: true,
    replayWindowSec,
    sessions: has("sessions"),
    worktrees: has("worktrees"),
    replay: has("replay"),
    images: has("images"),
    thinking: has("thinking"),
    models: has("models"),
    chat: has("chat"),
    nativeTools: has("nativeTools"),
    permissions: has("permissions"),
  };
}

export interface ResumeHost {
  open(sessionId: string): Promise<LiveSession>;
  /** coalesceMs undefined: the connection's default window. */
  attach(
    live: LiveSession,
    sinceSeq: number | undefined,
    level: AttachLevel,
    coalesceMs: number | undefined,
  ): Subscription;
}

/**
 * hello.resume: re-attaches the sessions the previous connection was attached to (when the server
 * still knows it) or, failing that, the sessions the client names in lastSeqBySession, each from the
 * client's last seq. Per-session failures are reported, not thrown: the connection itself is fine.
 */
export async function resumeSessions(
  host: ResumeHost,
  resume: ResumeParams,
  previous: ConnectionSnapshot | undefined,
): Promise<{ result: ResumeResult; started: Subscription[] }> {
  const targets = new Map<
    string,
    { level: AttachLevel; sinceSeq: number | undefined; coalesceMs: number | undefined }
  >();
  if (previous) {
    for (const a of previous.attachments) {
      targets.set(a.sessionId, {
        level: a.level,
        sinceSeq: resume.lastSeqBySession[a.sessionId] ?? a.fromSeq,
        // An attachment without a window of its own takes the new hello's.
        coalesceMs: a.coalesceMs > 0 ? a.coalesceMs : undefined,
      });
    }
  } else {
    for (const [sessionId, seq] of Object.entries(resume.lastSeqBySession)) {
      targets.set(sessionId, { level: "full", sinceSeq: seq, coalesceMs: undefined });
    }
  }
  const sessions: ResumeResult["sessions"] = {};
  const started: Subscription[] = [];
  for (const [sessionId, t] of targets) {
    try {
      const live = await host.open(sessionId);
      const sub = host.attach(live, t.sinceSeq, t.level, t.coalesceMs);
      started.push(sub);
      sessions[sessionId] = {
        ok: true,
        replay: sub.verdict,
        replayed: sub.replayCount,
        seq: live.currentSeq,
        epoch: live.epoch,
      };
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err;
      sessions[sessionId] = { ok: false, error: { code: err.code, message: err.message } };
    }
  }
  return { result: { known: previous !== undefined, sessions }, started };
}

/** The tools a hello offers; a resuming app that says hello without them (Pi Mobile does) keeps its old ones. */
export function acceptedTools(params: HelloParams, previous: ConnectionSnapshot | undefined): Tools {
  return acceptNativeTools(params.nativeTools ?? previous?.nativeTools ?? []);
}

export function clientTraits(
  params: HelloParams,
  previous: ConnectionSnapshot | undefined,
  tools: NativeToolSpec[],
  connectionId: string,
  sendFrame: (data: string) => void,
): SubscriberTraits {
  return {
    permissionRequests: params.capabilities?.permissionRequests ?? previous?.permissionRequests ?? false,
    ...(tools.length > 0 && { native: { connectionId, tools, sendFrame } }),
  };
}

export function helloResult(o: {
  connectionId: string;
  server: ServerInfo;
  replayWindowSec: number;
  principal: TokenMatch;
  identity: Identity;
  params: HelloParams;
  tools: Tools;
  resume: ResumeResult | undefined;
}): HelloResult {
  const { serverId, publicKey } = o.identity;
  const nonce = o.params.nonce;
  return {
    connectionId: o.connectionId,
    server: o.server,
    capabilities: capabilityFlags(o.server, o.replayWindowSec),
    principal: { kind: o.principal.kind, name: o.principal.name },
    identity: {
      serverId,
      publicKey,
      ...(nonce !== undefined && { signature: o.identity.sign(helloChallenge(nonce, serverId)) }),
    },
    ...(o.resume && { resume: o.resume }),
    ...(o.params.nativeTools && {
      nativeTools: { accepted: o.tools.accepted.map((t) => t.name), rejected: o.tools.rejected },
    }),
  };
}
