import { existsSync, readFileSync } from "node:fs";
import { basename, relative } from "node:path";
import dotenv from "dotenv";
import { loadPi, modelKey } from "../sessions/pi.js";
import { PROVIDER_KEY_VARS } from "../sessions/provider-env.js";
import { writeFileAtomic, writeJsonAtomic } from "../store/atomic.js";
import type { ServerConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { CliError } from "./context.js";

/** Providers `init` offers keys for, with the variable pi reads each one's key from. */
export const INIT_PROVIDERS = [
  "anthropic",
  "openai",
  "google",
  "openrouter",
  "groq",
  "xai",
  "mistral",
  "deepseek",
] as const;

/** A current, capable model per provider, offered first when the user has no default yet. */
const SUGGESTED: Record<string, string[]> = {
  anthropic: ["claude-sonnet-4-5", "claude-opus-4-5", "claude-sonnet-4-0"],
  openai: ["gpt-5.1", "gpt-5", "gpt-4.1"],
  google: ["gemini-2.5-pro", "gemini-2.5-flash"],
  openrouter: ["anthropic/claude-sonnet-4.5", "openai/gpt-5"],
  groq: ["openai/gpt-oss-120b"],
  xai: ["grok-4", "grok-code-fast-1"],
  mistral: ["devstral-medium-latest", "mistral-large-latest"],
  deepseek: ["deepseek-chat"],
};

/** An OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp) as one models.json provider. */
export interface Endpoint {
  provider: string;
  baseUrl: string;
  modelId: string;
  /** Kept in .env under `keyVar`; models.json names only the variable. */
  apiKey?: string;
}

/** Everything `init` will write; nothing is written until `applyPlan`. */
export interface InitPlan {
  config: ServerConfig;
  envKeys: Record<string, string>;
  endpoint?: Endpoint;
}

export function keyVarFor(provider: string): string {
  return `${provider.toUpperCase().replace(/[^A-Z0-9]/g, "_")}_API_KEY`;
}

export function parseApiKeys(pairs: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0)
      throw new CliError(`--api-key takes NAME=VALUE or provider=VALUE, got ${JSON.stringify(pair)}`);
    const name = pair.slice(0, eq);
    const env = PROVIDER_KEY_VARS[name] ?? name;
    if (!/^[A-Z][A-Z0-9_]*$/.test(env)) {
      throw new CliError(
        `--api-key ${name}=…: use a provider (${INIT_PROVIDERS.join(", ")}) or a variable name like OPENAI_API_KEY`,
      );
    }
    out[env] = pair.slice(eq + 1);
  }
  return out;
}

export function checkEndpoint(e: Endpoint): void {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(e.provider))
    throw new CliError(`provider name "${e.provider}": use lower-case letters, digits and dashes`);
  let url: URL;
  try {
    url = new URL(e.baseUrl);
  } catch {
    throw new CliError(`base URL "${e.baseUrl}" is not a URL (e.g. http://127.0.0.1:11434/v1)`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new CliError(`base URL must start with http:// or https://, got ${e.baseUrl}`);
  if (!e.modelId.trim()) throw new CliError("the model id is empty (e.g. qwen2.5-coder:7b)");
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`${file} is not valid JSON (${(err as Error).message}); fix or remove it first`);
  }
}

/** models.json with the endpoint merged in, in pi's format; other providers stay as they are. */
export function modelsJsonWith(file: string, e: Endpoint): Record<string, unknown> {
  const current = readJson(file);
  const providers = { ...((current.providers as Record<string, unknown> | undefined) ?? {}) };
  const existing = (providers[e.provider] as { models?: { id: string }[] } | undefined) ?? {};
  const models = (existing.models ?? []).filter((m) => m.id !== e.modelId);
  providers[e.provider] = {
    ...existing,
    baseUrl: e.baseUrl.replace(/\/+$/, ""),
    api: "openai-completions",
    // pi rejects the whole file when a provider with models has no apiKey; local servers ignore it.
    apiKey: e.apiKey ? keyVarFor(e.provider) : "none",
    models: [...models, { id: e.modelId }],
  };
  return { ...current, providers };
}

