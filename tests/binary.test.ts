import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { fakeModelsJson, startFakeLlm, type FakeLlm } from "./helpers/fake-llm.js";
import { makeRepo, runTurn, textOf, tmp, TOKEN } from "./helpers/harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BINARY = join(ROOT, "dist", "pi-server");
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
/** SEA assets need Node 20.12+; postject writes ELF and Mach-O binaries. Anything else cannot build it. */
const buildable =
  (major > 20 || (major === 20 && minor >= 12)) && ["linux", "darwin"].includes(process.platform);

function newest(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(st.mtimeMs, ...readdirSync(path).map((n) => newest(join(path, n))));
}

/** Builds dist/pi-server unless the one there is newer than everything it is made of. */
function ensureBinary(): void {
  const sources = Math.max(
    newest(join(ROOT, "src")),
    newest(join(ROOT, "dist-web")),
    newest(join(ROOT, "package.json")),
    newest(join(ROOT, "scripts", "build-binary.ts")),
  );
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs > sources) return;
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules", "tsx", "dist", "cli.mjs"), "scripts/build-binary.ts"],
    {
      cwd: ROOT,
      stdio: "ignore",
      timeout: 15 * 60_000,
    },
  );
}

/** A PATH with the programs the server and its tools use, and no node. */
function pathWithoutNode(): string {
  const bin = join(tmp("binary-path"), "bin");
  mkdirSync(bin);
  for (const name of ["git", "bwrap", "sh", "bash", "ls", "cat", "env", "grep", "sed", "mkdir", "rm"]) {
    const real = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
    symlinkSync(real, join(bin, name));
  }
  return bin;
}

describe.skipIf(!buildable)("the standalone binary dist/pi-server", () => {
  let llm: FakeLlm;
  beforeAll(async () => {
    ensureBinary();
    llm = await startFakeLlm();
  }, 16 * 60_000);
  afterAll(async () => {
    await llm?.close();
  });

  it("serves /health and a session turn with no node on the PATH", async () => {
    const home = tmp("binary-home");
    const dataDir = join(home, "data");
    mkdirSync(dataDir, { mode: 0o700 });
    const repo = makeRepo({ "README.md": "# binary demo\n" });
    writeFileSync(join(dataDir, "models.json"), JSON.stringify(fakeModelsJson(llm)));
    writeFileSync(join(dataDir, "config.json"), JSON.stringify({ defaultModel: "fake/fake-model" }));
    writeFileSync(join(dataDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
    writeFileSync(
      join(dataDir, "repos.json"),
      JSON.stringify({ repos: [{ id: "demo", name: "demo", path: repo }] }),
    );
    const PATH = pathWithoutNode();
    expect(() => execFileSync(join(PATH, "sh"), ["-c", "command -v node"], { env: { PATH } })).toThrow();

    const child = spawn(BINARY, ["serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"], {
      // Nothing of the build machine: no NODE_* variables, a fresh HOME and cache.
      env: {
        PATH,
        HOME: home,
        XDG_CACHE_HOME: join(home, "cache"),
        PI_SERVER_TOKEN: TOKEN,
        PI_SERVER_LOG_LEVEL: "warn",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => {
        out += String(d);
        const m = /listening on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.stderr.on("data", (d: Buffer) => (out += String(d)));
      void exited.then((code) => reject(new Error(`binary exited ${code}: ${out}`)));
    });
    try {
      expect(await (await fetch(`${url}/health`)).json()).toEqual({ ok: true });
      const info = (await (
        await fetch(`${url}/`, { headers: { authorization: `Bearer ${TOKEN}` } })
      ).json()) as {
        version: string;
        piVersion: string;
      };
      expect(info.piVersion).toMatch(/^\d+\.\d+\.\d+/);
      // The web app was unpacked with it.
      expect((await fetch(`${url}/app/`)).status).toBe(200);

      const client = await PiClient.connect(url, { token: TOKEN });
      const { session } = await client.request("session.create", { repoId: "demo" });
      await runTurn(
        { llm },
        client,
        session.id,
        "read the readme",
        { kind: "tool_call", name: "read", args: { path: "README.md" } },
        { kind: "text", text: "it says binary demo" },
      );
      const { messages } = await client.request("get_messages", {}, session.id);
      const tool = messages.find((m) => (m as { role?: string }).role === "toolResult");
      expect(textOf(tool)).toContain("# binary demo");
      expect(textOf(messages.at(-1))).toBe("it says binary demo");
      await client.close();
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(0);
    expect(out).not.toContain("Warning");
  });
});
