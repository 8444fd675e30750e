import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PiClient, RpcError } from "../src/client/client.js";
import { type Harness, makeRepo, startHarness, tmp } from "./helpers/harness.js";

/**
 * session.diff and session.file through the real server: the agent changes its worktree with real
 * tools in the real sandbox, and the server reads the result back only through that sandbox.
 */

let h: Harness;
let client: PiClient;
let sessionId: string;
let worktree: string;
const markers = tmp("markers");

async function bash(command: string, session = sessionId): Promise<void> {
  h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } }, { kind: "text", text: "done" });
  const ended = client.waitForEvent(session, "agent_end", () => true, 60_000);
  await client.request("prompt", { message: "go" }, session);
  await ended;
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

beforeAll(async () => {
  const repo = makeRepo({
    "README.md": "# demo\n\nline two\n",
    "src/a.txt": "one\ntwo\nthree\n",
    "gone.txt": "to be deleted\n",
    "old-name.txt": "a file that moves\nwith two lines\n",
  });
  // A small read limit, so that "too large" is cheap to reach.
  // Without checkpoints, so the turn leaves uncommitted and untracked changes to diff.
  h = await startHarness({
    repos: { work: repo },
    config: { checkpoints: { enabled: false } },
    start: { limits: { toolFileBytes: 64 * 1024 } },
  });
  client = await h.connect();
  client.onEvent((e) => {
    if (e.type === "permission_request") {
      const id = (e.payload as { id: string }).id;
      void client.request("permission.respond", { id, decision: "allow_once" }).catch(() => undefined);
    }
  });
  const { session } = await client.request("session.create", { repoId: "work" });
  sessionId = session.id;
  worktree = session.worktree;
  await bash(
    [
      "printf 'one\\nTWO\\nthree\\n' > src/a.txt",
      "git commit -qam 'agent edit'",
      "printf 'added by agent\\n' >> README.md",
      "rm gone.txt",
      "git mv old-name.txt new-name.txt",
      "printf 'fresh\\nfile\\n' > notes.txt",
      "mkdir -p deep/dir && printf 'x\\n' > deep/dir/y.txt",
      "printf '\\000\\001\\002binary' > blob.bin",
    ].join(" && "),
  );
}, 120_000);

afterAll(async () => {
  await h.close();
  rmSync(markers, { recursive: true, force: true });
});

