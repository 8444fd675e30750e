import type { SessionInfo } from "../../../src/protocol/types.js";
import { approvals, connection, sessions } from "../store.js";

const STATUS_TEXT = { idle: "idle", running: "running", interrupted: "interrupted" } as const;

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

export function SessionList() {
  const waiting = new Map<string, number>();
  for (const r of approvals.value.values()) waiting.set(r.sessionId, (waiting.get(r.sessionId) ?? 0) + 1);
  const groups = new Map<string, SessionInfo[]>();
  for (const s of sessions.value) {
    const g = s.repoId ?? (s.mode === "chat" ? "chats" : "scratch");
    groups.set(g, [...(groups.get(g) ?? []), s]);
  }
  const total = approvals.value.size;
  return (
    <section>
      <div class="row between">
        <h1 tabIndex={-1}>Sessions</h1>
        <a class="button primary" href="#/new">
          New session
        </a>
      </div>
      {total > 0 ? (
        <p class="waiting-banner" role="status">
          {total === 1 ? "1 approval is waiting" : `${total} approvals are waiting`}
        </p>
      ) : null}
      {sessions.value.length === 0 && connection.value?.state.value === "connected" ? (
        <p class="muted">No sessions yet.</p>
      ) : null}
      {[...groups].map(([repo, list]) => (
        <section class="group" key={repo} aria-labelledby={`g-${repo}`}>
          <h2 id={`g-${repo}`}>{repo}</h2>
          <ul class="sessions">
            {list.map((s) => {
              const n = waiting.get(s.id) ?? 0;
              const status = n > 0 ? "waiting for approval" : STATUS_TEXT[s.status];
              return (
                <li key={s.id}>
                  <a href={`#/s/${s.id}`} class="session-link">
                    <span class="title">{s.name}</span>
                    <span class="meta">
                      <span class={`status st-${n > 0 ? "waiting" : s.status}`}>{status}</span>
                      {n > 0 ? (
                        <span class="count" aria-label={`${n} waiting`}>
                          {n}
                        </span>
                      ) : null}
                      <span class="muted">{ago(s.lastActivityAt)}</span>
                    </span>
                  </a>
                </li>
              );
            })}
          </ul>
        </section>
      ))}
    </section>
  );
}
