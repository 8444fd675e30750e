import type { FakeRequest, FakeStep } from "../../tests/helpers/fake-llm.js";

/** One streamed assistant answer: `tokens` text deltas of `chunkSize` characters, `delayMs` apart. */
export interface Stream {
  tokens: number;
  chunkSize: number;
  delayMs: number;
}

const MARK = "bench-stream ";

/**
 * The prompt carries its own stream spec, so one fake LLM can serve many concurrent sessions (and
 * the raw-SDK baseline) without a shared queue deciding who gets which answer.
 */
export function promptFor(s: Stream): string {
  return MARK + JSON.stringify(s);
}

/** English-looking text: a token of an English LLM is about four characters. */
export function textOf(chars: number): string {
  const words = "the quick brown fox jumps over a lazy dog while pi streams its answer to a phone ";
  return words.repeat(Math.ceil(chars / words.length)).slice(0, chars);
}

function lastUserText(req: FakeRequest): string {
  for (let i = req.body.messages.length - 1; i >= 0; i--) {
    const m = req.body.messages[i];
    if (m?.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    return m.content.map((p) => (p.type === "text" ? p.text : "")).join("");
  }
  return "";
}

/** Fake-LLM responder for prompts made by `promptFor`; anything else gets a short answer. */
export function benchResponder(req: FakeRequest): FakeStep {
  const text = lastUserText(req);
  const at = text.lastIndexOf(MARK);
  if (at < 0) return { kind: "text", text: "ok" };
  const s = JSON.parse(text.slice(at + MARK.length)) as Stream;
  return { kind: "text", text: textOf(s.tokens * s.chunkSize), chunkSize: s.chunkSize, delayMs: s.delayMs };
}
