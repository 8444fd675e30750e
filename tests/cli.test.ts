import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { makeRepo, tmp } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);

function cli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  return exec(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
}

/** Starts `pi-server serve` and resolves with its URL and anything it printed before listening. */
function serve(dataDir: string, extraEnv: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [BIN, "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"], {
    env: { ...process.env, PI_SERVER_LOG_LEVEL: "warn", ...extraEnv },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let logs = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<{ url: string; output: () => string }>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes("\n", out.indexOf(m[0])))
        setTimeout(() => resolve({ url: m[1]!, output: () => out }), 50);
    });
    child.stderr.on("data", (d: Buffer) => {
      out += String(d);
      logs += String(d);
    });
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, ready, exited, logs: () => logs };
}

describe("pi-server CLI", () => {
  it("prints help for every command", async () => {
    const top = await cli(["--help"]);
    expect(top.stdout).toContain("serve");
    expect(top.stdout).toContain("repos");
    const s = await cli(["serve", "--help"]);
    for (const flag of ["--port", "--host", "--data-dir"]) expect(s.stdout).toContain(flag);
    expect((await cli(["repos", "add", "--help"])).stdout).toContain("--name");
  });

  it("registers, lists and removes repos, refusing what is not a git repo", async () => {
    const dataDir = tmp("cli-repos");
    const repo = makeRepo();
    const added = await cli(["repos", "add", repo, "--name", "My App", "--data-dir", dataDir]);
    expect(added).toMatchObject({ code: 0 });
    expect(added.stdout).toContain("registered my-app");
    const listed = await cli(["repos", "list", "--json"], { PI_SERVER_DATA_DIR: dataDir });
    expect(JSON.parse(listed.stdout)).toEqual({
      repos: [{ id: "my-app", name: "My App", path: repo, ok: true }],
    });
    const dup = await cli(["repos", "add", repo, "--data-dir", dataDir]);
    expect(dup.code).toBe(1);
    expect(dup.stderr).toContain("already registered");
    const empty = tmp("no-commits");
    await exec("git", ["init", "-q", empty]);
    expect(await cli(["repos", "add", empty, "--data-dir", dataDir])).toMatchObject({
      code: 1,
      stderr: expect.stringContaining("no commits yet"),
    });
    const notGit = await cli(["repos", "add", tmp("not-git"), "--data-dir", dataDir]);
    expect(notGit.code).toBe(1);
    expect(notGit.stderr).toContain("is not a git repository");
    expect(notGit.stderr).not.toContain("repos.json");
    expect((await cli(["repos", "remove", "my-app", "--data-dir", dataDir])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dataDir, "repos.json"), "utf8"))).toEqual({ repos: [] });
    expect((await cli(["repos", "remove", "my-app", "--data-dir", dataDir])).code).toBe(1);
  });

  it("rejects a bad port with a clear message", async () => {
    const r = await cli(["serve", "--port", "99999"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("port");
  });

  it("serves: prints the owner token once, accepts it, and shuts down cleanly on SIGTERM", async () => {
    const dataDir = tmp("cli-serve");
    const first = serve(dataDir, { PI_SERVER_LOG_LEVEL: "trace" });
    const { url, output } = await first.ready;
    const token = /^\s+([A-Za-z0-9_-]{43})$/m.exec(output())?.[1];
    expect(token, output()).toBeTruthy();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const client = await PiClient.connect(url, { token: token! });
    expect((await client.request("repos.list", {})).repos).toEqual([]);
    await client.close();
    await fetch(`${url}/`, { headers: { authorization: `Bearer ${token!}` } });
    // The invite's expiry names its time zone.
    expect((await cli(["pair", "--data-dir", dataDir])).stdout).toMatch(
      /; valid for \d+ minutes? \(until (\d{4}-\d\d-\d\d )?\d\d:\d\d UTC\), once\.$/m,
    );
    const invite = JSON.parse((await cli(["pair", "--json", "--data-dir", dataDir])).stdout) as {
      invite: { pairingToken: string };
    };
    const paired = (await (
      await fetch(`${url}/pair`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ pairingToken: invite.invite.pairingToken }),
      })
    ).json()) as { token: string };
    // A Pi Mobile link: the app appends /rpc and sends a hello without any token.
    const link = JSON.parse(
      (
        await cli([
          "pair",
          "--pi-mobile",
          "--json",
          "--host",
          "127.0.0.1",
          "--name",
          "phone",
          "--data-dir",
          dataDir,
        ])
      ).stdout,
    ) as { url: string };
    const port = new URL(url).port;
    const linkToken = new RegExp(`^ws://127\\.0\\.0\\.1:${port}/d/([A-Za-z0-9_-]{43})$`).exec(link.url)?.[1];
    expect(linkToken, link.url).toBeTruthy();
    const app = await PiClient.connect(`${link.url}/rpc`);
    expect(app.hello?.principal).toEqual({ kind: "device", name: "phone" });
    await app.close();
    await expect(PiClient.connect(`${url.replace("http", "ws")}/d/${"x".repeat(43)}/rpc`)).rejects.toThrow();
    expect((await cli(["token", "revoke", "phone", "--data-dir", dataDir])).code).toBe(0);
    await expect(PiClient.connect(`${link.url}/rpc`)).rejects.toThrow();

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    // Logs at trace level saw every request, and no secret.
    expect(first.logs()).toContain("device paired");
    expect(first.logs()).toContain("connection by device link");
    for (const secret of [token!, invite.invite.pairingToken, paired.token, linkToken!])
      expect(first.logs()).not.toContain(secret);

    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ defaultModel: "fake/fake-model" }));
    const second = serve(dataDir);
    const again = await second.ready;
    expect(again.output()).not.toContain("Owner token");
    const c2 = await PiClient.connect(again.url, { token: token! });
    await c2.close();
    second.child.kill("SIGINT");
    expect(await second.exited).toBe(0);
  });
});

