import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  return exec(process.execPath, [BIN, ...args, "--data-dir", h.dataDir]).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
}

describe("pi-server rules and audit", () => {
  it("a rule added from the CLI takes effect on the running server; list, remove and audit show it", async () => {
    const added = await cli("rules", "add", "ask", "write", "--note", "check my writes", "--json");
    expect(added).toMatchObject({ code: 0 });
    const { rule } = JSON.parse(added.stdout) as {
      rule: { id: string; decision: string; createdBy: string };
    };
    expect(rule).toMatchObject({ decision: "ask", createdBy: "cli" });

    // The default profile lets writes through; the stored rule makes this one ask.
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "from-cli.txt", content: "ok\n" } },
      { kind: "text", text: "written" },
    );
    const asked = client.waitForEvent(session.id, "permission_request");
    await client.request("prompt", { message: "write it" }, session.id);
    const req = await asked;
    expect(req.payload.reason).toBe("A rule asks before every write call (check my writes)");
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await ended;
    expect(readFileSync(join(session.worktree, "from-cli.txt"), "utf8")).toBe("ok\n");

    const listed = await cli("rules", "list");
    expect(listed.stdout).toContain(`${rule.id}\task\twrite\t*\tglobal  # check my writes`);
    expect(listed.stdout).toMatch(/^builtin:privilege-escalation\tbuilt-in\t/m);

    const audit = await cli("audit", "--session", session.id, "--json");
    const { entries } = JSON.parse(audit.stdout) as {
      entries: { layer: string; decision: string; ruleId: string | null }[];
    };
    expect(entries.map((e) => [e.layer, e.decision, e.ruleId])).toEqual([
      ["user", "allow", null],
      ["rule", "ask", rule.id],
    ]);
    const text = await cli("audit", "--limit", "1");
    expect(text.stdout.trim().split("\n")).toHaveLength(1);
    expect(text.stdout).toMatch(/^#\d+\t\d{4}-\d\d-\d\dT.*\twrite\tallow \(user\)\t/);

    const builtIn = await cli("rules", "remove", "builtin:secret-env");
    expect(builtIn.code).toBe(1);
    expect(builtIn.stderr).toContain("built in and cannot be removed");
    expect((await cli("rules", "remove", rule.id)).code).toBe(0);
    const again = await cli("rules", "remove", rule.id);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`no rule ${rule.id}`);
  });

  it("refuses malformed rules with a message", async () => {
    const noSession = await cli("rules", "add", "allow", "bash", "--scope", "session");
    expect(noSession.code).toBe(1);
    expect(noSession.stderr).toContain("--scope session needs --session <id>");
    const badDecision = await cli("rules", "add", "maybe", "bash");
    expect(badDecision.code).toBe(1);
    expect(badDecision.stderr).toContain("decision must be allow, ask or deny");
    const badExpiry = await cli("rules", "add", "deny", "bash", "curl *", "--expires", "soon");
    expect(badExpiry.code).toBe(1);
    expect(badExpiry.stderr).toContain("not a duration");
  });
});
