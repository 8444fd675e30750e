import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { ProviderEnv } from "../src/sessions/provider-env.js";
import { formatLogLine, prettyDestination } from "../src/log-pretty.js";
import { suggestModel } from "../src/cli/init-plan.js";
import { fakeModelsJson, startFakeLlm, type FakeLlm } from "./helpers/fake-llm.js";
import { makeRepo, startHarness, textOf, tmp, TOKEN } from "./helpers/harness.js";

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

/** `pi-server serve` in its own process; resolves once its banner (up to the "next:" list) is out. */
function serve(dataDir: string) {
  const env: NodeJS.ProcessEnv = { ...process.env, PI_SERVER_TOKEN: TOKEN, PI_SERVER_LOG_LEVEL: "info" };
  delete env.DEEPSEEK_API_KEY;
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--data-dir", dataDir, "--port", "0", "--host", "127.0.0.1"],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let logs = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      // The banner ends with the next-steps list (or without one, at its first line).
      if (m && out.includes("pair a phone")) resolve(m[1]!);
    });
    child.stderr.on("data", (d: Buffer) => (logs += String(d)));
    void exited.then((code) => reject(new Error(`exited ${code}: ${out}${logs}`)));
  });
  /** Resolves when the server has logged `text` (its stderr arrives after the events it logs). */
  const logged = (text: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!logs.includes(text)) return;
        child.stderr.off("data", check);
        resolve();
      };
      child.stderr.on("data", check);
      check();
    });
  return { child, ready, exited, out: () => out, logs: () => logs, logged };
}

const HOSTED_KEY = "sk-deepseek-live-0123456789";

/** The fake LLM standing in for a hosted provider: deepseek's models point at it, the key comes from .env. */
function hostedModelsJson(llm: FakeLlm): unknown {
  const fake = fakeModelsJson(llm).providers.fake;
  return {
    providers: {
      deepseek: { baseUrl: fake.baseUrl, api: fake.api, compat: fake.compat, models: fake.models },
    },
  };
}

