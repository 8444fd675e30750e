import { useEffect, useState } from "preact/hooks";
import type { SignedInvite } from "../../../src/protocol/invite-format.js";
import { checkInvite, InviteSpent, pairWith, serverUrlFor } from "../pairing.js";
import { replace } from "../router.js";
import { addServer } from "../store.js";
import { ErrorText } from "./ErrorText.js";

function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const device = /iPhone|iPad/.test(ua) ? "iPhone" : /Android/.test(ua) ? "Android phone" : "browser";
  return `web app on ${device}`;
}

/** "in 4 minutes (16:35 CET)": how long is left, and the clock time with its zone. */
export function expiryText(expiresAt: number, now = Date.now()): string {
  const minutes = Math.round((expiresAt - now) / 60_000);
  const left =
    minutes < 1 ? "in less than a minute" : minutes === 1 ? "in 1 minute" : `in ${minutes} minutes`;
  const at = new Date(expiresAt).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    timeZoneName: "short",
  });
  return `${left} (${at})`;
}

export function PairScreen({ encoded, deviceName }: { encoded: string; deviceName?: string }) {
  const [signed, setSigned] = useState<SignedInvite | undefined>();
  const [error, setError] = useState<string | undefined>();
  /** Set once the invite is known used or expired: then only that, and what to do, is shown. */
  const [spent, setSpent] = useState<"used" | "expired" | undefined>();
  const [busy, setBusy] = useState(false);
  // The name `pi-server pair --name` gave the invite, else one that says what this device is.
  const [name, setName] = useState(() => deviceName ?? defaultDeviceName());

  useEffect(() => {
    void checkInvite(encoded).then((r) => {
      if (r.ok) return setSigned(r.signed);
      if (r.spent) setSpent(r.spent);
      else setError(r.reason);
    });
  }, [encoded]);

  async function pair(ev: Event) {
    ev.preventDefault();
    if (!signed) return;
    setBusy(true);
    setError(undefined);
    try {
      const rec = await pairWith(signed, name.trim() || deviceName || defaultDeviceName());
      await addServer(rec);
      // The one-time secret should not linger in the address bar or the history.
      replace("/");
    } catch (err) {
      if (err instanceof InviteSpent) setSpent(err.spent);
      else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  if (spent)
    return (
      <section class="pair">
        <h1 tabIndex={-1}>Pair with a server</h1>
        <p class="error" role="alert">
          {spent === "used" ? "This invite was already used." : "This invite has expired."}
        </p>
        <p>
          An invite pairs one device, once. On the machine that runs pi-server, run{" "}
          <code class="cmd">pi-server pair</code> again and open the new link (or scan its QR code) on this
          device.
        </p>
      </section>
    );

  return (
    <section class="pair">
      <h1 tabIndex={-1}>Pair with a server</h1>
      <ErrorText error={error} />
      {!signed && !error ? <p class="muted">Checking the invite…</p> : null}
      {signed ? (
        <form onSubmit={pair}>
          <p>
            The invite is signed by server <code>{signed.invite.serverId.slice(0, 12)}</code> at{" "}
            <strong>{serverUrlFor(signed.invite)}</strong>. It expires {expiryText(signed.invite.expiresAt)}.
          </p>
          <label for="device-name">Name of this device</label>
          <input
            id="device-name"
            value={name}
            maxLength={64}
            onInput={(e) => setName(e.currentTarget.value)}
          />
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Pairing…" : "Pair this device"}
          </button>
        </form>
      ) : null}
    </section>
  );
}
