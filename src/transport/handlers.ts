import { ProtocolError } from "../protocol/errors.js";
import { DEFAULT_READ_BYTES, type MethodName, type ParamsOf, type ResultOf } from "../protocol/methods.js";
import { listRepos, ReposFileError } from "../repos/repos.js";
import type { AttachLevel, LiveSession, Subscription } from "../sessions/live-session.js";
import type { NativeCalls } from "../sessions/native-calls.js";
import type { PermissionBroker } from "../sessions/permissions.js";
import type { PushService } from "../push/push-service.js";
import { pushHandlers } from "./push-handlers.js";
import { getDefaultModel, setDefaultModel } from "../sessions/default-model.js";
import type { SessionService } from "../sessions/service.js";
import type { SessionHistory } from "../sessions/history.js";
import { historyHandlers } from "./history-handlers.js";
import { sessionDiff } from "../sessions/session-diff.js";
import { sessionFile } from "../sessions/session-file.js";
import type { SessionsIndex } from "../store/sessions-index.js";
import type { TokenMatch, TokenStore } from "../store/tokens.js";
import type { WorkspaceService } from "../workspaces/service.js";
import { workspaceHandlers } from "./workspace-handlers.js";
import { type InsightDeps, insightHandlers } from "./insight-handlers.js";

/** What a handler may do to the connection that called it. */
export interface CallContext {
  connectionId: string;
  /** Who is calling: the owner or a paired device. */
  principal: TokenMatch;
  /** The envelope's sessionId; present for every method marked `scoped`. */
  sessionId: string;
  /** Subscribes the connection; events (replay first) flow once this request's response is sent. */
  attach(live: LiveSession, sinceSeq?: number, level?: AttachLevel, coalesceMs?: number): Subscription;
  /** Whether the connection may attach one more session (limits.maxSessionsPerConnection). */
  attachable(): boolean;
  detach(sessionId: string): boolean;
  /** client.visibility: whether this connection is on screen (it then holds back pushes about its sessions). */
  setVisible(visible: boolean): boolean;
}

export interface HandlerDeps {
  sessions: SessionService;
  /** Fork, rename, import, checkpoints. */
  history: SessionHistory;
  reposFile: string;
  /** config.json, where get/set_default_model read and write defaultModel. */
  configFile: string;
  tokens: TokenStore;
  /** Closes the open connections of revoked tokens. */
  onRevoked: (tokenIds: string[]) => void;
  permissions: PermissionBroker;
  /** The default model when config.json names none (demo mode). */
  fallbackDefaultModel?: string;
  /** limits.toolFileBytes: the largest file session.file reads. */
  fileLimit: number;
  /** Who created each session, for the creator-or-admin checks. */
  index: Pick<SessionsIndex, "get" | "list">;
  workspaces: WorkspaceService;
  nativeCalls: NativeCalls;
  /** sessions.search and usage.summary. */
  insights: InsightDeps;
  push: PushService;
}

function ownerOnly(ctx: CallContext): void {
  if (ctx.principal.kind !== "owner") {
    throw new ProtocolError("forbidden", "only the owner token may manage devices");
  }
}

/**
 * Roles: every principal uses sessions and answers approvals. Changing the policy, reading what
 * other devices' sessions did and deleting sessions one did not create take the owner, or a
 * device the owner made admin. The role is read per call so a grant or its withdrawal applies at
 * once, also to open connections.
 */
export interface Roles {
  isAdmin(ctx: CallContext): boolean;
  requireAdmin(ctx: CallContext, what: string): void;
  /** Owner, admin, or the token that created the session. */
  requireCreatorOrAdmin(ctx: CallContext, sessionId: string, what: string): void;
}

