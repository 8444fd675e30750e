import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Baseline } from "../baseline/index.js";
import { dist, now } from "../lib/common.js";
import type { LlmThread } from "../lib/llm-worker.js";
import { connect } from "../lib/fleet.js";
import { makeDataDir, ROOT, spawnServer, type ServerProc } from "../lib/server-proc.js";

/** Process start to `GET /health` ok, on a fresh data dir each time (median of `reps`). */
export async function measureServerStartup(llm: LlmThread, reps: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const server = await spawnServer(makeDataDir(llm));
    times.push(server.startupMs);
    await server.stop();
  }
  return dist(times).p50;
}

/** The same SDK setup the server does at start (import, auth storage, model registry). */
const SDK_READY = `
const sdk = await import("@mariozechner/pi-coding-agent");
const auth = sdk.AuthStorage.create(process.argv[1] + "/auth.json");
sdk.ModelRegistry.create(auth, process.argv[1] + "/models.json");
process.stdout.write("ready\\n");
`;

/** Baseline for start-up: a bare node process that loads the pi SDK and is ready to create sessions. */
export async function measureSdkStartup(llm: LlmThread, reps: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const dir = makeDataDir(llm);
    const t0 = now();
    const child = spawn(process.execPath, ["--input-type=module", "-e", SDK_READY, dir], {
      cwd: ROOT,
      env: { ...process.env, PI_CODING_AGENT_DIR: dir },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("ready")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`SDK start-up probe exited (${code})`)));
    });
    times.push(now() - t0);
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  return dist(times).p50;
}

/** Where a start's time goes before the server has anything to do, ms (medians). */
export interface StartupSplit {
  /** Node's own start: process start to the first line of a script. */
  nodeMs: number;
  /** import("@mariozechner/pi-coding-agent") in that process. */
  sdkImportMs: number;
  /**
   * Then everything `pi-server serve` imports before it opens the data dir (dist/cli/main.js): what
   * the SDK shares with it (typebox) is already loaded, so this is what the server adds.
   */
  ownImportMs: number;
}

const SPLIT = `
const boot = performance.now();
await import("@mariozechner/pi-coding-agent");
const sdk = performance.now();
await import(process.argv[1]);
const own = performance.now();
process.stdout.write(JSON.stringify({ nodeMs: boot, sdkImportMs: sdk - boot, ownImportMs: own - sdk }) + "\\n");
`;

export async function measureStartupSplit(reps: number): Promise<StartupSplit> {
  const runs: StartupSplit[] = [];
  for (let i = 0; i < reps; i++) {
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", SPLIT, pathToFileURL(join(ROOT, "dist/cli/main.js")).href],
      { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await new Promise<void>((resolve, reject) =>
      child.once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`split probe exited (${code})`)),
      ),
    );
    runs.push(JSON.parse(out) as StartupSplit);
  }
  const mid = (f: (s: StartupSplit) => number): number => dist(runs.map(f)).p50;
  return {
    nodeMs: mid((s) => s.nodeMs),
    sdkImportMs: mid((s) => s.sdkImportMs),
    ownImportMs: mid((s) => s.ownImportMs),
  };
}

export interface CreateTiming {
  /** session.create sent to its response, ms. */
  createMs: number;
  /** session.create sent to the first event of the session's first prompt, sent right after. */
  firstEventMs: number;
}

export async function measureCreate(
  server: ServerProc,
  baseline: Baseline,
  reps: number,
): Promise<{ server: CreateTiming; baseline: CreateTiming }> {
  const client = await connect(server.url);
  const servers: CreateTiming[] = [];
  const baselines: CreateTiming[] = [];
  try {
    for (let i = 0; i < reps; i++) {
      const t0 = now();
      const { session } = await client.request("session.create", {});
      const created = now();
      const first = new Promise<number>((resolve) => {
        const off = client.onEvent((e) => {
          if (e.sessionId !== session.id) return;
          off();
          resolve(now());
        });
      });
      const idle = client.waitForEvent(
        session.id,
        "session_status",
        (e) => e.payload.status === "idle",
        60_000,
      );
      await client.request("prompt", { message: "hello" }, session.id);
      servers.push({ createMs: created - t0, firstEventMs: (await first) - t0 });
      await idle;
      await client.request("session.detach", { sessionId: session.id });
      baselines.push(await baseline.call({ cmd: "createToFirstEvent" }));
    }
  } finally {
    await client.close();
  }
  const mid = (xs: CreateTiming[]): CreateTiming => ({
    createMs: dist(xs.map((x) => x.createMs)).p50,
    firstEventMs: dist(xs.map((x) => x.firstEventMs)).p50,
  });
  return { server: mid(servers), baseline: mid(baselines) };
}
