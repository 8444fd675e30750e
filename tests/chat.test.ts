import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRepo, startHarness, TOKEN, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const STRICT = { security: { profile: "strict" } };

/** The test's environment without provider keys or tokens (in-process servers mirror .env into it). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/_API_KEY$|_TOKEN$/.test(k)) env[k] = v;
  return { ...env, PI_SERVER_TOKEN: TOKEN };
}

interface ChatProcess {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  write(line: string): void;
  end(): void;
  /** Resolves once stdout (or stderr) matches. */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number): Promise<void>;
  exited: Promise<number>;
}

function spawnChat(dataDir: string, args: string[] = []): ChatProcess {
  const child = spawn(process.execPath, [BIN, "chat", "--data-dir", dataDir, ...args], {
    env: childEnv(),
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  child.stdout.on("data", (d: Buffer) => {
    out.stdout += String(d);
    wake();
  });
  child.stderr.on("data", (d: Buffer) => {
    out.stderr += String(d);
    wake();
  });
  const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));
  return {
    child,
    stdout: () => out.stdout,
    stderr: () => out.stderr,
    write: (line) => child.stdin.write(`${line}\n`),
    end: () => child.stdin.end(),
    exited,
    waitFor(pattern, stream = "stdout", timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          if (!pattern.test(out[stream])) return;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(check), 1);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(check), 1);
          reject(
            new Error(
              `timed out waiting for ${pattern} in ${stream}:\n${out.stdout}\n--- stderr\n${out.stderr}`,
            ),
          );
        }, timeoutMs);
        waiters.push(check);
        check();
        void exited.then(() => setTimeout(check, 0));
      });
    },
  };
}

/** How often `needle` occurs in `hay`. */
function count(hay: string, needle: string): number {
  return hay.split(needle).length - 1;
}

function sessionIdOf(chat: ChatProcess): string {
  const m = /session (\S+) \(/.exec(chat.stderr());
  if (!m) throw new Error(`no session id in: ${chat.stderr()}`);
  return m[1]!;
}

/** What the model was told about the last tool call, from the last LLM request. */
function lastToolResult(h: Harness): string {
  const messages = h.llm.requests.at(-1)!.body.messages;
  const tool = messages.filter((m) => m.role === "tool").at(-1);
  return tool && typeof tool.content === "string" ? tool.content : JSON.stringify(tool);
}

/** A TCP proxy in front of the server whose connections the test can cut, and refuse for a while. */
interface Proxy {
  url: string;
  cut(): void;
  refuse(on: boolean): void;
  close(): Promise<void>;
}

async function startProxy(target: string): Promise<Proxy> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  let refusing = false;
  const server: Server = createServer((downstream) => {
    if (refusing) return void downstream.destroy();
    const upstream = connect(Number(port), hostname);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => undefined);
    }
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.on("close", () => upstream.destroy());
    upstream.on("close", () => downstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cut() {
      for (const s of sockets) s.destroy();
    },
    refuse(on) {
      refusing = on;
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ config: STRICT });
});
afterAll(async () => {
  await h?.close();
});

describe("pi-server chat", () => {
  it("drives a real turn from piped stdin: the write is approved with y, runs, and the answer streams once", async () => {
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "from-chat.txt", content: "written by chat\n" } },
      { kind: "text", text: "The file from-chat.txt is in place.", chunkSize: 4 },
    );
    const chat = spawnChat(h.dataDir);
    chat.write("please write the file");
    chat.write("y");
    chat.end();
    expect(await chat.exited).toBe(0);
    const out = chat.stdout();
    expect(out).not.toContain("\u001b[");
    expect(out).toContain("› please write the file");
    expect(out).toContain("→ write from-chat.txt (16 bytes)");
    expect(out).toContain("? write from-chat.txt (16 bytes)");
    expect(out).toContain("why: the strict profile asks before write from-chat.txt");
    expect(
      count(
        out,
        "Allow? [y]es, [a]llow for this turn, [s]ession, always, [N]o, never, or a reason to deny: y",
      ),
    ).toBe(1);
    expect(out).toContain("allowed once");
    expect(count(out, "The file from-chat.txt is in place.")).toBe(1);
    expect(out).toMatch(/── done in \d/);
    const id = sessionIdOf(chat);
    const client = await h.connect();
    const { sessions } = await client.request("session.list", {});
    const s = sessions.find((x) => x.id === id)!;
    expect(s.repoId).toBe("demo");
    expect(readFileSync(join(s.worktree, "from-chat.txt"), "utf8")).toBe("written by chat\n");
  });

  it("denies with a typed reason, which the model reads in the tool result", async () => {
    h.llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "rm -rf build && make" } },
      { kind: "text", text: "Understood, leaving build alone." },
    );
    const chat = spawnChat(h.dataDir);
    chat.write("clean and build");
    chat.write("keep the build dir, run make only");
    chat.end();
    expect(await chat.exited).toBe(0);
    const out = chat.stdout();
    expect(out).toContain("→ bash: rm -rf build && make");
    expect(out).toContain("  $ rm -rf build && make");
    expect(out).toContain('denied — "keep the build dir, run make only"');
    expect(lastToolResult(h)).toContain("The user says: keep the build dir, run make only");
    expect(out).toMatch(/✗ .*denied this tool call/);
    expect(count(out, "Understood, leaving build alone.")).toBe(1);
  });

  it("moves on when another device answers first, and shows provider errors", async () => {
    h.llm.enqueue(
      { kind: "tool_call", name: "write", args: { path: "elsewhere.txt", content: "x\n" } },
      { kind: "error", status: 400 },
    );
    const chat = spawnChat(h.dataDir);
    chat.write("write elsewhere.txt");
    await chat.waitFor(/Allow\? /);
    const phone = await h.connect();
    const { requests } = await phone.request("permission.list", { sessionId: sessionIdOf(chat) });
    expect(requests).toHaveLength(1);
    await phone.request("permission.respond", { id: requests[0]!.id, decision: "allow_once" });
    await chat.waitFor(/answered elsewhere \(.*\): allowed once/);
    await chat.waitFor(/turn failed/);
    chat.end();
    expect(await chat.exited).toBe(0);
    expect(chat.stdout()).toMatch(/✗ .*400/);
  });

  it("says clearly what is wrong: an unknown session, no token", async () => {
    const unknown = spawnChat(h.dataDir, ["--session", "nosuch-session"]);
    unknown.end();
    expect(await unknown.exited).not.toBe(0);
    expect(unknown.stderr()).toContain("no session nosuch-session");
    expect(unknown.stderr().split("no session nosuch-session")).toHaveLength(2);
    expect(unknown.stderr()).not.toMatch(/\n\s+at /);

    const noToken = spawn(process.execPath, [BIN, "chat", "--data-dir", h.dataDir], {
      env: { ...childEnv(), PI_SERVER_TOKEN: "" },
    });
    let err = "";
    noToken.stderr.on("data", (d: Buffer) => (err += String(d)));
    noToken.stdin.end();
    expect(await new Promise((r) => noToken.on("exit", r))).not.toBe(0);
    expect(err).toContain("--token");
  });
});

