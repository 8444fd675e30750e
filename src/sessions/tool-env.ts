import { readFileSync } from "node:fs";
import dotenv from "dotenv";
import type { HostEnv } from "../store/host-env.js";

/** Names that look like credentials, whatever program they belong to. */
const SECRET_NAME =
  /(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE_KEY)$|^PI_SERVER_|^PI_CODING_AGENT_DIR$/i;

/** Variable names defined in the data dir's .env (provider keys the server holds for pi). */
export function envFileNames(envFile: string): string[] {
  try {
    return Object.keys(dotenv.parse(readFileSync(envFile)));
  } catch {
    return [];
  }
}

/** True for a variable the agent's tools must not see: one of `extraNames`, or named like a credential. */
export function isSecretEnvName(name: string, extraNames: ReadonlySet<string> = new Set()): boolean {
  return extraNames.has(name) || SECRET_NAME.test(name);
}

/**
 * The environment the agent's shell gets: the server's, minus every key it holds for providers and
 * anything named like a credential. The LLM talks to providers through the server, not through tools.
 */
export function scrubToolEnv(env: NodeJS.ProcessEnv, extraNames: Iterable<string>): NodeJS.ProcessEnv {
  const drop = new Set(extraNames);
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!isSecretEnvName(name, drop)) out[name] = value;
  }
  return out;
}

/** The scrubbed environment, with the user's login-shell PATH and the variables they chose to pass. */
export function toolEnv(
  env: NodeJS.ProcessEnv,
  secretNames: Iterable<string>,
  hostEnv: HostEnv | undefined,
  piBinDir: string,
): NodeJS.ProcessEnv {
  const out = scrubToolEnv(env, secretNames);
  if (!hostEnv) return out;
  // pi puts its own helper bin dir on PATH; keep it in front of the user's PATH.
  const keepPiBin = env.PATH?.split(":").includes(piBinDir) === true;
  out.PATH = keepPiBin ? `${piBinDir}:${hostEnv.PATH}` : hostEnv.PATH;
  return { ...out, ...scrubToolEnv(hostEnv.vars, secretNames) };
}
