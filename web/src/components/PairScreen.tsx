import { useEffect, useState } from "preact/hooks";
import type { SignedInvite } from "../../../src/protocol/invite-format.js";
import { checkInvite, pairWith, serverUrlFor } from "../pairing.js";
import { replace } from "../router.js";
import { addServer } from "../store.js";
import { ErrorText } from "./ErrorText.js";

function defaultDeviceName(): string {
  const ua = navigator.userAgent;
  const device = /iPhone|iPad/.test(ua) ? "iPhone" : /Android/.test(ua) ? "Android phone" : "browser";
  return `web app on ${device}`;
}

export function PairScreen({ encoded }: { encoded: string }) {
  const [signed, setSigned] = useState<SignedInvite | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [name, setName] = useState(defaultDeviceName);

  useEffect(() => {
    void checkInvite(encoded).then((r) => (r.ok ? setSigned(r.signed) : setError(r.reason)));
  }, [encoded]);

  async function pair(ev: Event) {
    ev.preventDefault();
    if (!signed) return;
    setBusy(true);
    setError(undefined);
    try {
      const rec = await pairWith(signed, name.trim() || defaultDeviceName());
      await addServer(rec);
      // The one-time secret should not linger in the address bar or the history.
      replace("/");
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section class="pair">
      <h1 tabIndex={-1}>Pair with a server</h1>
      <ErrorText error={error} />
      {!signed && !error ? <p class="muted">Checking the invite…</p> : null}
      {signed ? (
        <form onSubmit={pair}>
          <p>
            The invite is signed by server <code>{signed.invite.serverId.slice(0, 12)}</code> at{" "}
            <strong>{serverUrlFor(signed.invite)}</strong>. It expires at{" "}
            {new Date(signed.invite.expiresAt).toLocaleTimeString()}.
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
