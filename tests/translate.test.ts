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
      payload: { delta: { type: "text_delta", contentIndex: 0, delta: "hi" } },
    });
  });

  it("forwards nothing for events the protocol does not carry", () => {
    expect(translate({ type: "extension_error" } as unknown as AgentSessionEvent)).toBeUndefined();
  });
});
