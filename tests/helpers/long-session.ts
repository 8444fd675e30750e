/**
 * A long pi session history, written with pi's own SessionManager: exchanges of four messages — the
 * user's prompt, the agent's text with a bash call, the call's result, the agent's markdown answer.
 */
import { SessionManager } from "@mariozechner/pi-coding-agent";

export const LONG_ANSWER = (i: number): string =>
  [
    `Step ${i}: the parser now **keeps** the line numbers, and \`tokenize()\` returns them.`,
    "",
    "```ts",
    `export function tokenize(src: string, line = ${i}): Token[] {`,
    "  return src.split(/\\s+/).map((text) => ({ text, line }));",
    "}",
    "```",
    "",
    "- the tests pass",
    "- nothing else changed",
  ].join("\n");

/** Output long enough that the app folds it (over 20 lines) every fifth round. */
const OUTPUT = (i: number): string =>
  Array.from({ length: i % 5 === 0 ? 60 : 6 }, (_, j) => `src/file-${i}-${j}.ts: ok`).join("\n");

/**
 * Appends `rounds` exchanges to the session file `file` (which a first real turn created).
 * `template` carries the assistant fields pi records (api, provider, model, usage).
 */
export function writeLongHistory(file: string, rounds: number, template: Record<string, unknown>): void {
  const sm = SessionManager.open(file);
  const t0 = Date.now() - rounds * 4 * 1000;
  for (let i = 0; i < rounds; i++) {
    const at = t0 + i * 4000;
    const callId = `call_bench_${i}`;
    sm.appendMessage({
      role: "user",
      content: [{ type: "text", text: `Round ${i}: run the tests` }],
      timestamp: at,
    });
    sm.appendMessage({
      ...template,
      role: "assistant",
      content: [
        { type: "text", text: "Running the tests first." },
        { type: "toolCall", id: callId, name: "bash", arguments: { command: `npm test -- --shard ${i}` } },
      ],
      stopReason: "toolUse",
      timestamp: at + 1,
    } as never);
    sm.appendMessage({
      role: "toolResult",
      toolCallId: callId,
      toolName: "bash",
      content: [{ type: "text", text: OUTPUT(i) }],
      isError: false,
      timestamp: at + 2,
    } as never);
    sm.appendMessage({
      ...template,
      role: "assistant",
      content: [{ type: "text", text: LONG_ANSWER(i) }],
      stopReason: "stop",
      timestamp: at + 3,
    } as never);
  }
}