describe("session.diff", () => {
  it("lists committed, uncommitted and untracked changes against the session's start", async () => {
    const r = await client.request("session.diff", {}, sessionId);
    expect(r.base).toMatch(/^[0-9a-f]{40}$/);
    expect(r.truncated).toBe(false);
    const byPath = Object.fromEntries(r.files.map((f) => [f.path, f]));
    expect(byPath["src/a.txt"]).toMatchObject({
      status: "modified",
      additions: 1,
      deletions: 1,
      binary: false,
    });
    expect(byPath["README.md"]).toMatchObject({ status: "modified", additions: 1, deletions: 0 });
    expect(byPath["gone.txt"]).toMatchObject({ status: "deleted", additions: 0, deletions: 1 });
    expect(byPath["new-name.txt"]).toMatchObject({ status: "renamed", oldPath: "old-name.txt" });
    expect(byPath["notes.txt"]).toMatchObject({ status: "added", additions: 2, deletions: 0 });
    expect(byPath["deep/dir/y.txt"]).toMatchObject({ status: "added", additions: 1 });
    expect(byPath["blob.bin"]).toMatchObject({ status: "added", binary: true, additions: 0, deletions: 0 });
    expect(r.files).toHaveLength(7);
    expect(r.diff).toContain("+TWO");
    expect(r.diff).toContain("+++ b/notes.txt");
    expect(r.diff).toContain("Binary files /dev/null and b/blob.bin differ");
    // The agent's index is not touched: notes.txt is still untracked.
    const status = execFileSync("git", ["-c", "core.fsmonitor=false", "status", "--porcelain"], {
      cwd: worktree,
      encoding: "utf8",
    });
    expect(status).toContain("?? notes.txt");
  });

  it("cuts the patch at maxBytes and says so", async () => {
    const r = await client.request("session.diff", { maxBytes: 100 }, sessionId);
    expect(r.truncated).toBe(true);
    expect(Buffer.byteLength(r.diff)).toBeLessThanOrEqual(100);
    expect(r.files).toHaveLength(7);
  });

  it("refuses bad params with invalid_request", async () => {
    const err = await rpcError(client.request("session.diff", { maxBytes: 0 }, sessionId));
    expect(err.code).toBe("invalid_request");
  });

  it("lists a scratch session's files as added, against nothing", async () => {
    const { session } = await client.request("session.create", {});
    const empty = await client.request("session.diff", {}, session.id);
    expect(empty).toEqual({ base: null, diff: "", truncated: false, files: [] });
    await bash("printf 'hello\\n' > hello.txt", session.id);
    const r = await client.request("session.diff", {}, session.id);
    expect(r.files).toEqual([
      { path: "hello.txt", status: "added", additions: 1, deletions: 0, binary: false },
    ]);
    expect(r.diff).toContain("+hello");
  });

  it("runs no filter, external diff or fsmonitor the agent planted on the host", async () => {
    const { session } = await client.request("session.create", { repoId: "work" });
    const wt = session.worktree;
    const script = join(markers, "hostile.sh");
    writeFileSync(script, `#!/bin/sh\necho "$0 $*" >> ${join(markers, "ran")}\ncat\n`, { mode: 0o755 });
    const git = (...args: string[]): string =>
      execFileSync("git", args, { cwd: wt, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    git("config", "filter.x.clean", script);
    git("config", "filter.x.smudge", script);
    git("config", "diff.external", script);
    git("config", "diff.y.textconv", script);
    git("config", "core.fsmonitor", script);
    writeFileSync(join(wt, ".gitattributes"), "* filter=x diff=y\n");
    writeFileSync(join(wt, "README.md"), "# changed\n");
    // Control: the same diff run by host git in the worktree does run the planted script.
    git("diff", "HEAD");
    expect(existsSync(join(markers, "ran"))).toBe(true);
    rmSync(join(markers, "ran"));

    const r = await client.request("session.diff", {}, session.id);
    expect(r.files.map((f) => f.path).sort()).toEqual([".gitattributes", "README.md"]);
    expect(existsSync(join(markers, "ran"))).toBe(false);
  });
});

describe("session.file", () => {
  it("reads text and binary files of the worktree", async () => {
    const text = await client.request("session.file", { path: "README.md" }, sessionId);
    expect(text).toEqual({
      path: "README.md",
      size: Buffer.byteLength("# demo\n\nline two\nadded by agent\n"),
      truncated: false,
      encoding: "utf8",
      content: "# demo\n\nline two\nadded by agent\n",
    });
    const bin = await client.request("session.file", { path: "./blob.bin" }, sessionId);
    expect(bin.path).toBe("blob.bin");
    expect(bin.encoding).toBe("base64");
    expect(Buffer.from(bin.content, "base64")).toEqual(Buffer.from("\x00\x01\x02binary", "latin1"));
    const nested = await client.request("session.file", { path: "deep/dir/y.txt" }, sessionId);
    expect(nested.content).toBe("x\n");
  });

  it("cuts at maxBytes, refuses files over the read limit", async () => {
    const cut = await client.request("session.file", { path: "README.md", maxBytes: 6 }, sessionId);
    expect(cut).toMatchObject({ content: "# demo", truncated: true, size: 32 });
    writeFileSync(join(worktree, "big.txt"), "z".repeat(100 * 1024));
    const err = await rpcError(client.request("session.file", { path: "big.txt" }, sessionId));
    expect(err.code).toBe("limit_exceeded");
  });

  it("refuses paths that leave the worktree, by spelling or by symlink", async () => {
    for (const path of ["../session.jsonl", "src/../../session.jsonl", "/etc/passwd", "..", "a/../../b"]) {
      const err = await rpcError(client.request("session.file", { path }, sessionId));
      expect(err.code, path).toBe("invalid_request");
    }
    mkdirSync(join(worktree, "links"), { recursive: true });
    symlinkSync("/etc/passwd", join(worktree, "links", "passwd"));
    symlinkSync(join(h.dataDir, "config.json"), join(worktree, "links", "config"));
    symlinkSync("../../session.jsonl", join(worktree, "links", "history"));
    symlinkSync("../README.md", join(worktree, "links", "readme"));
    for (const path of ["links/passwd", "links/config", "links/history"]) {
      const err = await rpcError(client.request("session.file", { path }, sessionId));
      expect(["invalid_request", "not_found"], path).toContain(err.code);
      expect(err.message).not.toContain("defaultModel");
    }
    // A link that stays inside the worktree is followed.
    const inside = await client.request("session.file", { path: "links/readme" }, sessionId);
    expect(inside.content).toContain("# demo");
  });

  it("answers not_found for a missing file and invalid_request for a directory", async () => {
    expect((await rpcError(client.request("session.file", { path: "nope.txt" }, sessionId))).code).toBe(
      "not_found",
    );
    expect((await rpcError(client.request("session.file", { path: "src" }, sessionId))).code).toBe(
      "invalid_request",
    );
    const err = await rpcError(client.request("session.file", { path: "x" }, "no-such-session"));
    expect(err.code).toBe("not_found");
  });
});