describe("a newcomer with a hosted API key, following the README", () => {
  let llm: FakeLlm;
  let dataDir: string;
  let server: ReturnType<typeof serve>;
  let url: string;

  beforeAll(async () => {
    llm = await startFakeLlm();
    dataDir = tmp("first-run");
    writeFileSync(join(dataDir, "models.json"), JSON.stringify(hostedModelsJson(llm)));
    // strict: every tool call asks, so the turn below shows a permission request and its answer.
    writeFileSync(
      join(dataDir, "config.json"),
      JSON.stringify({ host: "127.0.0.1", security: { profile: "strict" } }),
    );
    writeFileSync(join(dataDir, "settings.json"), JSON.stringify({ retry: { enabled: false } }));
    server = serve(dataDir);
    url = await server.ready;
  });
  afterAll(async () => {
    server.child.kill("SIGTERM");
    await server.exited;
    await llm.close();
  });

  it("is told on first start what is still missing, and status says it too", async () => {
    const banner = server.out();
    expect(banner).toContain("next:");
    expect(banner).toMatch(/choose a model: `node \S*bin\/pi-server\.js --data-dir \S+ init`/);
    expect(banner).toContain("register a repository for sessions");
    expect(banner).toContain("pair a phone");
    const status = await cli(["status", "--data-dir", dataDir]);
    expect(status.stdout).toContain(`running (pid ${server.child.pid}) at ${url}`);
    expect(status.stdout).toMatch(
      /^default model: none configured yet \(`[^`]*init` sets one up; `[^`]*serve --demo` tries pi-server without a key\)$/m,
    );
    expect(status.stdout).not.toContain("NONE USABLE");
    expect(status.stdout).toContain("repositories: 0 (add one:");
  });

  it("gets words, not a stale hint, until the key is right; the key in .env applies without a restart", async () => {
    const repo = makeRepo();
    expect((await cli(["repos", "add", repo, "--id", "app", "--data-dir", dataDir])).code).toBe(0);
    const set = await cli(["config", "set", "defaultModel", "deepseek/fake-model", "--data-dir", dataDir]);
    expect(set.stdout, set.stderr).toContain("saved");
    expect(set.stdout).toContain(
      `note: no API key for deepseek yet: put DEEPSEEK_API_KEY=<key> in ${join(dataDir, ".env")}`,
    );

    const client = await PiClient.connect(url, { token: TOKEN });
    await expect(client.request("session.create", { repoId: "app" })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("put DEEPSEEK_API_KEY=<key> in"),
    });
    // A near miss is named, rather than "put it in .env" once more.
    writeFileSync(join(dataDir, ".env"), `DEEPSEEK_KEY=${HOSTED_KEY}\n`);
    await expect(client.request("session.create", { repoId: "app" })).rejects.toMatchObject({
      message: expect.stringContaining("has DEEPSEEK_KEY, which pi does not read"),
    });

    const init = await cli(["init", "--yes", "--api-key", `deepseek=${HOSTED_KEY}`, "--data-dir", dataDir]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`the running server (pid ${server.child.pid}) uses the keys`);
    expect(init.stdout).not.toContain("start the server");
    expect(readFileSync(join(dataDir, ".env"), "utf8")).toContain(`DEEPSEEK_API_KEY="${HOSTED_KEY}"`);

    const { models } = await client.request("get_available_models", {});
    expect(models.map((m) => `${m.provider}/${m.id}`)).toContain("deepseek/fake-model");
    const { session } = await client.request("session.create", { repoId: "app" });
    expect(session.model).toBe("deepseek/fake-model");
    client.onEvent((e) => {
      if (e.type === "permission_request")
        void client.request("permission.respond", { id: e.payload.id, decision: "allow_once" });
    });
    llm.enqueue(
      { kind: "tool_call", name: "bash", args: { command: "env" } },
      { kind: "text", text: "done" },
    );
    const ended = client.waitForEvent(session.id, "agent_end", () => true, 60_000);
    await client.request("prompt", { message: "show me your environment" }, session.id);
    await ended;
    const [first] = await llm.waitForRequests(1);
    expect(first!.headers.authorization).toBe(`Bearer ${HOSTED_KEY}`);
    // The key reached the model, never the agent's tools.
    const { messages } = await client.request("get_messages", {}, session.id);
    const toolOutput = messages
      .filter((m) => (m as { role?: string }).role === "toolResult")
      .map(textOf)
      .join("\n");
    expect(toolOutput).toMatch(/^PATH=/m);
    expect(toolOutput).not.toContain(HOSTED_KEY);
    await client.close();
  });

  it("warns that an invite for a loopback-bound server names addresses nobody listens on", async () => {
    const pair = await cli(["pair", "--json", "--data-dir", dataDir]);
    expect(pair.code).toBe(0);
    expect(pair.stderr).toContain("listens on 127.0.0.1 only");
    expect(pair.stderr).toContain("config set host 0.0.0.0");
    expect(pair.stderr).toContain("tailscale serve");
    expect((await cli(["pair", "--json", "--host", "127.0.0.1", "--data-dir", dataDir])).stderr).toBe("");
  });

  it("logs at info what matters — and no secret", async () => {
    await expect(PiClient.connect(url, { token: "not-the-token-0123456789" })).rejects.toThrow();
    await server.logged("authentication failed: invalid token");
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
    const phone = await PiClient.connect(`${link.url}/rpc`);
    const closed = new Promise<void>((resolve) => phone.onClose(() => resolve()));
    expect((await cli(["token", "revoke", "phone", "--data-dir", dataDir])).code).toBe(0);
    await closed;
    await server.logged("tokens revoked; their connections closed");
    const lines = server
      .logs()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string; level: number });
    const msgs = lines.filter((l) => l.level >= 30).map((l) => l.msg);
    for (const m of [
      "session created",
      "turn started",
      "turn ended",
      "permission requested",
      "permission answered",
      "authentication failed: invalid token",
      "tokens revoked; their connections closed",
    ])
      expect(msgs).toContain(m);
    const linkToken = link.url.split("/d/")[1]!;
    for (const secret of [HOSTED_KEY, TOKEN, "not-the-token-0123456789", linkToken])
      expect(server.logs()).not.toContain(secret);
  });
});

