import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { fakeModelsJson, type FakeLlm } from "../../tests/helpers/fake-llm.js";
import { now } from "./common.js";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const TOKEN = "bench-owner-token-0123456789abcdef";

export interface Limits {
  maxSessions?: number;
  replayBufferEvents?: number;
}

/** A data dir configured like a user would: the fake LLM as the default model, pi's retry off. */
export function makeDataDir(llm: Pick<FakeLlm, "url">, limits: Limits = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "pi-server-bench-"));
  writeFileSync(join(dir, "models.json"), JSON.stringify(fakeModelsJson(llm)));
  // maxSessions raises the loaded-at-once limits with it (limits.maxSessionsGlobal, 5 by default).
  const loaded =
    limits.maxSessions === undefined
      ? {}
      : { maxSessionsGlobal: limits.maxSessions, maxSessionsPerWorkspace: limits.maxSessions };
  writeFileSync(
    join(dir, "config.json"),
    JSON.stringify({ defaultModel: "fake/fake-model", limits: { ...limits, ...loaded } }),
  );
  writeFileSync(join(dir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
  return dir;
}

export interface ServerProc {
  url: string;
  pid: number;
  dataDir: string;
  /** Spawn to the first `GET /health` answered ok, ms. */
  startupMs: number;
  stop(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Stops a child with SIGTERM, and SIGKILL if it has not gone after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  const gone = exited(child);
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await gone;
  clearTimeout(timer);
}

/** Runs the built server (`bin/pi-server.js`) as a child process, as a user would. */
export async function spawnServer(
  dataDir: string,
  /** timestamps: false runs it without the benchmark's `ts` stamps, as a user's server runs. */
  opts: { removeDataDir?: boolean; nodeArgs?: string[]; timestamps?: boolean } = {},
): Promise<ServerProc> {
  const t0 = now();
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeArgs ?? []),
      join(ROOT, "bin/pi-server.js"),
      "serve",
      "--data-dir",
      dataDir,
      "--port",
      "0",
      "--host",
      "127.0.0.1",
    ],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PI_SERVER_TOKEN: TOKEN,
        PI_SERVER_LOG_LEVEL: "warn",
        PI_SERVER_BENCH_TIMESTAMPS: opts.timestamps === false ? "0" : "1",
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  // Keep the tail of stderr for error messages; an unread pipe would block the server once full.
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m?.[1]) resolve(m[1]);
    });
    child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening:\n${stderr}`)));
  });
  const health = await fetch(`${url}/health`);
  if (!health.ok) throw new Error(`GET /health answered ${health.status}`);
  const startupMs = now() - t0;
  const pid = child.pid;
  if (pid === undefined) throw new Error("server child has no pid");
  return {
    url,
    pid,
    dataDir,
    startupMs,
    async stop() {
      await stopChild(child);
      if (opts.removeDataDir !== false) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
