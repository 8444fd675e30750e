import type { PayloadOf } from "../protocol/events.js";
import type { PermissionOption } from "../protocol/permissions.js";
import { oneLine, safeText, truncateOutput, type Style } from "./chat-render.js";

export type AskedRequest = PayloadOf<"permission_request">;

export interface Answer {
  decision: PermissionOption;
  /** With a denial: what the model reads. */
  message?: string;
}

/** The words a line may start with, per option; anything else denies, with the line as the reason. */
const WORDS: [PermissionOption, string[], string][] = [
  ["allow_once", ["y", "yes"], "[y]es"],
  ["allow_turn", ["a", "turn"], "[a]llow for this turn"],
  ["allow_session", ["s", "session"], "[s]ession"],
  ["allow_always", ["always"], "always"],
  ["deny_once", ["n", "no", ""], "[N]o"],
  ["deny_always", ["never"], "never"],
];

/** The question, as shown before the answer is read: what exactly would run, why it is asked, the choices. */
export function questionLines(r: AskedRequest, style: Style): string[] {
  const lines: string[] = [];
  const input = (typeof r.input === "object" && r.input !== null ? r.input : {}) as Record<string, unknown>;
  if (r.kind === "budget" && r.budget) {
    const b = r.budget;
    lines.push(
      style.yellow(
        `? budget: $${b.spentUsd.toFixed(2)} of $${b.limitUsd.toFixed(2)} (${b.scope}) — continue for another $${b.stepUsd.toFixed(2)}?`,
      ),
    );
  } else {
    lines.push(style.yellow(`? ${safeText(r.summary)}`));
    if (typeof input.command === "string")
      lines.push(`  ${style.bold("$")} ${safeText(truncateOutput(input.command, 20, 2000))}`);
    else if (typeof input.path === "string") lines.push(`  path: ${safeText(input.path)}`);
    if (r.clipped?.length)
      lines.push(style.dim("  (long arguments shortened here; the whole call is what runs)"));
  }
  lines.push(style.dim(`  why: ${safeText(oneLine(r.reason, 300))}`));
  return lines;
}

export function promptText(r: AskedRequest): string {
  if (r.kind === "budget") return "Continue? [y/N/reason…] ";
  const offered = WORDS.filter(([o]) => r.options.includes(o)).map(([, , label]) => label);
  return `Allow? ${offered.join(", ")}, or a reason to deny: `;
}

/** Reads one answer line; undefined when it names an option this request does not offer. */
export function parseAnswer(line: string, options: readonly PermissionOption[]): Answer | undefined {
  const text = line.trim();
  const word = text.toLowerCase();
  for (const [option, words] of WORDS) {
    if (!words.includes(word)) continue;
    return options.includes(option) ? { decision: option } : undefined;
  }
  if (!options.includes("deny_once")) return undefined;
  return { decision: "deny_once", message: text.slice(0, 2000) };
}

export function describeDecision(decision: string): string {
  switch (decision) {
    case "allow_once":
      return "allowed once";
    case "allow_turn":
      return "allowed for this turn";
    case "allow_session":
      return "allowed for this session";
    case "allow_always":
      return "allowed always (rule stored)";
    case "deny_once":
      return "denied";
    case "deny_always":
      return "denied always (rule stored)";
    case "expired":
      return "expired unanswered";
    case "cancelled":
      return "cancelled";
    default:
      return decision;
  }
}
