import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { git } from "../src/repos/git.js";
import { runTurn, startHarness, TOKEN, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

function cli(
  args: string[],
  env: Record<string, string> = { PI_SERVER_TOKEN: TOKEN },
  dataDir = h.dataDir,
): Promise<{ stdout: string; stderr: string; code: number }> {
  return exec(process.execPath, [BIN, ...args, "--data-dir", dataDir], {
    env: { ...process.env, ...env },
  }).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
}

async function hasBranch(repo: string, branch: string): Promise<boolean> {
  return git(repo, ["rev-parse", "-q", "--verify", `refs/heads/${branch}`]).then(
    () => true,
    () => false,
  );
}

describe("pi-server sessions", () => {
  it("says so, without a stack trace, when no server runs or no token is given", async () => {
    const empty = mkdtempSync(join(tmpdir(), "pi-nosrv-"));
    const down = await cli(["sessions", "list"], { PI_SERVER_TOKEN: TOKEN }, empty);
    expect(down.code).not.toBe(0);
    expect(down.stderr).toContain("no server is running");
    expect(down.stderr).not.toMatch(/\n\s+at /);
    const noToken = await cli(["sessions", "list"], { PI_SERVER_TOKEN: "" });
    expect(noToken.code).not.toBe(0);
    expect(noToken.stderr).toContain("--token");
    const bad = await cli(["sessions", "list", "--token", "wrong-token-0123456789"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    // Said in words, with where a good token comes from; no close code.
    expect(bad.stderr).toMatch(/^pi-server: the server at \S+ refused the token/);
    expect(bad.stderr).toContain("`pi-server token rotate`");
    expect(bad.stderr).not.toContain("4401");
  });

  it("models lists what a session can use; chat --model with an unknown one points to it", async () => {
    const client = await h.connect();
    const { models } = await client.request("get_available_models", {});
    const { defaultModel } = await client.request("get_default_model", {});
    const listed = await cli(["models"]);
    expect(listed.code).toBe(0);
    for (const m of models) expect(listed.stdout).toContain(`${m.provider}/${m.id}`);
    if (defaultModel) expect(listed.stdout).toContain(`* ${defaultModel.provider}/${defaultModel.id}`);
    // The legend is not a row: only model rows start with "* " or two spaces.
    expect(listed.stdout).toMatch(/^\(\* marks the default for new sessions; /m);
    expect((await cli(["models", "--help"])).stdout).toMatch(/the default\s+marked with \*/);
    const json = JSON.parse((await cli(["models", "--json"])).stdout) as { models: unknown[] };
    expect(json.models).toHaveLength(models.length);
    const chat = await cli(["chat", "--model", "nosuch/model"]);
    expect(chat.code).toBe(1);
    expect(chat.stderr).toContain("unknown model nosuch/model; `pi-server models` lists the usable ones");
    expect(chat.stderr).not.toContain("get_available_models");
    const repo = await cli(["chat", "--repo", "nope"]);
    expect(repo.stderr).toMatch(
      /^pi-server: could not create a session: no repo "nope" .*`pi-server repos list`/,
    );
  });

  it("list, show and delete a real session; prune --dry-run lists without deleting and keeps unmerged work", async () => {
    const client = await h.connect();
    const plain = (await client.request("session.create", { repoId: "demo", name: "plain one" })).session;
    await runTurn(h, client, plain.id, "hi", { kind: "text", text: "hello" });
    const worked = (await client.request("session.create", { repoId: "demo", name: "worked" })).session;
    // A commit in the session repo reaches the user's repo as pi/<id> at the end of the next turn.
    writeFileSync(join(worked.worktree, "work.txt"), "work\n");
    await git(worked.worktree, ["add", "-A"]);
    await git(worked.worktree, ["-c", "user.name=T", "-c", "user.email=t@e", "commit", "-q", "-m", "work"]);
    await runTurn(h, client, worked.id, "go", { kind: "text", text: "done" });
    // The export runs after the turn's end event.
    const exported = (branch: string) =>
      vi.waitFor(async () => expect(await hasBranch(h.repo, branch)).toBe(true), {
        timeout: 60_000,
        interval: 100,
      });
    await exported(plain.branch!);
    await exported(worked.branch!);
    const gone = (await client.request("session.create", { repoId: "demo", name: "to delete" })).session;
    await runTurn(h, client, gone.id, "hi", { kind: "text", text: "ok" });
    await exported(gone.branch!);

    const listed = await cli(["sessions", "list"]);
    expect(listed.code).toBe(0);
    // Piped, not a terminal: tab-separated columns, one session a line, for cut and awk.
    expect(listed.stdout.split("\n")[0]).toBe("ID\tREPO\tSTATUS\tACTIVE\tBRANCH\tNAME");
    for (const s of [plain, worked, gone])
      expect(
        listed.stdout
          .split("\n")
          .find((l) => l.startsWith(`${s.id}\t`))
          ?.split("\t"),
      ).toHaveLength(6);
    const json = JSON.parse((await cli(["sessions", "list", "--json"])).stdout) as {
      sessions: { id: string }[];
    };
    expect(json.sessions.map((s) => s.id)).toEqual(expect.arrayContaining([plain.id, worked.id, gone.id]));

    const shown = await cli(["sessions", "show", worked.id]);
    expect(shown.stdout).toContain(`branch          ${worked.branch}`);
    expect(JSON.parse((await cli(["sessions", "show", worked.id, "--json"])).stdout)).toMatchObject({
      session: { id: worked.id, name: "worked" },
    });
    const missing = await cli(["sessions", "show", "nope"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no session nope");

    const kept = await cli(["sessions", "delete", gone.id, "--keep-branch"]);
    expect(kept).toMatchObject({ code: 0 });
    expect(kept.stdout).toContain(`deleted ${gone.id}; its branch ${gone.branch} is kept in your repository`);
    expect(existsSync(gone.worktree)).toBe(false);
    expect(await hasBranch(h.repo, gone.branch!)).toBe(true);
    expect(kept.stdout).toContain("`pi-server sessions list` shows the others");
    const again = await cli(["sessions", "delete", gone.id]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).not.toMatch(/\n\s+at /);
    expect(again.stderr).toBe(
      `pi-server: no session ${gone.id} (\`pi-server sessions list\` shows the ids)\n`,
    );
    const noId = await cli(["sessions", "delete"]);
    expect(noId.stderr).toMatch(/^pi-server: missing required argument 'id'/);
    expect(noId.stderr).toContain("`pi-server sessions list` shows them");

    const dry = await cli(["sessions", "prune", "--older-than", "0s", "--dry-run", "--json"]);
    const plan = JSON.parse(dry.stdout) as { deleted: string[]; kept: { id: string; reason: string }[] };
    expect(plan.deleted).toContain(plain.id);
    expect(plan.kept).toContainEqual({
      id: worked.id,
      reason: `${worked.branch} has 1 commit not merged into another branch`,
    });
    expect((await client.request("session.list", {})).sessions.map((s) => s.id)).toContain(plain.id);

    const young = await cli(["sessions", "prune", "--older-than", "7d"]);
    expect(young.stdout).toContain("no session idle for 7d");

    const pruned = await cli(["sessions", "prune", "--older-than", "0s"]);
    expect(pruned.stdout).toContain(`deleted ${plain.id}`);
    expect(pruned.stdout).toContain(`kept ${worked.id}: ${worked.branch} has 1 commit`);
    const left = (await client.request("session.list", {})).sessions.map((s) => s.id);
    expect(left).not.toContain(plain.id);
    expect(left).toContain(worked.id);
    expect(await hasBranch(h.repo, plain.branch!)).toBe(false);

    // Once the user merges the branch, nothing of it would be lost.
    await git(h.repo, ["branch", "-f", "merged-work", worked.branch!]);
    const after = await cli(["sessions", "prune", "--older-than", "0s"]);
    expect(after.stdout).toContain(`deleted ${worked.id}`);
  });

  it("sessions list and status say a session waits for approval, and point to approvals list", async () => {
    const client = await h.connect();
    const s = (await client.request("session.create", { repoId: "demo", name: "asks" })).session;
    h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command: "rm -rf build" } });
    h.llm.enqueue({ kind: "text", text: "done" });
    const asked = client.waitForEvent(s.id, "permission_request");
    await client.request("prompt", { message: "clean" }, s.id);
    const req = await asked;
    const listed = await cli(["sessions", "list"]);
    const row = listed.stdout
      .split("\n")
      .find((l) => l.startsWith(s.id))
      ?.split("\t");
    expect(row?.[2]).toBe("waiting for approval");
    const json = JSON.parse((await cli(["sessions", "list", "--json"])).stdout) as {
      sessions: { id: string; waitingApprovals: number }[];
    };
    expect(json.sessions.find((x) => x.id === s.id)?.waitingApprovals).toBe(1);
    const status = await cli(["status"]);
    expect(status.stdout).toMatch(
      /^sessions: \d+ running, 1 waiting for approval \(1 approval: `[^`]*approvals list`\), \d+ total$/m,
    );
    const st = JSON.parse((await cli(["status", "--json"])).stdout) as { approvals: unknown };
    expect(st.approvals).toEqual({ waiting: 1, sessions: 1 });
    await client.request("permission.respond", { id: req.payload.id, decision: "deny_once" });
    await client.close();
  });
});
