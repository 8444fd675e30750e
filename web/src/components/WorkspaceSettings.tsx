import { useEffect, useRef, useState } from "preact/hooks";
import type { ResultOf } from "../../../src/protocol/methods.js";
import type { ThinkingLevel } from "../../../src/protocol/types.js";
import type { Skill, Workspace, WorkspaceCreateParams } from "../../../src/protocol/workspaces.js";
import { explainError } from "../errors.js";
import { go } from "../router.js";
import { connection, refreshLists, workspaces } from "../store.js";
import { ErrorText } from "./ErrorText.js";

type Repo = ResultOf<"repos.list">["repos"][number];
type Model = { id: string; name: string; provider: string };
type Settings = Required<Omit<WorkspaceCreateParams, "repoId">>;

const LEVELS: ThinkingLevel[] = ["off", "minimal", "low", "medium", "high", "xhigh"];

function settingsOf(w: Workspace | undefined): Settings {
  return {
    name: w?.name ?? "",
    model: w?.model ?? null,
    thinkingLevel: w?.thinkingLevel ?? null,
    systemPrompt: w?.systemPrompt ?? null,
    skills: w?.skills ?? null,
    runtime: w?.runtime ?? null,
    network: w?.network ?? null,
    readOnlyMounts: w?.readOnlyMounts ?? [],
  };
}

/** The settings that differ from the stored ones: an update sends nothing it did not change. */
function changed(from: Settings, to: Settings): Partial<Settings> {
  const out: Partial<Settings> = {};
  for (const k of Object.keys(to) as (keyof Settings)[])
    if (JSON.stringify(from[k]) !== JSON.stringify(to[k])) (out as Record<string, unknown>)[k] = to[k];
  return out;
}

const orNull = (v: string): string | null => (v === "" ? null : v);

/**
 * A workspace's settings: name, model and thinking level, a system-prompt addition, allowed skills,
 * runtime and network, read-only mounts. Without `workspaceId`, the form that creates one.
 */
