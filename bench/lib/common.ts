import { readFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { setTimeout as delay } from "node:timers/promises";

export { delay };

/**
 * Milliseconds on a clock shared by every process of this machine: the server stamps events with
 * the same expression, so a client's receive time minus the event's `ts` is the added latency.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

export interface Dist {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles; sorts `values` in place. */
export function dist(values: number[]): Dist {
  if (values.length === 0) return { n: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  values.sort((a, b) => a - b);
  const at = (p: number): number =>
    values[Math.min(values.length - 1, Math.ceil(p * values.length) - 1)] ?? 0;
  return { n: values.length, p50: at(0.5), p99: at(0.99), max: values[values.length - 1] ?? 0 };
}

export function median(values: number[]): number {
  return dist([...values]).p50;
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) * 1024;
}

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name is in parentheses and may contain spaces: count fields after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS;
}

/** Linux's USER_HZ is 100 on every mainstream architecture; /proc reports CPU time in those ticks. */
const CLOCK_TICKS = 100;

/** Samples a process's RSS until stopped; reports the peak. */
export function rssSampler(pid: number, everyMs = 25): { stop(): { peak: number; last: number } } {
  let peak = rssOf(pid);
  let last = peak;
  const timer = setInterval(() => {
    try {
      last = rssOf(pid);
      peak = Math.max(peak, last);
    } catch {
      // the process went away; keep what was seen
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { peak, last };
    },
  };
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  platform: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? "unknown",
    cores: c.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export const MiB = 2 ** 20;

/** Rounds for reports: 3 significant digits, but no exponent notation. */
export function round(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.abs(x))));
  return Number(x.toFixed(Math.min(digits, 4)));
}
