import type { SessionInfo } from "../../../src/protocol/types.js";
import type { Workspace } from "../../../src/protocol/workspaces.js";
import { approvals, connection, sessions, workspaces } from "../store.js";

const STATUS_TEXT = { idle: "idle", running: "running", interrupted: "interrupted" } as const;

function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(iso).toLocaleDateString();
}

interface Group {
  key: string;
  /** Sessions of the repo's default workspace (or of no workspace). */
  direct: SessionInfo[];
  /** Sessions of its other workspaces, by workspace. */
  byWorkspace: Map<string, { workspace: Workspace | undefined; list: SessionInfo[] }>;
}

/** By repo (scratch and chat sessions on their own), and within a repo by workspace, the default one first. */
function group(list: SessionInfo[], known: Workspace[]): Group[] {
  const ws = new Map(known.map((w) => [w.id, w]));
  const groups = new Map<string, Group>();
  for (const s of list) {
    const key = s.repoId ?? (s.mode === "chat" ? "chats" : "scratch");
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { key, direct: [], byWorkspace: new Map() }));
    const w = s.workspaceId ? ws.get(s.workspaceId) : undefined;
    if (!s.workspaceId || w?.isDefault) g.direct.push(s);
    else {
      const sub = g.byWorkspace.get(s.workspaceId) ?? { workspace: w, list: [] };
      sub.list.push(s);
      g.byWorkspace.set(s.workspaceId, sub);
    }
  }
  return [...groups.values()];
}

function SessionItems({ list, waiting }: { list: SessionInfo[]; waiting: Map<string, number> }) {
  return (
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
  );
}

export function SessionList() {
  const waiting = new Map<string, number>();
  for (const r of approvals.value.values()) waiting.set(r.sessionId, (waiting.get(r.sessionId) ?? 0) + 1);
  const total = approvals.value.size;
  return (
    <section>
      <div class="row between">
        <h1 tabIndex={-1}>Sessions</h1>
        <a class="button primary" href="#/new">
          New session
        </a>
      </div>
      <nav class="row small" aria-label="More">
        <a href="#/workspaces">Workspaces</a>
        <a href="#/import">Import from the terminal</a>
      </nav>
      {total > 0 ? (
        <p class="waiting-banner" role="status">
          {/* One tap to the (first) session that waits: that is where it is answered. */}
          <a href={`#/s/${[...approvals.value.values()][0]?.sessionId ?? ""}`}>
            {total === 1 ? "1 approval is waiting" : `${total} approvals are waiting`}
            {waiting.size > 1 ? ` in ${waiting.size} sessions` : ""}
            <span aria-hidden="true"> ›</span>
          </a>
        </p>
      ) : null}
      {sessions.value.length === 0 && connection.value?.state.value === "connected" ? (
        <p class="muted">No sessions yet.</p>
      ) : null}
      {group(sessions.value, workspaces.value).map((g) => (
        <section class="group" key={g.key} aria-labelledby={`g-${g.key}`}>
          <h2 id={`g-${g.key}`}>{g.key}</h2>
          {g.direct.length > 0 ? <SessionItems list={g.direct} waiting={waiting} /> : null}
          {[...g.byWorkspace].map(([id, sub]) => (
            <section class="subgroup" key={id} aria-labelledby={`g-${g.key}-${id}`}>
              <h3 id={`g-${g.key}-${id}`}>
                <span class="sr-only">Workspace </span>
                {sub.workspace?.name ?? id}
              </h3>
              <SessionItems list={sub.list} waiting={waiting} />
            </section>
          ))}
        </section>
      ))}
    </section>
  );
}
