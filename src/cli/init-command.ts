import { readFileSync } from "node:fs";
import type * as Prompts from "@clack/prompts";
import type { Command } from "commander";
import { parseModelKey } from "../sessions/pi.js";
import { PROVIDER_KEY_VARS } from "../sessions/provider-env.js";
import { configIssues, type ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { processAlive, readRuntime } from "../store/runtime.js";
import { CliError, cliPaths, DATA_DIR_OPTION, print } from "./context.js";
import {
  applyPlan,
  checkEndpoint,
  type Endpoint,
  INIT_PROVIDERS,
  type InitPlan,
  invokedAs,
  parseApiKeys,
  plannedModels,
  suggestModel,
} from "./init-plan.js";

interface InitOptions {
  yes?: boolean;
  port?: string;
  host?: string;
  model?: string;
  profile?: string;
  tls?: string;
  apiKey?: string[];
  endpoint?: string;
  endpointModel?: string;
  endpointKey?: string;
  endpointName?: string;
  dataDir?: string;
}

/** The prompts library, loaded by an interactive init only (see the action): no other command pays for it. */
let p: typeof Prompts;

/** Keys a running server reads again on its next request (the rest at start-up). */
const LIVE_CONFIG_KEYS = new Set(["defaultModel", "defaultThinkingLevel"]);

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Ctrl-C at any question: nothing has been written yet, and that is what the user is told. */
function check<T>(value: T | symbol): T {
  if (p.isCancel(value)) {
    p.cancel("cancelled; nothing was written");
    process.exit(1);
  }
  return value;
}

async function askEndpoint(): Promise<Endpoint> {
  const baseUrl = check(
    await p.text({
      message: "Base URL of the OpenAI-compatible API",
      placeholder: "http://127.0.0.1:11434/v1",
      initialValue: "http://127.0.0.1:11434/v1",
      validate: (v) => (/^https?:\/\/\S+$/.test(v ?? "") ? undefined : "an http:// or https:// URL"),
    }),
  );
  const modelId = check(
    await p.text({
      message: "Model id, as that server names it",
      placeholder: "qwen2.5-coder:7b",
      validate: (v) => (v?.trim() ? undefined : "the id the server lists under /v1/models"),
    }),
  );
  const provider = check(
    await p.text({
      message: "A short name for this server (models are then <name>/<model id>)",
      initialValue: "local",
      validate: (v) =>
        /^[a-z0-9][a-z0-9-]*$/.test(v ?? "") ? undefined : "lower-case letters, digits, dashes",
    }),
  );
  const apiKey = check(await p.password({ message: "Its API key (leave empty if it needs none)" }));
  const e: Endpoint = { provider, baseUrl, modelId: modelId.trim(), ...(apiKey ? { apiKey } : {}) };
  checkEndpoint(e);
  return e;
}

async function interactive(paths: DataPaths, current: ServerConfig, opts: InitOptions): Promise<InitPlan> {
  p.intro("pi-server init");
  const port = check(
    await p.text({
      message: "Port",
      initialValue: String(opts.port ?? current.port ?? 3141),
      validate: (v) => (/^\d+$/.test(v ?? "") && Number(v) <= 65535 ? undefined : "a number from 0 to 65535"),
    }),
  );
  const host = check(
    await p.select({
      message: "Who may connect?",
      initialValue: current.host ?? "0.0.0.0",
      options: [
        { value: "0.0.0.0", label: "devices on my networks (LAN, Tailscale)", hint: "0.0.0.0" },
        { value: "127.0.0.1", label: "this machine only", hint: "127.0.0.1" },
      ],
    }),
  );
  const source = check(
    await p.select({
      message: "Which models should sessions use?",
      initialValue: "hosted" as "hosted" | "endpoint" | "skip",
      options: [
        { value: "hosted" as const, label: "a hosted provider (Anthropic, OpenAI, …) with an API key" },
        {
          value: "endpoint" as const,
          label: "an OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp)",
        },
        { value: "skip" as const, label: "keep what the data dir has" },
      ],
    }),
  );
  const envKeys: Record<string, string> = parseApiKeys(opts.apiKey);
  let endpoint: Endpoint | undefined;
  if (source === "hosted") {
    const providers = check(
      await p.multiselect({
        message: "API keys for (space to choose, enter to go on)",
        required: false,
        options: INIT_PROVIDERS.map((value) => ({ value, label: value, hint: PROVIDER_KEY_VARS[value] })),
      }),
    );
    for (const provider of providers) {
      const env = PROVIDER_KEY_VARS[provider] as string;
      envKeys[env] = check(await p.password({ message: env, validate: (v) => (v ? undefined : "empty") }));
    }
  } else if (source === "endpoint") endpoint = await askEndpoint();
  const models = await plannedModels(paths, { envKeys, endpoint });
  let defaultModel = opts.model ?? current.defaultModel;
  if (models.length > 0) {
    defaultModel = check(
      await p.select({
        message: "Default model for new sessions",
        initialValue: suggestModel(models, { envKeys, endpoint }, defaultModel),
        options: models.map((m) => ({ value: m, label: m })),
        maxItems: 12,
      }),
    );
  } else {
    p.log.warn("pi sees no usable model yet: run init again with an API key or an OpenAI-compatible server");
  }
  const profile = check(
    await p.select({
      message: "Security profile",
      initialValue: current.security?.profile ?? "tailscale-permissive",
      options: [
        {
          value: "tailscale-permissive" as const,
          label: "tailscale-permissive",
          hint: "trusted networks; reads run freely",
        },
        { value: "strict" as const, label: "strict", hint: "TLS required off-loopback; tool calls ask" },
      ],
    }),
  );
  const tls = check(
    await p.select({
      message: "TLS",
      initialValue: current.tls?.mode ?? (profile === "strict" ? "self-signed" : "off"),
      options: [
        { value: "off" as const, label: "off", hint: "plain ws:// (fine on Tailscale, which encrypts)" },
        { value: "self-signed" as const, label: "self-signed", hint: "wss:// with a pinned certificate" },
        { value: "manual" as const, label: "manual", hint: "your own certificate files" },
      ],
    }),
  );
  const config: ServerConfig = {
    ...current,
    port: Number(port),
    host,
    ...(defaultModel ? { defaultModel } : {}),
    security: { ...current.security, profile },
    tls: { ...current.tls, mode: tls },
  };
  if (tls === "manual") {
    const certFile = check(
      await p.text({ message: "Certificate file (PEM)", initialValue: current.tls?.certFile }),
    );
    const keyFile = check(
      await p.text({ message: "Private key file (PEM)", initialValue: current.tls?.keyFile }),
    );
    config.tls = { mode: "manual", certFile, keyFile };
  }
  return { config, envKeys, endpoint };
}

async function unattended(paths: DataPaths, current: ServerConfig, opts: InitOptions): Promise<InitPlan> {
  const envKeys = parseApiKeys(opts.apiKey);
  let endpoint: Endpoint | undefined;
  if (opts.endpoint !== undefined || opts.endpointModel !== undefined) {
    if (!opts.endpoint || !opts.endpointModel)
      throw new CliError("--endpoint <url> and --endpoint-model <id> go together");
    endpoint = {
      provider: opts.endpointName ?? "local",
      baseUrl: opts.endpoint,
      modelId: opts.endpointModel,
      ...(opts.endpointKey ? { apiKey: opts.endpointKey } : {}),
    };
    checkEndpoint(endpoint);
  }
  const next: Record<string, unknown> = { ...current };
  if (opts.port !== undefined) next.port = Number(opts.port);
  if (opts.host !== undefined) next.host = opts.host;
  if (opts.profile !== undefined) next.security = { ...current.security, profile: opts.profile };
  if (opts.tls !== undefined) next.tls = { ...current.tls, mode: opts.tls };
  const model = opts.model ?? (endpoint ? `${endpoint.provider}/${endpoint.modelId}` : undefined);
  if (model !== undefined) {
    if (!parseModelKey(model)) throw new CliError(`--model must be "provider/modelId", got ${model}`);
    const models = await plannedModels(paths, { envKeys, endpoint });
    if (!models.includes(model)) {
      throw new CliError(
        `model ${model} is not usable (unknown, or no API key): available: ${models.slice(0, 12).join(", ") || "none"}; nothing was written`,
      );
    }
    next.defaultModel = model;
  }
  return { config: next as ServerConfig, envKeys, endpoint };
}

/** What the running server does with what init wrote. */
function runningServerNote(paths: DataPaths, before: ServerConfig, after: ServerConfig): string | undefined {
  const rt = readRuntime(paths.runtime);
  if (!rt || !processAlive(rt.pid)) return undefined;
  const changed = Object.keys({ ...before, ...after }).filter(
    (k) =>
      !LIVE_CONFIG_KEYS.has(k) &&
      JSON.stringify((before as Record<string, unknown>)[k]) !==
        JSON.stringify((after as Record<string, unknown>)[k]),
  );
  const live = `the running server (pid ${rt.pid}) uses the keys, models and default model from its next request`;
  return changed.length > 0 ? `${live}; restart it to apply ${changed.join(", ")}` : live;
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description(
      "set up the data dir: port, bind address, API keys or an OpenAI-compatible server, default model, security profile, TLS",
    )
    .option("-y, --yes", "no questions: apply the flags below and keep everything else")
    .option("--port <n>", "port")
    .option("--host <h>", "bind address")
    .option("--model <provider/modelId>", "default model (must be usable)")
    .option("--profile <name>", "tailscale-permissive | strict")
    .option("--tls <mode>", "off | self-signed | manual")
    .option(
      "--api-key <NAME=VALUE...>",
      "provider key for .env, e.g. anthropic=sk-ant-… or OPENAI_API_KEY=sk-…",
    )
    .option("--endpoint <url>", "an OpenAI-compatible server's base URL, e.g. http://127.0.0.1:11434/v1")
    .option("--endpoint-model <id>", "the model id that server serves (becomes the default model)")
    .option("--endpoint-key <key>", "its API key, if it needs one (kept in .env)")
    .option("--endpoint-name <name>", "provider name for it in models.json (default local)")
    .option(...DATA_DIR_OPTION)
    .action(async (opts: InitOptions) => {
      const paths = cliPaths(opts.dataDir, { create: true });
      const current = readJson(paths.config) as ServerConfig;
      if (!opts.yes) p = await import("@clack/prompts");
      const plan = opts.yes
        ? await unattended(paths, current, opts)
        : await interactive(paths, current, opts);
      const issues = configIssues(plan.config);
      if (issues.length > 0)
        throw new CliError(`invalid settings: ${issues.join("; ")}; nothing was written`);
      const written = applyPlan(paths, plan);
      const say = (line: string): void => (opts.yes ? print(line) : p.log.info(line));
      say(`wrote ${written.join(", ")}`);
      if (!plan.config.defaultModel) {
        const models = await plannedModels(paths, { envKeys: {} });
        const hintFlag = opts.yes ? " --model" : "";
        say(
          models.length > 0
            ? `no default model: clients must pass one, or run init again${hintFlag} (usable now: ${models.slice(0, 8).join(", ")}${models.length > 8 ? ", …" : ""})`
            : "no default model and none usable yet: run init again with an API key or an OpenAI-compatible server",
        );
      }
      const cmd = invokedAs(opts.dataDir);
      const note = runningServerNote(paths, current, plan.config);
      const next = note ?? `start the server with \`${cmd}\``;
      const summary = `${next}; pair a phone with \`${cmd} pair\``;
      if (opts.yes) print(summary);
      else p.outro(summary);
    });
}
