import type { Agent as HttpsAgent } from "node:https";
import type { Logger } from "pino";
import type { PermissionRequest } from "../protocol/permissions.js";
import type { WebPushSubscription } from "../protocol/push.js";
import type { PushSubscriptionsStore } from "../store/push-subscriptions.js";
import type { VapidKeys } from "./vapid.js";
import type { ActionTokens } from "./action-token.js";
import { apnsNotConfigured } from "./apns.js";
import type { DeviceTokenChannel, PushChannel } from "./channel.js";
import { WebPushSender, type PushPayload, type SendCount } from "./web-push.js";
import { Bursts } from "./burst.js";
import { PushPolicy, type PushKind } from "./push-policy.js";
import type { PushPreferencesStore } from "../store/push-preferences.js";
import type { ParamsOf } from "../protocol/methods.js";
import type { PushPreferences } from "../protocol/push.js";

const MAX_BODY = 200;

/** How often requests held back for a watching client are looked at again. */
const HELD_CHECK_MS = 1000;

/** The coalescing window when config.json names none (push.coalesceMs). */
export const DEFAULT_COALESCE_MS = 1000;

const clip = (text: string): string => {
  const line = text.replace(/\s+/g, " ").trim();
  return line.length > MAX_BODY ? `${line.slice(0, MAX_BODY - 1)}…` : line;
};

/** Something a device may be told: rendered per device when it is sent, not before. */
interface Notice {
  kind: PushKind;
  sessionId: string;
  /** The payload for one device (a permission request mints its action token here). */
  render(device: { tokenId: string }): PushPayload;
  /** Still worth telling when a burst is flushed (an answered request is not). */
  live(): boolean;
}

const KIND_WORDS: Record<PushKind, [string, string]> = {
  permission: ["approval waiting", "approvals waiting"],
  turnEnded: ["turn ended", "turns ended"],
  turnFailed: ["turn failed", "turns failed"],
  interrupted: ["session interrupted", "sessions interrupted"],
};

/** One notification for a burst: "3 sessions need you", counts by kind, no buttons. */
export function summaryPayload(notices: readonly { kind: PushKind; sessionId: string }[]): PushPayload {
  const counts: Partial<Record<PushKind, number>> = {};
  for (const n of notices) counts[n.kind] = (counts[n.kind] ?? 0) + 1;
  const sessionIds = [...new Set(notices.map((n) => n.sessionId))];
  const s = sessionIds.length;
  const body = (Object.keys(KIND_WORDS) as PushKind[])
    .filter((k) => counts[k] !== undefined)
    .map((k) => `${counts[k]} ${KIND_WORDS[k][counts[k] === 1 ? 0 : 1]}`)
    .join(", ");
  return {
    kind: "summary",
    title: s === 1 ? `A session needs you (${notices.length} updates)` : `${s} sessions need you`,
    body,
    count: notices.length,
    counts,
    sessionIds,
    ...(s === 1 && { sessionId: sessionIds[0] }),
  };
}

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
  preferences: PushPreferencesStore;
  /** push.coalesceMs: the burst window per device; 0 sends every notification on its own. */
  coalesceMs: () => number;
  /** Whether a client that said it is visible is attached to the session: nothing is pushed about it then. */
  watched?: (sessionId: string) => boolean;
}

/** Registered devices, and what they are told when the agent needs them. */
export class PushService {
  private readonly sender: WebPushSender;
  private readonly channels: PushChannel[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly policy: PushPolicy;
  private readonly bursts: Bursts<Notice>;
  /** Permission requests held back while someone watched their session: pushed once nobody does. */
  private readonly heldBack = new Set<Notice>();
  private heldTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PushServiceDeps) {
    this.sender = new WebPushSender({ ...deps, alive: (s) => deps.tokenAlive(s.tokenId) });
    this.channels = [this.sender, ...(deps.channels ?? [])];
    this.policy = new PushPolicy(deps.preferences);
    this.bursts = new Bursts(deps.coalesceMs, (device, _held, all) => this.flush(device, all));
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
    this.policy.forgetDevices(tokenIds);
  }

  preferences(tokenId: string): PushPreferences {
    return this.policy.get(tokenId);
  }

  setPreferences(tokenId: string, params: ParamsOf<"push.preferences.set">): PushPreferences {
    return this.policy.set(tokenId, params);
  }

  /** push.test: every registered device, whatever its preferences; per channel, how many it reached. */
  async test(): Promise<{ channel: "webpush" | "apns"; devices: number; delivered: number }[]> {
    const payload: PushPayload = {
      kind: "test",
      title: "pi-server test notification",
      body: "Notifications from this server reach this device.",
    };
    const counts = await Promise.all(this.channels.map((c) => c.sendAll(() => payload)));
    return this.channels.map((c, i) => ({ channel: c.name, ...(counts[i] as SendCount) }));
  }

