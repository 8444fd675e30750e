import { useEffect, useState } from "preact/hooks";
import { explainError } from "../errors.js";
import { connection, sessions } from "../store.js";
import { ErrorText } from "./ErrorText.js";

/** The session's name, changed with session.rename; the list and every attached device follow. */
export function RenameSession({ sessionId }: { sessionId: string }) {
  const current = sessions.value.find((s) => s.id === sessionId)?.name ?? "";
  const [name, setName] = useState(current);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState(false);
  const connected = connection.value?.state.value === "connected";
  useEffect(() => setName(current), [current]);

  async function rename(ev: Event) {
    ev.preventDefault();
    const conn = connection.value;
    const next = name.trim();
    if (!conn || !next) return;
    setError(undefined);
    setDone(false);
    try {
      const { session } = await conn.request("session.rename", { sessionId, name: next });
      sessions.value = sessions.value.map((s) => (s.id === sessionId ? { ...s, name: session.name } : s));
      setDone(true);
    } catch (err) {
      setError(explainError(err, "Could not rename"));
    }
  }

  return (
    <form class="stack" onSubmit={rename}>
      <label for="set-name">Name</label>
      <div class="row">
        <input
          id="set-name"
          class="grow"
          value={name}
          maxLength={200}
          required
          onInput={(e) => {
            setName(e.currentTarget.value);
            setDone(false);
          }}
        />
        <button type="submit" disabled={!connected || !name.trim() || name.trim() === current}>
          Rename
        </button>
      </div>
      {done ? (
        <p role="status" class="small">
          Renamed.
        </p>
      ) : null}
      <ErrorText error={error} />
    </form>
  );
}
