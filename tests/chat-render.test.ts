import { describe, expect, it } from "vitest";
import type { AnyEvent } from "../src/client/client.js";
import { parseAnswer } from "../src/cli/chat-approval.js";
import { makeStyle, Renderer, safeText, toolCallLine, truncateOutput } from "../src/cli/chat-render.js";

const ALL = [
  "allow_once",
  "allow_turn",
  "allow_session",
  "allow_always",
  "deny_once",
  "deny_always",
] as const;

let seq = 0;
function ev(type: string, payload: unknown): AnyEvent {
  return { v: 1, kind: "event", sessionId: "s", seq: ++seq, type, payload } as unknown as AnyEvent;
}
const delta = (text: string, contentIndex = 0): AnyEvent =>
  ev("message_update", { assistantMessageEvent: { type: "text_delta", contentIndex, delta: text } });

function renderer(): { r: Renderer; out: () => string } {
  let out = "";
  return { r: new Renderer((s) => (out += s), makeStyle(false)), out: () => out };
}

describe("chat transcript", () => {
  const assistant = {
    role: "assistant",
    content: [
      { type: "text", text: "Hello there, world." },
      { type: "toolCall", id: "c1", name: "bash", arguments: { command: "ls" } },
    ],
    stopReason: "toolUse",
    timestamp: 1000,
  };
  const result = {
    role: "toolResult",
    toolCallId: "c1",
    toolName: "bash",
    content: [{ type: "text", text: "a\nb" }],
    isError: false,
    timestamp: 1001,
  };
  const final = {
    role: "assistant",
    content: [{ type: "text", text: "All done." }],
    stopReason: "stop",
    timestamp: 1002,
  };

  it("a reload after a gap prints only what was not printed, and late events print nothing again", () => {
    const { r, out } = renderer();
    const user = { role: "user", content: [{ type: "text", text: "hi" }], timestamp: 999 };
    r.event(ev("message_end", { message: user }));
    r.event(ev("message_start", { message: { ...assistant, content: [] } }));
    r.event(delta("Hello "));
    // The gap: everything up to the final answer completed meanwhile.
    r.reload([user, assistant, result, final]);
    // Events the server sent after the attach, for messages the reload already printed.
    r.event(ev("message_end", { message: final }));
    r.event(ev("tool_execution_end", { toolCallId: "c1", toolName: "bash", result, isError: false }));
    expect(out()).toBe("› hi  (sent elsewhere)\nHello there, world.\n→ bash: ls\n  a\n  b\nAll done.\n");
  });

  it("a message whose deltas were partly missed is completed from its message_end", () => {
    const { r, out } = renderer();
    r.event(ev("message_start", { message: { ...final, content: [] } }));
    r.event(delta("All "));
    r.reload([]); // still streaming: nothing to print yet, the rest comes with message_end
    r.event(delta("ne."));
    r.event(ev("message_end", { message: final }));
    expect(out()).toBe("All done.\n");
  });

  it("thinking is one dim line, errors and aborts are said, user messages sent here are not echoed", () => {
    const { r, out } = renderer();
    r.sent("my prompt");
    r.event(
      ev("message_end", {
        message: { role: "user", content: [{ type: "text", text: "my prompt" }], timestamp: 5 },
      }),
    );
    r.event(ev("message_start", { message: { role: "assistant", content: [], timestamp: 6 } }));
    r.event(
      ev("message_update", {
        assistantMessageEvent: { type: "thinking_delta", contentIndex: 0, delta: "step one\nstep two" },
      }),
    );
    r.event(ev("message_update", { assistantMessageEvent: { type: "thinking_end", contentIndex: 0 } }));
    r.event(
      ev("message_end", {
        message: {
          role: "assistant",
          content: [{ type: "thinking", thinking: "step one\nstep two" }],
          stopReason: "error",
          errorMessage: "429 rate limited",
          timestamp: 6,
        },
      }),
    );
    r.event(ev("agent_end", { messageCount: 2, success: false }));
    expect(out()).toBe("∴ step one step two (17 chars of thinking)\n✗ 429 rate limited\n── turn failed\n");
  });

  it("escapes terminal controls in what the agent writes, keeping lines and tabs", () => {
    expect(safeText("a\x1b[2Jb\tc\nd\re")).toBe("a\\x1b[2Jb\tc\nd\\x0de");
    expect(toolCallLine("write", { path: "x.txt", content: "héllo" })).toBe("write x.txt (6 bytes)");
    expect(toolCallLine("grep", { pattern: "TODO", path: "src" })).toBe('grep "TODO" src');
    expect(truncateOutput("1\n2\n3\n4", 2)).toBe("1\n2\n… (2 more lines)");
  });

  it("reads approval answers: letters, words, a reason, and refuses what is not offered", () => {
    expect(parseAnswer("y", ALL)).toEqual({ decision: "allow_once" });
    expect(parseAnswer(" A ", ALL)).toEqual({ decision: "allow_turn" });
    expect(parseAnswer("always", ALL)).toEqual({ decision: "allow_always" });
    expect(parseAnswer("", ALL)).toEqual({ decision: "deny_once" });
    expect(parseAnswer("never", ALL)).toEqual({ decision: "deny_always" });
    expect(parseAnswer("use the staging db", ALL)).toEqual({
      decision: "deny_once",
      message: "use the staging db",
    });
    expect(parseAnswer("a", ["allow_once", "deny_once"])).toBeUndefined();
  });
});
