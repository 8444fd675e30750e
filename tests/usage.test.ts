import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FakeRequest } from "./helpers/fake-llm.js";
import { startHarness, runTurn, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
/** USD per million tokens. */
const COST = { input: 3, output: 15, cacheRead: 0.3, cacheWrite: 0 };

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ modelCost: COST });
});
afterAll(async () => {
  await h?.close();
});

function expected(requests: FakeRequest[]) {
  let input = 0;
  let output = 0;
  let cacheRead = 0;
  for (const r of requests) {
    if (!r.usage) continue;
    input += r.usage.prompt - r.usage.cached;
    output += r.usage.completion;
    cacheRead += r.usage.cached;
  }
  const costUsd = (input * COST.input + output * COST.output + cacheRead * COST.cacheRead) / 1e6;
  return { calls: requests.filter((r) => r.usage).length, input, output, cacheRead, cacheWrite: 0, costUsd };
}

describe("usage.summary", () => {
  it("counts every LLM call of real turns, titles included, at the configured prices", async () => {
    const client = await h.connect();
    const { session } = await client.request("session.create", { repoId: "demo" });
    const titled = client.waitForEvent(session.id, "session_info_changed");
    await runTurn(
      h,
      client,
      session.id,
      "count the files",
      { kind: "tool_call", name: "bash", args: { command: "ls | wc -l" }, cachedTokens: 40 },
      { kind: "text", text: "There is one file, README.md.", cachedTokens: 25 },
    );
    await titled;
    const { session: chat } = await client.request("session.create", { mode: "chat", name: "chat" });
    await runTurn(h, client, chat.id, "hi", { kind: "text", text: "hello!" });

    const turnRequests = h.llm.requests;
    const all = [...turnRequests, ...h.llm.titleRequests];
    expect(h.llm.titleRequests).toHaveLength(1);
    const total = expected(all);
    expect(total.cacheRead).toBe(65);

    const bySession = await client.request("usage.summary", { groupBy: "session" });
    expect(bySession.total).toMatchObject({ ...total, costUsd: expect.closeTo(total.costUsd, 12) });
    expect(bySession.total.costUsd).toBeGreaterThan(0);
    const row = bySession.rows.find((r) => r.key === session.id);
    const mine = expected([...turnRequests.slice(0, 2), ...h.llm.titleRequests]);
    expect(row).toMatchObject({ repoId: "demo", name: expect.any(String), calls: 3, input: mine.input });
    expect(row?.costUsd).toBeCloseTo(mine.costUsd, 12);
    expect(bySession.rows.find((r) => r.key === chat.id)?.calls).toBe(1);

    const byRepo = await client.request("usage.summary", { groupBy: "repo" });
    expect(byRepo.rows.map((r) => [r.key, r.calls])).toEqual(
      expect.arrayContaining([
        ["demo", 3],
        ["", 1],
      ]),
    );
    const byDay = await client.request("usage.summary", { groupBy: "day" });
    expect(byDay.rows).toHaveLength(1);
    expect(byDay.rows[0]?.key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(byDay.budgets).toMatchObject({ perSessionUsd: null, dailyUsd: null, todayLimitUsd: null });
    expect(byDay.budgets.todayUsd).toBeCloseTo(total.costUsd, 12);

    // A window in the future has nothing; a bad date says what it takes.
    const future = await client.request("usage.summary", { since: "2999-01-01", groupBy: "day" });
    expect(future.total.calls).toBe(0);
    const err = await client.request("usage.summary", { since: "last tuesday" }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: "invalid_request", message: expect.stringContaining("ISO date") });
    const swapped = await client
      .request("usage.summary", { since: "2026-02-01", until: "2026-01-01" })
      .catch((e: unknown) => e);
    expect(swapped).toMatchObject({ code: "invalid_request" });

    // Deleting a session keeps what it spent.
    await client.request("session.delete", { sessionId: chat.id });
    const after = await client.request("usage.summary", {});
    expect(after.total.calls).toBe(total.calls);
    expect(after.rows.find((r) => r.key === chat.id)?.name).toBeNull();

    // The CLI reads the same from state.db while the server runs.
    const { stdout } = await promisify(execFile)(process.execPath, [
      BIN,
      "usage",
      "--by",
      "repo",
      "--json",
      "--data-dir",
      h.dataDir,
    ]);
    const cli = JSON.parse(stdout) as typeof byRepo;
    expect(cli.total.calls).toBe(total.calls);
    expect(cli.total.costUsd).toBeCloseTo(total.costUsd, 12);
    const table = await promisify(execFile)(process.execPath, [
      BIN,
      "usage",
      "--since",
      "7d",
      "--data-dir",
      h.dataDir,
    ]);
    expect(table.stdout).toContain(session.id);
    expect(table.stdout).toMatch(/total\t\t\d+/);
    const bad = await promisify(execFile)(process.execPath, [
      BIN,
      "usage",
      "--by",
      "week",
      "--data-dir",
      h.dataDir,
    ]).catch((e: { stderr: string; code: number }) => e);
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringContaining("session, repo or day") });
  });
});
