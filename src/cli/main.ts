import { Command, InvalidArgumentError } from "commander";
import { existsSync, readFileSync } from "node:fs";
import { addRemoteRepo, addRepo, DEMO_REPO_DIR, listRepos, removeRepo } from "../repos/repos.js";
import { githubToken, remoteGit } from "../repos/remote.js";
import { parseConfig } from "../store/config.js";
import { DEMO_MODEL } from "../sessions/demo-model.js";
import { dataPaths, resolveDataDir } from "../store/paths.js";
import { SERVER_VERSION, startServer } from "../server.js";
import { networkInterfaces } from "node:os";
import { join, resolve } from "node:path";
import { registerAdminCommands } from "./admin-commands.js";
import { registerApprovalCommands } from "./approval-commands.js";
import { registerPushCommands } from "./push-commands.js";
import { registerSessionCommands } from "./session-commands.js";
import { registerConfigCommands } from "./config-commands.js";
import { registerDoctorCommand } from "./doctor.js";
import { registerServiceCommands } from "./service.js";
import { registerInitCommand } from "./init-command.js";
import { registerPolicyCommands } from "./policy-commands.js";
import { registerUsageCommand } from "./usage-command.js";
import { registerChatCommand } from "./chat.js";
import { registerModelsCommand } from "./models-command.js";
import { escapeControl } from "./terminal.js";
import { CliError, cliPaths } from "./context.js";
import { invokedAs } from "./init-plan.js";
import { nextSteps, readiness } from "./next-steps.js";

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("must be a port number 0-65535");
  return n;
}

function lanAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) out.push(a.address);
  }
  return out;
}

/** A clone url (scheme://… or user@host:path), not a local path. */
function looksLikeUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[^/\s]+@[^/\s]+:/.test(s);
}

/** Edit distance, for "did you mean": small inputs only. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(
        (prev[j] ?? 0) + 1,
        (cur[j - 1] ?? 0) + 1,
        (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

function unknownCommand(word: string, program: Command): string {
  const names = program.commands.map((c) => c.name());
  const best = names.map((n) => ({ n, d: distance(word, n) })).sort((x, y) => x.d - y.d)[0];
  const hint =
    best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? ` — did you mean '${best.n}'?` : "";
  return `unknown command '${escapeControl(word)}'${hint} (pi-server --help lists them)`;
}

/** An unknown flag given to serve, named for the way it was typed: `pi-server --x` or `pi-server serve --x`. */
function unknownOption(flag: string, program: Command, serveCmd: Command): string {
  const name = flag.split("=")[0] ?? flag;
  const longs = [...program.options, ...serveCmd.options].flatMap((o) => (o.long ? [o.long] : []));
  const best = longs.map((n) => ({ n, d: distance(name, n) })).sort((x, y) => x.d - y.d)[0];
  const hint = best && name.startsWith("--") && best.d <= 2 ? ` — did you mean '${best.n}'?` : "";
  const explicit = program.args[0] === "serve";
  return `unknown option '${escapeControl(name)}'${hint} (${explicit ? "pi-server serve --help lists its options" : "pi-server --help lists the commands and options"})`;
}

