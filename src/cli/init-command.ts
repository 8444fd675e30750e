import { readFileSync } from "node:fs";
import * as p from "@clack/prompts";
import type { Command } from "commander";
import dotenv from "dotenv";
import { loadPi, modelKey, parseModelKey } from "../sessions/pi.js";
import { writeFileAtomic, writeJsonAtomic } from "../store/atomic.js";
import { configIssues, type ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { CliError, cliPaths, DATA_DIR_OPTION, print } from "./context.js";

const PROVIDER_KEYS: Record<string, string> = {
  anthropic: "ANTHROPIC_API_KEY",
  openai: "OPENAI_API_KEY",
  google: "GEMINI_API_KEY",
  openrouter: "OPENROUTER_API_KEY",
  groq: "GROQ_API_KEY",
  xai: "XAI_API_KEY",
  mistral: "MISTRAL_API_KEY",
  deepseek: "DEEPSEEK_API_KEY",
};

interface InitOptions {
  yes?: boolean;
  port?: string;
  host?: string;
  model?: string;
  profile?: string;
  tls?: string;
  apiKey?: string[];
  dataDir?: string;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Sets NAME=value lines in .env, replacing earlier values of the same names and keeping the rest. */
export function updateEnvFile(file: string, values: Record<string, string>): void {
  let lines: string[] = [];
  try {
    lines = readFileSync(file, "utf8").split("\n");
  } catch {
    // first key
  }
  const names = new Set(Object.keys(values));
  const kept = lines.filter((l) => {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(l);
    return !(m && names.has(m[1] as string)) && l.length > 0;
  });
  const added = Object.entries(values).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  writeFileAtomic(file, [...kept, ...added].join("\n") + "\n");
}

function parseApiKeys(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new CliError(`--api-key takes NAME=VALUE or provider=VALUE, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, eq);
    const env = PROVIDER_KEYS[name] ?? name;
    if (!/^[A-Z][A-Z0-9_]*$/.test(env)) {
      throw new CliError(
        `--api-key ${name}=…: use a provider (${Object.keys(PROVIDER_KEYS).join(", ")}) or a variable name like OPENAI_API_KEY`,
      );
    }
    out[env] = pair.slice(eq + 1);
  }
  return out;
}

/** Models pi can use with the keys now in the data dir. */
async function availableModels(paths: DataPaths): Promise<string[]> {
  dotenv.config({ path: paths.env, quiet: true, override: true });
  const pi = await loadPi(paths);
  pi.modelRegistry.refresh();
  return pi.modelRegistry.getAvailable().map(modelKey);
}

function check<T>(value: T | symbol): T {
  if (p.isCancel(value)) {
    p.cancel("nothing changed");
    process.exit(1);
  }
  return value;
}

async function interactive(
  paths: DataPaths,
  current: ServerConfig,
  opts: InitOptions,
): Promise<ServerConfig> {
  p.intro("pi-server init");
  const port = check(
    await p.text({
      message: "Port",
      initialValue: String(opts.port ?? current.port ?? 3141),
      validate: (v) => (/^\d+$/.test(v) && Number(v) <= 65535 ? undefined : "a number from 0 to 65535"),
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
  const providers = check(
    await p.multiselect({
      message: "Add API keys for (space to choose, enter to go on)",
      required: false,
      options: Object.entries(PROVIDER_KEYS).map(([value, env]) => ({ value, label: value, hint: env })),
    }),
  );
  const keys: Record<string, string> = parseApiKeys(opts.apiKey);
  for (const provider of providers) {
    const env = PROVIDER_KEYS[provider] as string;
    keys[env] = check(await p.password({ message: `${env}`, validate: (v) => (v ? undefined : "empty") }));
  }
  if (Object.keys(keys).length > 0) updateEnvFile(paths.env, keys);
  const models = await availableModels(paths);
  let defaultModel = opts.model ?? current.defaultModel;
  if (models.length > 0) {
    defaultModel = check(
      await p.select({
        message: "Default model for new sessions",
        initialValue: defaultModel && models.includes(defaultModel) ? defaultModel : models[0],
        options: models.map((m) => ({ value: m, label: m })),
      }),
    );
  } else {
    p.log.warn("pi sees no usable model yet: add an API key, or a local model in models.json");
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
  const next: ServerConfig = {
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
    next.tls = { mode: "manual", certFile, keyFile };
  }
  return next;
}

async function unattended(paths: DataPaths, current: ServerConfig, opts: InitOptions): Promise<ServerConfig> {
  const keys = parseApiKeys(opts.apiKey);
  if (Object.keys(keys).length > 0) updateEnvFile(paths.env, keys);
  const next: Record<string, unknown> = { ...current };
  if (opts.port !== undefined) next.port = Number(opts.port);
  if (opts.host !== undefined) next.host = opts.host;
  if (opts.profile !== undefined) next.security = { ...current.security, profile: opts.profile };
  if (opts.tls !== undefined) next.tls = { ...current.tls, mode: opts.tls };
  if (opts.model !== undefined) {
    if (!parseModelKey(opts.model))
      throw new CliError(`--model must be "provider/modelId", got ${opts.model}`);
    const models = await availableModels(paths);
    if (!models.includes(opts.model)) {
      throw new CliError(
        `model ${opts.model} is not usable (unknown, or no API key): available: ${models.join(", ") || "none"}`,
      );
    }
    next.defaultModel = opts.model;
  }
  return next as ServerConfig;
}

export function registerInitCommand(program: Command): void {
  program
    .command("init")
    .description("set up the data dir: port, bind address, API keys, default model, security profile, TLS")
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
    .option(...DATA_DIR_OPTION)
    .action(async (opts: InitOptions) => {
      const paths = cliPaths(opts.dataDir, { create: true });
      const current = readJson(paths.config) as ServerConfig;
      const next = opts.yes
        ? await unattended(paths, current, opts)
        : await interactive(paths, current, opts);
      const issues = configIssues(next);
      if (issues.length > 0) throw new CliError(`invalid settings: ${issues.join("; ")}`);
      writeJsonAtomic(paths.config, next);
      if (!next.defaultModel) {
        const models = await availableModels(paths);
        print(
          models.length > 0
            ? `no default model: clients must pass one, or set it with --model (usable now: ${models.slice(0, 8).join(", ")}${models.length > 8 ? ", …" : ""})`
            : "no default model and none usable yet: add an API key (--api-key) or a local model in models.json",
        );
      }
      const summary = `wrote ${paths.config}; start the server with \`pi-server\` and pair a phone with \`pi-server pair\``;
      if (opts.yes) print(summary);
      else p.outro(summary);
    });
}
