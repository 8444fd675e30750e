import { readFileSync } from "node:fs";
import dotenv from "dotenv";

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

/**
 * The environment the agent's shell gets: the server's, minus every key it holds for providers and
 * anything named like a credential. The LLM talks to providers through the server, not through tools.
 */
export function scrubToolEnv(env: NodeJS.ProcessEnv, extraNames: Iterable<string>): NodeJS.ProcessEnv {
  const drop = new Set(extraNames);
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (!drop.has(name) && !SECRET_NAME.test(name)) out[name] = value;
  }
  return out;
}
