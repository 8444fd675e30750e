import { execFile, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
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
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<{ url: string; output: () => string }>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m && out.includes("\n", out.indexOf(m[0])))
        setTimeout(() => resolve({ url: m[1]!, output: () => out }), 50);
    });
    child.stderr.on("data", (d: Buffer) => (out += String(d)));
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  return { child, ready, exited };
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
    const notGit = await cli(["repos", "add", tmp("not-git"), "--data-dir", dataDir]);
    expect(notGit.code).toBe(1);
    expect(notGit.stderr).toContain("not inside a git repository");
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
    const first = serve(dataDir);
    const { url, output } = await first.ready;
    const token = /^\s+([A-Za-z0-9_-]{43})$/m.exec(output())?.[1];
    expect(token, output()).toBeTruthy();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const client = await PiClient.connect(url, { token: token! });
    expect((await client.request("repos.list", {})).repos).toEqual([]);
    await client.close();
    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);

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