function roles(tokens: TokenStore, index: Pick<SessionsIndex, "get">): Roles {
  const isAdmin = (ctx: CallContext): boolean =>
    ctx.principal.kind === "owner" || tokens.role(ctx.principal.id) === "admin";
  return {
    isAdmin,
    requireAdmin(ctx, what) {
      if (!isAdmin(ctx)) {
        throw new ProtocolError("forbidden", `${what} needs the owner or an admin device`, {
          needs: "admin",
        });
      }
    },
    requireCreatorOrAdmin(ctx, sessionId, what) {
      if (isAdmin(ctx)) return;
      const record = index.get(sessionId);
      if (!record) throw new ProtocolError("not_found", `no session ${sessionId}`);
      if (record.createdBy !== ctx.principal.id) {
        throw new ProtocolError(
          "forbidden",
          `${what} a session another principal created needs the owner or an admin device`,
          { needs: "admin" },
        );
      }
    },
  };
}

type Handler<M extends MethodName> = (
  params: ParamsOf<M>,
  ctx: CallContext,
) => Promise<ResultOf<M>> | ResultOf<M>;
export type Handlers = { [M in Exclude<MethodName, "hello">]: Handler<M> };

export function createHandlers({
  sessions,
  history,
  reposFile,
  configFile,
  tokens,
  onRevoked,
  permissions,
  index,
  nativeCalls,
  fileLimit,
  fallbackDefaultModel,
  workspaces,
  insights,
  push,
}: HandlerDeps): Handlers {
  const access = roles(tokens, index);
  const scoped = (ctx: CallContext): Promise<LiveSession> => sessions.open(ctx.sessionId);
  const findModel = (provider: string, modelId: string): ReturnType<SessionService["findModel"]> =>
    sessions.findModel(provider, modelId);
  return {
    "repos.list": async () => {
      try {
        return { repos: await listRepos(reposFile) };
      } catch (err) {
        if (err instanceof ReposFileError) throw new ProtocolError("internal", err.message);
        throw err;
      }
    },
    "session.create": async (params, ctx) => {
      if (!ctx.attachable()) {
        throw new ProtocolError(
          "limit_exceeded",
          "too many sessions attached to this connection; detach one",
        );
      }
      const live = await sessions.create(params, ctx.principal.id);
      ctx.attach(live);
      return { sessionId: live.id, session: live.info() };
    },
    "session.list": () => ({ sessions: sessions.list() }),
    "devices.list": (_params, ctx) => {
      ownerOnly(ctx);
      return { devices: tokens.devices() };
    },
    "devices.revoke": (params, ctx) => {
      ownerOnly(ctx);
      const revoked = tokens.revokeDevice(params.device);
      if (revoked.length === 0) throw new ProtocolError("not_found", `no device "${params.device}"`);
      onRevoked(revoked);
      return { revoked };
    },
    "devices.grant": (params, ctx) => {
      ownerOnly(ctx);
      const granted = tokens.grantDevice(params.device, params.role);
      if (granted.length === 0) throw new ProtocolError("not_found", `no device "${params.device}"`);
      return { granted };
    },
    "session.attach": async (params, ctx) => {
      const live = await sessions.open(params.sessionId);
      const sub = ctx.attach(live, params.sinceSeq, params.level, params.coalesceMs);
      const currentModel = live.currentModel();
      return {
        ok: true,
        session: live.info(),
        seq: live.currentSeq,
        epoch: live.epoch,
        replay: sub.verdict,
        replayed: sub.replayCount,
        ...(currentModel && { currentModel }),
      };
    },
    "session.detach": (params, ctx) => {
      // The Pi Mobile app names the session it leaves only in the envelope.
      const sessionId = params.sessionId ?? (ctx.sessionId === "" ? undefined : ctx.sessionId);
      if (sessionId === undefined) {
        throw new ProtocolError(
          "invalid_request",
          "session.detach needs params.sessionId or the envelope's sessionId",
        );
      }
      return { detached: ctx.detach(sessionId) };
    },
    "session.delete": async (params, ctx) => {
      access.requireCreatorOrAdmin(ctx, params.sessionId, "deleting");
      return { deleted: true, ...(await sessions.delete(params)) };
    },
    "session.diff": async (params, ctx) => {
      const { runtime, worktree, base } = await sessions.worktreeAccess(ctx.sessionId);
      return sessionDiff({ runtime, worktree, base, maxBytes: params.maxBytes ?? DEFAULT_READ_BYTES });
    },
    "session.file": async (params, ctx) => {
      const { runtime, worktree } = await sessions.worktreeAccess(ctx.sessionId);
      const maxBytes = params.maxBytes ?? DEFAULT_READ_BYTES;
      return sessionFile({ runtime, worktree, path: params.path, maxBytes, fileLimit });
    },
    prompt: async (params, ctx) => (await scoped(ctx)).prompt(params),
    steer: async (params, ctx) => (await scoped(ctx)).queue("steer", params),
    follow_up: async (params, ctx) => (await scoped(ctx)).queue("follow_up", params),
    abort: async (_params, ctx) => (await scoped(ctx)).abort(),
    get_state: async (_params, ctx) => (await scoped(ctx)).state(),
    get_messages: async (params, ctx) => {
      const live = await scoped(ctx);
      const page = live.messages(params);
      const ids = toolCallIds([...page.messages, ...(page.streaming === undefined ? [] : [page.streaming])]);
      const decisions = permissions.decisions(live.id, ids);
      return Object.keys(decisions).length > 0 ? { ...page, decisions } : page;
    },
    get_available_models: () => sessions.availableModels(),
    set_model: async (params, ctx) => (await scoped(ctx)).setModel(params.provider, params.modelId),
    set_thinking_level: async (params, ctx) => (await scoped(ctx)).setThinkingLevel(params.level),
    native_tool_response: (params, ctx) => {
      nativeCalls.respond(ctx.connectionId, params);
      return { accepted: true };
    },
    get_default_model: () => {
      const defaultModel = getDefaultModel(configFile, findModel, fallbackDefaultModel);
      return defaultModel ? { defaultModel } : {};
    },
    set_default_model: (params) => ({
      defaultModel: setDefaultModel(configFile, findModel, params.provider, params.modelId),
    }),
    ...permissionHandlers(permissions, access),
    ...workspaceHandlers({ sessions, workspaces, reposFile, index, access }),
    ...insightHandlers(insights),
    ...pushHandlers(push, access),
    "client.visibility": (params, ctx) => ({ visible: ctx.setVisible(params.visible) }),
    ...historyHandlers(history, access),
  };
}

