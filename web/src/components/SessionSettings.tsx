import { useEffect, useRef, useState } from "preact/hooks";
import { connection } from "../store.js";
import { RenameSession } from "./RenameSession.js";
import { ErrorText } from "./ErrorText.js";

const LEVELS = ["off", "minimal", "low", "medium", "high", "xhigh"] as const;
type Level = (typeof LEVELS)[number];
type Model = { id: string; name: string; provider: string };

/**
 * Name, model and thinking level, behind a button in the chat's head: opened, they are a sheet over
 * the conversation (a modal dialog), not a block that pushes it into a sliver. Deleting the session
 * is set apart at the sheet's foot.
 */
export function SessionSettings({ sessionId, onDelete }: { sessionId: string; onDelete: () => void }) {
  const conn = connection.value;
  const connected = conn?.state.value === "connected";
  const [open, setOpen] = useState(false);
  const dialog = useRef<HTMLDialogElement>(null);
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

  function show() {
    dialog.current?.showModal();
    setOpen(true);
  }

  return (
    <>
      <button type="button" class="settings-open" aria-haspopup="dialog" onClick={show}>
        <span aria-hidden="true">⚙</span>
        <span class="sr-only">Model and settings</span>
      </button>
      <dialog
        ref={dialog}
        class="sheet"
        aria-labelledby="settings-title"
        onClose={() => setOpen(false)}
        onClick={(e) => {
          // A tap on the backdrop (the dialog itself, outside its content) closes it.
          if (e.target === dialog.current) dialog.current?.close();
        }}
      >
        <div class="sheet-body stack">
          <div class="row between">
            <h2 id="settings-title">Model and settings</h2>
            <button type="button" onClick={() => dialog.current?.close()}>
              Close
            </button>
          </div>
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
          <div class="danger-zone stack">
            <p class="small muted">Deleting commits the session's uncommitted changes to its branch first.</p>
            <button
              type="button"
              class="danger"
              onClick={() => {
                dialog.current?.close();
                onDelete();
              }}
            >
              Delete session
            </button>
          </div>
        </div>
      </dialog>
    </>
  );
}
