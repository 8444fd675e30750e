import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ftsQuery } from "../src/store/search.js";
import { startHarness, runTurn, type Harness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("sessions.search", () => {
  it("finds a phrase from a finished turn, with a snippet, highlights and the entry to jump to", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo", name: "deploys" });
    await runTurn(
      h,
      client,
      session.id,
      "how should the wombat service be deployed?",
      { kind: "tool_call", name: "bash", args: { command: "echo zebracorn" } },
      {
        kind: "text",
        text: "The quokka migration uses a blue-green deploy, with Café Ünïcode in the runbook.",
      },
    );

    const { hits } = await client.request("sessions.search", { query: "blue-green quokka" });
    expect(hits).toHaveLength(1);
    const hit = hits[0]!;
    expect(hit).toMatchObject({ sessionId: session.id, sessionName: "deploys", role: "assistant" });
    const words = hit.highlights.map(([a, b]) => hit.snippet.slice(a, b).toLowerCase());
    expect(words).toEqual(expect.arrayContaining(["quokka", "blue-green"]));

    // The hit names a message get_messages returns (by its timestamp) and pi's entry in the file.
    const { messages } = await client.request("get_messages", {}, session.id);
    // A tool result and the next assistant message can share a millisecond: the role tells them apart.
    const target = messages.find((m) => {
      const msg = m as { timestamp?: number; role?: string };
      return msg.timestamp === hit.timestamp && msg.role === hit.role;
    });
    expect(JSON.stringify(target)).toContain("quokka migration");
    const state = await client.request("get_state", {}, session.id);
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(state.sessionFile!, "utf8")).toContain(`"id":"${hit.entryId}"`);

    // What the user said is found too; diacritics fold; a phrase in quotes must be contiguous.
    expect((await client.request("sessions.search", { query: "wombat" })).hits[0]?.role).toBe("user");
    expect((await client.request("sessions.search", { query: "cafe unicode" })).hits).toHaveLength(1);
    expect((await client.request("sessions.search", { query: '"quokka deploy"' })).hits).toHaveLength(0);
    // Prefix of the last word, as typed.
    expect((await client.request("sessions.search", { query: "quokka migra" })).hits).toHaveLength(1);
    // Tool output is not indexed.
    expect((await client.request("sessions.search", { query: "zebracorn" })).hits).toHaveLength(0);
  });

  it("reads FTS syntax as plain words, and a query without words is invalid_request", async () => {
    const client = await h.connect();
    for (const query of [
      "quokka AND",
      '"quokka',
      "quokka)",
      "NEAR(quokka",
      "quokka*",
      "-quokka",
      "quokka:",
    ]) {
      const { hits } = await client.request("sessions.search", { query });
      expect(hits.length, query).toBeGreaterThanOrEqual(0);
    }
    expect((await client.request("sessions.search", { query: '"quokka' })).hits).toHaveLength(1);
    for (const query of ['"***"', "   ", "()"]) {
      const err = await client.request("sessions.search", { query }).catch((e: unknown) => e);
      expect(err, query).toMatchObject({ code: "invalid_request" });
    }
  });

  it("drops a deleted session's messages", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { mode: "chat", name: "doomed" });
    await runTurn(h, client, session.id, "remember the platypus protocol", { kind: "text", text: "noted" });
    expect((await client.request("sessions.search", { query: "platypus" })).hits).toHaveLength(1);
    await client.request("session.delete", { sessionId: session.id });
    expect((await client.request("sessions.search", { query: "platypus" })).hits).toHaveLength(0);
  });

  it("indexes an existing data dir's sessions at start-up", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { mode: "chat", name: "old one" });
    await runTurn(h, client, session.id, "the narwhal ledger is in the attic", { kind: "text", text: "ok" });
    await client.close();
    // As if the session were older than search: nothing of it in the index.
    h.server.db.exec("DELETE FROM search_docs; DELETE FROM search_progress;");
    await h.restart();
    expect(await h.server.searchIndexed).toBeGreaterThan(0);
    const again = await h.connect();
    const { hits } = await again.request("sessions.search", { query: "narwhal ledger" });
    expect(hits.map((x) => x.sessionId)).toEqual([session.id]);
  });
});

describe("ftsQuery", () => {
  it("quotes every word and keeps phrases", () => {
    expect(ftsQuery('foo "bar baz" qu')).toBe('"foo" "bar baz" "qu"*');
    expect(ftsQuery('say "hi')).toBe('"say" "hi"*');
    expect(ftsQuery("a AND b")).toBe('"a" "AND" "b"*');
    expect(() => ftsQuery("*** ---")).toThrow(/no words/);
  });
});