export function WorkspaceSettings({ workspaceId, repoId }: { workspaceId?: string; repoId?: string }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const creating = workspaceId === undefined;
  const [stored, setStored] = useState<Workspace | undefined>();
  const [form, setForm] = useState<Settings>(settingsOf(undefined));
  const [repo, setRepo] = useState(repoId ?? "");
  const [repos, setRepos] = useState<Repo[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [skills, setSkills] = useState<Skill[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState<string | undefined>();
  const [warning, setWarning] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const confirmRef = useRef<HTMLDivElement>(null);
  // Loaded on its own: the app's focus move ran before this screen's heading existed.
  useEffect(() => document.querySelector<HTMLElement>("main h1")?.focus(), []);

  useEffect(() => {
    if (!conn || !connected) return;
    setError(undefined);
    void Promise.all([
      conn.request("workspaces.list", {}),
      conn.request("repos.list", {}),
      conn.request("get_available_models", {}),
      conn.request("skills.list", creating ? {} : { workspaceId }),
    ]).then(
      ([w, r, m, s]) => {
        workspaces.value = w.workspaces;
        setRepos(r.repos.filter((x) => x.ok));
        setModels(m.models as Model[]);
        setSkills(s.skills);
        if (!creating) {
          const ws = w.workspaces.find((x) => x.id === workspaceId);
          if (!ws) setError(`No workspace ${workspaceId} on this server.`);
          setStored(ws);
          setForm(settingsOf(ws));
        }
        setLoaded(true);
      },
      (err: unknown) => setError(explainError(err, "Could not load the workspace")),
    );
  }, [conn, connected, workspaceId]);

  useEffect(() => {
    if (confirming) confirmRef.current?.focus();
  }, [confirming]);

  const set = <K extends keyof Settings>(k: K, v: Settings[K]) => setForm((f) => ({ ...f, [k]: v }));

  async function save(ev: Event) {
    ev.preventDefault();
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    setSaved(undefined);
    try {
      if (creating) {
        const params: WorkspaceCreateParams = { ...form, name: form.name.trim() };
        if (repo) params.repoId = repo;
        if (params.readOnlyMounts?.length === 0) delete params.readOnlyMounts;
        const res = await conn.request("workspaces.create", params);
        await refreshLists();
        // The natural next step: a session in it.
        go(`/new/w/${encodeURIComponent(res.workspace.id)}`);
        return;
      }
      const diff = changed(settingsOf(stored), { ...form, name: form.name.trim() });
      if (Object.keys(diff).length === 0) {
        setSaved("Nothing to save: the settings are as stored.");
        return;
      }
      const res = await conn.request("workspaces.update", { workspaceId: workspaceId!, ...diff });
      setStored(res.workspace);
      setForm(settingsOf(res.workspace));
      setWarning(res.warning);
      setSaved("Saved. Sessions loaded from now on run with these settings.");
      await refreshLists();
    } catch (err) {
      setError(explainError(err, creating ? "Could not create the workspace" : "Could not save"));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    if (!conn || !workspaceId) return;
    setBusy(true);
    setError(undefined);
    try {
      await conn.request("workspaces.delete", { workspaceId });
      await refreshLists();
      go("/workspaces");
    } catch (err) {
      setConfirming(false);
      setError(explainError(err, "Could not delete the workspace"));
    } finally {
      setBusy(false);
    }
  }

  const effectiveRuntime = form.runtime ?? stored?.effective.runtime;
  const title = creating ? "New workspace" : (stored?.name ?? "Workspace");
  const repoName = (id: string | null) => (id === null ? "none (scratch sessions)" : id);

  return (
    <section class="workspace">
      <div class="chat-head">
        <a href={creating ? "#/new" : "#/workspaces"} class="back">
          <span aria-hidden="true">‹</span> {creating ? "New session" : "Workspaces"}
        </a>
        <h1 tabIndex={-1}>{title}</h1>
      </div>
      {!loaded && !error ? <p class="muted">Loading…</p> : null}
      <form class="stack" onSubmit={save} hidden={!loaded}>
        <label for="ws-name">Name</label>
        <input
          id="ws-name"
          required
          maxLength={200}
          value={form.name}
          onInput={(e) => set("name", e.currentTarget.value)}
        />
        {creating ? (
          <>
            <label for="ws-repo">Repository</label>
            <select id="ws-repo" value={repo} onChange={(e) => setRepo(e.currentTarget.value)}>
              {repos.map((r) => (
                <option key={r.id} value={r.id} selected={r.id === repo}>
                  {r.name}
                </option>
              ))}
              <option value="">None (scratch sessions)</option>
            </select>
          </>
        ) : (
          <p class="muted small">
            Repository: {repoName(stored?.repoId ?? null)}
            {stored?.isDefault ? " · the repository's default workspace" : ""}
          </p>
        )}
        <label for="ws-model">Default model</label>
        <select
          id="ws-model"
          value={form.model ?? ""}
          onChange={(e) => set("model", orNull(e.currentTarget.value))}
        >
          <option value="">Server default</option>
          {models.map((m) => (
            <option key={`${m.provider}/${m.id}`} value={`${m.provider}/${m.id}`}>
              {m.name} ({m.provider})
            </option>
          ))}
        </select>
        <label for="ws-level">Thinking level</label>
        <select
          id="ws-level"
          value={form.thinkingLevel ?? ""}
          onChange={(e) => set("thinkingLevel", orNull(e.currentTarget.value) as ThinkingLevel | null)}
        >
          <option value="">Server default</option>
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        <label for="ws-prompt">System prompt addition</label>
        <textarea
          id="ws-prompt"
          rows={4}
          maxLength={100_000}
          aria-describedby="ws-prompt-help"
          value={form.systemPrompt ?? ""}
          onInput={(e) => set("systemPrompt", orNull(e.currentTarget.value))}
        />
        <p id="ws-prompt-help" class="muted small">
          Appended to pi's system prompt in every session of the workspace.
        </p>

        <fieldset>
          <legend>Runtime</legend>
          {(
            [
              ["", `Server default${stored ? ` (${stored.effective.runtime})` : ""}`],
              ["sandbox", "Sandbox"],
              ["host", "Host (unsandboxed)"],
            ] as const
          ).map(([v, label]) => (
            <label key={v} class="choice">
              <input
                type="radio"
                name="ws-runtime"
                value={v}
                checked={(form.runtime ?? "") === v}
                onChange={() => set("runtime", v === "" ? null : v)}
              />
              {label}
            </label>
          ))}
          {effectiveRuntime === "host" ? (
            <p class="warning" role="status">
              Host: the agent's tools run directly on the server, outside the sandbox, with your user's files,
              network and credentials. Only approvals stand between the model and the machine.
            </p>
          ) : null}
        </fieldset>

        <fieldset>
          <legend>Sandbox network</legend>
          {(
            [
              ["", `Server default${stored ? ` (${stored.effective.network})` : ""}`],
              ["off", "Off"],
              ["on", "On"],
            ] as const
          ).map(([v, label]) => (
            <label key={v} class="choice">
              <input
                type="radio"
                name="ws-network"
                value={v}
                checked={(form.network ?? "") === v}
                onChange={() => set("network", v === "" ? null : v)}
              />
              {label}
            </label>
          ))}
        </fieldset>

        <label for="ws-mounts">Read-only mounts</label>
        <textarea
          id="ws-mounts"
          rows={2}
          aria-describedby="ws-mounts-help"
          value={form.readOnlyMounts.join("\n")}
          onInput={(e) =>
            set(
              "readOnlyMounts",
              e.currentTarget.value
                .split("\n")
                .map((l) => l.trim())
                .filter(Boolean),
            )
          }
        />
        <p id="ws-mounts-help" class="muted small">
          Absolute paths on the server its sandboxes see read-only, one a line (a shared package cache, say).
        </p>

        <SkillsField skills={skills} value={form.skills} onChange={(v) => set("skills", v)} />

        {warning ? (
          <p class="warning" role="status">
            {warning}
          </p>
        ) : null}
        <ErrorText error={error} />
        {saved ? <p role="status">{saved}</p> : null}
        <button type="submit" class="primary" disabled={busy || !connected || (!creating && !stored)}>
          {creating ? "Create workspace" : busy ? "Saving…" : "Save"}
        </button>
      </form>

      {!creating && stored ? (
        stored.isDefault ? (
          <p class="muted small">A repository's default workspace goes only with the repository.</p>
        ) : confirming ? (
          <div class="confirm" role="group" aria-labelledby="ws-del-q" tabIndex={-1} ref={confirmRef}>
            <p id="ws-del-q">
              Delete the workspace “{stored.name}”? Only a workspace no session uses can be deleted.
            </p>
            <div class="row">
              <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
                Delete
              </button>
              <button type="button" onClick={() => setConfirming(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button type="button" class="danger" disabled={!connected} onClick={() => setConfirming(true)}>
            Delete workspace
          </button>
        )
      ) : null}
    </section>
  );
}

/** All skills, or only the ticked ones; incompatible ones (a command missing where tools run) say so. */
function SkillsField({
  skills,
  value,
  onChange,
}: {
  skills: Skill[] | undefined;
  value: string[] | null;
  onChange: (v: string[] | null) => void;
}) {
  const all = value === null;
  return (
    <fieldset>
      <legend>Skills</legend>
      {skills === undefined ? <p class="muted small">Loading the skills…</p> : null}
      {skills?.length === 0 ? (
        <p class="muted small">
          No skills on the server (they live in the data dir's <code>skills/</code>).
        </p>
      ) : null}
      {skills && skills.length > 0 ? (
        <>
          <label class="choice">
            <input type="radio" name="ws-skills" checked={all} onChange={() => onChange(null)} />
            Every skill
          </label>
          <label class="choice">
            <input
              type="radio"
              name="ws-skills"
              checked={!all}
              onChange={() => onChange(skills.filter((s) => s.compatible !== false).map((s) => s.name))}
            />
            Only these
          </label>
          <ul class="skills">
            {skills.map((s) => {
              const id = `skill-${s.name}`;
              const bad = s.compatible === false;
              return (
                <li key={s.name}>
                  <label class="choice" for={id}>
                    <input
                      id={id}
                      type="checkbox"
                      disabled={all}
                      checked={all || value.includes(s.name)}
                      aria-describedby={`${id}-d`}
                      onChange={(e) =>
                        onChange(
                          e.currentTarget.checked
                            ? [...(value ?? []), s.name]
                            : (value ?? []).filter((n) => n !== s.name),
                        )
                      }
                    />
                    <span>
                      {s.name}
                      {bad ? <span class="tag-bad"> incompatible</span> : null}
                    </span>
                  </label>
                  <p id={`${id}-d`} class="muted small">
                    {s.description}
                    {bad
                      ? ` — not found where its tools run: ${(s.missing ?? []).join(", ")}; left out of sessions.`
                      : ""}
                  </p>
                </li>
              );
            })}
          </ul>
        </>
      ) : null}
    </fieldset>
  );
}
