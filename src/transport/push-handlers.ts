import type { PushService } from "../push/push-service.js";
import type { Handlers, Roles } from "./handlers.js";

type PushMethod =
  | "push.config"
  | "push.subscribe"
  | "push.unsubscribe"
  | "push.register"
  | "push.unregister"
  | "push.preferences.get"
  | "push.preferences.set"
  | "push.test";

/** A subscription belongs to the token that registered it: only it can remove it, revoking it drops it. */
export function pushHandlers(push: PushService, access: Roles): Pick<Handlers, PushMethod> {
  return {
    "push.config": () => ({ vapidPublicKey: push.vapidPublicKey }),
    "push.subscribe": (params, ctx) => push.subscribe(ctx.principal.id, params.subscription),
    "push.unsubscribe": (params, ctx) => ({ removed: push.unsubscribe(ctx.principal.id, params.endpoint) }),
    "push.register": (params, ctx) => push.register(ctx.principal.id, params.platform, params.deviceToken),
    "push.unregister": (params, ctx) => ({
      removed: push.unregister(ctx.principal.id, params.platform, params.deviceToken),
    }),
    "push.preferences.get": (_params, ctx) => push.preferences(ctx.principal.id),
    "push.preferences.set": (params, ctx) => push.setPreferences(ctx.principal.id, params),
    "push.test": async (_params, ctx) => {
      // It reaches every device, not only the caller's: not for any paired phone to ring the others.
      access.requireAdmin(ctx, "push.test");
      return { channels: await push.test() };
    },
  };
}
