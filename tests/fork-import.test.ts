import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient, RpcError } from "../src/client/client.js";
import type { SignedInvite } from "../src/protocol/invite.js";
import { type Harness, makeRepo, startHarness, textOf, tmp } from "./helpers/harness.js";
import { writeTuiSession } from "./helpers/tui-session.js";

/**
 * session.fork and session.import through the real server: real pi histories, real tools in the
 * real sandbox, real git; the fake LLM shows what each conversation sends after it diverges.
 */

let h: Harness;
let client: PiClient;
let repo: string;
const outside = tmp("outside");

function allowAll(c: PiClient): void {
  c.onEvent((e) => {
    if (e.type === "permission_request") {
      const id = (e.payload as { id: string }).id;
      void c.request("permission.respond", { id, decision: "allow_once" }).catch(() => undefined);
    }
  });
}

async function turn(sessionId: string, prompt: string, answer: string, command?: string): Promise<void> {
  if (command !== undefined) h.llm.enqueue({ kind: "tool_call", name: "bash", args: { command } });
  h.llm.enqueue({ kind: "text", text: answer });
  const idle = client.waitForEvent(sessionId, "session_status", (e) => e.payload.status === "idle", 60_000);
  await client.request("prompt", { message: prompt }, sessionId);
  await idle;
  // The turn's checkpoint is taken by the time this answers.
  await client.request("session.checkpoints", { sessionId });
}

