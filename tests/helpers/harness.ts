import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PiClient, type ConnectOptions, type AnyEvent } from "../../src/client/client.js";
import { startServer, type RunningServer, type StartOptions } from "../../src/server.js";
import { type FakeCost, fakeModelsJson, startFakeLlm, type FakeLlm, type FakeStep } from "./fake-llm.js";

export const TOKEN = "test-owner-token-0123456789abcdef";

export function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `pi-server-${prefix}-`));
}

/** A real git repository with one commit. */
export function makeRepo(files: Record<string, string> = { "README.md": "# demo\n" }): string {
  const dir = tmp("repo");
  const run = (...args: string[]): void => {
    execFileSync("git", args, { cwd: dir, stdio: "ignore" });
  };
  run("init", "-q", "-b", "main");
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  run("add", "-A");
  run("-c", "user.name=Test", "-c", "user.email=test@example.com", "commit", "-q", "-m", "init");
  return dir;
}

export interface HarnessOptions {
  config?: Record<string, unknown>;
  /** USD per million tokens of the fake models (default: free). */
  modelCost?: FakeCost;
  repos?: Record<string, string>;
  start?: Partial<StartOptions>;
}

export interface Harness {
  llm: FakeLlm;
  dataDir: string;
  repo: string;
  server: RunningServer;
  connect(opts?: ConnectOptions): Promise<PiClient>;
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Fake LLM + a temp data dir configured like a user would (models.json, config.json, repos.json) + the real server. */
export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const llm = await startFakeLlm();
  const dataDir = tmp("data");
  const repo = makeRepo();
  writeFileSync(join(dataDir, "models.json"), JSON.stringify(fakeModelsJson(llm, opts.modelCost)));
  writeFileSync(
    join(dataDir, "config.json"),
    JSON.stringify({ defaultModel: "fake/fake-model", ...opts.config }),
  );
  // pi's own retry would turn one scripted HTTP error into several requests.
  writeFileSync(join(dataDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
  const repos = opts.repos ?? { demo: repo };
  writeFileSync(
    join(dataDir, "repos.json"),
    JSON.stringify({ repos: Object.entries(repos).map(([id, path]) => ({ id, name: id, path })) }),
  );
  const clients: PiClient[] = [];
  // Tests not about the loaded-session limits create more sessions than the defaults allow.
  const limits = { maxSessionsGlobal: 100, maxSessionsPerWorkspace: 100, ...opts.start?.limits };
  const start = (): Promise<RunningServer> =>
    startServer({
      dataDir,
      port: 0,
      host: "127.0.0.1",
      envToken: TOKEN,
      logLevel: "silent",
      ...opts.start,
      limits,
    });
  const h: Harness = {
    llm,
    dataDir,
    repo,
    server: await start(),
    async connect(c = {}) {
      const client = await PiClient.connect(h.server.url, { token: TOKEN, ...c });
      clients.push(client);
      return client;
    },
    async restart() {
      await h.server.close();
      h.server = await start();
    },
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
      await h.server.close();
      await llm.close();
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(repo, { recursive: true, force: true });
    },
  };
  return h;
}

/** Collects every event of one session on one client. */
/**
 * Every seq the events stand for, in order: a merged delta (from a connection that was behind, or
 * whose permessage-deflate compressor was busy) stands for firstSeq … seq, and two connections may
 * merge differently, so frames are compared by what they cover.
 */
export function coveredSeqs(events: AnyEvent[]): number[] {
  return events.flatMap((e) => {
    const first = (e as { firstSeq?: number }).firstSeq ?? e.seq;
    return Array.from({ length: e.seq - first + 1 }, (_, i) => first + i);
  });
}

export function recordEvents(client: PiClient, sessionId: string): AnyEvent[] {
  const events: AnyEvent[] = [];
  client.onEvent((e) => {
    if (e.sessionId === sessionId) events.push(e);
  });
  return events;
}

export function textOf(message: unknown): string {
  const content = (message as { content?: unknown }).content;
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((c): c is { type: "text"; text: string } => (c as { type?: string }).type === "text")
    .map((c) => c.text)
    .join("");
}

/** Scripts the LLM with `steps`, sends `message`, and resolves when the whole run has ended. */
export async function runTurn(
  h: Pick<Harness, "llm">,
  client: PiClient,
  sessionId: string,
  message: string,
  ...steps: FakeStep[]
): Promise<void> {
  h.llm.enqueue(...steps);
  const ended = client.waitForEvent(sessionId, "agent_end");
  await client.request("prompt", { message }, sessionId);
  await ended;
}
