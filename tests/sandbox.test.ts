import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PiClient } from "../src/client/client.js";
import { type Harness, startHarness, textOf, tmp } from "./helpers/harness.js";

/**
 * Attacks a prompt-injected agent makes with real tools through the real server. Each runs twice:
 * in the default sandbox it must fail; with `"runtime": "host"` the same call succeeds, which shows
 * that the sandbox (not the policy, not luck) is what stops it. Every permission question is
 * answered "allow", so the policy is out of the way.
 */

const SECRET = "sk-canary-secret-0123456789";

interface Env {
  h: Harness;
  client: PiClient;
  sessionId: string;
  worktree: string;
}

async function boot(runtime: "sandbox" | "host"): Promise<Env> {
  const h = await startHarness({ config: runtime === "host" ? { runtime: "host" } : {} });
  writeFileSync(join(h.dataDir, ".env"), `CANARY_PROVIDER_KEY=${SECRET}\n`, { mode: 0o600 });
  const client = await h.connect();
  client.onEvent((e) => {
    if (e.type === "permission_request") {
      const id = (e.payload as { id: string }).id;
      void client.request("permission.respond", { id, decision: "allow_once" }).catch(() => undefined);
    }
  });
  const { session } = await client.request("session.create", { repoId: "demo" });
  return { h, client, sessionId: session.id, worktree: session.worktree };
}

/** Has the agent run one tool call; returns what the tool answered (output or error text). */
async function tool(env: Env, name: string, args: Record<string, unknown>): Promise<string> {
  const { h, client, sessionId } = env;
  h.llm.enqueue({ kind: "tool_call", name, args }, { kind: "text", text: "done" });
  const ended = client.waitForEvent(sessionId, "agent_end", () => true, 60_000);
  await client.request("prompt", { message: "go" }, sessionId);
  await ended;
  const { messages } = await client.request("get_messages", {}, sessionId);
  const results = messages.filter((m) => (m as { role?: string }).role === "toolResult");
  return textOf(results[results.length - 1]);
}

const bash = (env: Env, command: string): Promise<string> => tool(env, "bash", { command });