describe("one bad provider in models.json", () => {
  it("is surfaced to clients and by config validate, with pi's own reason", async () => {
    const h = await startHarness();
    try {
      const models = JSON.parse(readFileSync(join(h.dataDir, "models.json"), "utf8")) as {
        providers: Record<string, unknown>;
      };
      models.providers.broken = {
        baseUrl: "http://127.0.0.1:9/v1",
        api: "openai-completions",
        models: [{ id: "x" }],
      };
      writeFileSync(join(h.dataDir, "models.json"), JSON.stringify(models));
      const client = await h.connect();
      const listed = await client.request("get_available_models", {});
      expect(listed.models.some((m) => m.provider === "fake")).toBe(false);
      expect(listed.modelsError).toContain('Provider broken: "apiKey" is required');
      const err = await client.request("session.create", { repoId: "demo" }).catch((e: unknown) => e);
      expect(err).toMatchObject({
        code: "not_found",
        details: expect.stringContaining(
          'models.json was not loaded: Failed to load models.json: Provider broken: "apiKey" is required',
        ),
        data: { modelsError: expect.stringContaining("Provider broken") },
      });
      const validate = await cli(["config", "validate", "--data-dir", h.dataDir]);
      expect(validate.code).toBe(1);
      expect(validate.stderr).toContain('Provider broken: "apiKey" is required');
      expect(validate.stderr).toContain('needs "apiKey"');
    } finally {
      await h.close();
    }
  }, 180_000);
});

describe("init with an OpenAI-compatible server", () => {
  it("writes models.json in pi's format, the key to .env, and everything only at the end", async () => {
    const dataDir = tmp("init-endpoint");
    const failed = await cli(["init", "--yes", "--endpoint", "http://127.0.0.1:9/v1", "--data-dir", dataDir]);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining("--endpoint-model") });
    const badModel = await cli([
      "init",
      "--yes",
      "--api-key",
      "openai=sk-x",
      "--model",
      "openai/nope",
      "--data-dir",
      dataDir,
    ]);
    expect(badModel).toMatchObject({ code: 1, stderr: expect.stringContaining("nothing was written") });
    expect(existsSync(join(dataDir, ".env"))).toBe(false);
    expect(existsSync(join(dataDir, "models.json"))).toBe(false);

    const ok = await cli([
      "init",
      "--yes",
      "--endpoint",
      "http://127.0.0.1:11434/v1/",
      "--endpoint-model",
      "qwen2.5-coder:7b",
      "--endpoint-key",
      "sk-local-1",
      "--data-dir",
      dataDir,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(dataDir, "models.json"), "utf8"))).toEqual({
      providers: {
        local: {
          baseUrl: "http://127.0.0.1:11434/v1",
          api: "openai-completions",
          apiKey: "LOCAL_API_KEY",
          models: [{ id: "qwen2.5-coder:7b" }],
        },
      },
    });
    expect(readFileSync(join(dataDir, ".env"), "utf8")).toBe('LOCAL_API_KEY="sk-local-1"\n');
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toMatchObject({
      defaultModel: "local/qwen2.5-coder:7b",
    });
    expect(ok.stdout).toContain(
      `start the server with \`node ${BIN.replace(process.cwd() + "/", "")} --data-dir ${dataDir}\``,
    );
    expect((await cli(["config", "validate", "--data-dir", dataDir])).code).toBe(0);
  }, 180_000);

  it("offers the current default, else a current model of the provider just keyed, not the first in the list", () => {
    const models = ["anthropic/claude-3-haiku-20240307", "anthropic/claude-sonnet-4-5", "openai/gpt-4o"];
    expect(suggestModel(models, { envKeys: { ANTHROPIC_API_KEY: "k" } })).toBe("anthropic/claude-sonnet-4-5");
    expect(suggestModel(models, { envKeys: {} }, "openai/gpt-4o")).toBe("openai/gpt-4o");
    expect(
      suggestModel(["local/m", ...models], {
        envKeys: {},
        endpoint: { provider: "local", baseUrl: "http://x/v1", modelId: "m" },
      }),
    ).toBe("local/m");
  });
});

