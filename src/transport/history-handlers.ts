import { ProtocolError } from "../protocol/errors.js";
import type { SessionHistory } from "../sessions/history.js";
import type { CallContext, Handlers, Roles } from "./handlers.js";

type HistoryMethod =
  | "session.fork"
  | "get_fork_points"
  | "session.rename"
  | "sessions.importable"
  | "session.import"
  | "session.checkpoints"
  | "session.revert";

function attachable(ctx: CallContext): void {
  if (!ctx.attachable()) {
    throw new ProtocolError("limit_exceeded", "too many sessions attached to this connection; detach one");
  }
}

/** Import reads pi's files on the host: the owner's, or an admin device's. */
export function historyHandlers(
  history: SessionHistory,
  access: Pick<Roles, "requireAdmin">,
): Pick<Handlers, HistoryMethod> {
  return {
    "session.fork": async (params, ctx) => {
      attachable(ctx);
      const { live, text } = await history.fork(params, ctx.principal.id);
      ctx.attach(live);
      return { sessionId: live.id, session: live.info(), ...(text !== undefined && { text }) };
    },
    get_fork_points: (params, ctx) => {
      const sessionId = params.sessionId ?? (ctx.sessionId === "" ? undefined : ctx.sessionId);
      if (sessionId === undefined) {
        throw new ProtocolError(
          "invalid_request",
          "get_fork_points needs params.sessionId or the envelope's sessionId",
        );
      }
      return history.forkPoints(sessionId);
    },
    "session.rename": (params) => history.rename(params),
    "sessions.importable": (_params, ctx) => {
      access.requireAdmin(ctx, "sessions.importable (it reads pi's files on the host)");
      return history.importable();
    },
    "session.import": async (params, ctx) => {
      access.requireAdmin(ctx, "session.import (it reads pi's files on the host)");
      attachable(ctx);
      const live = await history.import(params, ctx.principal.id);
      ctx.attach(live);
      return { sessionId: live.id, session: live.info() };
    },
    "session.checkpoints": (params) => history.checkpoints(params.sessionId),
    "session.revert": async (params, ctx) => {
      const result = await history.revert(params, ctx.principal.id);
      return result;
    },
  };
}
