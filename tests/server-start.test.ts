import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { startServer, type RunningServer } from "../src/server.js";
import { fakeModelsJson, startFakeLlm } from "./helpers/fake-llm.js";
import { tmp } from "./helpers/harness.js";

const T = "server-start-token-0123";
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

async function start(dataDir: string, envToken?: string): Promise<RunningServer> {
  const s = await startServer({ dataDir, port: 0, host: "127.0.0.1", logLevel: "silent", envToken });
  running.push(s);
  return s;
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true })
    .map((p) => join(dir, String(p)))
    .filter((p) => statSync(p).isFile());
}

describe("first start", () => {
  it("generates an owner token once, stores only its hash, and accepts it after a restart", async () => {
    const dataDir = tmp("first");
    const first = await start(dataDir);
    const token = first.generatedToken!;
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const client = await PiClient.connect(first.url, { token });
    await client.close();
    await first.close();

    for (const f of allFiles(dataDir)) expect(readFileSync(f).includes(token)).toBe(false);

    const second = await start(dataDir);
    expect(second.generatedToken).toBeUndefined();
    const again = await PiClient.connect(second.url, { token });
    expect((await again.request("session.list", {})).sessions).toEqual([]);
    await again.close();
  });

  it("refuses a PI_SERVER_TOKEN too short to be a secret", async () => {
    await expect(start(tmp("shorttoken"), "short")).rejects.toThrow(/at least 16 characters/);
  });

  it("does not swallow the owner token when the first start fails", async () => {
    const dataDir = tmp("busyport");
    const blocker = await start(tmp("blocker"), T);
    await expect(
      startServer({ dataDir, port: blocker.port, host: "127.0.0.1", logLevel: "silent" }),
    ).rejects.toThrow(/already in use/);
    const ok = await start(dataDir);
    expect(ok.generatedToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("does not generate a token when PI_SERVER_TOKEN is given, and accepts it", async () => {
    const dataDir = tmp("envtoken");
    const s = await start(dataDir, "env-provided-token-value");
    expect(s.generatedToken).toBeUndefined();
    const client = await PiClient.connect(s.url, { token: "env-provided-token-value" });
    await client.close();
    await expect(PiClient.connect(s.url, { token: "something-else" })).rejects.toThrow();
  });

  it("repairs loose permissions on start", async () => {
    const dataDir = tmp("modes");
    const s = await start(dataDir, T);
    await s.close();
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, "config.json"), 0o644);
    await start(dataDir, T);
    expect(statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dataDir, "config.json")).mode & 0o777).toBe(0o600);
  });

  it("refuses a config.json with an unknown key or a wrong type, naming it", async () => {
    const dataDir = tmp("badcfg");
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ prot: 1 }));
    await expect(start(dataDir, T)).rejects.toThrow(/unknown key "prot"/);
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ limits: { maxSessions: "many" } }));
    await expect(start(dataDir, T)).rejects.toThrow(/\/limits\/maxSessions/);
  });
});

describe("model choice", () => {
  it("never lets a provider key in the environment pick the model", async () => {
    const llm = await startFakeLlm();
    const dataDir = tmp("nomodel");
    writeFileSync(join(dataDir, "models.json"), JSON.stringify(fakeModelsJson(llm)));
    process.env.OPENAI_API_KEY = "sk-test-not-real";
    try {
      const s = await start(dataDir, T);
      const client = await PiClient.connect(s.url, { token: T });
      const { models } = await client.request("get_available_models", {});
      expect(models.some((m) => m.provider === "openai")).toBe(true);
      await expect(client.request("session.create", {})).rejects.toMatchObject({
        code: "invalid_request",
        message: expect.stringContaining("no model chosen"),
      });
      const { session } = await client.request("session.create", { model: "fake/fake-model" });
      expect(session.model).toBe("fake/fake-model");
      await client.close();
    } finally {
      delete process.env.OPENAI_API_KEY;
      await llm.close();
    }
  });

  it("loads provider keys from <data-dir>/.env", async () => {
    const dataDir = tmp("dotenv");
    writeFileSync(join(dataDir, ".env"), "ANTHROPIC_API_KEY=sk-ant-test-not-real\n");
    try {
      const s = await start(dataDir, T);
      const client = await PiClient.connect(s.url, { token: T });
      const { models } = await client.request("get_available_models", {});
      expect(models.some((m) => m.provider === "anthropic")).toBe(true);
      expect(statSync(join(dataDir, ".env")).mode & 0o777).toBe(0o600);
      await client.close();
    } finally {
      delete process.env.ANTHROPIC_API_KEY;
    }
  });
});

describe("one server per data dir", () => {
  it("a second server on the same data dir refuses, saying who runs; a stale lock is taken over", async () => {
    const dataDir = tmp("lock");
    const first = await start(dataDir);
    await expect(start(dataDir)).rejects.toThrow(new RegExp(`already running on the data dir`));
    await expect(start(dataDir)).rejects.toThrow(new RegExp(`pid ${process.pid}`));
    // The refused start changed nothing: the first still serves and still holds the lock.
    expect(readFileSync(join(dataDir, "server.lock"), "utf8").trim()).toBe(String(process.pid));
    await first.close();
    running.splice(running.indexOf(first), 1);
    // A lock left by a process that died (kill -9) does not block the next start.
    writeFileSync(join(dataDir, "server.lock"), "2147483646\n");
    await start(dataDir);
  });

  it("a port in use is said in words", async () => {
    const first = await start(tmp("port-a"));
    await expect(
      startServer({ dataDir: tmp("port-b"), port: first.port, host: "127.0.0.1", logLevel: "silent" }),
    ).rejects.toThrow(/port \d+ on 127\.0\.0\.1 is already in use/);
  });
});
