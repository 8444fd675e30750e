import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { EventPayloads, type EventType } from "../src/protocol/events.js";
import { checker } from "../src/protocol/validate.js";
import type { AgentSessionEvent } from "../src/sessions/pi.js";
import { translate } from "../src/sessions/translate.js";

const fixture = new URL("../../shared/fixtures/oppi/pi-events.json", import.meta.url);
const checkers = Object.fromEntries(Object.entries(EventPayloads).map(([k, s]) => [k, checker(s)])) as Record<
  EventType,
  ReturnType<typeof checker>
>;

describe("pi event translation", () => {
  it.skipIf(!existsSync(fixture))(
    "turns every published pi event sample into a valid, delta-only event",
    () => {
      const { events } = JSON.parse(readFileSync(fixture, "utf8")) as { events: Record<string, unknown>[] };
      let translated = 0;
      for (const raw of events) {
        const { _label, ...event } = raw;
        const out = translate(event as unknown as AgentSessionEvent);
        if (!out) continue;
        translated++;
        const check = checkers[out.type](out.payload);
        expect([_label, check.ok]).toEqual([_label, true]);
        if (out.type === "message_update") {
          expect(JSON.stringify(out.payload)).not.toContain('"partial"');
          expect(JSON.stringify(out.payload)).not.toContain('"message"');
        }
      }
      expect(translated).toBeGreaterThanOrEqual(25);
    },
  );

  it("keeps the delta text and drops pi's accumulated partial", () => {
    const partial = { role: "assistant", content: [{ type: "text", text: "x".repeat(10_000) }] };
    const out = translate({
      type: "message_update",
      message: partial,
      assistantMessageEvent: { type: "text_delta", contentIndex: 0, delta: "hi", partial },
    } as unknown as AgentSessionEvent);
    expect(out).toEqual({
      type: "message_update",
      payload: { assistantMessageEvent: { type: "text_delta", contentIndex: 0, delta: "hi" } },
    });
  });

  it("copies a starting tool call's id and name out of the partial it drops", () => {
    const partial = {
      role: "assistant",
      content: [
        { type: "text", text: "let me look" },
        { type: "toolCall", id: "call_1", name: "bash", arguments: {} },
      ],
    };
    const start = translate({
      type: "message_update",
      message: partial,
      assistantMessageEvent: { type: "toolcall_start", contentIndex: 1, partial },
    } as unknown as AgentSessionEvent);
    expect(start).toEqual({
      type: "message_update",
      payload: {
        assistantMessageEvent: {
          type: "toolcall_start",
          contentIndex: 1,
          toolCallId: "call_1",
          toolName: "bash",
        },
      },
    });
    const piece = translate({
      type: "message_update",
      message: partial,
      assistantMessageEvent: { type: "toolcall_delta", contentIndex: 1, delta: '{"co', partial },
    } as unknown as AgentSessionEvent);
    expect(piece?.payload).toEqual({
      assistantMessageEvent: { type: "toolcall_delta", contentIndex: 1, delta: '{"co', toolCallId: "call_1" },
    });
  });

  it("reports agent_end as failed only when the run ended on a provider error", () => {
    const end = (stopReason: string, errorMessage?: string): unknown =>
      translate({
        type: "agent_end",
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: [], stopReason, ...(errorMessage && { errorMessage }) },
        ],
      } as unknown as AgentSessionEvent)?.payload;
    expect(end("stop")).toEqual({ messageCount: 2, success: true });
    expect(end("aborted")).toEqual({ messageCount: 2, success: true });
    expect(end("error", "429 rate limited")).toEqual({
      messageCount: 2,
      success: false,
      error: { code: "provider_error", message: "429 rate limited" },
    });
  });

  it("forwards nothing for events the protocol does not carry", () => {
    expect(translate({ type: "extension_error" } as unknown as AgentSessionEvent)).toBeUndefined();
  });
});