  /**
   * A tool call waits for an answer: every device that wants it hears of it, with Approve and Deny
   * bound to this call. Never throws.
   */
  permissionRequested(request: PermissionRequest, fullInput: unknown): void {
    const call = { tool: request.tool, input: fullInput };
    this.notify({
      kind: "permission",
      sessionId: request.sessionId,
      live: () => this.deps.actions.stillWaiting(request.id),
      render: (device) => ({
        kind: "permission",
        requestId: request.id,
        sessionId: request.sessionId,
        ...(!this.deps.redact() && {
          title: `${this.name(request.sessionId)} asks to run ${request.tool}`,
          body: clip(request.summary),
          tool: request.tool,
        }),
        actionToken: this.deps.actions.mint(request.id, call, device.tokenId, request.expiresAt),
        actions: [
          { action: "allow", title: "Approve" },
          { action: "deny", title: "Deny" },
        ],
      }),
    });
  }

  /** A run of the agent finished; `reply` is the end of its last answer. */
  turnEnded(sessionId: string, reply: string): void {
    this.simple("turnEnded", sessionId, `${this.name(sessionId)} finished`, reply || "The turn ended.");
  }

  /** A run ended on a model provider error. */
  turnFailed(sessionId: string, error: string): void {
    this.simple("turnFailed", sessionId, `${this.name(sessionId)} failed`, error);
  }

  /** A running turn was cut short (a stop, a crash). */
  interrupted(sessionId: string, reason: string): void {
    this.simple("interrupted", sessionId, `${this.name(sessionId)} was interrupted`, reason);
  }

  private simple(kind: PushKind, sessionId: string, title: string, body: string): void {
    this.notify({
      kind,
      sessionId,
      live: () => true,
      render: () => ({ kind, sessionId, ...(!this.deps.redact() && { title, body: clip(body) }) }),
    });
  }

  private name(sessionId: string): string {
    return this.deps.sessionName(sessionId) ?? sessionId;
  }

  /**
   * To every device that wants this kind now, unless someone is looking at the session: the first
   * of a burst at once, the rest when the device's window closes.
   */
  private notify(n: Notice): void {
    try {
      if (this.deps.watched?.(n.sessionId)) {
        this.deps.log.debug({ sessionId: n.sessionId, kind: n.kind }, "not pushed: a visible client watches");
        if (n.kind === "permission") this.holdBack(n);
        return;
      }
      const now = Date.now();
      const devices = new Set(this.channels.flatMap((c) => c.devices()));
      const at = new Set<string>();
      for (const d of devices) if (this.policy.wants(d, n.kind, now) && this.bursts.offer(d, n)) at.add(d);
      if (at.size > 0) this.track(this.sendAll((d) => (at.has(d.tokenId) ? n.render(d) : undefined)));
    } catch (err) {
      this.deps.log.error({ err, kind: n.kind }, "push failed");
    }
  }

  /**
   * A request shown on a screen that then went dark (hidden, detached, disconnected) before it was
   * answered must still reach the user: checked every second while any is held.
   */
  private holdBack(n: Notice): void {
    this.heldBack.add(n);
    this.heldTimer ??= setInterval(() => {
      for (const h of this.heldBack) {
        if (!h.live()) this.heldBack.delete(h);
        else if (!this.deps.watched?.(h.sessionId)) {
          this.heldBack.delete(h);
          this.notify(h);
        }
      }
      if (this.heldBack.size === 0) this.stopHeldTimer();
    }, HELD_CHECK_MS);
    this.heldTimer.unref();
  }

  private stopHeldTimer(): void {
    clearInterval(this.heldTimer);
    this.heldTimer = undefined;
  }

  /** A device's burst window closed: what is still worth telling, alone or as one summary. */
  private flush(device: string, all: Notice[]): void {
    try {
      const left = all.filter((n) => n.live() && !this.deps.watched?.(n.sessionId));
      const only = left.length === 1 ? left[0] : undefined;
      if (left.length === 0) return;
      const payload = (d: { tokenId: string }): PushPayload | undefined =>
        d.tokenId !== device ? undefined : only ? only.render(d) : summaryPayload(left);
      this.track(this.sendAll(payload));
    } catch (err) {
      this.deps.log.error({ err }, "push failed");
    }
  }

  /** Every channel (Web Push, then APNs when configured). */
  private async sendAll(payload: (device: { tokenId: string }) => PushPayload | undefined): Promise<void> {
    await Promise.all(this.channels.map((c) => c.sendAll(payload)));
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
    this.bursts.flushAll();
    await Promise.allSettled([...this.inFlight]);
  }

  close(): void {
    this.stopHeldTimer();
    for (const c of this.deps.channels ?? []) c.close();
  }
}
