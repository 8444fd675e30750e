import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenStore } from "../src/store/tokens.js";
import { recordEvents, runTurn, startHarness, TOKEN, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (version 0.0.4): every line is a HELP, a TYPE or a
 * sample of a declared family (or empty); label values are quoted with \\, \" and \n escapes; values are floats.
 */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  expect(text.endsWith("\n")).toBe(true);
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/;
  const familyOf = (name: string): string | undefined => {
    if (types.has(name)) return name;
    for (const suffix of ["_bucket", "_sum", "_count", "_total", "_created"]) {
      const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
      if (base && types.has(base)) return base;
    }
    return undefined;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    let m: RegExpExecArray | null;
    // The format ignores empty lines; prom-client puts one between families.
    if (line === "") continue;
    if ((m = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line))) {
      expect(helps.has(m[1]!), `HELP twice for ${m[1]}`).toBe(false);
      helps.add(m[1]!);
    } else if ((m = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line))) {
      expect(types.has(m[1]!), `TYPE twice for ${m[1]}`).toBe(false);
      types.set(m[1]!, m[2]!);
    } else if ((m = sampleRe.exec(line))) {
      const [, name, labelText, valueText] = m;
      expect(familyOf(name!), `sample ${name} has no TYPE`).toBeDefined();
      const labels: Record<string, string> = {};
      let rest = labelText ?? "";
      while (rest.length > 0) {
        const l = labelRe.exec(rest);
        expect(l, `bad labels in: ${line}`).not.toBeNull();
        labels[l![1]!] = l![2]!.replace(/\\(.)/g, (_s, c: string) => (c === "n" ? "\n" : c));
        rest = rest.slice(l![0].length);
      }
      const value = /^(NaN|[+-]Inf)$/.test(valueText!)
        ? Number(valueText!.replace("Inf", "Infinity"))
        : Number(valueText);
      expect(Number.isNaN(value) && valueText?.toLowerCase() !== "nan", `bad value in: ${line}`).toBe(false);
      samples.push({ name: name!, labels, value });
    } else {
      expect.fail(`not a line of the Prometheus text format: ${JSON.stringify(line)}`);
    }
  }
  return { types, samples };
}

function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const hit = samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  expect(hit, `no sample ${name} ${JSON.stringify(labels)}`).toBeDefined();
  return hit!.value;
}

let h: Harness;
beforeAll(async () => {
  // strict asks before every write: a permission request to answer.
  h = await startHarness({ config: { security: { profile: "strict" } } });
});
afterAll(async () => {
  await h?.close();
});

async function scrape(token = TOKEN): Promise<{ types: Map<string, string>; samples: Sample[] }> {
  const res = await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("text/plain; version=0.0.4");
  return parseExposition(await res.text());
}

