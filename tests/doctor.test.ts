import { execFile } from "node:child_process";
import { chmodSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { loadIdentity } from "../src/pairing/identity.js";
import { tmp } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));

interface Check {
  name: string;
  status: "ok" | "warn" | "fail";
  message: string;
  fix?: string;
}

async function doctor(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ code: number; ok: boolean; checks: Check[]; byName: (n: string) => Check }> {
  // Other test files' servers mirror their .env into this process (GITHUB_TOKEN, …): keep them out.
  const own = Object.fromEntries(Object.entries(env).filter(([k]) => !/(_API_KEY|_TOKEN)$/.test(k)));
  const r = await promisify(execFile)(process.execPath, [BIN, "doctor", "--json", "--data-dir", dataDir], {
    env: own,
  }).then(
    (x) => ({ stdout: x.stdout, code: 0 }),
    (e: { stdout: string; code: number }) => ({ stdout: e.stdout, code: e.code }),
  );
  const out = JSON.parse(r.stdout) as { ok: boolean; checks: Check[] };
  return {
    code: r.code,
    ...out,
    byName: (n) => {
      const c = out.checks.find((x) => x.name === n);
      expect(c, `no check ${n}`).toBeDefined();
      return c!;
    },
  };
}

/** A data dir as `pi-server init --yes` leaves it, on a port the test does not need free. */
async function cleanDataDir(): Promise<string> {
  const dir = join(tmp("doctor"), "data");
  await promisify(execFile)(process.execPath, [BIN, "init", "--yes", "--port", "0", "--data-dir", dir]);
  return dir;
}

let clean: string;
beforeAll(async () => {
  clean = await cleanDataDir();
}, 240_000);

// Every check spawns the CLI, which loads pi: slow on a loaded machine.
describe("pi-server doctor", { timeout: 240_000 }, () => {
  it("passes on a clean data dir (no model is a warning) and changes nothing", async () => {
    const before = readdirSync(clean).sort();
    const r = await doctor(clean);
    expect(r.checks.filter((c) => c.status === "fail")).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.ok).toBe(true);
    for (const name of [
      "node",
      "git",
      "sandbox",
      "permissions",
      "config",
      "pi",
      "models.json",
      "lock",
      "port",
      "tls",
      "disk",
    ]) {
      expect(r.byName(name).status).toBe("ok");
    }
    expect(r.byName("pi").message).toMatch(/^pi SDK \d+\.\d+\.\d+/);
    expect(r.byName("providers").status).toBe("warn");
    expect(r.byName("providers").fix).toContain(".env");
    // The same form as the README's and what init accepts.
    expect(r.byName("providers").fix).toContain("pi-server init --yes --api-key anthropic=sk-ant-…");
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/(_API_KEY|_TOKEN)$/.test(k)),
    );
    const text = await promisify(execFile)(process.execPath, [BIN, "doctor", "--data-dir", clean], {
      env,
    }).then(
      (x) => x.stdout,
      (e: { stdout: string }) => e.stdout,
    );
    expect(text).toMatch(/^all checks passed \((1 warning|[2-9] warnings)\)$/m);
    // auth.json is pi's (it makes an empty one); nothing else appears.
    expect(
      readdirSync(clean)
        .filter((n) => n !== "auth.json")
        .sort(),
    ).toEqual(before.filter((n) => n !== "auth.json"));
  });

  it("fails on a 0644 secret file and a 0755 dir, naming the chmod", async () => {
    const dir = await cleanDataDir();
    writeFileSync(join(dir, ".env"), "OPENAI_API_KEY=sk-test-not-a-real-key\n", { mode: 0o644 });
    chmodSync(join(dir, ".env"), 0o644);
    loadIdentity(join(dir, "identity"));
    const key = readdirSync(join(dir, "identity"))[0]!;
    chmodSync(join(dir, "identity", key), 0o644);
    mkdirSync(join(dir, "skills", "x"), { recursive: true });
    chmodSync(join(dir, "skills"), 0o755);
    const r = await doctor(dir);
    expect(r.code).toBe(1);
    expect(r.ok).toBe(false);
    const perm = r.byName("permissions");
    expect(perm.status).toBe("fail");
    expect(perm.message).toContain(`${join(dir, ".env")} is 644, must be 600`);
    expect(perm.message).toContain(`${join(dir, "identity", key)} is 644, must be 600`);
    expect(perm.fix).toContain(`chmod 600 '${join(dir, ".env")}' '${join(dir, "identity", key)}'`);
    expect(perm.fix).toContain(`chmod 700 '${join(dir, "skills")}'`);
    // The key is reported by provider name, never by value.
    expect(r.byName("providers")).toMatchObject({ status: "ok", message: "keys for: openai" });
    expect(JSON.stringify(r.checks)).not.toContain("sk-test-not-a-real-key");
  });

  it("fails on a broken models.json with pi's own error", async () => {
    const dir = await cleanDataDir();
    writeFileSync(join(dir, "models.json"), '{"providers": {"local": {"baseUrl": 42}}}', { mode: 0o600 });
    const r = await doctor(dir);
    expect(r.code).toBe(1);
    const m = r.byName("models.json");
    expect(m.status).toBe("fail");
    expect(m.message.length).toBeGreaterThan(10);
    expect(m.fix).toContain(join(dir, "models.json"));
    writeFileSync(join(dir, "models.json"), "{ not json", { mode: 0o600 });
    expect((await doctor(dir)).byName("models.json").status).toBe("fail");
  });

  it("fails when git is not on the PATH, saying how to install it", async () => {
    const empty = tmp("no-git-path");
    const r = await doctor(clean, { ...process.env, PATH: empty });
    expect(r.code).toBe(1);
    expect(r.byName("git")).toMatchObject({ status: "fail", message: "git is not on the PATH" });
    expect(r.byName("git").fix).toContain("install git");
  });

  it("fails on a port another program holds, and on a config.json that does not validate", async () => {
    const dir = await cleanDataDir();
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(0, "127.0.0.1", resolve));
    const port = (other.address() as AddressInfo).port;
    try {
      writeFileSync(join(dir, "config.json"), JSON.stringify({ port, host: "127.0.0.1" }), { mode: 0o600 });
      const r = await doctor(dir);
      expect(r.byName("port").status).toBe("fail");
      expect(r.byName("port").fix).toContain("pi-server config set port");
    } finally {
      other.close();
    }
    writeFileSync(join(dir, "config.json"), JSON.stringify({ limits: { maxSessions: "many" } }), {
      mode: 0o600,
    });
    const r = await doctor(dir);
    expect(r.byName("config").status).toBe("fail");
    expect(r.byName("config").message).toContain("/limits/maxSessions");
  });
});
