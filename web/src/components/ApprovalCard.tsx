import { useState } from "preact/hooks";
import type { PermissionRequest } from "../../../src/protocol/permissions.js";
import { RpcError } from "../../../src/client/browser.js";
import { approvals, connection } from "../store.js";
import { ErrorText } from "./ErrorText.js";

const OPTION_TEXT: Record<string, string> = {
  allow_once: "Allow once",
  allow_turn: "Allow for this turn",
  allow_session: "Allow for this session",
  allow_always: "Always allow",
  deny_once: "Deny",
  deny_always: "Always deny",
};

/** Shown first, as the main choice: this call only. */
const ONE_OFF: string[] = ["allow_once", "deny_once"];
/** Answers that outlast the call, in the order they are laid out (two a row: allows, then denies). */
const LASTING: string[] = ["allow_turn", "allow_session", "allow_always", "deny_always"];

/** The exact thing that would run: the whole command, or the path (and what would be written). */
function exactInput(tool: string, input: Record<string, unknown>): { label: string; text: string }[] {
  const out: { label: string; text: string }[] = [];
  if (typeof input.command === "string") out.push({ label: "Command", text: input.command });
  if (typeof input.path === "string") out.push({ label: "Path", text: input.path });
  if (typeof input.content === "string") out.push({ label: "Content", text: input.content });
  if (typeof input.oldText === "string") out.push({ label: "Replace", text: input.oldText });
  if (typeof input.newText === "string") out.push({ label: "With", text: input.newText });
  if (out.length === 0) out.push({ label: tool, text: JSON.stringify(input, null, 2) });
  return out;
}

export function ApprovalCard({ req }: { req: PermissionRequest }) {
  const [full, setFull] = useState<Record<string, unknown> | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [why, setWhy] = useState("");
  const input = full ?? (req.input as Record<string, unknown>);
  const clipped = !full && req.clipped && req.clipped.length > 0;

  async function answer(decision: string) {
    const conn = connection.value;
    if (!conn) return;
    setBusy(true);
    setError(undefined);
    try {
      // The server refuses a message with an allow, and the model reads it only on a denial.
      const message = decision.startsWith("deny") ? why.trim().slice(0, 2000) : "";
      await conn.request("permission.respond", {
        id: req.id,
        decision: decision as never,
        ...(message ? { message } : {}),
      });
    } catch (err) {
      // Someone else answered first: the card goes, as it does on every other device.
      if (err instanceof RpcError && err.code === "not_found") {
        const next = new Map(approvals.value);
        next.delete(req.id);
        approvals.value = next;
      } else setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  }

  async function showAll() {
    try {
      const res = await connection.value?.request("permission.get", { id: req.id });
      if (res) setFull(res.input as Record<string, unknown>);
    } catch (err) {
      setError((err as Error).message);
    }
  }

  const headingId = `ap-${req.id}`;
  // The one-off answers first and largest; the ones that last (the turn, the session, a rule) after.
  const main = ONE_OFF.filter((o) => req.options.includes(o as never));
  const lasting = [
    ...LASTING.filter((o) => req.options.includes(o as never)),
    ...req.options.filter((o) => !ONE_OFF.includes(o) && !LASTING.includes(o)),
  ];
  return (
    <section class="approval" role="group" aria-labelledby={headingId} data-request={req.id}>
      <h3 id={headingId}>
        Approve <code>{req.tool}</code>?
      </h3>
      <p class="reason">{req.reason}</p>
      {exactInput(req.tool, input).map((f) => (
        <div key={f.label} class="exact">
          <span class="label">{f.label}</span>
          <pre>{f.text}</pre>
        </div>
      ))}
      {clipped ? (
        <p class="clipped">
          Shortened for display:{" "}
          {req.clipped!.map((c) => `${c.path} is ${c.length.toLocaleString()} characters`).join(", ")}.{" "}
          <button type="button" class="link" onClick={() => void showAll()}>
            Show everything
          </button>
        </p>
      ) : null}
      <ErrorText error={error} />
      {req.options.some((o) => o.startsWith("deny")) ? (
        <div class="deny-why">
          <label for={`${headingId}-why`}>Reason, if you deny (the agent reads it)</label>
          <textarea
            id={`${headingId}-why`}
            rows={2}
            maxLength={2000}
            value={why}
            disabled={busy}
            onInput={(e) => setWhy((e.target as HTMLTextAreaElement).value)}
          />
        </div>
      ) : null}
      <div class="options">
        {main.length > 0 ? (
          <div class="option-row">
            {main.map((o) => (
              <button
                key={o}
                type="button"
                class={`${o === "allow_once" ? "opt-allow" : "opt-deny"}${main.length === 1 ? " wide" : ""}`}
                disabled={busy}
                onClick={() => void answer(o)}
              >
                {OPTION_TEXT[o] ?? o}
              </button>
            ))}
          </div>
        ) : null}
        {lasting.length > 0 ? (
          <div class="option-row lasting" role="group" aria-labelledby={`${headingId}-lasting`}>
            <p class="option-caption" id={`${headingId}-lasting`}>
              {main.length > 0 ? "Or answer for longer:" : "Answer for:"}
            </p>
            {lasting.map((o, i) => (
              <button
                key={o}
                type="button"
                class={`opt-lasting${o.startsWith("deny") ? " deny" : ""}${i === lasting.length - 1 && lasting.length % 2 === 1 ? " wide" : ""}`}
                disabled={busy}
                onClick={() => void answer(o)}
              >
                {OPTION_TEXT[o] ?? o}
              </button>
            ))}
          </div>
        ) : null}
      </div>
    </section>
  );
}
