import { execFile } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AnyEvent, PiClient } from "../src/client/client.js";
import { startServer, type RunningServer } from "../src/server.js";
import { makeRepo, TOKEN, textOf, tmp } from "./helpers/harness.js";

/**
 * `serve --demo`: no models.json, no .env, no config.json — the offline scripted model runs a whole
 * turn with real tools in the real sandbox, and the write waits for a real permission answer.
 */

let dataDir: string;
let server: RunningServer;
const common = { port: 0, host: "127.0.0.1", envToken: TOKEN, logLevel: "silent" };

beforeAll(async () => {
  dataDir = tmp("demo-data");
  server = await startServer({ ...common, dataDir, demo: true });
});

afterAll(async () => {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("demo mode", () => {
  it("makes a demo repo and the demo default model without writing config.json", async () => {
    const client = await PiClient.connect(server.url, { token: TOKEN });
    const { repos } = await client.request("repos.list", {});
    expect(repos).toEqual([
      expect.objectContaining({ id: "demo", path: join(dataDir, "demo-repo"), ok: true }),
    ]);
    const { defaultModel } = await client.request("get_default_model", {});
    expect(defaultModel).toMatchObject({ provider: "demo", id: "pi-demo" });
    expect(defaultModel?.name).toMatch(/not an LLM/);
    const { models } = await client.request("get_available_models", {});
    expect(models.map((m) => `${m.provider}/${m.id}`)).toContain("demo/pi-demo");
    // The server makes an empty config.json on a first start; demo mode puts nothing in it.
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toEqual({});
    await client.close();
  });

  it("pi-server status counts the running demo's model as the usable default", async () => {
    const bin = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [bin, "status", "--json", "--data-dir", dataDir],
      {
        env: { ...process.env, PI_SERVER_DATA_DIR: "" },
      },
    );
    expect(JSON.parse(stdout)).toMatchObject({
      running: true,
      healthy: true,
      model: "demo/pi-demo",
      modelProblem: null,
    });
  });

  it("runs a full turn: streamed text, thinking, tool calls, and a permission request for the write", async () => {
    const client = await PiClient.connect(server.url, { token: TOKEN });
    const { session } = await client.request("session.create", { repoId: "demo" });
    expect(session.model).toBe("demo/pi-demo");
    const events: AnyEvent[] = [];
    client.onEvent((e) => {
      if (e.sessionId !== session.id) return;
      events.push(e);
      if (e.type === "permission_request") {
        void client.request("permission.respond", { id: e.payload.id, decision: "allow_once" });
      }
    });
    const ended = client.waitForEvent(session.id, "agent_end", () => true, 120_000);
    await client.request("prompt", { message: "show me what you can do" }, session.id);
    await ended;

    const deltas = events.flatMap((e) =>
      e.type === "message_update" ? [e.payload.assistantMessageEvent.type] : [],
    );
    expect(deltas).toContain("text_delta");
    expect(deltas).toContain("thinking_delta");
    const tools = events.flatMap((e) => (e.type === "tool_execution_start" ? [e.payload.toolName] : []));
    expect(tools).toEqual(["read", "bash", "write"]);
    const asks = events.filter((e) => e.type === "permission_request");
    expect(asks).toHaveLength(1);
    expect(asks[0]?.payload).toMatchObject({ tool: "write", summary: "write pi-demo-notes.md (108 bytes)" });
    // One sentence with the rule's note; its id is data, not text.
    expect(asks[0]?.payload.reason).toBe(
      "This workspace's rule asks before every write call (set by pi-server --demo so that the approval flow shows)",
    );

    const { messages } = await client.request("get_messages", {}, session.id);
    const said = messages.map(textOf).join("\n");
    expect(said).toContain('You said: "show me what you can do"');
    expect(said).toContain("created `pi-demo-notes.md`");
    const results = messages.filter((m) => (m as { role?: string }).role === "toolResult");
    expect(textOf(results[0])).toContain("pi-server demo repository");
    expect(textOf(results[1])).toContain("hello.py");
    expect(readFileSync(join(session.worktree, "pi-demo-notes.md"), "utf8")).toContain(
      "show me what you can do",
    );
    await client.close();
  });

  it("quotes the reason a denied write came with, and names the commands for a real model", async () => {
    const client = await PiClient.connect(server.url, { token: TOKEN });
    const { session } = await client.request("session.create", { repoId: "demo" });
    client.onEvent((e) => {
      if (e.sessionId === session.id && e.type === "permission_request")
        void client.request("permission.respond", {
          id: e.payload.id,
          decision: "deny_once",
          message: "not in this repo",
        });
    });
    const ended = client.waitForEvent(session.id, "agent_end", () => true, 120_000);
    await client.request("prompt", { message: "try" }, session.id);
    await ended;
    const { messages } = await client.request("get_messages", {}, session.id);
    const said = textOf(messages.at(-1));
    expect(said).toContain('`write` did not happen: you denied it, saying "not in this repo".');
    expect(said).toContain("`pi-server config set defaultModel <provider/id>`");
    expect(said).not.toContain("`config.json`");
    expect(existsSync(join(session.worktree, "pi-demo-notes.md"))).toBe(false);
    await client.close();
  });

  it("keeps the user's own default model and repos.json entries", async () => {
    const own = tmp("demo-own");
    const repo = makeRepo();
    writeFileSync(join(own, "config.json"), JSON.stringify({ defaultModel: "someone/else" }));
    writeFileSync(
      join(own, "repos.json"),
      JSON.stringify({ repos: [{ id: "demo", name: "mine", path: repo }] }),
    );
    const s = await startServer({ ...common, dataDir: own, demo: true });
    try {
      const client = await PiClient.connect(s.url, { token: TOKEN });
      const { repos } = await client.request("repos.list", {});
      expect(repos).toEqual([expect.objectContaining({ id: "demo", name: "mine", path: repo })]);
      // config.json names a model that does not exist: there is no usable default, not the demo's.
      expect((await client.request("get_default_model", {})).defaultModel).toBeUndefined();
      expect(JSON.parse(readFileSync(join(own, "config.json"), "utf8"))).toEqual({
        defaultModel: "someone/else",
      });
      await client.close();
    } finally {
      await s.close();
      rmSync(own, { recursive: true, force: true });
      rmSync(repo, { recursive: true, force: true });
    }
  });

  it("is off without the option", async () => {
    const plain = tmp("demo-off");
    const s = await startServer({ ...common, dataDir: plain });
    try {
      const client = await PiClient.connect(s.url, { token: TOKEN });
      expect((await client.request("repos.list", {})).repos).toEqual([]);
      expect((await client.request("get_default_model", {})).defaultModel).toBeUndefined();
      expect(existsSync(join(plain, "demo-repo"))).toBe(false);
      await client.close();
    } finally {
      await s.close();
      rmSync(plain, { recursive: true, force: true });
    }
  });
});