async function serve(opts: {
  port?: number;
  host?: string;
  dataDir?: string;
  logLevel?: string;
  demo?: boolean;
}): Promise<void> {
  const env = process.env;
  const envPort = env.PI_SERVER_PORT === undefined ? undefined : parsePort(env.PI_SERVER_PORT);
  const server = await startServer({
    dataDir: resolveDataDir(opts.dataDir),
    port: opts.port ?? envPort,
    host: opts.host ?? env.PI_SERVER_HOST,
    envToken: env.PI_SERVER_TOKEN || undefined,
    logLevel: opts.logLevel ?? env.PI_SERVER_LOG_LEVEL ?? "info",
    // A terminal gets readable lines; a pipe, a file or journald gets JSON.
    prettyLogs: process.stderr.isTTY === true && env.PI_SERVER_LOG_FORMAT !== "json",
    demo: opts.demo === true,
  });
  const out = process.stdout;
  out.write(`pi-server ${SERVER_VERSION} listening on ${server.url} (data dir ${server.dataDir})\n`);
  if (opts.demo) {
    out.write(
      `  demo mode: model ${DEMO_MODEL} is an offline script (no LLM, no key, no network); repo "demo" is ${join(server.dataDir, DEMO_REPO_DIR)}\n`,
    );
  }
  const scheme = server.url.startsWith("https") ? "https" : "http";
  const wsScheme = scheme === "https" ? "wss" : "ws";
  if (server.host === "0.0.0.0" || server.host === "::") {
    for (const ip of lanAddresses()) out.write(`  reachable at ${scheme}://${ip}:${server.port}\n`);
  }
  if (server.tlsFingerprint) {
    out.write(`  TLS certificate SHA-256 ${server.tlsFingerprint} (pinned by paired devices)\n`);
  }
  if (server.generatedToken) {
    out.write(
      [
        "",
        "Owner token (shown once; only its hash is stored):",
        `  ${server.generatedToken}`,
        "",
        `Connect a client to ${wsScheme}://<host>:${server.port}/rpc with \`Authorization: Bearer <token>\` on the`,
        "WebSocket upgrade, or send as the first frame",
        `  {"v":1,"kind":"request","id":1,"method":"hello","params":{"token":"<token>"}}`,
        "",
      ].join("\n"),
    );
  }
  try {
    const cmd = invokedAs(opts.dataDir);
    const steps = nextSteps(await readiness(dataPaths(server.dataDir), { demo: opts.demo === true }), cmd);
    if (steps.length > 0) out.write(["next:", ...steps.map((s) => `  - ${s}`), ""].join("\n"));
  } catch (err) {
    server.log.debug({ err }, "could not work out the next steps");
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, "shutting down");
    const timer = setTimeout(() => process.exit(1), 10_000);
    timer.unref();
    void server.close().then(() => process.exit(0));
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name("pi-server")
    .description("Self-hosted server that runs pi coding-agent sessions for remote clients")
    .version(SERVER_VERSION)
    .option("--data-dir <path>", "data directory for any command (env PI_SERVER_DATA_DIR)")
    // `pi-server --data-dir X <command>` works like `pi-server <command> --data-dir X`.
    .hook("preAction", (root) => {
      const dataDir = (root.opts() as { dataDir?: string }).dataDir;
      if (dataDir) process.env.PI_SERVER_DATA_DIR = resolve(dataDir);
    });

  program
    .command("serve", { isDefault: true })
    .description("start the server (the default command)")
    .option("-p, --port <n>", "port to listen on (env PI_SERVER_PORT, default 3141)", parsePort)
    .option("--host <h>", "address to bind (env PI_SERVER_HOST, default 0.0.0.0)")
    .option("--data-dir <path>", "data directory (env PI_SERVER_DATA_DIR)")
    .option("--log-level <level>", "pino log level (env PI_SERVER_LOG_LEVEL, default info)")
    .option("--demo", "offline demo: a scripted model (demo/pi-demo) and a demo repo; no API key needed")
    // serve is the default command, so `pi-server stauts` and `pi-server --bogus` arrive here; left
    // to commander they would print serve's help (or usage `serve [options] [command]`).
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (opts: Parameters<typeof serve>[0], cmd: Command) => {
      const flag = cmd.args.find((a) => a.startsWith("-"));
      if (flag !== undefined) throw new CliError(unknownOption(flag, program, cmd));
      const word = cmd.args[0];
      if (word !== undefined) throw new CliError(unknownCommand(word, program));
      await serve(opts);
    });

  const repos = program.command("repos").description("manage the git repositories sessions can use");
  const reposFile = (dataDir?: string): string => cliPaths(dataDir).repos;
  repos
    .command("add <path-or-url>")
    .description(
      "register a local git repository, or clone a url (https, ssh) into the data dir; GITHUB_TOKEN in the data dir's .env is used for private https repos",
    )
    .option("--name <name>", "display name (default: the directory name)")
    .option("--id <id>", "repo id used by clients (default: derived from the name)")
    .option("--data-dir <path>", "data directory (env PI_SERVER_DATA_DIR)")
    .action(async (source: string, o: { name?: string; id?: string; dataDir?: string }) => {
      const paths = cliPaths(o.dataDir);
      const opts = { name: o.name, id: o.id };
      if (existsSync(source) || !looksLikeUrl(source)) {
        const entry = await addRepo(paths.repos, source, opts);
        process.stdout.write(`registered ${escapeControl(entry.id)}: ${escapeControl(entry.path)}\n`);
        return;
      }
      const config = existsSync(paths.config)
        ? parseConfig(readFileSync(paths.config, "utf8"), paths.config)
        : {};
      const remote = remoteGit(source, {
        token: githubToken(paths.env),
        tokenHosts: config.repos?.tokenHosts,
      });
      const entry = await addRemoteRepo(paths.repos, source, remote, opts);
      process.stdout.write(
        `registered ${escapeControl(entry.id)}: ${escapeControl(source)} (cloned into ${escapeControl(entry.path)})\n`,
      );
    });
  repos
    .command("list")
    .description("list registered repositories and whether each is usable")
    .option("--json", "print JSON")
    .option("--data-dir <path>", "data directory (env PI_SERVER_DATA_DIR)")
    .action(async (o: { json?: boolean; dataDir?: string }) => {
      const list = await listRepos(reposFile(o.dataDir));
      if (o.json) process.stdout.write(JSON.stringify({ repos: list }, null, 2) + "\n");
      else if (list.length === 0)
        process.stdout.write("no repositories registered; use `pi-server repos add <path>`\n");
      else
        for (const r of list) {
          const f = escapeControl;
          process.stdout.write(`${f(r.id)}\t${r.ok ? "ok" : `ERROR ${f(r.error ?? "")}`}\t${f(r.path)}\n`);
        }
    });
  repos
    .command("remove <id>")
    .description("unregister a repository (its worktrees and branches stay)")
    .option("--data-dir <path>", "data directory (env PI_SERVER_DATA_DIR)")
    .action((id: string, o: { dataDir?: string }) => {
      if (!removeRepo(reposFile(o.dataDir), id))
        throw new CliError(`no repository with id ${id} (\`pi-server repos list\` shows them)`);
      process.stdout.write(`removed ${escapeControl(id)}\n`);
    });
  registerAdminCommands(program);
  registerConfigCommands(program);
  registerDoctorCommand(program);
  registerServiceCommands(program);
  registerInitCommand(program);
  registerPolicyCommands(program);
  registerApprovalCommands(program);
  registerPushCommands(program);
  registerSessionCommands(program);
  registerUsageCommand(program);
  registerModelsCommand(program);
  registerChatCommand(program);
  oneLineErrors(program);
  return program;
}

