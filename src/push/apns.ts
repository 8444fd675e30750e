import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { ProtocolError } from "../protocol/errors.js";
import type { ApnsRegistration, ApnsRegistrationsStore } from "../store/apns-registrations.js";
import type { ApnsClient } from "./apns-client.js";
import type { ApnsProviderToken } from "./apns-jwt.js";
import type { DeviceTokenChannel } from "./channel.js";
import { sendEach, type PushPayload, type SendCount } from "./web-push.js";

/** The notification category the iOS app registers, with its two actions (see docs/push.md). */
export const APNS_CATEGORY = "PI_PERMISSION";
export const APNS_ACTIONS = { APPROVE: "allow", DENY: "deny" } as const;

/** What a redacted notification shows: nothing of the session, the tool or the command. */
export const REDACTED_ALERT = { title: "Approval needed", body: "A session waits for your answer" };

/** The redacted alert of each kind (summaries and tests carry no session content, so keep their text). */
const REDACTED_ALERTS: Record<string, { title: string; body: string }> = {
  permission: REDACTED_ALERT,
  turnEnded: { title: "Turn ended", body: "A session finished its turn" },
  turnFailed: { title: "Turn failed", body: "A session's turn ended on an error" },
  interrupted: { title: "Session interrupted", body: "A running turn was cut short" },
};

/** Answers after which a device token is dead for this app and environment. */
const GONE_REASONS = new Set(["BadDeviceToken", "DeviceTokenNotForTopic", "Unregistered"]);
const PROVIDER_TOKEN_REASONS = new Set(["ExpiredProviderToken", "InvalidProviderToken"]);

/** As long as the notification's action token lives. */
const EXPIRATION_SECONDS = 10 * 60;

/** The APNs body for a notification: Apple's `aps` dictionary, and what the app acts on beside it. */
export function apnsPayload(p: PushPayload): Record<string, unknown> {
  return {
    aps: {
      alert:
        p.title === undefined
          ? (REDACTED_ALERTS[p.kind] ?? REDACTED_ALERT)
          : { title: p.title, body: p.body ?? "" },
      // Only a permission request has Approve and Deny: other kinds show no buttons.
      ...(p.actionToken !== undefined && { category: APNS_CATEGORY }),
      sound: "default",
      ...(p.sessionId !== undefined && { "thread-id": p.sessionId }),
    },
    kind: p.kind,
    ...(p.requestId !== undefined && { requestId: p.requestId }),
    ...(p.sessionId !== undefined && { sessionId: p.sessionId }),
    ...(p.tool !== undefined && { tool: p.tool }),
    ...(p.actionToken !== undefined && { actionToken: p.actionToken }),
    ...(p.count !== undefined && { count: p.count }),
    ...(p.counts !== undefined && { counts: p.counts }),
    ...(p.sessionIds !== undefined && { sessionIds: p.sessionIds }),
  };
}

export interface ApnsChannelDeps {
  store: ApnsRegistrationsStore;
  client: ApnsClient;
  providerToken: ApnsProviderToken;
  /** The app's bundle id: every request's apns-topic. */
  bundleId: string;
  log: Logger;
  /** A registration whose device was revoked is dropped instead of sent to. */
  alive: (r: ApnsRegistration) => boolean;
  /** Delays between attempts of a transient failure (429, 5xx, network). */
  backoffMs?: number[];
}

/** Delivery to the iOS app through Apple Push Notification service (token auth over HTTP/2). */
export class ApnsChannel implements DeviceTokenChannel {
  readonly platform = "apns";
  readonly name = "apns";
  private readonly backoff: number[];

  constructor(private readonly deps: ApnsChannelDeps) {
    this.backoff = deps.backoffMs ?? [1000, 4000, 15000];
  }

  register(tokenId: string, deviceToken: string): { id: string } {
    return { id: this.deps.store.upsert(tokenId, deviceToken.toLowerCase()).id };
  }

  unregister(tokenId: string, deviceToken: string): boolean {
    return this.deps.store.removeDeviceToken(tokenId, deviceToken.toLowerCase());
  }

  forgetDevices(tokenIds: readonly string[]): void {
    this.deps.store.removeForTokens(tokenIds);
  }

  sendAll(payload: (device: { tokenId: string }) => PushPayload | undefined): Promise<SendCount> {
    return sendEach(this.live(), payload, (r, p) => this.send(r, p));
  }

  devices(): string[] {
    return this.live().map((r) => r.tokenId);
  }

  private live(): ApnsRegistration[] {
    const all = this.deps.store.list();
    for (const r of all) if (!this.deps.alive(r)) this.deps.store.remove(r.id);
    return all.filter((r) => this.deps.alive(r));
  }

  close(): void {
    this.deps.client.close();
  }

  /** Resolves with whether Apple took it. */
  private async send(r: ApnsRegistration, payload: PushPayload): Promise<boolean> {
    const body = JSON.stringify(apnsPayload(payload));
    const headers = {
      "apns-topic": this.deps.bundleId,
      "apns-push-type": "alert",
      "apns-priority": "10",
      "apns-expiration": String(Math.floor(Date.now() / 1000) + EXPIRATION_SECONDS),
      ...(payload.requestId !== undefined && { "apns-collapse-id": payload.requestId }),
    };
    const log = this.deps.log;
    let renewed = false;
    for (let attempt = 0; ;) {
      const jwt = this.deps.providerToken.get();
      let status: number | undefined;
      let reason: string | undefined;
      let failure: string | undefined;
      try {
        ({ status, reason } = await this.deps.client.post(
          r.deviceToken,
          { ...headers, authorization: `bearer ${jwt}` },
          body,
        ));
      } catch (err) {
        failure = (err as Error).message;
      }
      if (status === 200) {
        this.deps.store.delivered(r.id, true);
        return true;
      }
      if (status === 410 || (status === 400 && reason !== undefined && GONE_REASONS.has(reason))) {
        log.info({ registration: r.id, status, reason }, "APNs device token is gone; dropped");
        this.deps.store.remove(r.id);
        return false;
      }
      if (status === 403 && reason !== undefined && PROVIDER_TOKEN_REASONS.has(reason) && !renewed) {
        // A clock jump or Apple's own expiry: one fresh provider token, then the same try again.
        renewed = true;
        this.deps.providerToken.renew(jwt);
        continue;
      }
      const transient = status === undefined || status === 429 || status >= 500;
      const wait = this.backoff[attempt];
      if (!transient || wait === undefined) {
        log.warn(
          { registration: r.id, status, reason, err: failure, attempts: attempt + 1 },
          status === 403
            ? "APNs refused the provider token: check push.apns.keyId, teamId and the .p8 key"
            : "APNs delivery failed",
        );
        this.deps.store.delivered(r.id, false);
        return false;
      }
      log.info(
        { registration: r.id, status, reason, err: failure, attempt: attempt + 1 },
        "APNs delivery failed; retrying",
      );
      attempt++;
      await delay(wait);
    }
  }
}

/** push.register on a server without push.apns: the app learns it, typed, instead of waiting in vain. */
export function apnsNotConfigured(): ProtocolError {
  return new ProtocolError(
    "invalid_request",
    "APNs is not configured on this server: set push.apns in config.json (docs/push.md)",
    { reason: "apns_not_configured" },
  );
}
