import { useEffect, useState } from "preact/hooks";
import type { ResultOf } from "../../../src/protocol/methods.js";
import { explainError } from "../errors.js";
import { go } from "../router.js";
import { connection, refreshLists, workspaces } from "../store.js";
import { WorkspacePicker } from "./WorkspacePicker.js";
import { ErrorText } from "./ErrorText.js";

type Repo = ResultOf<"repos.list">["repos"][number];
type Model = { id: string; name: string; provider: string };

export function NewSession({ workspaceId }: { workspaceId?: string }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [repos, setRepos] = useState<Repo[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [serverModel, setServerModel] = useState("");
  const [wsId, setWsId] = useState<string | undefined>(workspaceId);
  const [model, setModel] = useState<string | undefined>();
  const [name, setName] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    if (!conn || !connected) return;
    void Promise.all([
      conn.request("repos.list", {}),
      conn.request("get_available_models", {}),
      conn.request("get_default_model", {}).catch(() => undefined),
      conn.request("workspaces.list", {}),
    ]).then(
      ([r, m, d, w]) => {
        const usable = r.repos.filter((x) => x.ok);
        setRepos(usable);
        setModels(m.models as Model[]);
        const def = (d as { defaultModel?: Model } | undefined)?.defaultModel;
        setServerModel(def ? `${def.provider}/${def.id}` : "");
        // Workspaces of repos that are not usable now cannot start sessions.
        workspaces.value = w.workspaces;
        setWsId(
          (v) => v ?? w.workspaces.find((x) => x.repoId && usable.some((u) => u.id === x.repoId))?.id ?? "",
        );
        setLoaded(true);
      },
      (err: Error) => setError(explainError(err, "Could not load the workspaces")),
    );
  }, [conn, connected]);

  const usable = workspaces.value.filter((w) => w.repoId === null || repos.some((r) => r.id === w.repoId));
  const selected = usable.find((w) => w.id === wsId);
  // The workspace's model until one is picked here; the server's default when it names none.
  const shownModel = model ?? selected?.model ?? serverModel;

  async function create(ev: Event) {
    ev.preventDefault();
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await conn.request("session.create", {
        ...(selected ? { workspaceId: selected.id } : {}),
        ...(shownModel ? { model: shownModel } : {}),
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      await refreshLists();
      go(`/s/${res.sessionId}`);
    } catch (err) {
      setError(explainError(err, "Could not create the session"));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1 tabIndex={-1}>New session</h1>
      <form onSubmit={create} class="stack">
        {loaded ? (
          <WorkspacePicker
            workspaces={usable}
            repos={repos}
            value={selected?.id ?? ""}
            onChange={(id) => {
              setWsId(id);
              setModel(undefined);
            }}
          />
        ) : (
          <p class="muted">Loading the workspaces…</p>
        )}
        <label for="ns-model">Model</label>
        <select id="ns-model" value={shownModel} onChange={(e) => setModel(e.currentTarget.value)}>
          <option value="">Server default</option>
          {models.map((m) => (
            <option key={`${m.provider}/${m.id}`} value={`${m.provider}/${m.id}`}>
              {m.name} ({m.provider})
            </option>
          ))}
        </select>
        <label for="ns-name">Name (optional)</label>
        <input id="ns-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
        <ErrorText error={error} />
        <button type="submit" class="primary" disabled={busy || !connected || !loaded}>
          {busy ? "Creating…" : "Create session"}
        </button>
      </form>
    </section>
  );
}
