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

/** True for a variable named like a credential, or one of `extraNames` (the data dir's .env keys). */
export function isSecretEnvName(name: string, extraNames: ReadonlySet<string> = new Set()): boolean {
  return extraNames.has(name) || SECRET_NAME.test(name);
}

/**
 * The server's variables a tool may inherit. Everything else — provider keys, cloud credentials,
 * database URLs, webhook URLs, npm auth — stays in the server: the list says what may pass, not
 * what may not, so a secret under a name nobody thought of never leaks.
 */
const INHERITED = ["LANG", "LANGUAGE", "TERM", "TZ", "COLORTERM"];
const INHERITED_PREFIX = "LC_";

export const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export interface ToolEnvInput {
  /** The server's environment (only allowlisted names are read from it). */
  serverEnv: NodeJS.ProcessEnv;
  /** What `pi-server env init` captured: the login shell's PATH and the variables the user chose. */
  hostEnv: HostEnv | undefined;
  /** The data dir's .env names: never passed, even when the user captured one by mistake. */
  secretNames: ReadonlySet<string>;
  home: string;
  user: string;
  tmpDir: string;
  /** The identity the agent's commits carry. */
  gitIdentity?: { name: string; email: string };
}

/** The whole environment of a tool process: built up from an allowlist, never copied from the server. */
export function buildToolEnv(input: ToolEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.serverEnv)) {
    if (value === undefined) continue;
    if (INHERITED.includes(name) || name.startsWith(INHERITED_PREFIX)) env[name] = value;
  }
  for (const [name, value] of Object.entries(input.hostEnv?.vars ?? {})) {
    if (!isSecretEnvName(name, input.secretNames)) env[name] = value;
  }
  // Relative entries (`./node_modules/.bin`, an empty one) would run whatever the agent put there
  // in place of a system command.
  const path = (input.hostEnv?.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  env.PATH = path.length > 0 ? path.join(":") : DEFAULT_PATH;
  env.HOME = input.home;
  env.USER = input.user;
  env.LOGNAME = input.user;
  env.SHELL = "/bin/bash";
  env.TMPDIR = input.tmpDir;
  env.TERM ??= "dumb";
  const id = input.gitIdentity ?? { name: "pi", email: "pi@pi-server.invalid" };
  env.GIT_AUTHOR_NAME ??= id.name;
  env.GIT_AUTHOR_EMAIL ??= id.email;
  env.GIT_COMMITTER_NAME ??= id.name;
  env.GIT_COMMITTER_EMAIL ??= id.email;
  // Tools never wait on a prompt nobody can answer.
  env.GIT_TERMINAL_PROMPT = "0";
  env.PAGER = "cat";
  env.GIT_PAGER = "cat";
  return env;
}
