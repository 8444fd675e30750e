import { ProtocolError } from "../protocol/errors.js";
import type { ParamsOf } from "../protocol/methods.js";
import type { PushKinds, PushPreferences, QuietHours } from "../protocol/push.js";
import type { PushPreferencesStore } from "../store/push-preferences.js";

/** What a notification is about; each kind a device can switch off. */
export type PushKind = keyof PushKinds;

/** The server's own time zone: quiet hours without one are read on its clock. */
export function serverTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** "HH:MM" of `at` on the wall clock of `timeZone`. */
export function clockAt(at: number, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  }).formatToParts(at);
  const get = (t: string): string => parts.find((p) => p.type === t)?.value ?? "00";
  return `${get("hour")}:${get("minute")}`;
}

/** Whether `at` falls in the window: start inclusive, end exclusive; a start after the end crosses midnight. */
export function inQuietHours(q: QuietHours, at: number): boolean {
  const now = clockAt(at, q.timeZone ?? serverTimeZone());
  return q.start < q.end ? now >= q.start && now < q.end : now >= q.start || now < q.end;
}

/**
 * Whether a device wants this kind now. A kind switched off is never sent; quiet hours hold back
 * everything but permission requests, since a waiting call blocks the agent until someone answers.
 */
export function wants(p: PushPreferences, kind: PushKind, at: number): boolean {
  if (!p.kinds[kind]) return false;
  if (kind === "permission" || !p.quietHours) return true;
  return !inQuietHours(p.quietHours, at);
}

/** Per-device preferences: read on every notification, changed with push.preferences.set. */
export class PushPolicy {
  constructor(private readonly store: PushPreferencesStore) {}

  get(tokenId: string): PushPreferences {
    return this.store.get(tokenId);
  }

  wants(tokenId: string, kind: PushKind, at = Date.now()): boolean {
    return wants(this.store.get(tokenId), kind, at);
  }

  /** Merges the kinds named into what the device had; quietHours replaces (null removes) the window. */
  set(tokenId: string, params: ParamsOf<"push.preferences.set">): PushPreferences {
    const q = params.quietHours;
    if (q) {
      if (q.timeZone !== undefined && !validTimeZone(q.timeZone))
        throw new ProtocolError(
          "invalid_request",
          `unknown time zone "${q.timeZone}": use an IANA name such as "Europe/Berlin"`,
          { field: "quietHours.timeZone" },
        );
      if (q.start === q.end)
        throw new ProtocolError(
          "invalid_request",
          "quietHours.start and end are the same: the window would be empty",
          { field: "quietHours" },
        );
    }
    const was = this.store.get(tokenId);
    const kinds = { ...was.kinds };
    // Only the kinds this server knows: a newer app's extra names are ignored, like other unknown params.
    for (const k of Object.keys(kinds) as PushKind[]) {
      const v = params.kinds?.[k];
      if (v !== undefined) kinds[k] = v;
    }
    const next: PushPreferences = {
      kinds,
      quietHours: q === undefined ? was.quietHours : q,
    };
    this.store.put(tokenId, next);
    return next;
  }

  forgetDevices(tokenIds: readonly string[]): void {
    this.store.removeForTokens(tokenIds);
  }
}
