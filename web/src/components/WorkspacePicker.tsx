import type { RepoInfo } from "../../../src/protocol/types.js";
import type { Workspace } from "../../../src/protocol/workspaces.js";

export interface WorkspaceGroup {
  key: string;
  label: string;
  repoId: string | null;
  items: Workspace[];
}

/** Workspaces grouped under their repo (registered order), the repo's default one first; scratch ones last. */
export function groupWorkspaces(list: Workspace[], repos: Pick<RepoInfo, "id" | "name">[]): WorkspaceGroup[] {
  const byRepo = new Map<string, Workspace[]>();
  for (const w of list) {
    const k = w.repoId ?? "";
    byRepo.set(k, [...(byRepo.get(k) ?? []), w]);
  }
  const order = (w: Workspace) => (w.isDefault ? 0 : 1);
  const sorted = (ws: Workspace[]) =>
    ws.slice().sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name));
  const groups: WorkspaceGroup[] = repos
    .filter((r) => byRepo.has(r.id))
    .map((r) => ({ key: r.id, label: r.name, repoId: r.id, items: sorted(byRepo.get(r.id)!) }));
  // Workspaces of a repo the list does not name (unusable now) still show, under their repo id.
  for (const [k, ws] of byRepo)
    if (k !== "" && !repos.some((r) => r.id === k))
      groups.push({ key: k, label: k, repoId: k, items: sorted(ws) });
  if (byRepo.has(""))
    groups.push({ key: "", label: "No repository (scratch)", repoId: null, items: sorted(byRepo.get("")!) });
  return groups;
}

/** What a workspace's sessions run with, in a few words. */
export function workspaceSummary(w: Workspace): string {
  const parts = [w.model ?? "server's model"];
  parts.push(w.effective.runtime === "host" ? "host (unsandboxed)" : "sandbox");
  parts.push(`network ${w.effective.network}`);
  return parts.join(" · ");
}

/** The workspace select of the new-session form: one group per repo, scratch last. */
export function WorkspacePicker({
  workspaces,
  repos,
  value,
  onChange,
}: {
  workspaces: Workspace[];
  repos: Pick<RepoInfo, "id" | "name">[];
  value: string;
  onChange: (workspaceId: string) => void;
}) {
  const selected = workspaces.find((w) => w.id === value);
  return (
    <div class="stack">
      <label for="ns-workspace">Workspace</label>
      <select
        id="ns-workspace"
        value={value}
        aria-describedby="ns-workspace-info"
        onChange={(e) => onChange(e.currentTarget.value)}
      >
        {groupWorkspaces(workspaces, repos).map((g) => (
          <optgroup key={g.key} label={g.label}>
            {g.items.map((w) => (
              <option key={w.id} value={w.id}>
                {w.isDefault ? `${w.name} (default)` : w.name}
              </option>
            ))}
          </optgroup>
        ))}
        <option value="">Scratch directory (no workspace)</option>
      </select>
      <p id="ns-workspace-info" class="muted small">
        {selected ? workspaceSummary(selected) : "An empty directory with the server's settings."}
      </p>
      <p class="row small">
        {selected ? <a href={`#/w/${encodeURIComponent(selected.id)}`}>Settings of {selected.name}</a> : null}
        <a href={selected?.repoId ? `#/w/new/${encodeURIComponent(selected.repoId)}` : "#/w/new"}>
          New workspace
        </a>
      </p>
    </div>
  );
}
