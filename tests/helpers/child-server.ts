import { spawn } from "node:child_process";
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
  const argv = [process.execPath, BIN, "serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"];
  const all = [...prefix, ...argv];
  const child = spawn(all[0]!, all.slice(1), {
    env: { ...process.env, PI_SERVER_LOG_LEVEL: "info", PI_SERVER_TOKEN: TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.stderr.on("data", (d: Buffer) => (out += String(d)));
    void exited.then(() => reject(new Error(`server exited: ${out}`)));
  });
  return {
    pid: child.pid!,
    url,
    port: Number(new URL(url).port),
    dataDir,
    output: () => out,
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