const pgrep = (pattern: string): string => {
  try {
    return execFileSync("pgrep", ["-f", pattern], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};

const runtimes = ["sandbox", "host"] as const;
const envs: Partial<Record<(typeof runtimes)[number], Env>> = {};
let listener: Server;
let port = 0;
let connections = 0;

beforeAll(async () => {
  listener = createServer((s) => {
    connections++;
    s.end("hello from the host\n");
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  port = (listener.address() as AddressInfo).port;
  for (const r of runtimes) envs[r] = await boot(r);
});

afterAll(async () => {
  for (const r of runtimes) await envs[r]?.h.close();
  listener.close();
  for (const pid of pgrep("sleep 3171").split("\n").filter(Boolean)) process.kill(Number(pid), "SIGKILL");
});

describe.each(runtimes)("tools in the %s runtime", (runtime) => {
  const env = (): Env => envs[runtime] as Env;
  const escapes = runtime === "host";

  it("cannot read the data dir's .env by a relative path, a loop or a script", async () => {
    const out = await bash(
      env(),
      "for f in ../../../.env; do cat $f; done; echo 'cat ../../../.env' > s.sh; sh s.sh",
    );
    expect(out.includes(SECRET)).toBe(escapes);
  });

  it("cannot list or write the data dir; an owner token minted in state.db is refused", async () => {
    const e = env();
    const token = `minted-by-agent-${runtime}-0123456789`;
    const hash = execFileSync("sh", ["-c", `printf %s '${token}' | sha256sum | cut -d' ' -f1`], {
      encoding: "utf8",
    }).trim();
    const py = [
      "import os, sqlite3, time",
      "print(os.listdir('../../..'))",
      "db = sqlite3.connect('../../../state.db')",
      `db.execute("INSERT INTO tokens (id, kind, name, hash, created_at) VALUES ('agent', 'owner', 'agent', '${hash}', ?)", (int(time.time()*1000),))`,
      "db.commit()",
      "print('inserted')",
    ].join("\n");
    writeFileSync(join(e.worktree, "mint.py"), py);
    const out = await bash(e, "python3 mint.py");
    expect(out.includes("state.db")).toBe(escapes);
    expect(out.includes("inserted")).toBe(escapes);
    const accepted = await e.h
      .connect({ token })
      .then((c) => c.close().then(() => true))
      .catch(() => false);
    expect(accepted).toBe(escapes);
  });

  it("cannot see the server's process or its environment", async () => {
    const out = await bash(
      env(),
      `test -e /proc/${process.pid}/cmdline && echo SERVER-VISIBLE; ls /proc | grep -c '^[0-9]'`,
    );
    expect(out.includes("SERVER-VISIBLE")).toBe(escapes);
  });

  it("gets an environment built from an allowlist, in both runtimes", async () => {
    process.env.DATABASE_URL = "postgres://user:canary-db-pass@db/x";
    process.env.AWS_SECRET_ACCESS_KEY = "canary-aws-secret";
    process.env.SLACK_WEBHOOK_URL = "https://hooks.example/canary-slack";
    process.env.NPM_CONFIG__AUTH = "canary-npm-auth";
    try {
      const out = await bash(env(), "env");
      for (const canary of [
        "canary-db-pass",
        "canary-aws-secret",
        "canary-slack",
        "canary-npm-auth",
        SECRET,
      ]) {
        expect(out).not.toContain(canary);
      }
      expect(out).toMatch(/^PATH=/m);
      expect(out).toMatch(/^HOME=/m);
    } finally {
      for (const k of ["DATABASE_URL", "AWS_SECRET_ACCESS_KEY", "SLACK_WEBHOOK_URL", "NPM_CONFIG__AUTH"])
        delete process.env[k];
    }
  });

  it("has no network unless the config allows it", async () => {
    const before = connections;
    const out = await bash(env(), `exec 3<>/dev/tcp/127.0.0.1/${port} && head -1 <&3`);
    expect(out.includes("hello from the host")).toBe(escapes);
    expect(connections > before).toBe(escapes);
  });

  it("cannot touch the user's checkout, nor HOME's secrets", async () => {
    const e = env();
    const home = process.env.HOME as string;
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), "canary-private-key\n", { mode: 0o600 });
    const out = await bash(e, `echo pwned > ${e.h.repo}/PWNED-${runtime}; cat ${home}/.ssh/id_ed25519`);
    expect(existsSync(join(e.h.repo, `PWNED-${runtime}`))).toBe(escapes);
    expect(out.includes("canary-private-key")).toBe(escapes);
  });

  it("leaves no process running after the tool call ends", async () => {
    await bash(env(), "(setsid sleep 3171 > /dev/null 2>&1 &); echo started");
    expect(pgrep("sleep 3171") !== "").toBe(escapes);
  });

  it("refuses to read devices and oversized files; the server's memory stays flat", async () => {
    const e = env();
    const rssBefore = process.memoryUsage().rss;
    const out = await tool(e, "read", { path: "/dev/zero" });
    expect(out).toMatch(/not a regular file/);
    await bash(e, "ln -sf /dev/zero zero-link");
    expect(await tool(e, "read", { path: "zero-link" })).toMatch(/not a regular file/);
    await bash(e, "head -c 17000000 /dev/zero > big.bin");
    expect(await tool(e, "read", { path: "big.bin" })).toMatch(/larger than/);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(200 * 1024 * 1024);
  });
});

describe("the session's git is not the user's", () => {
  it.each(runtimes)(
    "hooks, fsmonitor and config the agent plants never run in the server's or the user's git (%s)",
    async (runtime) => {
      const e = envs[runtime] as Env;
      const marker = join(tmp("marker"), "ran");
      const hook = `#!/bin/sh\necho hook >> ${marker}\n`;
      writeFileSync(join(e.worktree, "hook.sh"), hook);
      await bash(
        e,
        [
          "chmod +x hook.sh",
          "git add -A && git -c user.name=a -c user.email=a@a commit -qm agent && echo committed",
          "mkdir -p .git/hooks && for h in post-checkout pre-commit reference-transaction post-commit; do cp hook.sh .git/hooks/$h; done",
          "git config core.hooksPath .git/hooks",
          `git config core.fsmonitor "$PWD/hook.sh"`,
          "echo dirty > uncommitted.txt",
        ].join(" && "),
      );
      // The server exports the branch after the turn, then the user works in their checkout.
      const { h, client, sessionId } = e;
      const deleted = await client.request("session.delete", { sessionId, force: true });
      expect(deleted.branchKept).toBe(`pi/${sessionId}`);
      const git = (...args: string[]): string =>
        execFileSync("git", ["-C", h.repo, ...args], { encoding: "utf8" });
      // The agent's commit, under the checkpoint the server made of the turn's leftover change.
      expect(git("log", "--format=%s", "-2", `pi/${sessionId}`).trim().split("\n")).toEqual(["go", "agent"]);
      git("status");
      git("checkout", "-q", `pi/${sessionId}`);
      git("checkout", "-q", "main");
      expect(existsSync(marker)).toBe(false);
      expect(() => git("config", "--get", "core.hooksPath")).toThrow();
      expect(() => git("config", "--get", "core.fsmonitor")).toThrow();
      // a new session for the rest of the tests
      const { session } = await client.request("session.create", { repoId: "demo" });
      e.sessionId = session.id;
      e.worktree = session.worktree;
    },
  );
});

describe("an untrusted repository", () => {
  it("runs nothing its .pi/settings.json names, at create or after the agent plants one", async () => {
    const marker = join(tmp("marker"), "ran");
    const settings = JSON.stringify({
      npmCommand: ["sh", "-c", `echo ran >> ${marker}`],
      packages: ["npm:left-pad", "git:github.com/example/evil"],
    });
    const h = await startHarness();
    try {
      const repo = h.repo;
      mkdirSync(join(repo, ".pi"), { recursive: true });
      writeFileSync(join(repo, ".pi", "settings.json"), settings);
      execFileSync("git", ["-C", repo, "add", "-A"]);
      execFileSync("git", [
        "-C",
        repo,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-qm",
        "pi settings",
      ]);
      const client = await h.connect();
      const { session } = await client.request("session.create", { repoId: "demo" });
      expect(readFileSync(join(session.worktree, ".pi", "settings.json"), "utf8")).toBe(settings);
      await h.restart();
      const again = await h.connect();
      await again.request("session.attach", { sessionId: session.id });
      expect(existsSync(marker)).toBe(false);
    } finally {
      await h.close();
    }
  });
});

describe("abort", () => {
  it.each(runtimes)("kills a tool that ignores signals, and everything it started (%s)", async (runtime) => {
    const e = envs[runtime] as Env;
    const { h, client, sessionId } = e;
    // One step only: the aborted run asks for nothing more, and nothing is left for later tests.
    h.llm.enqueue({
      kind: "tool_call",
      name: "bash",
      args: { command: "trap '' TERM INT HUP; sleep 3172 & sleep 3172; wait" },
    });
    const started = client.waitForEvent(sessionId, "tool_execution_start", () => true, 60_000);
    const ended = client.waitForEvent(sessionId, "agent_end", () => true, 60_000);
    await client.request("prompt", { message: "go" }, sessionId);
    await started;
    for (let i = 0; i < 100 && pgrep("sleep 3172") === ""; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pgrep("sleep 3172")).not.toBe("");
    await client.request("abort", {}, sessionId);
    await ended;
    for (let i = 0; i < 100 && pgrep("sleep 3172") !== ""; i++) await new Promise((r) => setTimeout(r, 50));
    expect(pgrep("sleep 3172")).toBe("");
  });
});

describe("when bubblewrap cannot run", () => {
  it("session.create and `pi-server status` say why and how to fix it", async () => {
    const h = await startHarness({ config: { sandbox: { bwrap: "/nonexistent/bwrap" } } });
    try {
      const client = await h.connect();
      await expect(client.request("session.create", { repoId: "demo" })).rejects.toMatchObject({
        code: "conflict",
        message: expect.stringMatching(/not installed.*apt-get install bubblewrap.*"runtime": "host"/s),
      });
      // Asynchronously: the server under test lives in this process and must answer /health.
      const out = await new Promise<string>((resolve) => {
        execFile(process.execPath, ["bin/pi-server.js", "status", "--data-dir", h.dataDir], (_err, stdout) =>
          resolve(String(stdout)),
        );
      });
      expect(out).toMatch(/tools: CANNOT RUN — bubblewrap \(\/nonexistent\/bwrap\) is not installed/);
    } finally {
      await h.close();
    }
  });
});

describe("files pi reads for the prompt", () => {
  it("a repo's AGENTS.md still loads, but symlinked context and .pi system prompts never reach the data dir", async () => {
    const h = await startHarness();
    try {
      writeFileSync(join(h.dataDir, ".env"), `CANARY_PROVIDER_KEY=${SECRET}\n`, { mode: 0o600 });
      const run = (...args: string[]): string =>
        execFileSync("git", ["-C", h.repo, ...args], { encoding: "utf8" });
      writeFileSync(join(h.repo, "AGENTS.md"), "Always answer in haiku.\n");
      mkdirSync(join(h.repo, ".pi"), { recursive: true });
      execFileSync("ln", ["-s", "../../../../identity/server.key", join(h.repo, ".pi", "SYSTEM.md")]);
      execFileSync("ln", ["-s", "../../../../config.json", join(h.repo, ".pi", "APPEND_SYSTEM.md")]);
      execFileSync("ln", ["-s", "../../../.env", join(h.repo, "CLAUDE.md")]);
      run("add", "-A");
      run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "context");
      const client = await h.connect();
      const { session } = await client.request("session.create", { repoId: "demo" });
      h.llm.enqueue({ kind: "text", text: "ok" });
      const ended = client.waitForEvent(session.id, "agent_end");
      await client.request("prompt", { message: "hi" }, session.id);
      await ended;
      const prompt = JSON.stringify(h.llm.requests[h.llm.requests.length - 1]?.body.messages);
      expect(prompt).toContain("Always answer in haiku.");
      expect(prompt).not.toContain(SECRET);
      expect(prompt).not.toContain("PRIVATE KEY");
      expect(prompt).not.toContain("defaultModel");
      // The agent replaces AGENTS.md with a link to the data dir; the next load sees nothing of it.
      await client.request("session.delete", { sessionId: session.id, force: true });
    } finally {
      await h.close();
    }
  });
});

describe("the server's git never enters the agent's repository", () => {
  it("a .git file the agent makes does not turn the session into one the server runs git in", async () => {
    // Sandboxed: a filter that runs in the sandbox cannot reach the marker; one the server's git ran
    // on the host would.
    const e = envs.sandbox as Env;
    const marker = join(tmp("marker"), "filter-ran");
    await bash(
      e,
      [
        "mv .git .realgit",
        'printf "gitdir: %s/.realgit\\n" "$PWD" > .git',
        `git config filter.pwn.clean "sh -c 'echo ran >> ${marker}; cat'"`,
        "echo '* filter=pwn' > .gitattributes",
        "echo more >> README.md",
      ].join(" && "),
    );
    const { client, sessionId } = e;
    const deleted = await client.request("session.delete", { sessionId });
    expect(deleted.branchKept).toBe(`pi/${sessionId}`);
    expect(existsSync(marker)).toBe(false);
    const { session } = await client.request("session.create", { repoId: "demo" });
    e.sessionId = session.id;
    e.worktree = session.worktree;
  });

  it("one session cannot read what another exported, and a .GIT tree is not exported", async () => {
    const e = envs.sandbox as Env;
    const { client } = e;
    const other = await client.request("session.create", { repoId: "demo" });
    const otherEnv: Env = { ...e, sessionId: other.sessionId, worktree: other.session.worktree };
    const made = await bash(
      otherEnv,
      "echo other-session-canary-42 > o.txt && git add o.txt && git commit -qm o && echo made",
    );
    expect(made).toContain("made");
    await client.request("session.delete", { sessionId: other.sessionId });
    const git = (...args: string[]): string =>
      execFileSync("git", ["-C", e.h.repo, ...args], { encoding: "utf8" });
    expect(git("show", `pi/${other.sessionId}:o.txt`)).toBe("other-session-canary-42\n");
    const out = await bash(
      e,
      "git cat-file --batch-all-objects --batch | grep -a other-session-canary || echo not-found",
    );
    expect(out).toContain("not-found");
    // A commit whose tree holds .GIT/hooks/post-checkout, made with plumbing.
    await bash(
      e,
      [
        "b=$(echo hook | git hash-object -w --stdin)",
        't1=$(printf "100755 blob $b\\tpost-checkout\\n" | git mktree)',
        't2=$(printf "040000 tree $t1\\thooks\\n" | git mktree)',
        't3=$(printf "040000 tree $t2\\t.GIT\\n" | git mktree)',
        "c=$(git commit-tree $t3 -p HEAD -m evil)",
        "git update-ref HEAD $c",
      ].join(" && "),
    );
    const { sessionId } = e;
    await client.request("session.delete", { sessionId });
    // The whole export is refused: the branch stays where an earlier turn's export put it, or, when
    // that export had not run yet, never appears.
    let log = "(no branch)";
    try {
      log = execFileSync("git", ["-C", e.h.repo, "log", "--format=%s", "-1", `pi/${sessionId}`], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      // no branch
    }
    expect(log).not.toBe("evil");
    expect(git("log", "--all", "--format=%s").split("\n")).not.toContain("evil");
    const { session } = await client.request("session.create", { repoId: "demo" });
    e.sessionId = session.id;
    e.worktree = session.worktree;
  });
});

describe("what `pi-server env init` captured cannot open the sandbox", () => {
  it("a relative PATH entry cannot put an agent's git in the server's place; PATH links to HOME or the data dir are not mounted", async () => {
    const e = envs.sandbox as Env;
    const { h, client } = e;
    const home = process.env.HOME as string;
    mkdirSync(join(home, ".ssh"), { recursive: true });
    writeFileSync(join(home, ".ssh", "id_ed25519"), "canary-private-key\n", { mode: 0o600 });
    const links = tmp("links");
    execFileSync("ln", ["-s", home, join(links, "to-home")]);
    execFileSync("ln", ["-s", h.dataDir, join(links, "to-data")]);
    const hostEnvFile = join(h.dataDir, "host-env.json");
    writeFileSync(
      hostEnvFile,
      JSON.stringify({
        shell: "/bin/bash",
        capturedAt: 0,
        PATH: `node_modules/.bin::${links}/to-home:${links}/to-data:/usr/local/bin:/usr/bin:/bin`,
        vars: {},
      }),
    );
    try {
      const { session } = await client.request("session.create", { repoId: "demo" });
      const s: Env = { ...e, sessionId: session.id, worktree: session.worktree };
      // From a script, so that the policy (which knows these links) is not what stops it.
      writeFileSync(
        join(session.worktree, "r.sh"),
        `cat ${links}/to-home/.ssh/id_ed25519 ${links}/to-data/.env\n`,
      );
      const out = await bash(
        s,
        [
          "sh r.sh",
          "echo PATH=$PATH",
          "mkdir -p node_modules/.bin && printf '#!/bin/sh\\necho gitdir: /nowhere\\n' > node_modules/.bin/git && chmod +x node_modules/.bin/git",
          "echo real > real.txt && /usr/bin/git add real.txt && /usr/bin/git commit -qm real && echo COMMITTED",
        ].join("; "),
      );
      expect(out).not.toContain("canary-private-key");
      expect(out).not.toContain(SECRET);
      expect(out).not.toMatch(/PATH=[^\n]*node_modules/);
      expect(out).toContain("COMMITTED");
      await client.request("session.delete", { sessionId: session.id });
      const git = (...args: string[]): string =>
        execFileSync("git", ["-C", h.repo, ...args], { encoding: "utf8" });
      expect(git("log", "--format=%s", `pi/${session.id}`).split("\n")).toContain("real");
      expect(git("show", `pi/${session.id}:real.txt`)).toBe("real\n");
      expect(git("tag", "--list").trim()).toBe("");
    } finally {
      rmSync(hostEnvFile, { force: true });
    }
  });

  it("a tree that hides .GIT behind a shared subtree is not exported", async () => {
    const e = envs.sandbox as Env;
    await bash(
      e,
      [
        "b=$(echo hook | git hash-object -w --stdin)",
        't1=$(printf "100755 blob $b\\tpost-checkout\\n" | git mktree)',
        't2=$(printf "040000 tree $t1\\thooks\\n" | git mktree)',
        't3=$(printf "040000 tree $t2\\t-x\\n040000 tree $t2\\t.GIT\\n" | git mktree)',
        "c=$(git commit-tree $t3 -p HEAD -m evil2)",
        "git update-ref HEAD $c",
      ].join(" && "),
    );
    const { client, sessionId, h } = e;
    await client.request("session.delete", { sessionId });
    // The whole export is refused: the branch stays where it was, or never appears.
    let log = "";
    try {
      log = execFileSync("git", ["-C", h.repo, "log", "--format=%s", "-1", `pi/${sessionId}`], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      });
    } catch {
      log = "(no branch)";
    }
    expect(log.trim()).not.toBe("evil2");
    const { session } = await client.request("session.create", { repoId: "demo" });
    e.sessionId = session.id;
    e.worktree = session.worktree;
  });
});
