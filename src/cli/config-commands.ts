import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import type { TSchema } from "typebox";
import { writeJsonAtomic } from "../store/atomic.js";
import { configIssues, ConfigError, DEFAULT_LIMITS, parseConfig, ServerConfig } from "../store/config.js";
import { isSecretEnvName } from "../runtime/env.js";
import { readHostEnv, type HostEnv } from "../store/host-env.js";
import { processAlive, readRuntime } from "../store/runtime.js";
import { CliError, cliPaths, DATA_DIR_OPTION, print } from "./context.js";
import { checkModel, piNow } from "./model-check.js";

/** What applies when config.json says nothing. */
const CONFIG_DEFAULTS: Record<string, unknown> = {
  port: 3141,
  host: "0.0.0.0",
  defaultThinkingLevel: "off",
  security: { profile: "tailscale-permissive", allowedHosts: [], allowedOrigins: [] },
  tls: { mode: "off" },
  limits: DEFAULT_LIMITS,
};

/** Keys a running server reads on every use; the rest are read at start. */
const LIVE_KEYS = new Set(["defaultModel", "defaultThinkingLevel"]);

function schemaAt(path: string[]): TSchema | undefined {
  let node: TSchema | undefined = ServerConfig;
  for (const part of path) {
    const props: Record<string, TSchema> | undefined = (
      node as { properties?: Record<string, TSchema> } | undefined
    )?.properties;
    node = props && Object.hasOwn(props, part) ? props[part] : undefined;
    if (!node) return undefined;
  }
  return node;
}

function keyPath(key: string): string[] {
  const path = key.split(".");
  if (path.some((p) => p.length === 0) || !schemaAt(path)) {
    throw new CliError(`unknown config key "${key}" (see docs or \`pi-server config show\`)`);
  }
  return path;
}

function readConfigObject(file: string): Record<string, unknown> {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`${file}: ${(err as Error).message}`);
  }
}

function getIn(obj: Record<string, unknown>, path: string[]): unknown {
  let node: unknown = obj;
  for (const p of path) node = (node as Record<string, unknown> | undefined)?.[p];
  return node;
}

function setIn(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let node = obj;
  for (const p of path.slice(0, -1)) {
    const next = node[p];
    if (typeof next !== "object" || next === null) node[p] = {};
    node = node[p] as Record<string, unknown>;
  }
  const last = path[path.length - 1] as string;
  if (value === undefined) delete node[last];
  else node[last] = value;
}

/** Removes `path`, and each parent object it leaves empty: unset leaves no `"security": {}` behind. */
function unsetIn(obj: Record<string, unknown>, path: string[]): void {
  setIn(obj, path, undefined);
  for (let depth = path.length - 1; depth > 0; depth--) {
    const parent = getIn(obj, path.slice(0, depth));
    if (typeof parent !== "object" || parent === null || Object.keys(parent).length > 0) break;
    setIn(obj, path.slice(0, depth), undefined);
  }
}

/** `4000` → number, `true` → boolean, `["a"]` → array; anything that is not JSON is a string. */
function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function writeChecked(file: string, next: Record<string, unknown>, key: string, dataRuntime: string): void {
  const issues = configIssues(next);
  if (issues.length > 0) throw new CliError(`invalid value for ${key}: ${issues.join("; ")}`);
  writeJsonAtomic(file, next);
  const rt = readRuntime(dataRuntime);
  const root = key.split(".")[0] ?? key;
  if (rt && processAlive(rt.pid) && !LIVE_KEYS.has(root)) {
    print(`saved; pi-server is running (pid ${rt.pid}): restart it to apply ${key}`);
  } else print("saved");
}

