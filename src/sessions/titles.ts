import type * as PiAiModule from "@mariozechner/pi-ai";
import type { Logger } from "pino";
import type { ServerConfig } from "../store/config.js";
import type { UsageStore } from "../store/usage.js";
import { DEMO_MODEL } from "./demo-model.js";
import { type PiModel, type PiRuntime, modelKey } from "./pi.js";
import { recordUsage } from "./usage-recorder.js";

/** The instruction of every title request (a test's fake LLM tells title requests by it). */
export const TITLE_SYSTEM_PROMPT =
  "You name conversations. Reply with only a short title (at most six words) for the conversation that begins with the user's message: no quotes, no final period, nothing else.";
const DEFAULT_TIMEOUT_MS = 15_000;
/** Characters of the first prompt sent to the model: enough to know what it is about. */
const PROMPT_CHARS = 2000;
/** Long enough for a sentence-like title ("Fix the flaky login test on CI"), short enough for a list row. */
export const MAX_TITLE_CHARS = 60;
/** A cut at a word boundary may drop at most this share of the allowed length; a longer word is cut. */
const MIN_KEPT = 0.6;

/** Control characters, the BOM and bidi overrides: a title is one plain line. */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

function oneLine(text: string): string {
  return text.replace(UNPRINTABLE, " ").replace(/\s+/g, " ").trim();
}

/** At most MAX_TITLE_CHARS characters: cut at the last word boundary that fits, with an ellipsis. */
function cap(text: string): string {
  const chars = Array.from(text);
  if (chars.length <= MAX_TITLE_CHARS) return text;
  const room = chars.slice(0, MAX_TITLE_CHARS); // the ellipsis takes the place of the last one
  const space = room.lastIndexOf(" ");
  const head =
    space >= MAX_TITLE_CHARS * MIN_KEPT ? room.slice(0, space) : room.slice(0, MAX_TITLE_CHARS - 1);
  return `${head.join("").replace(/[\s.,;:!?…-]+$/u, "")}…`;
}

/** The prompt's first words, as many as fit: the title when the model cannot give one. */
export function fallbackTitle(prompt: string): string {
  const text = oneLine(prompt);
  return text === "" ? "New session" : cap(text);
}

/** The model's answer as a title: its first line, without quotes, markdown or a final period. */
export function cleanTitle(raw: string): string | undefined {
  const first = raw
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "");
  if (!first) return undefined;
  let title = oneLine(first).replace(/^title:\s*/i, "");
  for (let prev = ""; prev !== title;) {
    prev = title;
    title = title.replace(/^[#*_`"'“”‘’\s]+|[*_`"'“”‘’.:;,\s]+$/g, "");
  }
  return title === "" ? undefined : cap(title);
}

export interface TitleDeps {
  pi: PiRuntime;
  usage: UsageStore;
  config: () => ServerConfig;
  log: Logger;
}

export interface TitleResult {
  title: string;
  source: "model" | "fallback";
}

/**
 * A title for a conversation from its first prompt, asked of the session's own model: a short
 * request, few output tokens, a timeout. Whatever goes wrong (an error, the timeout, an empty
 * answer, the offline demo model, titles turned off) gives the prompt's first words instead.
 * The call's tokens are counted in the session's usage like any other.
 */
export async function generateTitle(
  deps: TitleDeps,
  session: { id: string; repoId: string | null },
  model: PiModel | undefined,
  prompt: string,
  signal?: AbortSignal,
): Promise<TitleResult> {
  const fallback = { title: fallbackTitle(prompt), source: "fallback" } as const;
  let titles: ServerConfig["titles"];
  try {
    titles = deps.config().titles;
  } catch {
    titles = undefined;
  }
  if (!model || titles?.generate === false || modelKey(model) === DEMO_MODEL) return fallback;
  const timeoutMs = titles?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  timer.unref();
  const onAbort = (): void => abort.abort();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const auth = await deps.pi.modelRegistry.getApiKeyAndHeaders(model);
    if (!auth.ok) return fallback;
    const ai: typeof PiAiModule = await import("@mariozechner/pi-ai");
    const answer = await ai.completeSimple(
      model,
      {
        systemPrompt: TITLE_SYSTEM_PROMPT,
        messages: [{ role: "user", content: prompt.slice(0, PROMPT_CHARS), timestamp: Date.now() }],
      },
      {
        apiKey: auth.apiKey,
        ...(auth.headers && { headers: auth.headers }),
        // A reasoning model may think before it answers; a plain one needs a dozen tokens.
        maxTokens: model.reasoning ? 1024 : 48,
        signal: abort.signal,
        timeoutMs,
        maxRetries: 0,
      },
    );
    recordUsage(deps.usage, deps.log, session, answer, "title");
    if (answer.stopReason === "error" || answer.stopReason === "aborted") {
      deps.log.info(
        { sessionId: session.id, reason: answer.errorMessage ?? answer.stopReason },
        "title model call failed; using the prompt's first words",
      );
      return fallback;
    }
    const text = answer.content.map((c) => (c.type === "text" ? c.text : "")).join("");
    const title = cleanTitle(text);
    return title ? { title, source: "model" } : fallback;
  } catch (err) {
    deps.log.info({ err, sessionId: session.id }, "title model call failed; using the prompt's first words");
    return fallback;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
