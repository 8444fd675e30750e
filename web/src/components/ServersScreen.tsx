import { lazy, Suspense } from "preact/compat";
import { current, servers, switchServer, unpair } from "../store.js";

// The Push API code is needed on this screen only.
const NotificationSettings = lazy(() =>
  import("./NotificationSettings.js").then((m) => ({ default: m.NotificationSettings })),
);

export function ServersScreen() {
  return (
    <section>
      <h1 tabIndex={-1}>Servers</h1>
      <p class="muted">
        Pair another server by opening its <code>pi-server pair</code> link here. A server only accepts this
        app from its own address unless its <code>security.allowedOrigins</code> lists this one.
      </p>
      <ul class="servers">
        {servers.value.map((s) => {
          const isCurrent = current.value?.serverId === s.serverId;
          return (
            <li key={s.serverId} class={isCurrent ? "current" : ""}>
              <div>
                <strong>{s.label}</strong> {isCurrent ? <span class="badge">current</span> : null}
                {s.revoked ? <span class="badge conn-revoked">revoked</span> : null}
                <div class="muted small">
                  {s.url} · server {s.serverId.slice(0, 12)} · as “{s.deviceName}”
                </div>
              </div>
              <div class="row">
                {!isCurrent ? (
                  <button type="button" onClick={() => void switchServer(s.serverId)}>
                    Switch <span class="sr-only">to {s.label}</span>
                  </button>
                ) : null}
                <button
                  type="button"
                  class="danger"
                  onClick={() => {
                    if (confirm(`Forget ${s.label} on this device?`)) void unpair(s.serverId);
                  }}
                >
                  Unpair <span class="sr-only">{s.label}</span>
                </button>
              </div>
            </li>
          );
        })}
      </ul>
      {current.value && !current.value.revoked ? (
        <Suspense fallback={null}>
          <NotificationSettings key={current.value.serverId} />
        </Suspense>
      ) : null}
    </section>
  );
}
