import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tmp, TOKEN } from "./harness.js";

const BIN = fileURLToPath(new URL("../../bin/pi-server.js", import.meta.url));

export interface ChildServer {
  pid: number;
  url: string;
  port: number;
  dataDir: string;
  /** Everything the server wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * `pi-server serve` on a data dir in a child process: `ready` resolves with its URL once it listens
 * and rejects if it exits first; `exited` resolves when it ends (crash tests kill it with SIGKILL).
 */
export function serveDataDir(
  dataDir: string,
  opts: { prefix?: string[]; logLevel?: string } = {},
): {
  child: ChildProcess;
  ready: Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
} {
  const argv = [process.execPath, BIN, "serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"];
  const all = [...(opts.prefix ?? []), ...argv];
  const child = spawn(all[0]!, all.slice(1), {
    env: { ...process.env, PI_SERVER_LOG_LEVEL: opts.logLevel ?? "warn", PI_SERVER_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr!.on("data", (d: Buffer) => (out += String(d)));
    void exited.then((e) => reject(new Error(`server exited (${e.code ?? e.signal}): ${out}`)));
  });
  return { child, ready, exited, output: () => out };
}

/**
 * The real server in its own process, so that what is measured of it (memory, descriptors) is
 * the server's alone. `prefix` runs before node, e.g. `["prlimit", "--nofile=256:256"]`.
 */
export async function startChildServer(
  config: Record<string, unknown> = {},
  prefix: string[] = [],
): Promise<ChildServer> {
  const dataDir = tmp("child");
  writeFileSync(join(dataDir, "config.json"), JSON.stringify(config));
  writeFileSync(join(dataDir, "repos.json"), JSON.stringify({ repos: [] }));
  const { child, ready, exited, output } = serveDataDir(dataDir, { prefix, logLevel: "info" });
  const url = await ready;
  return {
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    dataDir,
    output,
    async stop() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Peak resident set of a process in bytes (VmHWM): a spike cannot slip between two samples. */
export function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  if (!m) throw new Error("no VmHWM in /proc status");
  return Number(m[1]) * 1024;
}