/**
 * Commander's own errors ("error: unknown command 'lst'", "(Did you mean list?)" on a line of its
 * own) read like every other one: one line starting `pi-server:`, the suggestion on it, and where
 * the command's help is instead of the help itself.
 */
function oneLineErrors(cmd: Command, path = "pi-server"): void {
  cmd.configureOutput({
    outputError: (str, write) => {
      const lines = str
        .replace(/^error: /, "")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "");
      let text = (lines[0] ?? "").replace(/ is invalid\. /, " is invalid: ");
      // The help named what the missing argument is and where to find one; keep that.
      const missing = /^missing required argument '(.+)'$/.exec(text)?.[1];
      const arg = cmd.registeredArguments.find((a) => a.name() === missing);
      if (arg?.description) text += `: ${arg.description}`;
      for (const l of lines.slice(1)) {
        const mean = /^\(Did you mean (.+)\?\)$/.exec(l);
        text += mean ? ` — did you mean '${mean[1]}'?` : ` ${l}`;
      }
      const what = text.startsWith("unknown command")
        ? "lists its commands"
        : text.startsWith("unknown option")
          ? "lists its options"
          : "shows its usage";
      write(`pi-server: ${text} (${path} --help ${what})\n`);
    },
  });
  for (const sub of cmd.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}

export async function run(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    // Messages can quote what the user typed or what a device sent.
    process.stderr.write(`pi-server: ${escapeControl((err as Error).message)}\n`);
    process.exitCode = 1;
  }
}
