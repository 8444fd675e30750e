import { useEffect, useState } from "preact/hooks";
import type { ResultOf } from "../../../src/protocol/methods.js";
import { go } from "../router.js";
import { connection, refreshLists } from "../store.js";

type Repo = ResultOf<"repos.list">["repos"][number];
type Model = { id: string; name: string; provider: string };

export function NewSession() {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [repos, setRepos] = useState<Repo[]>([]);
  const [models, setModels] = useState<Model[]>([]);
  const [repoId, setRepoId] = useState("");
  const [model, setModel] = useState("");
  const [name, setName] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!conn || !connected) return;
    void Promise.all([
      conn.request("repos.list", {}),
      conn.request("get_available_models", {}),
      conn.request("get_default_model", {}).catch(() => undefined),
    ]).then(
      ([r, m, d]) => {
        const usable = r.repos.filter((x) => x.ok);
        setRepos(usable);
        setRepoId((v) => v || usable[0]?.id || "");
        setModels(m.models as Model[]);
        const def = (d as { defaultModel?: Model } | undefined)?.defaultModel;
        setModel((v) => v || (def ? `${def.provider}/${def.id}` : ""));
      },
      (err: Error) => setError(err.message),
    );
  }, [conn, connected]);

  async function create(ev: Event) {
    ev.preventDefault();
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    try {
      const res = await conn.request("session.create", {
        ...(repoId ? { repoId } : {}),
        ...(model ? { model } : {}),
        ...(name.trim() ? { name: name.trim() } : {}),
      });
      await refreshLists();
      go(`/s/${res.sessionId}`);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section>
      <h1 tabIndex={-1}>New session</h1>
      <form onSubmit={create} class="stack">
        <label for="ns-repo">Repository</label>
        <select id="ns-repo" value={repoId} onChange={(e) => setRepoId(e.currentTarget.value)}>
          {repos.map((r) => (
            <option key={r.id} value={r.id}>
              {r.name}
            </option>
          ))}
          <option value="">Scratch directory (no repository)</option>
        </select>
        <label for="ns-model">Model</label>
        <select id="ns-model" value={model} onChange={(e) => setModel(e.currentTarget.value)}>
          <option value="">Server default</option>
          {models.map((m) => (
            <option key={`${m.provider}/${m.id}`} value={`${m.provider}/${m.id}`}>
              {m.name} ({m.provider})
            </option>
          ))}
        </select>
        <label for="ns-name">Name (optional)</label>
        <input id="ns-name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        <button type="submit" class="primary" disabled={busy || !connected}>
          {busy ? "Creating…" : "Create session"}
        </button>
      </form>
    </section>
  );
}
