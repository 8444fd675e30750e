import type { ServerRecord } from "../storage.js";
import { unpair } from "../store.js";

export function Revoked({ server }: { server: ServerRecord }) {
  return (
    <section class="empty" role="alert">
      <h1 tabIndex={-1}>This device was revoked</h1>
      <p>
        {server.label} no longer accepts this device's token. To use it again, pair anew with{" "}
        <code>pi-server pair</code> on the host.
      </p>
      <button type="button" class="primary" onClick={() => void unpair(server.serverId)}>
        Forget this server
      </button>
    </section>
  );
}