describe("pi-server init, config, env, status", () => {
  it("init --yes writes a validated config and keys; a bad model is refused", async () => {
    const dataDir = tmp("cli-init");
    const { fakeModelsJson } = await import("./helpers/fake-llm.js");
    writeFileSync(
      join(dataDir, "models.json"),
      JSON.stringify(fakeModelsJson({ url: "http://127.0.0.1:9" })),
    );
    const ok = await cli([
      "init",
      "--yes",
      "--port",
      "4100",
      "--host",
      "127.0.0.1",
      "--model",
      "fake/fake-model",
      "--profile",
      "strict",
      "--tls",
      "self-signed",
      "--api-key",
      "openai=sk-test-123",
      "--data-dir",
      dataDir,
    ]);
    expect(ok.stderr).toBe("");
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toEqual({
      port: 4100,
      host: "127.0.0.1",
      defaultModel: "fake/fake-model",
      security: { profile: "strict" },
      tls: { mode: "self-signed" },
    });
    expect(readFileSync(join(dataDir, ".env"), "utf8")).toBe('OPENAI_API_KEY="sk-test-123"\n');
    const bad = await cli(["init", "--yes", "--model", "fake/nope", "--data-dir", dataDir]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("not usable");
    const badProfile = await cli(["init", "--yes", "--profile", "lax", "--data-dir", dataDir]);
    expect(badProfile.code).toBe(1);
    expect(badProfile.stderr).toContain('/security/profile: must be one of "tailscale-permissive", "strict"');
    const exposed = await cli(["init", "--yes", "--host", "0.0.0.0", "--tls", "off", "--data-dir", dataDir]);
    expect(exposed).toMatchObject({ code: 1, stderr: expect.stringContaining('"strict" needs tls.mode') });
    const bogusKey = await cli(["init", "--yes", "--api-key", "bogus=1", "--data-dir", dataDir]);
    expect(bogusKey).toMatchObject({ code: 1, stderr: expect.stringContaining("use a provider") });
  });

  it("config get/set/unset/validate name the key on error and write atomically", async () => {
    const dataDir = tmp("cli-config");
    expect(
      (await cli(["config", "set", "defaultModel", "anthropic/claude-sonnet-4-5", "--data-dir", dataDir]))
        .code,
    ).toBe(0);
    expect((await cli(["config", "set", "limits.maxSessions", "12", "--data-dir", dataDir])).code).toBe(0);
    expect((await cli(["config", "get", "limits.maxSessions", "--data-dir", dataDir])).stdout.trim()).toBe(
      "12",
    );
    expect((await cli(["config", "get", "limits.helloTimeoutMs", "--data-dir", dataDir])).stdout.trim()).toBe(
      "10000",
    );
    const badKey = await cli(["config", "set", "limits.maxSession", "3", "--data-dir", dataDir]);
    expect(badKey).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('unknown config key "limits.maxSession"'),
    });
    const badValue = await cli(["config", "set", "port", "high", "--data-dir", dataDir]);
    expect(badValue).toMatchObject({ code: 1, stderr: expect.stringContaining("/port") });
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toEqual({
      defaultModel: "anthropic/claude-sonnet-4-5",
      limits: { maxSessions: 12 },
    });
    expect((await cli(["config", "unset", "limits.maxSessions", "--data-dir", dataDir])).code).toBe(0);
    expect((await cli(["--data-dir", dataDir, "config", "validate"])).stdout).toContain("is valid");
    writeFileSync(join(dataDir, "config.json"), '{"tls":{"mode":"sometimes"}}');
    const invalid = await cli(["config", "validate", "--data-dir", dataDir]);
    expect(invalid).toMatchObject({ code: 1, stderr: expect.stringContaining("/tls/mode") });
  }, 180_000);

  it("env init captures the login shell's PATH and chosen variables; env show prints them", async () => {
    const dataDir = tmp("cli-env");
    const r = await cli(["env", "init", "--shell", "/bin/bash", "--var", "HOME", "--data-dir", dataDir]);
    expect(r.code).toBe(0);
    const saved = JSON.parse(readFileSync(join(dataDir, "host-env.json"), "utf8")) as {
      PATH: string;
      vars: object;
    };
    expect(saved.PATH).toContain("/usr/bin");
    expect(saved.vars).toEqual({ HOME: process.env.HOME });
    expect((await cli(["env", "show", "--data-dir", dataDir])).stdout).toContain("PATH=");
    expect((await cli(["env", "init", "--var", "BAD-NAME", "--data-dir", dataDir])).code).toBe(1);
    const secret = await cli(["env", "init", "--var", "GITHUB_TOKEN", "--data-dir", dataDir]);
    expect(secret).toMatchObject({ code: 1, stderr: expect.stringContaining("looks like a credential") });
    const unset = await cli([
      "env",
      "init",
      "--shell",
      "/bin/bash",
      "--var",
      "SURELY_NOT_SET_ANYWHERE",
      "--data-dir",
      dataDir,
    ]);
    expect(unset.stdout).toContain("not set in /bin/bash, so not passed: SURELY_NOT_SET_ANYWHERE");
    const after = JSON.parse(readFileSync(join(dataDir, "host-env.json"), "utf8")) as { vars: object };
    expect(after.vars).toEqual({});
  });

  it("status reports a running server, its sessions and devices", async () => {
    const dataDir = tmp("cli-status");
    const stopped = await cli(["status", "--json", "--data-dir", dataDir]);
    expect(stopped.code).toBe(3);
    expect(JSON.parse(stopped.stdout)).toMatchObject({ running: false, pairedDevices: 0 });
    const server = serve(dataDir);
    const { url } = await server.ready;
    const st = JSON.parse((await cli(["status", "--json", "--data-dir", dataDir])).stdout) as Record<
      string,
      unknown
    >;
    expect(st).toMatchObject({ running: true, healthy: true, url, sessions: { total: 0, running: 0 } });
    expect(typeof st.ownerTokenCreatedAt).toBe("number");
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(st.version).toBe(pkg.version);
    expect(st.piVersion).toMatch(/^\d+\.\d+\.\d+/);
    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
    expect(JSON.parse((await cli(["status", "--json", "--data-dir", dataDir])).stdout)).toMatchObject({
      running: false,
    });
  });
});