type PermissionMethod =
  | "permission.respond"
  | "permission.get"
  | "permission.list"
  | "rules.list"
  | "rules.add"
  | "rules.remove"
  | "audit.list";

function permissionHandlers(permissions: PermissionBroker, access: Roles): Pick<Handlers, PermissionMethod> {
  return {
    "permission.respond": (params, ctx) => {
      // allow_always stores a rule beyond this session: that is a policy change.
      if (params.decision === "allow_always") access.requireAdmin(ctx, "answering allow_always");
      return permissions.respond(params.id, params.decision, ctx.principal.name, params.message);
    },
    "permission.get": (params) => permissions.get(params.id),
    "permission.list": (params) => ({ requests: permissions.list(params.sessionId) }),
    "rules.list": (params) => ({ rules: permissions.listRules(params) }),
    "rules.add": (params, ctx) => {
      access.requireAdmin(ctx, "adding a rule");
      return { rule: permissions.addRule(params, ctx.principal.name) };
    },
    "rules.remove": (params, ctx) => {
      access.requireAdmin(ctx, "removing a rule");
      return { removed: permissions.removeRule(params.id, ctx.principal.name) };
    },
    "audit.list": (params, ctx) => {
      if (access.isAdmin(ctx)) return permissions.auditList(params);
      // A device sees what happened in the sessions it created, nothing else.
      if (params.sessionId !== undefined)
        access.requireCreatorOrAdmin(ctx, params.sessionId, "reading the audit of");
      return permissions.auditList({ ...params, createdBy: ctx.principal.id });
    },
  };
}

/** The ids of the tool calls in a page of get_messages (portable or raw: both keep pi's toolCall blocks). */
function toolCallIds(messages: unknown[]): string[] {
  const ids: string[] = [];
  for (const m of messages) {
    const content = (m as { content?: unknown }).content;
    if (!Array.isArray(content)) continue;
    for (const b of content as { type?: unknown; id?: unknown }[])
      if (b.type === "toolCall" && typeof b.id === "string") ids.push(b.id);
  }
  return ids;
}
