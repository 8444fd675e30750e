import type { Agent as HttpsAgent } from "node:https";
import type { Logger } from "pino";
import type { PermissionRequest } from "../protocol/permissions.js";
import type { WebPushSubscription } from "../protocol/push.js";
import type { PushSubscriptionsStore } from "../store/push-subscriptions.js";
import type { VapidKeys } from "./vapid.js";
import type { ActionTokens } from "./action-token.js";
import { WebPushSender } from "./web-push.js";

const MAX_BODY = 200;

export interface PushServiceDeps {
  store: PushSubscriptionsStore;
  vapid: VapidKeys;
  subject: string;
  log: Logger;
  /** A session's name, for the notification's title. */
  sessionName: (sessionId: string) => string | undefined;
  /** Whether the token a subscription belongs to still exists (revoked from the CLI: it does not). */
  tokenAlive: (tokenId: string) => boolean;
  backoffMs?: number[];
  agent?: HttpsAgent;
  actions: ActionTokens;
  /** push.redact in config.json: payloads carry opaque ids only. */
  redact: () => boolean;
}

/** Registered devices, and what they are told when the agent needs them. */
export class PushService {
  private readonly sender: WebPushSender;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: PushServiceDeps) {
    this.sender = new WebPushSender({ ...deps, alive: (s) => deps.tokenAlive(s.tokenId) });
  }

  get vapidPublicKey(): string {
    return this.deps.vapid.publicKey;
  }

  subscribe(tokenId: string, s: WebPushSubscription): { id: string; vapidPublicKey: string } {
    const r = this.deps.store.upsert(tokenId, {
      endpoint: s.endpoint,
      p256dh: s.keys.p256dh,
      auth: s.keys.auth,
    });
    return { id: r.id, vapidPublicKey: this.vapidPublicKey };
  }

  unsubscribe(tokenId: string, endpoint: string): boolean {
    return this.deps.store.removeEndpoint(tokenId, endpoint);
  }

  /** A revoked device is told nothing more. */
  forgetDevices(tokenIds: readonly string[]): void {
    this.deps.store.removeForTokens(tokenIds);
    this.deps.actions.forgetDevices(tokenIds);
  }

  /**
   * A tool call waits for an answer: every registered device hears of it, with Approve and Deny bound
   * to this call. Never throws.
   */
  permissionRequested(request: PermissionRequest, fullInput: unknown): void {
    const redact = this.deps.redact();
    const summary =
      request.summary.length > MAX_BODY ? `${request.summary.slice(0, MAX_BODY - 1)}…` : request.summary;
    const call = { tool: request.tool, input: fullInput };
    this.track(
      this.sender.sendAll((s) => ({
        kind: "permission",
        requestId: request.id,
        sessionId: request.sessionId,
        ...(!redact && {
          title: `${this.deps.sessionName(request.sessionId) ?? request.sessionId} asks to run ${request.tool}`,
          body: summary,
          tool: request.tool,
        }),
        actionToken: this.deps.actions.mint(request.id, call, s.tokenId, request.expiresAt),
        actions: [
          { action: "allow", title: "Approve" },
          { action: "deny", title: "Deny" },
        ],
      })),
    );
  }

  private track(p: Promise<unknown>): void {
    const tracked: Promise<void> = p
      .then(() => undefined)
      .catch((err: unknown) => this.deps.log.error({ err }, "push failed"))
      .finally(() => {
        this.inFlight.delete(tracked);
      });
    this.inFlight.add(tracked);
  }

  /** Deliveries still being tried (a stopping server lets them finish or give up). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inFlight]);
  }
}
