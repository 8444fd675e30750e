import { listRepos } from "../repos/repos.js";
import { DEMO_MODEL } from "../sessions/demo-model.js";
import { parseModelKey } from "../sessions/pi.js";
import { loadConfig } from "../store/config.js";
import type { DataPaths } from "../store/paths.js";
import { TokenStore } from "../store/tokens.js";
import { withDb } from "./context.js";
import { piNow } from "./model-check.js";

/** Readiness.modelProblem when no default model is set up at all. */
export const NO_DEFAULT_MODEL = "no default model is configured";

export interface Readiness {
  /** The default model, when pi can use it now. */
  model: string | null;
  /** Why there is no usable default model; null when there is one. */
  modelProblem: string | null;
  repos: number;
  pairedDevices: number;
}

/**
 * What a newcomer still has to do before a first turn: the model, a repo, a device. `demo`: a
 * server runs with --demo, whose demo/pi-demo model exists only in its process (a fresh pi here
 * does not know it).
 */
export async function readiness(paths: DataPaths, opts: { demo?: boolean } = {}): Promise<Readiness> {
  const key = loadConfig(paths.config).defaultModel ?? (opts.demo ? DEMO_MODEL : undefined);
  let model: string | null = null;
  let modelProblem: string | null = null;
  const ref = key ? parseModelKey(key) : undefined;
  if (!key || !ref) modelProblem = NO_DEFAULT_MODEL;
  else if (opts.demo && key === DEMO_MODEL) model = key;
  else {
    const { pi, modelsError } = await piNow(paths);
    const found = pi.modelRegistry.find(ref.provider, ref.modelId);
    if (!found)
      modelProblem = `defaultModel ${key} is unknown to pi${modelsError ? ` (models.json was not loaded: ${modelsError})` : ""}`;
    else if (!pi.modelRegistry.hasConfiguredAuth(found))
      modelProblem = `no API key for ${ref.provider}: ${pi.providerEnv.explainMissing(ref.provider, paths.auth)}`;
    else model = key;
  }
  const repos = (await listRepos(paths.repos).catch(() => [])).filter((r) => r.ok).length;
  const pairedDevices = withDb(paths, (db) => new TokenStore(db).devices().length);
  return { model, modelProblem, repos, pairedDevices };
}

/** The "next:" lines for what is missing; empty when the server is ready for a first turn. */
export function nextSteps(r: Readiness, cmd: string): string[] {
  const out: string[] = [];
  if (r.modelProblem) {
    out.push(
      r.modelProblem.startsWith("no default model")
        ? `choose a model: \`${cmd} init\` (a provider key or an OpenAI-compatible server), or \`${cmd} config set defaultModel <provider/model>\``
        : r.modelProblem,
    );
  }
  if (r.repos === 0)
    out.push(`register a repository for sessions: \`${cmd} repos add <path to a git repo>\``);
  if (r.pairedDevices === 0)
    out.push(`pair a phone or a browser: \`${cmd} pair\` prints a link and a QR code for the web app`);
  return out;
}
