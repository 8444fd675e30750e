import { useEffect, useState } from "preact/hooks";
import type { RepoInfo } from "../../../src/protocol/types.js";
import { explainError } from "../errors.js";
import { connection, workspaces } from "../store.js";
import { groupWorkspaces, workspaceSummary } from "./WorkspacePicker.js";
import { ErrorText } from "./ErrorText.js";

/** Every workspace under its repo, each a link to its settings. */
export function WorkspacesScreen() {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [repos, setRepos] = useState<RepoInfo[]>([]);
  const [error, setError] = useState<string | undefined>();
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);

  useEffect(() => {
    if (!conn || !connected) return;
    void Promise.all([conn.request("workspaces.list", {}), conn.request("repos.list", {})]).then(
      ([w, r]) => {
        workspaces.value = w.workspaces;
        setRepos(r.repos);
      },
      (err: unknown) => setError(explainError(err, "Could not load the workspaces")),
    );
  }, [conn, connected]);

  return (
    <section>
      <div class="chat-head">
        <a href="#/" class="back">
          <span aria-hidden="true">‹</span> Sessions
        </a>
        <h1 tabIndex={-1}>Workspaces</h1>
        <a class="button primary" href="#/w/new">
          New workspace
        </a>
      </div>
      <p class="muted small">
        A workspace is a repository (or none) with what its sessions start with: model, prompt, skills,
        runtime and network.
      </p>
      <ErrorText error={error} />
      {groupWorkspaces(workspaces.value, repos).map((g) => (
        <section class="group" key={g.key} aria-labelledby={`wg-${g.key || "scratch"}`}>
          <h2 id={`wg-${g.key || "scratch"}`}>{g.label}</h2>
          <ul class="sessions">
            {g.items.map((w) => (
              <li key={w.id}>
                <a href={`#/w/${encodeURIComponent(w.id)}`} class="session-link">
                  <span class="title">
                    {w.name}
                    {w.isDefault ? <span class="muted"> (default)</span> : null}
                  </span>
                  <span class="meta muted">{workspaceSummary(w)}</span>
                </a>
              </li>
            ))}
          </ul>
        </section>
      ))}
    </section>
  );
}
