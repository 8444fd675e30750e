import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "./helpers/harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: { security: { profile: "strict" } } });
});
afterAll(() => h.close());

describe("a permission request for a long command", () => {
  it("says it was shortened, with length and hash, and permission.get shows all of it", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const command = `echo ${"a".repeat(20_000)} > /dev/null; touch HIDDEN-TAIL`;
    h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } }, { kind: "text", text: "ok" });
    const asked = client.waitForEvent(session.id, "permission_request");
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "go" }, session.id);
    const req = (await asked).payload as {
      id: string;
      input: { command: string };
      clipped?: { path: string; length: number; sha256: string }[];
    };
    expect(req.input.command).not.toContain("HIDDEN-TAIL");
    expect(req.clipped).toEqual([
      {
        path: "/command",
        length: command.length,
        sha256: createHash("sha256").update(command).digest("hex"),
      },
    ]);
    const full = await client.request("permission.get", { id: req.id });
    expect((full.input as { command: string }).command).toBe(command);
    expect(full.request.id).toBe(req.id);
    await client.request("permission.respond", { id: req.id, decision: "deny_once" });
    await ended;
    await expect(client.request("permission.get", { id: req.id })).rejects.toMatchObject({
      code: "not_found",
    });
  });
});
