import type { DestinationStream } from "pino";

const LABELS: Record<number, [string, string]> = {
  10: ["TRACE", "\x1b[90m"],
  20: ["DEBUG", "\x1b[36m"],
  30: ["INFO ", "\x1b[32m"],
  40: ["WARN ", "\x1b[33m"],
  50: ["ERROR", "\x1b[31m"],
  60: ["FATAL", "\x1b[35m"],
};

/** Fields every line has, or that say nothing to a person reading a terminal. */
const HIDDEN = new Set(["level", "time", "msg", "pid", "hostname", "reqId", "v"]);

/** Fastify's per-request pair: one line per HTTP request is noise in a terminal, not at debug. */
const REQUEST_LINES = new Set(["incoming request", "request completed"]);

function field(value: unknown): string {
  if (typeof value === "string")
    return /^[\w./:@+-]*$/.test(value) && value !== "" ? value : JSON.stringify(value);
  if (value && typeof value === "object") {
    const o = value as { message?: unknown; method?: unknown; url?: unknown; statusCode?: unknown };
    if (typeof o.message === "string") return JSON.stringify(o.message);
    if (typeof o.method === "string" && typeof o.url === "string") return `${o.method} ${o.url}`;
    if (typeof o.statusCode === "number") return String(o.statusCode);
  }
  return JSON.stringify(value);
}

/** One pino JSON line as `12:03:04 INFO  message key=value …`. */
export function formatLogLine(line: string, color: boolean): string | undefined {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const level = typeof rec.level === "number" ? rec.level : 30;
  const msg = typeof rec.msg === "string" ? rec.msg : "";
  if (level < 20 && REQUEST_LINES.has(msg)) return undefined;
  const [label, tint] = LABELS[level] ?? ["LOG  ", ""];
  const time = new Date(typeof rec.time === "number" ? rec.time : Date.now()).toTimeString().slice(0, 8);
  const extras = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k))
    .map(([k, v]) => `${k}=${field(v)}`)
    .join(" ");
  const head = color ? `\x1b[90m${time}\x1b[0m ${tint}${label}\x1b[0m` : `${time} ${label}`;
  return `${head} ${msg}${extras ? ` ${color ? "\x1b[90m" : ""}${extras}${color ? "\x1b[0m" : ""}` : ""}\n`;
}

/**
 * A destination for a terminal: readable lines instead of JSON, and without Fastify's two lines per
 * HTTP request unless the level asks for debug output. Anything else (a file, journald) keeps JSON.
 */
export function prettyDestination(
  out: NodeJS.WritableStream,
  opts: { verbose: boolean; color: boolean },
): DestinationStream {
  return {
    write(chunk: string): void {
      for (const line of chunk.split("\n")) {
        if (!line) continue;
        if (!opts.verbose && REQUEST_LINES.has(/"msg":"([^"]*)"/.exec(line)?.[1] ?? "")) continue;
        const text = formatLogLine(line, opts.color);
        if (text) out.write(text);
      }
    },
  };
}
