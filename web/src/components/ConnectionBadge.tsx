import { connection } from "../store.js";

const TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  revoked: "Revoked",
  untrusted: "Not trusted",
} as const;

export function ConnectionBadge() {
  const conn = connection.value;
  if (!conn) return null;
  const state = conn.state.value;
  return (
    <>
      <span
        class={`badge conn-${state}`}
        role="status"
        aria-live="polite"
        data-state={state}
        title={conn.lastError.value ?? ""}
      >
        <span class="dot" aria-hidden="true" />
        {TEXT[state]}
      </span>
      {state === "reconnecting" || state === "offline" ? (
        <button type="button" class="link retry" onClick={() => conn.retryNow()}>
          Retry now
        </button>
      ) : null}
    </>
  );
}
