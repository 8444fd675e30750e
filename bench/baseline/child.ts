/**
 * The physical limit: the same pi SDK, the same fake LLM, the same workload, no server. It runs in a
 * process of its own, like the server, so its CPU and RSS are read the same way (from /proc, by the
 * parent) and neither the fake LLM nor the benchmark's clients are counted against it.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import type * as PiSdk from "@mariozechner/pi-coding-agent";
import { dist, now } from "../lib/common.js";
import { promptFor } from "../lib/workload.js";
import type { BaselineReply, BaselineRequest, BaselineResult, StreamResult } from "./protocol.js";

interface Runtime {
  sdk: typeof PiSdk;
  agentDir: string;
  authStorage: PiSdk.AuthStorage;
  modelRegistry: PiSdk.ModelRegistry;
}

let rt: Runtime | undefined;
const sessions: PiSdk.AgentSession[] = [];

async function init(dataDir: string): Promise<{ importMs: number }> {
  const t0 = now();
  // As src/sessions/pi.ts: pi resolves its dirs when its modules load.
  process.env.PI_CODING_AGENT_DIR = dataDir;
  const sdk = await import("@mariozechner/pi-coding-agent");
  const authStorage = sdk.AuthStorage.create(join(dataDir, "auth.json"));
  const modelRegistry = sdk.ModelRegistry.create(authStorage, join(dataDir, "models.json"));
  rt = { sdk, agentDir: dataDir, authStorage, modelRegistry };
  return { importMs: now() - t0 };
}

/** What SessionService.load() does, minus what the server adds (its gate extension, its bash env). */
async function createSession(): Promise<PiSdk.AgentSession> {
  if (!rt) throw new Error("init first");
  const { sdk, agentDir, authStorage, modelRegistry } = rt;
  const cwd = join(agentDir, "sessions", String(sessions.length), "worktree");
  mkdirSync(cwd, { recursive: true });
  const model = modelRegistry.find("fake", "fake-model");
  if (!model) throw new Error("fake model missing from models.json");
  const settingsManager = sdk.SettingsManager.create(cwd, agentDir);
  const resourceLoader = new sdk.DefaultResourceLoader({
    cwd,
    agentDir,
    settingsManager,
    noExtensions: true,
  });
  await resourceLoader.reload();
  const file = join(dirname(cwd), "session.jsonl");
  const sessionManager = sdk.SessionManager.open(file, dirname(file), cwd);
  const { session } = await sdk.createAgentSession({
    cwd,
    agentDir,
    authStorage,
    modelRegistry,
    model,
    thinkingLevel: "off",
    tools: ["read", "bash", "edit", "write"],
    resourceLoader,
    sessionManager,
    settingsManager,
  });
  sessions.push(session);
  return session;
}

async function create(count: number): Promise<{ total: number; createMs: number }> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = now();
    await createSession();
    times.push(now() - t0);
  }
  return { total: sessions.length, createMs: dist(times).p50 };
}

async function createToFirstEvent(): Promise<{ createMs: number; firstEventMs: number }> {
  const t0 = now();
  const session = await createSession();
  const created = now();
  let first = 0;
  const off = session.subscribe(() => (first ||= now()));
  await session.prompt("hello");
  off();
  return { createMs: created - t0, firstEventMs: first - t0 };
}

/**
 * The first `count` sessions answer `stream` at once. A first listener stamps each event as the
 * server does; a second one, the in-process subscriber, measures its delivery against that stamp.
 */
async function stream(req: Extract<BaselineRequest, { cmd: "stream" }>): Promise<StreamResult> {
  // fresh: new sessions, with no history in the events that carry messages (agent_end).
  const chosen: PiSdk.AgentSession[] = [];
  if (req.fresh) for (let i = 0; i < req.sessions; i++) chosen.push(await createSession());
  while (sessions.length < req.sessions) await createSession();
  if (!req.fresh) chosen.push(...sessions.slice(0, req.sessions));
  const latencies: number[] = [];
  let delivered = 0;
  let rawBytes = 0;
  let stamp = 0;
  const offs: (() => void)[] = [];
  const ended = chosen.map(
    (s) =>
      new Promise<void>((resolve) => {
        offs.push(s.subscribe(() => (stamp = now())));
        offs.push(
          s.subscribe((e) => {
            latencies.push(now() - stamp);
            delivered++;
            if (req.rawBytes) rawBytes += Buffer.byteLength(JSON.stringify(e));
            if (e.type === "agent_end") resolve();
          }),
        );
      }),
  );
  const t0 = now();
  await Promise.all([...chosen.map((s) => s.prompt(promptFor(req.stream))), ...ended]);
  const wallMs = now() - t0;
  for (const off of offs) off();
  return { latency: dist(latencies), delivered, wallMs, rawBytes };
}

async function run(req: BaselineRequest): Promise<BaselineResult> {
  switch (req.cmd) {
    case "init":
      return init(req.dataDir);
    case "create":
      return create(req.count);
    case "createToFirstEvent":
      return createToFirstEvent();
    case "stream":
      return stream(req);
  }
}

process.on("message", (msg: { id: number; req: BaselineRequest }) => {
  run(msg.req).then(
    (result) => process.send?.({ id: msg.id, ok: true, result } satisfies BaselineReply),
    (err: unknown) => process.send?.({ id: msg.id, ok: false, error: String(err) } satisfies BaselineReply),
  );
});