async function rpcError(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

function git(dir: string, ...args: string[]): string {
  return execFileSync("git", ["-C", dir, ...args], { encoding: "utf8" });
}

/** What the model was sent in its last request, as text. */
function lastRequestText(): string {
  return JSON.stringify(h.llm.requests.at(-1)?.body.messages ?? []);
}

async function texts(sessionId: string): Promise<string[]> {
  const { messages } = await client.request("get_messages", {}, sessionId);
  return messages.map((m) => `${(m as { role: string }).role}:${textOf(m)}`);
}

// A HOME of this file's own: its ~/.pi/agent/sessions must not be seen by the others, which check
// that nothing writes to ~/.pi.
const home = tmp("tui-home");
const savedHome = process.env.HOME;
process.env.HOME = home;

beforeAll(async () => {
  repo = makeRepo({ "README.md": "# demo\n", "src/a.txt": "one\n" });
  h = await startHarness({ repos: { work: repo }, start: { pairRateLimit: 100 } });
  client = await h.connect();
  allowAll(client);
}, 60_000);

afterAll(async () => {
  await h.close();
  rmSync(outside, { recursive: true, force: true });
  process.env.HOME = savedHome;
  rmSync(home, { recursive: true, force: true });
  rmSync(repo, { recursive: true, force: true });
});

describe("session.fork", () => {
  let source: { id: string; worktree: string; piSessionFile: string };

  beforeAll(async () => {
    const { session } = await client.request("session.create", { repoId: "work", name: "Source" });
    source = session;
    await turn(source.id, "first question", "answer one", "printf 'two\\n' >> src/a.txt");
    await turn(source.id, "second question", "answer two");
    // Work the turns did not commit: a changed tracked file and an untracked one.
    writeFileSync(join(source.worktree, "README.md"), "# changed by hand\n");
    writeFileSync(join(source.worktree, "loose.txt"), "untracked\n");
  }, 120_000);

  it("lists the user messages to fork from", async () => {
    const { points } = await client.request("get_fork_points", { sessionId: source.id });
    expect(points.map((p) => [p.turn, p.text, p.truncated])).toEqual([
      [1, "first question", false],
      [2, "second question", false],
    ]);
    // The envelope's sessionId works too, as for pi's own get_* methods.
    const viaEnvelope = await client.request("get_fork_points", {}, source.id);
    expect(viaEnvelope.points).toEqual(points);
  });

  it("keeps the history before the entry, copies the worktree, leaves the source alone, and diverges", async () => {
    const historyBefore = readFileSync(source.piSessionFile, "utf8");
    const statusBefore = git(source.worktree, "status", "--porcelain");
    const headBefore = git(source.worktree, "rev-parse", "HEAD").trim();
    const sourceMessages = await texts(source.id);
    const { points } = await client.request("get_fork_points", { sessionId: source.id });

    const fork = await client.request("session.fork", { sessionId: source.id, entryId: points[1]!.entryId });
    expect(fork.text).toBe("second question");
    expect(fork.session).toMatchObject({
      name: "Source (fork)",
      repoId: "work",
      branch: `pi/${fork.sessionId}`,
    });
    expect(await texts(fork.sessionId)).toEqual(
      sourceMessages.slice(0, sourceMessages.indexOf("user:second question")),
    );

    // The worktree: the source's commits, and its uncommitted and untracked files as uncommitted changes.
    const wt = fork.session.worktree;
    expect(git(wt, "rev-parse", "HEAD").trim()).toBe(headBefore);
    expect(git(wt, "symbolic-ref", "HEAD").trim()).toBe(`refs/heads/pi/${fork.sessionId}`);
    expect(readFileSync(join(wt, "src/a.txt"), "utf8")).toBe("one\ntwo\n");
    expect(readFileSync(join(wt, "README.md"), "utf8")).toBe("# changed by hand\n");
    expect(readFileSync(join(wt, "loose.txt"), "utf8")).toBe("untracked\n");
    expect(git(wt, "status", "--porcelain")).toBe(statusBefore);

    // The source did not change: history file, worktree, HEAD, refs.
    expect(readFileSync(source.piSessionFile, "utf8")).toBe(historyBefore);
    expect(git(source.worktree, "status", "--porcelain")).toBe(statusBefore);
    expect(git(source.worktree, "rev-parse", "HEAD").trim()).toBe(headBefore);
    expect(git(source.worktree, "for-each-ref", "--format=%(refname)")).not.toContain("snapshot");

    // Each goes its own way: the fork's model sees the first exchange, not the second.
    await turn(fork.sessionId, "a different idea", "forked answer", "printf 'fork\\n' > fork-only.txt");
    const sent = lastRequestText();
    expect(sent).toContain("first question");
    expect(sent).toContain("a different idea");
    expect(sent).not.toContain("second question");
    expect(await texts(source.id)).toEqual(sourceMessages);
    expect(git(source.worktree, "status", "--porcelain")).toBe(statusBefore);
    expect((await texts(fork.sessionId)).at(-1)).toBe("assistant:forked answer");
  });

  it("forks at an entry, or the whole conversation", async () => {
    const all = await texts(source.id);
    const whole = await client.request("session.fork", { sessionId: source.id, name: "Whole" });
    expect(whole.text).toBeUndefined();
    expect(whole.session).toMatchObject({ name: "Whole", nameSource: "user" });
    expect(await texts(whole.sessionId)).toEqual(all);
    const { points } = await client.request("get_fork_points", { sessionId: source.id });
    const at = await client.request("session.fork", {
      sessionId: source.id,
      entryId: points[1]!.entryId,
      position: "at",
    });
    expect((await texts(at.sessionId)).at(-1)).toBe("user:second question");
  });

  it("refuses unknown sessions and entries, non-user entries before, and a running source", async () => {
    expect((await rpcError(client.request("session.fork", { sessionId: "nope" }))).code).toBe("not_found");
    const missing = await rpcError(client.request("session.fork", { sessionId: source.id, entryId: "zzzz" }));
    expect(missing.code).toBe("not_found");
    const { messages } = await client.request("get_messages", { raw: true }, source.id);
    void messages;
    const manager = readFileSync(source.piSessionFile, "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; id?: string; message?: { role: string } });
    const assistant = manager.find((e) => e.type === "message" && e.message?.role === "assistant")!;
    const notUser = await rpcError(
      client.request("session.fork", { sessionId: source.id, entryId: assistant.id!, position: "before" }),
    );
    expect(notUser.code).toBe("invalid_request");

    h.llm.enqueue({ kind: "hang" });
    const running = client.waitForEvent(source.id, "session_status", (e) => e.payload.status === "running");
    await client.request("prompt", { message: "hang on" }, source.id);
    await running;
    expect((await rpcError(client.request("session.fork", { sessionId: source.id }))).code).toBe("conflict");
    const idle = client.waitForEvent(source.id, "session_status", (e) => e.payload.status === "idle");
    await client.request("abort", {}, source.id);
    await idle;
  });

  it("reverts a turn with its conversation: a fork at that turn on the checkpoint's files", async () => {
    const { session } = await client.request("session.create", { repoId: "work" });
    await turn(session.id, "step one", "did one", "printf '1\\n' > step.txt");
    await turn(session.id, "step two", "did two", "printf '2\\n' > step.txt");
    const { checkpoints } = await client.request("session.checkpoints", { sessionId: session.id });
    expect(checkpoints.map((c) => c.message)).toEqual(["step one", "step two"]);
    const r = await client.request("session.revert", {
      sessionId: session.id,
      checkpoint: checkpoints[0]!.id,
      conversation: true,
    });
    expect(r.sessionId).toEqual(expect.any(String));
    expect(readFileSync(join(session.worktree, "step.txt"), "utf8")).toBe("1\n");
    expect(readFileSync(join(r.session!.worktree, "step.txt"), "utf8")).toBe("1\n");
    expect((await texts(r.sessionId!)).filter((t) => t.startsWith("user:"))).toEqual(["user:step one"]);
    expect((await texts(session.id)).filter((t) => t.startsWith("user:"))).toEqual([
      "user:step one",
      "user:step two",
    ]);
  });
});

const sessionsDir = join(homedir(), ".pi", "agent", "sessions");

const tuiSession = (cwd: string, user: string, answer: string): string =>
  writeTuiSession(sessionsDir, cwd, user, answer);

describe("import from pi's terminal UI", () => {
  let file: string;

  beforeAll(() => {
    mkdirSync(join(repo, "pkg"), { recursive: true });
    file = tuiSession(join(repo, "pkg"), "what does the tui say?", "the tui says hi");
    tuiSession(outside, "elsewhere", "not a repo");
  });

  it("lists TUI sessions with their cwd, first message and repo", async () => {
    const { sessions, truncated } = await client.request("sessions.importable", {});
    expect(truncated).toBe(false);
    const mine = sessions.find((s) => s.path === file);
    expect(mine).toMatchObject({
      cwd: join(repo, "pkg"),
      repoId: "work",
      firstMessage: "what does the tui say?",
      importable: true,
    });
    const other = sessions.find((s) => s.cwd === outside);
    expect(other).toMatchObject({ repoId: null, importable: false });
    expect(other?.reason).toContain("no registered repo");
  });

  it("imports one with its history, never touching the file, and the next prompt continues it", async () => {
    const bytes = readFileSync(file, "utf8");
    const mtime = statSync(file).mtimeMs;
    const { sessionId, session } = await client.request("session.import", { path: file });
    expect(session).toMatchObject({ repoId: "work", branch: `pi/${sessionId}`, model: "fake/fake-model" });
    expect(await texts(sessionId)).toEqual(["user:what does the tui say?", "assistant:the tui says hi"]);
    expect(readFileSync(join(session.worktree, "README.md"), "utf8")).toBe("# demo\n");

    await turn(sessionId, "and then?", "then more");
    const sent = lastRequestText();
    expect(sent).toContain("what does the tui say?");
    expect(sent).toContain("the tui says hi");
    expect(await texts(sessionId)).toEqual([
      "user:what does the tui say?",
      "assistant:the tui says hi",
      "user:and then?",
      "assistant:then more",
    ]);
    expect(readFileSync(file, "utf8")).toBe(bytes);
    expect(statSync(file).mtimeMs).toBe(mtime);
    // It survives a restart like any session.
    await h.restart();
    client = await h.connect();
    allowAll(client);
    expect((await texts(sessionId)).length).toBe(4);
  });

  it("refuses traversal, symlinks, files outside, non-pi files, huge files and a device", async () => {
    const secret = join(outside, "secret.jsonl");
    writeFileSync(secret, readFileSync(file));
    const cases: Array<[string, string, string?]> = [];
    cases.push([secret, "forbidden", "outside_sessions_dir"]);
    cases.push([`${sessionsDir}/${relative(sessionsDir, secret)}`, "forbidden", "outside_sessions_dir"]);
    const link = join(sessionsDir, "link.jsonl");
    symlinkSync(secret, link);
    cases.push([link, "forbidden", "symlink"]);
    const dirLink = join(sessionsDir, "dirlink");
    symlinkSync(outside, dirLink);
    cases.push([join(dirLink, "secret.jsonl"), "forbidden", "outside_sessions_dir"]);
    const junk = join(sessionsDir, "junk.jsonl");
    writeFileSync(junk, "not json at all\n");
    cases.push([junk, "invalid_request", "not_pi"]);
    const notJsonl = join(sessionsDir, "notes.txt");
    writeFileSync(notJsonl, readFileSync(file));
    cases.push([notJsonl, "invalid_request", "not_pi"]);
    const huge = join(sessionsDir, "huge.jsonl");
    writeFileSync(huge, readFileSync(file));
    truncateSync(huge, 65 * 1024 * 1024);
    cases.push([huge, "limit_exceeded", "too_large"]);
    cases.push(["relative/path.jsonl", "invalid_request"]);
    cases.push([join(sessionsDir, "missing.jsonl"), "not_found"]);
    const before = (await client.request("session.list", {})).sessions.length;
    for (const [path, code, reason] of cases) {
      const err = await rpcError(client.request("session.import", { path }));
      expect([path, err.code]).toEqual([path, code]);
      if (reason) expect([path, err.data?.reason]).toEqual([path, reason]);
    }
    expect((await client.request("session.list", {})).sessions.length).toBe(before);

    const phone = await pairDevice("phone");
    try {
      expect((await rpcError(phone.request("sessions.importable", {}))).code).toBe("forbidden");
      expect((await rpcError(phone.request("session.import", { path: file }))).code).toBe("forbidden");
    } finally {
      await phone.close();
    }
  });
});

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));

async function pairDevice(name: string): Promise<PiClient> {
  const { stdout } = await promisify(execFile)(process.execPath, [
    BIN,
    "pair",
    "--json",
    "--data-dir",
    h.dataDir,
  ]);
  const pairingToken = (JSON.parse(stdout) as SignedInvite).invite.pairingToken;
  const res = await fetch(`${h.server.url}/pair`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ pairingToken, deviceName: name }),
  });
  const json = (await res.json()) as { token: string };
  return PiClient.connect(h.server.url, { token: json.token });
}
