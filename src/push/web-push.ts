import type { Agent as HttpsAgent } from "node:https";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { PushSubscriptionRecord, PushSubscriptionsStore } from "../store/push-subscriptions.js";
import type { VapidKeys } from "./vapid.js";

/** What a notification is: one of the kinds a device chooses, a coalesced burst, or push.test. */
export type PushPayloadKind = "permission" | "turnEnded" | "turnFailed" | "interrupted" | "summary" | "test";

/** What a notification carries: the minimum for the service worker to show it and act on it. */
export interface PushPayload {
  kind: PushPayloadKind;
  requestId?: string;
  sessionId?: string;
  /** Absent with push.redact: the app shows a generic text and fetches the detail when opened. */
  title?: string;
  body?: string;
  tool?: string;
  /** Approve and Deny: POST /push/action with this token answers exactly this call, once. */
  actionToken?: string;
  actions?: { action: "allow" | "deny"; title: string }[];
  /** A summary: how many notifications it stands for, by kind, and the sessions they are about. */
  count?: number;
  counts?: Partial<Record<"permission" | "turnEnded" | "turnFailed" | "interrupted", number>>;
  sessionIds?: string[];
}

/** How many devices a send went to, and how many of them took it. */
export interface SendCount {
  devices: number;
  delivered: number;
}

/** Sends `payload` of each target (undefined: that one is skipped); counts them and their successes. */
export async function sendEach<T>(
  targets: readonly T[],
  payload: (t: T) => PushPayload | undefined,
  send: (t: T, p: PushPayload) => Promise<boolean>,
): Promise<SendCount> {
  const jobs: Promise<boolean>[] = [];
  for (const t of targets) {
    const p = payload(t);
    if (p) jobs.push(send(t, p));
  }
  const ok = await Promise.all(jobs);
  return { devices: jobs.length, delivered: ok.filter(Boolean).length };
}

export interface WebPushDeps {
  store: PushSubscriptionsStore;
  vapid: VapidKeys;
  /** The VAPID `sub` claim: how a push service reaches the operator (mailto: or https:). */
  subject: string;
  log: Logger;
  /** A subscription whose device was revoked is dropped instead of sent to. */
  alive: (s: PushSubscriptionRecord) => boolean;
  /** Delays between attempts; a delivery is tried once more per entry. */
  backoffMs?: number[];
  agent?: HttpsAgent;
}

const TTL_SECONDS = 10 * 60;

/** Sends to every subscription; retries transient failures with backoff, drops the dead (404/410). */
export class WebPushSender {
  private readonly backoff: number[];

  constructor(private readonly deps: WebPushDeps) {
    this.backoff = deps.backoffMs ?? [1000, 4000, 15000];
  }

  readonly name = "webpush";

  /** `payload` per subscription (each device gets its own action token; undefined skips one). */
  sendAll(payload: (s: PushSubscriptionRecord) => PushPayload | undefined): Promise<SendCount> {
    return sendEach(this.live(), payload, (s, p) => this.send(s, p));
  }

  /** The paired devices (token ids) with a subscription. */
  devices(): string[] {
    return this.live().map((s) => s.tokenId);
  }

  private live(): PushSubscriptionRecord[] {
    const all = this.deps.store.list();
    for (const s of all) if (!this.deps.alive(s)) this.deps.store.remove(s.id);
    return all.filter((s) => this.deps.alive(s));
  }

  /** Resolves with whether the push service took it. */
  private async send(s: PushSubscriptionRecord, payload: PushPayload): Promise<boolean> {
    const body = JSON.stringify(payload);
    // Loaded at the first notification: a start without subscribers never pays for it.
    const { default: webpush } = await import("web-push");
    for (let attempt = 0; ; attempt++) {
      try {
        await webpush.sendNotification(
          { endpoint: s.endpoint, keys: { p256dh: s.p256dh, auth: s.auth } },
          body,
          {
            vapidDetails: { subject: this.deps.subject, ...this.deps.vapid },
            TTL: TTL_SECONDS,
            urgency: "high",
            contentEncoding: "aes128gcm",
            timeout: 10_000,
            ...(this.deps.agent && { agent: this.deps.agent }),
          },
        );
        this.deps.store.delivered(s.id, true);
        return true;
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status === 404 || status === 410) {
          this.deps.log.info({ subscription: s.id, status }, "push subscription is gone; dropped");
          this.deps.store.remove(s.id);
          return false;
        }
        const wait = this.backoff[attempt];
        const permanent = status !== undefined && status >= 400 && status < 500 && status !== 429;
        if (wait === undefined || permanent) {
          this.deps.log.warn(
            { err, subscription: s.id, status, attempts: attempt + 1 },
            "push delivery failed",
          );
          this.deps.store.delivered(s.id, false);
          return false;
        }
        this.deps.log.info(
          { subscription: s.id, status, attempt: attempt + 1 },
          "push delivery failed; retrying",
        );
        await delay(wait);
      }
    }
  }
}