describe("pi-server chat over a dropped connection", () => {
  let g: Harness;
  let other: string;
  beforeAll(async () => {
    other = makeRepo();
    // A small replay ring, so that a long enough outage is a gap.
    g = await startHarness({
      config: STRICT,
      repos: { demo: makeRepo(), other },
      start: { limits: { replayBufferEvents: 20 } },
    });
  });
  afterAll(async () => {
    await g?.close();
    rmSync(other, { recursive: true, force: true });
  });

  it("lists the repositories when it cannot choose one", async () => {
    const chat = spawnChat(g.dataDir);
    chat.end();
    expect(await chat.exited).not.toBe(0);
    expect(chat.stderr()).toContain(
      "several repositories are registered; choose one with --repo <id>: demo, other",
    );
  });

  it("asks a question re-sent on re-attach once, and completes the answer without duplicates (replay and gap)", async () => {
    const proxy = await startProxy(g.server.url);
    try {
      const words = Array.from({ length: 150 }, (_, i) => `word${i}`).join(" ");
      g.llm.enqueue(
        { kind: "tool_call", name: "write", args: { path: "resumed.txt", content: "ok\n" } },
        { kind: "text", text: words, chunkSize: 6, delayMs: 15 },
      );
      const chat = spawnChat(g.dataDir, ["--repo", "demo", "--url", proxy.url]);
      chat.write("write and talk");
      await chat.waitFor(/Allow\? /);
      const id = sessionIdOf(chat);

      // Dropped while the question is open: it is re-sent on attach and must not be asked again.
      proxy.cut();
      await chat.waitFor(/reconnected/, "stderr");
      chat.write("y");
      await chat.waitFor(/allowed once/);

      // Dropped mid-stream, back at once: the server replays what was missed.
      await chat.waitFor(/word10 /);
      expect(chat.stdout()).not.toContain("word149");
      proxy.cut();
      await chat.waitFor(/reconnected[\s\S]*reconnected/, "stderr");

      // Dropped again and kept out until more than the ring holds has passed: a gap, reloaded.
      await chat.waitFor(/word40 /);
      const watcher = await g.connect();
      let deltas = 0;
      let ended = false;
      watcher.onEvent((e) => {
        if (e.sessionId !== id) return;
        if (e.type === "message_update" && e.payload.assistantMessageEvent.type === "text_delta") deltas++;
        if (e.type === "session_status" && e.payload.status === "idle") ended = true;
      });
      await watcher.request("session.attach", { sessionId: id });
      proxy.refuse(true);
      proxy.cut();
      await new Promise<void>((resolve) => {
        const t = setInterval(() => {
          if (deltas > 30 || ended) {
            clearInterval(t);
            resolve();
          }
        }, 20);
      });
      proxy.refuse(false);
      await chat.waitFor(/catching up from the history/, "stderr");
      await chat.waitFor(/── done/);
      chat.end();
      expect(await chat.exited).toBe(0);

      const out = chat.stdout();
      expect(count(out, "Allow? ")).toBe(1);
      expect(count(out, words)).toBe(1);
      expect(count(out, "→ write resumed.txt")).toBe(1);
      expect(count(out, "── done")).toBe(1);
      const { sessions } = await watcher.request("session.list", {});
      const s = sessions.find((x) => x.id === id)!;
      expect(existsSync(join(s.worktree, "resumed.txt"))).toBe(true);
    } finally {
      await proxy.close();
    }
  });
});
