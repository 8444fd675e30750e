/**
 * The "Notifications" switch: Web Push through the service worker, registered with the current
 * server (push.subscribe / push.unsubscribe). The server's VAPID key is the subscription's
 * applicationServerKey, so a subscription made for another server is replaced, not reused.
 */
import { useEffect, useState } from "preact/hooks";
import type { ParamsOf } from "../../../src/protocol/methods.js";
import type { PushKinds, PushPreferences } from "../../../src/protocol/push.js";
import { explainError } from "../errors.js";
import { connection } from "../store.js";
import { ErrorText } from "./ErrorText.js";

type Support = "checking" | "unsupported" | "denied" | "ok";

function pushSupported(): boolean {
  return (
    window.isSecureContext &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  );
}

function keyBytes(base64url: string): Uint8Array<ArrayBuffer> {
  const b64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function sameKey(sub: PushSubscription, key: Uint8Array<ArrayBuffer>): boolean {
  const k = sub.options.applicationServerKey;
  if (!k) return false;
  const a = new Uint8Array(k);
  return a.length === key.length && a.every((b, i) => b === key[i]);
}

/** `subscription.toJSON()` in the shape push.subscribe takes. */
function asParams(sub: PushSubscription): ParamsOf<"push.subscribe">["subscription"] {
  const j = sub.toJSON();
  return {
    endpoint: j.endpoint ?? sub.endpoint,
    ...(j.expirationTime != null && { expirationTime: j.expirationTime }),
    keys: { p256dh: j.keys?.p256dh ?? "", auth: j.keys?.auth ?? "" },
  };
}

/**
 * The service worker's registration, once active. main.tsx registers it after the page's load; a
 * screen opened before that registers it here (the same script and scope: one registration).
 */
async function registration(): Promise<ServiceWorkerRegistration> {
  const base = import.meta.env.BASE_URL;
  const reg = await navigator.serviceWorker.getRegistration(base);
  if (!reg) await navigator.serviceWorker.register(`${base}sw.js`, { scope: base });
  return navigator.serviceWorker.ready;
}

export function NotificationSettings() {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [support, setSupport] = useState<Support>("checking");
  const [on, setOn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();

  // What is true now: this browser's subscription, made with this server's key.
  useEffect(() => {
    if (!pushSupported()) return setSupport("unsupported");
    if (Notification.permission === "denied") return setSupport("denied");
    setSupport("ok");
    if (!conn || !connected) return;
    let live = true;
    void (async () => {
      try {
        const [reg, { vapidPublicKey }] = await Promise.all([
          registration(),
          conn.request("push.config", {}),
        ]);
        const sub = await reg.pushManager.getSubscription();
        const mine = sub !== null && sameKey(sub, keyBytes(vapidPublicKey));
        // Registered again on every visit: a server that dropped it (or a new data dir) has it back.
        if (mine && Notification.permission === "granted")
          await conn.request("push.subscribe", { subscription: asParams(sub) });
        if (live) setOn(mine && Notification.permission === "granted");
      } catch (err) {
        if (live) setError(explainError(err, "Could not read the notification setting"));
      }
    })();
    return () => {
      live = false;
    };
  }, [conn, connected]);

  async function turnOn(): Promise<void> {
    if (!conn) return;
    const permission =
      Notification.permission === "granted" ? "granted" : await Notification.requestPermission();
    if (permission === "denied") {
      setSupport("denied");
      return;
    }
    if (permission !== "granted") throw new Error("notifications were not allowed");
    const [reg, { vapidPublicKey }] = await Promise.all([registration(), conn.request("push.config", {})]);
    const key = keyBytes(vapidPublicKey);
    let sub = await reg.pushManager.getSubscription();
    if (sub && !sameKey(sub, key)) {
      await sub.unsubscribe();
      sub = null;
    }
    sub ??= await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await conn.request("push.subscribe", { subscription: asParams(sub) });
    setOn(true);
  }

  async function turnOff(): Promise<void> {
    if (!conn) return;
    const sub = await (await registration()).pushManager.getSubscription();
    if (sub) {
      await conn.request("push.unsubscribe", { endpoint: sub.endpoint });
      await sub.unsubscribe();
    }
    setOn(false);
  }

  async function toggle(want: boolean): Promise<void> {
    setBusy(true);
    setError(undefined);
    try {
      await (want ? turnOn() : turnOff());
    } catch (err) {
      setError(
        explainError(err, want ? "Could not turn notifications on" : "Could not turn notifications off"),
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <section aria-labelledby="notif-h" class="stack">
      <h2 id="notif-h">Notifications</h2>
      {support === "unsupported" ? (
        <p class="muted" id="notif-why">
          This browser cannot receive notifications from this page: Web Push needs a secure page (https, or
          localhost) and a browser with push support (on an iPhone, add pi to the Home Screen first).
        </p>
      ) : (
        <>
          <label class="switch">
            <input
              type="checkbox"
              role="switch"
              checked={on}
              disabled={support !== "ok" || busy || !connected}
              aria-describedby="notif-why"
              onChange={(e) => void toggle(e.currentTarget.checked)}
            />
            <span>Notify this device when a session needs me</span>
          </label>
          <p class="muted small" id="notif-why">
            {support === "denied"
              ? "Notifications are blocked for this site: allow them in the browser's site settings, then reload."
              : !connected
                ? "Connect to the server to change this."
                : "Approvals that wait show Approve and Deny buttons; a turn that ends or fails is told too."}
          </p>
        </>
      )}
      <ErrorText error={error} />
      {on && connected ? <Preferences /> : null}
    </section>
  );
}

const KINDS: [keyof PushKinds, string][] = [
  ["permission", "A tool call waits for approval"],
  ["turnEnded", "A turn ended"],
  ["turnFailed", "A turn failed"],
  ["interrupted", "A session was interrupted"],
];

/** This device's choice of kinds and its quiet hours (push.preferences), saved on each change. */
function Preferences() {
  const conn = connection.value;
  const [prefs, setPrefs] = useState<PushPreferences | undefined>();
  const [from, setFrom] = useState("22:00");
  const [to, setTo] = useState("07:00");
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    conn?.request("push.preferences.get", {}).then(
      (p) => {
        setPrefs(p);
        if (p.quietHours) {
          setFrom(p.quietHours.start);
          setTo(p.quietHours.end);
        }
      },
      (err: unknown) => setError(explainError(err, "Could not read the notification preferences")),
    );
  }, [conn]);

  async function save(params: ParamsOf<"push.preferences.set">): Promise<void> {
    if (!conn) return;
    setError(undefined);
    try {
      setPrefs(await conn.request("push.preferences.set", params));
    } catch (err) {
      setError(explainError(err, "Could not save the notification preferences"));
    }
  }

  // The phone's own time zone: quiet hours follow the clock the user lives by, not the server's.
  const quiet = (start: string, end: string) =>
    save({ quietHours: { start, end, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone } });

  if (!prefs) return <ErrorText error={error} />;
  return (
    <>
      <fieldset>
        <legend>Notify me when</legend>
        {KINDS.map(([kind, label]) => (
          <label key={kind} class="choice">
            <input
              type="checkbox"
              checked={prefs.kinds[kind]}
              onChange={(e) => void save({ kinds: { [kind]: e.currentTarget.checked } })}
            />
            {label}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Quiet hours</legend>
        <label class="choice">
          <input
            type="checkbox"
            checked={prefs.quietHours !== null}
            onChange={(e) => void (e.currentTarget.checked ? quiet(from, to) : save({ quietHours: null }))}
          />
          Only approvals between these times
        </label>
        <div class="row">
          <TimeField
            id="quiet-from"
            label="From"
            value={from}
            onPick={(v) => {
              setFrom(v);
              if (prefs.quietHours && v) void quiet(v, to);
            }}
          />
          <TimeField
            id="quiet-to"
            label="to"
            value={to}
            onPick={(v) => {
              setTo(v);
              if (prefs.quietHours && v) void quiet(from, v);
            }}
          />
        </div>
      </fieldset>
      <ErrorText error={error} />
    </>
  );
}

/** A labelled time input; `onPick` gets each value chosen ("" when cleared). */
function TimeField(props: { id: string; label: string; value: string; onPick: (v: string) => void }) {
  return (
    <>
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        type="time"
        value={props.value}
        onChange={(e) => props.onPick(e.currentTarget.value)}
      />
    </>
  );
}
