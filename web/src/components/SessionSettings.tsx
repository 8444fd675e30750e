import { useEffect, useState } from "preact/hooks";
import { connection } from "../store.js";
import { RenameSession } from "./RenameSession.js";
import { ErrorText } from "./ErrorText.js";

const LEVELS = ["off", "minimal", "low", "medium", "high", "xhigh"] as const;
type Level = (typeof LEVELS)[number];
type Model = { id: string; name: string; provider: string };

/** Model and thinking level, folded away: they change rarely and a phone screen is small. */
export function SessionSettings({ sessionId, onDelete }: { sessionId: string; onDelete: () => void }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [open, setOpen] = useState(false);
  const [models, setModels] = useState<Model[]>([]);
  const [model, setModel] = useState("");
  const [level, setLevel] = useState<Level>("off");
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    if (!open || !conn || !connected) return;
    void Promise.all([
      conn.request("get_available_models", {}),
      conn.request("get_state", {}, sessionId),
    ]).then(
      ([m, st]) => {
        setModels(m.models as Model[]);
        const cur = st.model as Model | null;
        setModel(cur ? `${cur.provider}/${cur.id}` : "");
        setLevel(st.thinkingLevel as Level);
      },
      (err: Error) => setError(err.message),
    );
  }, [open, conn, connected, sessionId]);

  async function pickModel(value: string) {
    const [provider, ...rest] = value.split("/");
    setModel(value);
    try {
      await conn?.request("set_model", { provider: provider!, modelId: rest.join("/") }, sessionId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function pickLevel(value: Level) {
    setLevel(value);
    try {
      await conn?.request("set_thinking_level", { level: value }, sessionId);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <details class="settings" onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Model and settings</summary>
      <div class="stack">
        <RenameSession sessionId={sessionId} />
        <a href={`#/s/${sessionId}/checkpoints`}>Checkpoints (go back to an earlier turn)</a>
        <label for="set-model">Model</label>
        <select
          id="set-model"
          value={model}
          disabled={!connected}
          onChange={(e) => void pickModel(e.currentTarget.value)}
        >
          {models.map((m) => (
            <option key={`${m.provider}/${m.id}`} value={`${m.provider}/${m.id}`}>
              {m.name} ({m.provider})
            </option>
          ))}
        </select>
        <label for="set-level">Thinking level</label>
        <select
          id="set-level"
          value={level}
          disabled={!connected}
          onChange={(e) => void pickLevel(e.currentTarget.value as Level)}
        >
          {LEVELS.map((l) => (
            <option key={l} value={l}>
              {l}
            </option>
          ))}
        </select>
        <ErrorText error={error} />
        <button type="button" class="danger" onClick={onDelete}>
          Delete session
        </button>
      </div>
    </details>
  );
}
