import { mkdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { TokenStore } from "../src/store/tokens.js";
import { runTurn, startHarness, textOf, type Harness } from "./helpers/harness.js";

let h: Harness;
let listener: Server;
let port: number;
let connections = 0;

beforeAll(async () => {
  h = await startHarness();
  listener = createServer((sock) => {
    connections++;
    sock.end("hello from the host\n");
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  port = (listener.address() as AddressInfo).port;
});
afterAll(async () => {
  await h?.close();
  await new Promise((resolve) => listener.close(resolve));
});

/** The system prompt of the LLM request the last turn made. */
function lastSystemPrompt(): string {
  const req = h.llm.requests[h.llm.requests.length - 1];
  const sys = req?.body.messages.find((m) => m.role === "system");
  return typeof sys?.content === "string" ? sys.content : JSON.stringify(sys?.content ?? "");
}

const approving = new WeakSet<PiClient>();

/** Has the agent run one bash command in the session (every question answered allow); returns the tool's answer. */
async function bash(client: PiClient, sessionId: string, command: string): Promise<string> {
  if (!approving.has(client)) {
    approving.add(client);
    client.onEvent((e) => {
      if (e.type !== "permission_request") return;
      const id = (e.payload as { id: string }).id;
      void client.request("permission.respond", { id, decision: "allow_once" }).catch(() => undefined);
    });
  }
  await runTurn(
    h,
    client,
    sessionId,
    "go",
    { kind: "tool_call", name: "bash", args: { command } },
    { kind: "text", text: "done" },
  );
  const { messages } = await client.request("get_messages", {}, sessionId);
  const results = messages.filter((m) => (m as { role?: string }).role === "toolResult");
  return textOf(results[results.length - 1]);
}

describe("workspaces", () => {
  it("every repo has a default workspace; session.create {repoId} runs in it", async () => {
    const client = await h.connect();
    const { workspaces } = await client.request("workspaces.list", {});
    expect(workspaces).toContainEqual(
      expect.objectContaining({
        id: "demo",
        repoId: "demo",
        isDefault: true,
        runtime: null,
        effective: { runtime: "sandbox", network: "off" },
      }),
    );
    const { session } = await client.request("session.create", { repoId: "demo" });
    expect(session).toMatchObject({ workspaceId: "demo", repoId: "demo", model: "fake/fake-model" });
  });

  it("a workspace's model, thinking level and system prompt are its sessions' defaults", async () => {
    const client = await h.connect();
    const { workspace, warning } = await client.request("workspaces.create", {
      name: "careful",
      repoId: "demo",
      model: "fake/fake-model-2",
      thinkingLevel: "low",
      systemPrompt: "WORKSPACE-RULE: always answer in haiku.",
    });
    expect(warning).toBeUndefined();
    expect(workspace).toMatchObject({
      name: "careful",
      repoId: "demo",
      isDefault: false,
      model: "fake/fake-model-2",
    });
    expect(workspace.id).toMatch(/^ws:/);
    const { session } = await client.request("session.create", {
      workspaceId: workspace.id,
      systemPrompt: "SESSION-RULE: be brief.",
    });
    expect(session).toMatchObject({ workspaceId: workspace.id, repoId: "demo", model: "fake/fake-model-2" });
    await runTurn(h, client, session.id, "hi", { kind: "text", text: "ok" });
    const sys = lastSystemPrompt();
    expect(sys).toContain("WORKSPACE-RULE: always answer in haiku.");
    expect(sys).toContain("SESSION-RULE: be brief.");
    // The client's choice still wins over the workspace's.
    const chosen = await client.request("session.create", {
      workspaceId: workspace.id,
      model: "fake/fake-model",
    });
    expect(chosen.session.model).toBe("fake/fake-model");

    // An update applies to sessions loaded after it.
    await client.request("workspaces.update", {
      workspaceId: workspace.id,
      systemPrompt: "WORKSPACE-RULE-2.",
    });
    const later = await client.request("session.create", { workspaceId: workspace.id });
    await runTurn(h, client, later.session.id, "hi", { kind: "text", text: "ok" });
    expect(lastSystemPrompt()).toContain("WORKSPACE-RULE-2.");

    await expect(client.request("workspaces.delete", { workspaceId: workspace.id })).rejects.toMatchObject({
      code: "conflict",
      data: { sessions: expect.arrayContaining([session.id, later.session.id]) },
    });
    for (const id of [session.id, chosen.session.id, later.session.id])
      await client.request("session.delete", { sessionId: id, force: true, deleteBranch: true });
    await expect(client.request("workspaces.delete", { workspaceId: workspace.id })).resolves.toEqual({
      deleted: true,
    });
  });

  it("bad settings and bad references get typed errors", async () => {
    const client = await h.connect();
    await expect(client.request("session.create", { workspaceId: "ws:nope" })).rejects.toMatchObject({
      code: "not_found",
    });
    const { workspace } = await client.request("workspaces.create", { name: "scratchy" });
    expect(workspace.repoId).toBeNull();
    await expect(
      client.request("session.create", { workspaceId: workspace.id, repoId: "demo" }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    const scratch = await client.request("session.create", { workspaceId: workspace.id });
    expect(scratch.session).toMatchObject({ repoId: null, branch: null, workspaceId: workspace.id });
    await expect(
      client.request("workspaces.create", { name: "x", model: "nope/none" }),
    ).rejects.toMatchObject({
      code: "not_found",
    });
    await expect(client.request("workspaces.create", { name: "x", repoId: "missing" })).rejects.toMatchObject(
      {
        code: "not_found",
      },
    );
    await expect(
      client.request("workspaces.create", { name: "x", readOnlyMounts: [join(h.dataDir, "identity")] }),
    ).rejects.toMatchObject({ code: "invalid_request", message: expect.stringContaining("data dir") });
    await expect(
      client.request("workspaces.create", { name: "x", readOnlyMounts: ["/usr/../etc"] }),
    ).rejects.toMatchObject({ code: "invalid_request" });
    await expect(
      client.request("workspaces.update", { workspaceId: "ws:nope", name: "y" }),
    ).rejects.toMatchObject({ code: "not_found" });
    await expect(client.request("workspaces.delete", { workspaceId: "demo" })).rejects.toMatchObject({
      code: "conflict",
      message: expect.stringContaining("default workspace"),
    });
    await client.request("session.delete", {
      sessionId: scratch.session.id,
      force: true,
      deleteHistory: true,
    });
  });

  it("runtime host is answered with a warning; devices may list but not change workspaces, admin devices may except host and mounts", async () => {
    const client = await h.connect();
    const { workspace } = await client.request("workspaces.create", { name: "fast" });
    const updated = await client.request("workspaces.update", { workspaceId: workspace.id, runtime: "host" });
    expect(updated.workspace.effective.runtime).toBe("host");
    expect(updated.warning).toMatch(/unsandboxed/);
    const token = "device-token-0123456789abcdef-tablet";
    new TokenStore(h.server.db).add("device", "tablet", token);
    const tablet = await PiClient.connect(h.server.url, { token });
    try {
      expect((await tablet.request("workspaces.list", {})).workspaces.length).toBeGreaterThan(1);
      for (const [method, params] of [
        ["workspaces.create", { name: "mine" }],
        ["workspaces.update", { workspaceId: workspace.id, runtime: "sandbox" }],
        ["workspaces.delete", { workspaceId: workspace.id }],
      ] as const) {
        await expect(tablet.request(method, params as never)).rejects.toMatchObject({
          code: "forbidden",
          data: { needs: "admin" },
        });
      }
      // An admin device manages workspaces, but leaving the sandbox or mounting host paths stays the owner's.
      new TokenStore(h.server.db).grantDevice("tablet", "admin");
      const made = await tablet.request("workspaces.create", { name: "admin's", network: "off" });
      expect(made.workspace).toMatchObject({ name: "admin's", network: "off" });
      await expect(
        tablet.request("workspaces.update", { workspaceId: made.workspace.id, runtime: "host" }),
      ).rejects.toMatchObject({ code: "forbidden", data: { needs: "owner" } });
      await expect(
        tablet.request("workspaces.create", { name: "mounts", readOnlyMounts: ["/etc"] }),
      ).rejects.toMatchObject({ code: "forbidden", data: { needs: "owner" } });
      await tablet.request("workspaces.update", { workspaceId: workspace.id, name: "renamed by admin" });
      await tablet.request("workspaces.delete", { workspaceId: made.workspace.id });
    } finally {
      await tablet.close();
    }
    await client.request("workspaces.delete", { workspaceId: workspace.id });
  });

  it("network on reaches a listener on 127.0.0.1 through the real bash tool; network off does not", async () => {
    const client = await h.connect();
    const command = `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3 || echo NO-NETWORK`;
    const off = await client.request("workspaces.create", {
      name: "offline",
      repoId: "demo",
      network: "off",
    });
    const on = await client.request("workspaces.create", { name: "online", repoId: "demo", network: "on" });
    expect(on.workspace.effective).toEqual({ runtime: "sandbox", network: "on" });

    const a = await client.request("session.create", { workspaceId: off.workspace.id });
    const before = connections;
    const blocked = await bash(client, a.session.id, command);
    expect(blocked).toContain("NO-NETWORK");
    expect(blocked).not.toContain("hello from the host");
    expect(connections).toBe(before);

    const b = await client.request("session.create", { workspaceId: on.workspace.id });
    const reached = await bash(client, b.session.id, command);
    expect(reached).toContain("hello from the host");
    expect(connections).toBe(before + 1);
  });
});

describe("skills", () => {
  it("lists the data dir's skills; a workspace's allowlist and the sandbox's commands decide which a session gets", async () => {
    const skill = (name: string, extra: string): void => {
      mkdirSync(join(h.dataDir, "skills", name), { recursive: true });
      writeFileSync(
        join(h.dataDir, "skills", name, "SKILL.md"),
        `---\nname: ${name}\ndescription: The ${name} skill.\n${extra}---\n\n# ${name}\n\nRun the tool.\n`,
      );
    };
    skill("git-helper", "allowed-tools: Bash(git:*) Read\n");
    skill("needs-missing", "metadata:\n  commands: definitely-not-installed-cmd git\n");
    skill("plain-notes", "");
    const client = await h.connect();
    const { skills } = await client.request("skills.list", {});
    expect(skills.map((s) => s.name).sort()).toEqual(["git-helper", "needs-missing", "plain-notes"]);
    expect(skills.find((s) => s.name === "git-helper")).toMatchObject({
      source: "data-dir",
      description: "The git-helper skill.",
      commands: ["git"],
    });
    expect(skills[0]?.allowed).toBeUndefined();

    const { workspace } = await client.request("workspaces.create", {
      name: "skilled",
      repoId: "demo",
      skills: ["git-helper", "needs-missing"],
    });
    const judged = (await client.request("skills.list", { workspaceId: workspace.id })).skills;
    const by = (n: string) => judged.find((s) => s.name === n);
    expect(by("git-helper")).toMatchObject({ allowed: true, compatible: true, missing: [] });
    expect(by("needs-missing")).toMatchObject({
      allowed: true,
      compatible: false,
      missing: ["definitely-not-installed-cmd"],
    });
    expect(by("plain-notes")).toMatchObject({ allowed: false, compatible: true });

    // The session's prompt names exactly the allowed, compatible skill; the sandbox can read its file.
    const { session } = await client.request("session.create", { workspaceId: workspace.id });
    await runTurn(h, client, session.id, "hi", { kind: "text", text: "ok" });
    const sys = lastSystemPrompt();
    expect(sys).toContain("<name>git-helper</name>");
    expect(sys).not.toContain("needs-missing");
    expect(sys).not.toContain("plain-notes");
    // The data dir is not in the sandbox: the skill is, read-only, where the prompt says.
    expect(sys).toContain("<location>/pi-skills/git-helper/SKILL.md</location>");
    const read = await bash(
      client,
      session.id,
      "cat /pi-skills/git-helper/SKILL.md; ls /pi-skills; touch /pi-skills/git-helper/x || echo READ-ONLY",
    );
    expect(read).toContain("Run the tool.");
    expect(read).toContain("READ-ONLY");
    expect(read).not.toContain("needs-missing");

    // The default workspace allows every skill (still only the compatible ones).
    const plain = await client.request("session.create", { repoId: "demo" });
    await runTurn(h, client, plain.session.id, "hi", { kind: "text", text: "ok" });
    expect(lastSystemPrompt()).toContain("<name>plain-notes</name>");
    expect(lastSystemPrompt()).not.toContain("needs-missing");
  });
});