describe("a mistyped --data-dir", () => {
  it("is refused by every command but serve and init, which alone create a data dir", async () => {
    const missing = join(tmp("parent"), "no-such-data-dir");
    for (const args of [
      ["status"],
      ["repos", "list"],
      ["repos", "add", "."],
      ["token", "rotate"],
      ["rules", "list"],
      ["config", "show"],
    ]) {
      const r = await cli([...args, "--data-dir", missing]);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr).toContain(`no data dir at ${missing}`);
      expect(existsSync(missing)).toBe(false);
    }
    const init = await cli(["init", "--yes", "--data-dir", missing]);
    expect(init.code).toBe(0);
    expect(existsSync(join(missing, "config.json"))).toBe(true);
  });
});

describe("a mistyped command", () => {
  it("is called unknown, with a suggestion when one is close", async () => {
    const r = await cli(["stauts"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown command 'stauts' — did you mean 'status'?");
    const far = await cli(["frobnicate"]);
    expect(far.stderr).toContain("unknown command 'frobnicate'");
    expect(far.stderr).not.toContain("too many arguments");
  });
});

describe("CLI errors", () => {
  it("of a subcommand are one line, the suggestion on it, pointing to --help instead of printing it", async () => {
    const dataDir = tmp("cli-one-line");
    const cases: [string[], string][] = [
      [
        ["sessions", "lst"],
        "pi-server: unknown command 'lst' — did you mean 'list'? (pi-server sessions --help lists its commands)\n",
      ],
      [
        ["status", "--jsn"],
        "pi-server: unknown option '--jsn' — did you mean '--json'? (pi-server status --help lists its options)\n",
      ],
      [
        ["serve", "--port", "abc"],
        "pi-server: option '-p, --port <n>' argument 'abc' is invalid: must be a port number 0-65535 (pi-server serve --help shows its usage)\n",
      ],
    ];
    for (const [args, stderr] of cases) {
      const r = await cli([...args, "--data-dir", dataDir]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toBe(stderr);
      expect(r.stdout, args.join(" ")).toBe("");
    }
  });

  it("are prefixed pi-server: and say what to do, an unknown option included", async () => {
    // The default command is serve, but an unknown flag is the program's error, not serve's help.
    const bogus = await cli(["--bogus"]);
    expect(bogus.code).toBe(1);
    expect(bogus.stderr).toBe(
      "pi-server: unknown option '--bogus' (pi-server --help lists the commands and options)\n",
    );
    expect((await cli(["--dmeo"])).stderr).toContain("did you mean '--demo'?");
    expect((await cli(["serve", "--bogus"])).stderr).toContain("pi-server serve --help lists its options");
    const top = await cli(["--help"]);
    expect(top.stdout).toMatch(/^ {2}serve \[options\] {2,}start the server/m);
    expect((await cli(["serve", "--help"])).stdout).toMatch(/^Usage: pi-server serve \[options\]$/m);
    const dataDir = tmp("cli-errors");
    await cli(["init", "--yes", "--data-dir", dataDir]);
    for (const args of [
      ["repos", "remove", "nope"],
      ["rules", "remove", "nope"],
      ["repos", "add"],
      ["status", "--bogus"],
    ]) {
      const r = await cli([...args, "--data-dir", dataDir]);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(/^pi-server: /);
      expect(r.stderr).not.toMatch(/^error:/m);
    }
    expect((await cli(["repos", "remove", "nope", "--data-dir", dataDir])).stderr).toBe(
      "pi-server: no repository with id nope (`pi-server repos list` shows them)\n",
    );
    expect((await cli(["rules", "remove", "nope", "--data-dir", dataDir])).stderr).toContain(
      "`pi-server rules list` shows the ids",
    );
    expect((await cli(["rules", "list", "--session", "nope", "--data-dir", dataDir])).stderr).toBe(
      "pi-server: no session nope (`pi-server sessions list` shows the ids)\n",
    );
  });
});