/** Models pi could use once the plan is written: its keys are tried in this process only. */
export async function plannedModels(paths: DataPaths, plan: Omit<InitPlan, "config">): Promise<string[]> {
  dotenv.config({ path: paths.env, quiet: true, override: true });
  Object.assign(process.env, plan.envKeys);
  const pi = await loadPi(paths);
  pi.modelRegistry.refresh();
  const found = pi.modelRegistry.getAvailable().map(modelKey);
  if (plan.endpoint) {
    const key = `${plan.endpoint.provider}/${plan.endpoint.modelId}`;
    return [key, ...found.filter((k) => k !== key)];
  }
  return found;
}

/** The model to offer first: the current default, a new endpoint's model, else a current one of a keyed provider. */
export function suggestModel(
  models: string[],
  plan: Omit<InitPlan, "config">,
  current?: string,
): string | undefined {
  if (current && models.includes(current)) return current;
  if (plan.endpoint) return `${plan.endpoint.provider}/${plan.endpoint.modelId}`;
  const keyed = INIT_PROVIDERS.filter((p) => Object.hasOwn(plan.envKeys, PROVIDER_KEY_VARS[p] ?? ""));
  for (const provider of [...keyed, ...INIT_PROVIDERS]) {
    for (const id of SUGGESTED[provider] ?? [])
      if (models.includes(`${provider}/${id}`)) return `${provider}/${id}`;
    const any = models.filter((m) => m.startsWith(`${provider}/`));
    if (any.length > 0) return any[any.length - 1];
  }
  return models[0];
}

/** Sets NAME=value lines in .env, replacing earlier values of the same names and keeping the rest. */
export function envFileWith(file: string, values: Record<string, string>): string {
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
  return [...kept, ...added].join("\n") + "\n";
}

/**
 * Writes the plan: .env, models.json, then config.json, each atomically. If one fails, the error
 * names what was already written, so the user is never told "nothing changed" when something did.
 */
export function applyPlan(paths: DataPaths, plan: InitPlan): string[] {
  const envKeys = { ...plan.envKeys };
  if (plan.endpoint?.apiKey) envKeys[keyVarFor(plan.endpoint.provider)] = plan.endpoint.apiKey;
  const steps: { file: string; write: () => void }[] = [];
  if (Object.keys(envKeys).length > 0) {
    const text = envFileWith(paths.env, envKeys);
    steps.push({ file: paths.env, write: () => writeFileAtomic(paths.env, text) });
  }
  if (plan.endpoint) {
    const models = modelsJsonWith(paths.models, plan.endpoint);
    steps.push({ file: paths.models, write: () => writeJsonAtomic(paths.models, models) });
  }
  steps.push({ file: paths.config, write: () => writeJsonAtomic(paths.config, plan.config) });
  const written: string[] = [];
  for (const step of steps) {
    try {
      step.write();
    } catch (err) {
      const done = written.length > 0 ? `already written: ${written.join(", ")}` : "nothing was written";
      throw new CliError(`could not write ${step.file}: ${(err as Error).message} (${done})`);
    }
    written.push(step.file);
  }
  return written;
}

/**
 * How the user runs this program, for hints: `pi-server` when it came from the npm bin link, else
 * `node <the script as typed>`; with the --data-dir they used.
 */
export function invokedAs(dataDir?: string): string {
  const script = process.argv[1] ?? "pi-server";
  const base = basename(script);
  let cmd = "pi-server";
  if (base !== "pi-server") {
    const rel = relative(process.cwd(), script);
    cmd = `node ${rel && !rel.startsWith("..") && existsSync(rel) ? rel : script}`;
  }
  const explicit = dataDir ?? process.env.PI_SERVER_DATA_DIR;
  return explicit ? `${cmd} --data-dir ${explicit}` : cmd;
}
