import { readFileSync, rmSync } from "node:fs";
import { writeJsonAtomic } from "./atomic.js";

/** What a running server tells the CLI about itself through `<data-dir>/server.json`. */
export interface RuntimeInfo {
  pid: number;
  port: number;
  host: string;
  scheme: "http" | "https";
  tlsFingerprint?: string;
  version: string;
  /** The pi SDK version the server runs (absent in files from older servers). */
  piVersion?: string;
  startedAt: number;
  /** Started with --demo: its default model is the offline demo/pi-demo, registered in that process only. */
  demo?: boolean;
}

export function writeRuntime(file: string, info: RuntimeInfo): void {
  writeJsonAtomic(file, info);
}

export function readRuntime(file: string): RuntimeInfo | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

export function removeRuntime(file: string, pid: number): void {
  if (readRuntime(file)?.pid === pid) rmSync(file, { force: true });
}

/** True when a process with that pid exists (signal 0 probes without signalling). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
