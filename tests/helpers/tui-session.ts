import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A session file as pi's terminal UI writes it (format version 3), run in `cwd`, under `sessionsDir` (~/.pi/agent/sessions). */
export function writeTuiSession(sessionsDir: string, cwd: string, user: string, answer: string): string {
  const dir = join(sessionsDir, `--${cwd.replace(/^[/\\]/, "").replace(/[/\\:]/g, "-")}--`);
  mkdirSync(dir, { recursive: true });
  const id = randomUUID();
  const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, "-")}_${id}.jsonl`);
  const t = Date.now();
  const lines = [
    { type: "session", version: 3, id, timestamp: new Date(t).toISOString(), cwd },
    {
      type: "model_change",
      id: "a0000001",
      parentId: null,
      timestamp: new Date(t).toISOString(),
      provider: "anthropic",
      modelId: "claude-sonnet-4-5",
    },
    {
      type: "message",
      id: "a0000002",
      parentId: "a0000001",
      timestamp: new Date(t + 1).toISOString(),
      message: { role: "user", content: [{ type: "text", text: user }], timestamp: t + 1 },
    },
    {
      type: "message",
      id: "a0000003",
      parentId: "a0000002",
      timestamp: new Date(t + 2).toISOString(),
      message: {
        role: "assistant",
        content: [{ type: "text", text: answer }],
        api: "anthropic-messages",
        provider: "anthropic",
        model: "claude-sonnet-4-5",
        usage: {
          input: 10,
          output: 5,
          cacheRead: 0,
          cacheWrite: 0,
          totalTokens: 15,
          cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, total: 0 },
        },
        stopReason: "stop",
        timestamp: t + 2,
      },
    },
  ];
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join("\n")}\n`);
  return file;
}
