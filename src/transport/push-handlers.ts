import type { PushService } from "../push/push-service.js";
import type { Handlers } from "./handlers.js";

type PushMethod = "push.config" | "push.subscribe" | "push.unsubscribe" | "push.register" | "push.unregister";

/** A subscription belongs to the token that registered it: only it can remove it, revoking it drops it. */
export function pushHandlers(push: PushService): Pick<Handlers, PushMethod> {
  return {
    "push.config": () => ({ vapidPublicKey: push.vapidPublicKey }),
    "push.subscribe": (params, ctx) => push.subscribe(ctx.principal.id, params.subscription),
    "push.unsubscribe": (params, ctx) => ({ removed: push.unsubscribe(ctx.principal.id, params.endpoint) }),
    "push.register": (params, ctx) => push.register(ctx.principal.id, params.platform, params.deviceToken),
    "push.unregister": (params, ctx) => ({
      removed: push.unregister(ctx.principal.id, params.platform, params.deviceToken),
    }),
  };
}
