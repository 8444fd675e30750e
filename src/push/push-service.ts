import type { Agent as HttpsAgent } from "node:https";
import type { Logger } from "pino";
import type { PermissionRequest } from "../protocol/permissions.js";
import type { WebPushSubscription } from "../protocol/push.js";
import type { PushSubscriptionsStore } from "../store/push-subscriptions.js";
import type { VapidKeys } from "./vapid.js";
import type { ActionTokens } from "./action-token.js";
import { apnsNotConfigured } from "./apns.js";
import type { DeviceTokenChannel, PushChannel } from "./channel.js";
import { WebPushSender, type PushPayload } from "./web-push.js";

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
  /** Channels beside Web Push whose devices use push.register (APNs, when configured). */
  channels?: DeviceTokenChannel[];
}

/** Registered devices, and what they are told when the agent needs them. */
export class PushService {
  private readonly sender: WebPushSender;
  private readonly channels: PushChannel[];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly deps: PushServiceDeps) {
    this.sender = new WebPushSender({ ...deps, alive: (s) => deps.tokenAlive(s.tokenId) });
    this.channels = [this.sender, ...(deps.channels ?? [])];
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

  /** A native app's device token (push.register); typed invalid_request when its platform is not set up. */
  register(tokenId: string, platform: "apns", deviceToken: string): { id: string } {
    return this.tokenChannel(platform).register(tokenId, deviceToken);
  }

  unregister(tokenId: string, platform: "apns", deviceToken: string): boolean {
    return this.tokenChannel(platform).unregister(tokenId, deviceToken);
  }

  private tokenChannel(platform: "apns"): DeviceTokenChannel {
    const c = this.deps.channels?.find((x) => x.platform === platform);
    if (!c) throw apnsNotConfigured();
    return c;
  }

  /** A revoked device is told nothing more. */
  forgetDevices(tokenIds: readonly string[]): void {
    this.deps.store.removeForTokens(tokenIds);
    for (const c of this.deps.channels ?? []) c.forgetDevices(tokenIds);
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
      this.sendAll((s) => ({
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

  /** Every channel (Web Push, then APNs when configured); resolves with how many devices were sent to. */
  private async sendAll(payload: (device: { tokenId: string }) => PushPayload): Promise<number> {
    const counts = await Promise.all(this.channels.map((c) => c.sendAll(payload)));
    return counts.reduce((a, b) => a + b, 0);
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

  close(): void {
    for (const c of this.deps.channels ?? []) c.close();
  }
}