describe("GET /metrics", () => {
  it("needs the owner token or the metrics token; a device token and no token get 401", async () => {
    expect((await fetch(`${h.server.url}/metrics`)).status).toBe(401);
    const wrong = await fetch(`${h.server.url}/metrics`, {
      headers: { authorization: "Bearer nope-nope-nope" },
    });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: { code: "unauthorized", message: "invalid token" } });

    const made = await promisify(execFile)(process.execPath, [
      BIN,
      "token",
      "metrics",
      "--data-dir",
      h.dataDir,
    ]);
    const scrapeToken = /^ {2}(\S+)$/m.exec(made.stdout)?.[1];
    expect(scrapeToken).toBeDefined();
    // Only the hash is at rest.
    const config = readFileSync(join(h.dataDir, "config.json"), "utf8");
    expect(config).not.toContain(scrapeToken!);
    expect(JSON.parse(config).metrics.tokenSha256).toMatch(/^[0-9a-f]{64}$/);
    await scrape(scrapeToken);
    const phone = "device-token-for-metrics-0123456789";
    new TokenStore(h.server.db).add("device", "phone", phone);
    const device = await fetch(`${h.server.url}/metrics`, { headers: { authorization: `Bearer ${phone}` } });
    expect(device.status).toBe(401);
    // The scrape token opens nothing else.
    const root = await fetch(`${h.server.url}/`, { headers: { authorization: `Bearer ${scrapeToken!}` } });
    expect(root.status).toBe(401);
  });

  it("parses, and its counters move with a real turn, a permission answer and a replay", async () => {
    const before = await scrape();
    expect(before.types.get("pi_server_turns_total")).toBe("counter");
    expect(before.types.get("pi_server_turn_duration_seconds")).toBe("histogram");
    expect(before.types.get("pi_server_sessions_loaded")).toBe("gauge");
    expect(before.types.get("process_cpu_user_seconds_total")).toBe("counter");
    expect(before.types.get("nodejs_heap_size_used_bytes")).toBe("gauge");
    const info = before.samples.find((s) => s.name === "pi_server_info");
    expect(info?.labels.version).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
    expect(info?.labels.pi_version).toMatch(/^\d+\.\d+\.\d+/);
    const b = before.samples;

    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    await runTurn(h, client, session.id, "say hi", { kind: "text", text: "hi there" });

    // A write the strict profile asks about: while it waits, the session is waiting for approval.
    h.llm.enqueue({ kind: "tool_call", name: "write", args: { path: "m.txt", content: "x\n" } });
    h.llm.enqueue({ kind: "text", text: "written" });
    const asked = client.waitForEvent(session.id, "permission_request");
    const ended = client.waitForEvent(session.id, "agent_end");
    await client.request("prompt", { message: "write it" }, session.id);
    const req = await asked;
    const waiting = (await scrape()).samples;
    expect(value(waiting, "pi_server_sessions_waiting_for_approval")).toBe(1);
    expect(value(waiting, "pi_server_permission_requests_pending")).toBe(1);
    expect(value(waiting, "pi_server_sessions_running")).toBe(1);
    await client.request("permission.respond", { id: req.payload.id, decision: "allow_once" });
    await ended;

    // A failing LLM call.
    await runTurn(h, client, session.id, "again", { kind: "error", status: 500, body: "boom" });

    // A second client resumes from seq 1: ok; and from a seq in the future: gap.
    const other = await h.connect();
    const events = recordEvents(other, session.id);
    expect((await other.request("session.attach", { sessionId: session.id, sinceSeq: 1 })).replay).toBe("ok");
    const { seq } = await other.request("get_state", {}, session.id);
    expect(
      (await other.request("session.attach", { sessionId: session.id, sinceSeq: seq + 100 })).replay,
    ).toBe("gap");
    expect(events.length).toBeGreaterThan(0);

    const a = (await scrape()).samples;
    const diff = (name: string, labels: Record<string, string> = {}): number =>
      value(a, name, labels) - value(b, name, labels);
    expect(diff("pi_server_turns_total", { outcome: "ok" })).toBe(2);
    expect(diff("pi_server_turns_total", { outcome: "error" })).toBe(1);
    expect(diff("pi_server_llm_errors_total")).toBe(1);
    expect(diff("pi_server_turn_duration_seconds_count")).toBe(3);
    expect(value(a, "pi_server_turn_duration_seconds_bucket", { le: "+Inf" })).toBe(
      value(a, "pi_server_turn_duration_seconds_count"),
    );
    expect(value(a, "pi_server_permission_requests_total", { tool: "write" })).toBe(1);
    expect(value(a, "pi_server_permission_answer_seconds_count", { decision: "allow_once" })).toBe(1);
    expect(value(a, "pi_server_permission_requests_pending")).toBe(0);
    expect(value(a, "pi_server_sessions_waiting_for_approval")).toBe(0);
    expect(diff("pi_server_replays_total", { verdict: "ok" })).toBe(1);
    expect(diff("pi_server_replays_total", { verdict: "gap" })).toBe(1);
    expect(value(a, "pi_server_sessions_loaded")).toBe(1);
    expect(value(a, "pi_server_sessions_running")).toBe(0);
    expect(value(a, "pi_server_connections")).toBe(2);
    expect(value(a, "pi_server_connections_authenticated")).toBe(2);
    expect(diff("pi_server_connections_opened_total")).toBe(2);
    // Every event the first client saw, and the second client's replay, were counted.
    expect(diff("pi_server_events_sent_total")).toBeGreaterThan(events.length);
    expect(diff("pi_server_sent_bytes_total")).toBeGreaterThan(1000);
    expect(value(a, "pi_server_slow_consumer_closes_total")).toBe(0);
    expect(value(a, "pi_server_send_queue_bytes")).toBeGreaterThanOrEqual(0);
  });
});
