import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_TITLE_CHARS, TITLE_SYSTEM_PROMPT, cleanTitle, fallbackTitle } from "../src/sessions/titles.js";
import { startHarness, runTurn, type Harness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function nameOf(sessionId: string): Promise<{ name: string } | undefined> {
  const client = await h.connect();
  const { sessions } = await client.request("session.list", {});
  await client.close();
  return sessions.find((s) => s.id === sessionId);
}

describe("session titles", () => {
  it("names a session from its first prompt with the session's model, and tells attached clients", async () => {
    h.llm.setTitleResponder(() => ({ kind: "text", text: '"Fix the flaky login test."\n' }));
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const titled = client.waitForEvent(session.id, "session_info_changed");
    await runTurn(h, client, session.id, "the login test fails one run in ten, please fix it", {
      kind: "text",
      text: "Looking into it.",
    });
    const ev = await titled;
    expect(ev.payload.name).toBe("Fix the flaky login test");

    const req = h.llm.titleRequests.at(-1);
    expect(req?.body.model).toBe("fake-model");
    expect(req?.body.messages[0]).toEqual({ role: "system", content: TITLE_SYSTEM_PROMPT });
    expect(JSON.stringify(req?.body.messages[1])).toContain("the login test fails one run in ten");
    expect(req?.body.max_tokens).toBeLessThanOrEqual(64);
    expect(req?.body.tools ?? []).toEqual([]);
    // The turn itself saw nothing of it.
    expect(h.llm.requests.every((r) => r.body.messages[0]?.content !== TITLE_SYSTEM_PROMPT)).toBe(true);

    expect((await nameOf(session.id))?.name).toBe("Fix the flaky login test");
    const state = await client.request("get_state", {}, session.id);
    expect(state.sessionName).toBe("Fix the flaky login test");

    // The second prompt does not rename it.
    const before = h.llm.titleRequests.length;
    await runTurn(h, client, session.id, "and now the signup test", { kind: "text", text: "ok" });
    expect(h.llm.titleRequests.length).toBe(before);

    // After a restart the title is still there (state.db and pi's own session file).
    await client.close();
    await h.restart();
    const again = await h.connect();
    const attached = await again.request("session.attach", { sessionId: session.id });
    expect(attached.session.name).toBe("Fix the flaky login test");
    expect((await again.request("get_state", {}, session.id)).sessionName).toBe("Fix the flaky login test");
  });

  it("falls back to the prompt's first words when the model errors", async () => {
    h.llm.setTitleResponder(() => ({ kind: "error", status: 500 }));
    const client = await h.connect();
    const { session } = await client.request("session.create", { mode: "chat" });
    const titled = client.waitForEvent(session.id, "session_info_changed");
    const calls = h.llm.titleRequests.length;
    const prompt =
      "  what is\nthe capital   of France, and why did the kings of old choose to build it there? ";
    await runTurn(h, client, session.id, prompt, { kind: "text", text: "Paris." });
    // As many words as fit in 60 characters, cut at a word boundary.
    const expected = "what is the capital of France, and why did the kings of old…";
    expect((await titled).payload.name).toBe(expected);
    expect(h.llm.titleRequests.length).toBe(calls + 1);
    expect((await nameOf(session.id))?.name).toBe(expected);
  });

  it("never replaces a name the user gave", async () => {
    h.llm.setTitleResponder(() => ({ kind: "text", text: "Generated" }));
    const client = await h.connect();
    const { session } = await client.request("session.create", { mode: "chat", name: "my own name" });
    const calls = h.llm.titleRequests.length;
    await runTurn(h, client, session.id, "hello there", { kind: "text", text: "hi" });
    expect(h.llm.titleRequests.length).toBe(calls);
    expect((await nameOf(session.id))?.name).toBe("my own name");
  });
});

describe("title text", () => {
  it("keeps one clean line of the model's answer", () => {
    expect(cleanTitle("Title: **Parser refactor**.\nextra")).toBe("Parser refactor");
    expect(cleanTitle("\n\n  ")).toBeUndefined();
    expect(cleanTitle("a\u202eb\u0007c")).toBe("a b c");
    expect(Array.from(cleanTitle("x".repeat(500)) ?? "").length).toBe(MAX_TITLE_CHARS);
    expect(cleanTitle(`${"Refactor the session store so that ".repeat(3)}x`)).toBe(
      "Refactor the session store so that Refactor the session…",
    );
  });
  it("falls back to the prompt's first words, as many as fit in 60 characters", () => {
    expect(MAX_TITLE_CHARS).toBe(60);
    expect(fallbackTitle("one two three")).toBe("one two three");
    expect(fallbackTitle("1 2 3 4 5 6 7 8")).toBe("1 2 3 4 5 6 7 8");
    const long = "Please look at the readme and tell me what this repository does and how to run it";
    expect(fallbackTitle(long)).toBe("Please look at the readme and tell me what this repository…");
    for (const n of [55, 60, 61, 75, 200]) {
      const words = Array.from({ length: n }, (_, i) => "abcdefghij".slice(0, 1 + (i % 9))).join(" ");
      const title = fallbackTitle(words);
      expect(Array.from(title).length).toBeLessThanOrEqual(60);
      // Whole words only: what is kept is a prefix of the prompt that ends at a word's end.
      const kept = title.replace(/…$/, "");
      expect(words.startsWith(kept)).toBe(true);
      expect(words.length === kept.length || words[kept.length] === " ").toBe(true);
    }
    // One word longer than a title is cut inside it.
    expect(fallbackTitle("x".repeat(80))).toBe(`${"x".repeat(59)}…`);
    expect(fallbackTitle("   ")).toBe("New session");
  });
});