describe("CLI messages", () => {
  it("say what is wrong in words", async () => {
    const dataDir = tmp("cli-words");
    expect((await cli(["init", "--yes", "--data-dir", dataDir])).code).toBe(0);
    const level = await cli(["serve", "--log-level", "verbose", "--port", "0", "--data-dir", dataDir]);
    expect(level).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('log level "verbose" does not exist: use one of'),
    });
    const unknown = await cli(["config", "set", "defaultModel", "nosuch/model", "--data-dir", dataDir]);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining("unknown model nosuch/model") });
    const bare = await cli(["config", "set", "defaultModel", "justaname", "--data-dir", dataDir]);
    expect(bare.stderr).toContain('must be "provider/modelId"');
    expect(bare.stderr).not.toContain("^");
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toEqual({});
    const strict = await cli(["config", "set", "security.profile", "strict", "--data-dir", dataDir]);
    expect(strict.stderr).toContain("or host 127.0.0.1");
    expect(
      (await cli(["config", "set", "security.allowedHosts", '["pi.example"]', "--data-dir", dataDir])).code,
    ).toBe(0);
    expect((await cli(["config", "unset", "security.allowedHosts", "--data-dir", dataDir])).code).toBe(0);
    expect(JSON.parse(readFileSync(join(dataDir, "config.json"), "utf8"))).toEqual({});
    const expires = await cli(["rules", "add", "allow", "bash", "--expires", "5", "--data-dir", dataDir]);
    expect(expires.stderr).toContain("--expires 5: give a unit, e.g. 5m, 5h or 5d");
    const scope = await cli(["rules", "add", "allow", "bash", "--scope", "workspace", "--data-dir", dataDir]);
    expect(scope.stderr).toContain("--scope workspace needs --workspace <repoId>");
    const notGit = await cli(["repos", "add", tmp("plain-dir"), "--data-dir", dataDir]);
    expect(notGit.stderr).toContain("is not a git repository");
    expect(notGit.stderr).not.toContain("repos.json");
  }, 180_000);

  it("stop quietly when the reader of their output goes away", async () => {
    const dataDir = tmp("cli-epipe");
    expect((await cli(["init", "--yes", "--data-dir", dataDir])).code).toBe(0);
    const child = spawn(process.execPath, [BIN, "status", "--data-dir", dataDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    // Reading one chunk and closing is what `| head -1` does.
    child.stdout.once("data", () => child.stdout.destroy());
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr += String(d)));
    await new Promise((resolve) => child.on("exit", resolve));
    expect(stderr).toBe("");
  });
});

describe("provider keys in .env", () => {
  it("follow the file, and never override what the server was started with", () => {
    const dir = tmp("provider-env");
    const file = join(dir, ".env");
    const env: NodeJS.ProcessEnv = { FROM_SHELL: "shell" };
    const p = new ProviderEnv(file, env);
    writeFileSync(file, "A_API_KEY=one\nFROM_SHELL=file\n");
    p.sync();
    expect(env).toEqual({ A_API_KEY: "one", FROM_SHELL: "shell" });
    writeFileSync(file, "A_API_KEY=two\nB_API_KEY=b\n");
    p.sync();
    expect(env).toEqual({ A_API_KEY: "two", B_API_KEY: "b", FROM_SHELL: "shell" });
    writeFileSync(file, "");
    p.sync();
    expect(env).toEqual({ FROM_SHELL: "shell" });
    const empty = new ProviderEnv(file, { OPENAI_API_KEY: "" });
    writeFileSync(file, "OPENAI_API_KEY=sk\n");
    empty.sync();
    expect(empty.explainMissing("openai", "auth.json")).toContain("started with an empty OPENAI_API_KEY");
  });
});

describe("logs on a terminal", () => {
  it("are readable lines, without Fastify's per-request pair unless at debug", () => {
    const line = JSON.stringify({
      level: 30,
      time: 0,
      pid: 1,
      hostname: "h",
      msg: "session created",
      sessionId: "abc",
    });
    expect(formatLogLine(line, false)).toMatch(/^\d\d:\d\d:\d\d INFO {2}session created sessionId=abc\n$/);
    let written = "";
    const sink = { write: (s: string) => (written += s) } as unknown as NodeJS.WritableStream;
    const quiet = prettyDestination(sink, { verbose: false, color: false });
    quiet.write(
      JSON.stringify({ level: 30, time: 0, msg: "incoming request", req: { method: "GET", url: "/" } }) +
        "\n",
    );
    quiet.write(JSON.stringify({ level: 40, time: 0, msg: "client too slow", err: { message: "x" } }) + "\n");
    expect(written).not.toContain("incoming request");
    expect(written).toContain('WARN  client too slow err="x"');
  });
});