/** The login shell's PATH, and the values of the named variables, as the user's terminal has them. */
function captureShellEnv(shell: string, names: string[]): Record<string, string> {
  // Only variables that are set: an unset one must stay unset for the agent, not become "".
  const script = ["PATH", ...names]
    .map((n) => `if [ -n "\${${n}+x}" ]; then printf '%s=%s\\0' '${n}' "$${n}"; fi`)
    .join("; ");
  const out = execFileSync(shell, ["-l", "-i", "-c", script], {
    encoding: "utf8",
    timeout: 15_000,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const env: Record<string, string> = {};
  for (const entry of out.split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) env[entry.slice(0, eq).replace(/^[\s\S]*\n/, "")] = entry.slice(eq + 1);
  }
  return env;
}

export function registerConfigCommands(program: Command): void {
  const config = program.command("config").description("read and change config.json (validated, atomic)");
  config
    .command("get <key>")
    .description("print one value, e.g. `pi-server config get limits.maxSessions`")
    .option(...DATA_DIR_OPTION)
    .action((key: string, o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const value = getIn(readConfigObject(paths.config), keyPath(key));
      const fallback = getIn(CONFIG_DEFAULTS, key.split("."));
      if (value === undefined && fallback === undefined) print("(not set)");
      else print(JSON.stringify(value ?? fallback));
    });
  config
    .command("set <key> <value>")
    .description(
      "set a value (JSON or a plain string), e.g. `pi-server config set defaultModel anthropic/claude-sonnet-4-5`",
    )
    .option(...DATA_DIR_OPTION)
    .action(async (key: string, value: string, o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const next = readConfigObject(paths.config);
      setIn(next, keyPath(key), parseValue(value));
      const warning = key === "defaultModel" ? await checkModel(paths, next.defaultModel) : undefined;
      writeChecked(paths.config, next, key, paths.runtime);
      if (warning) print(warning);
    });
  config
    .command("unset <key>")
    .description("remove a value (back to its default)")
    .option(...DATA_DIR_OPTION)
    .action((key: string, o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const next = readConfigObject(paths.config);
      unsetIn(next, keyPath(key));
      writeChecked(paths.config, next, key, paths.runtime);
    });
  config
    .command("show")
    .description("print config.json")
    .option(...DATA_DIR_OPTION)
    .action((o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      print(`# ${paths.config}`);
      print(JSON.stringify(readConfigObject(paths.config), null, 2));
    });
  config
    .command("validate")
    .description("check config.json against its schema, and that pi can load models.json; exit 1 if not")
    .option(...DATA_DIR_OPTION)
    .action(async (o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const { modelsError } = await piNow(paths);
      if (modelsError)
        throw new CliError(
          `${modelsError} (pi then ignores every model in it; every provider that lists models needs "apiKey", even one that ignores it)`,
        );
      try {
        const parsed = parseConfig(readFileSync(paths.config, "utf8"), paths.config);
        const problems = configIssues(parsed);
        if (problems.length > 0) throw new CliError(`${paths.config}: ${problems.join("; ")}`);
      } catch (err) {
        if (err instanceof ConfigError) throw new CliError(err.message);
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          print(`${paths.config} does not exist yet; defaults apply`);
          return;
        }
        throw err;
      }
      print(`${paths.config} is valid`);
    });

  const env = program.command("env").description("the environment the agent's tools run with");
  env
    .command("init")
    .description("capture your login shell's PATH (and chosen variables) for the agent's bash")
    .option("--var <name...>", "also capture these variables (they reach the agent's tools: no secrets)")
    .option("--shell <path>", "shell to ask (default: $SHELL)")
    .option(...DATA_DIR_OPTION)
    .action((o: { var?: string[]; shell?: string; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const shell = o.shell ?? process.env.SHELL ?? "/bin/sh";
      const names = o.var ?? [];
      for (const n of names) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(n)) throw new CliError(`not a variable name: ${n}`);
        if (isSecretEnvName(n)) {
          throw new CliError(
            `${n} looks like a credential; the agent's tools never get those (docs/security.md)`,
          );
        }
      }
      let captured: Record<string, string>;
      try {
        captured = captureShellEnv(shell, names);
      } catch (err) {
        throw new CliError(`could not run ${shell} as a login shell: ${(err as Error).message}`);
      }
      if (!captured.PATH) throw new CliError(`${shell} printed no PATH`);
      const { PATH, ...vars } = captured;
      const hostEnv: HostEnv = { shell, capturedAt: Date.now(), PATH, vars };
      writeJsonAtomic(paths.hostEnv, hostEnv);
      const got = Object.keys(vars);
      const missing = names.filter((n) => !got.includes(n));
      print(
        `captured PATH (${PATH.split(":").length} entries)${got.length ? ` and ${got.join(", ")}` : ""} from ${shell}`,
      );
      if (missing.length > 0) print(`not set in ${shell}, so not passed: ${missing.join(", ")}`);
      print("New and reopened sessions use it; restart the server for sessions already loaded.");
    });
  env
    .command("show")
    .description("print the captured environment")
    .option(...DATA_DIR_OPTION)
    .action((o: { dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const hostEnv = readHostEnv(paths.hostEnv);
      if (!hostEnv) {
        print(
          "nothing captured; the agent's tools use the server's own environment (run `pi-server env init`)",
        );
        return;
      }
      print(`from ${hostEnv.shell}, ${new Date(hostEnv.capturedAt).toISOString()}`);
      print(`PATH=${hostEnv.PATH}`);
      for (const [k, v] of Object.entries(hostEnv.vars)) print(`${k}=${v}`);
    });
}
