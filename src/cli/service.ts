import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname } from "node:path";
import type { Command } from "commander";
import { writeFileAtomic } from "../store/atomic.js";
import { resolveDataDir } from "../store/paths.js";
import { CliError, DATA_DIR_OPTION, print } from "./context.js";
import {
  LAUNCHD_LABEL,
  launchdLogDir,
  launchdPlist,
  launchdPlistPath,
  serviceDataDir,
  type ServiceSpec,
  SYSTEMD_UNIT,
  systemdUnit,
  systemdUnitPath,
} from "./service-files.js";

interface ServiceOptions {
  dataDir?: string;
  print?: boolean;
  dryRun?: boolean;
  enable?: boolean;
}

type Manager = "systemd" | "launchd";

function manager(): Manager {
  if (process.platform === "linux") return "systemd";
  if (process.platform === "darwin") return "launchd";
  throw new CliError(
    `pi-server service supports Linux (systemd) and macOS (launchd), not ${process.platform}`,
  );
}

/** This very program: node and the script it runs, or the standalone binary alone. */
export function currentSpec(dataDir: string): ServiceSpec {
  const standalone = (globalThis as { __piServerStandalone?: boolean }).__piServerStandalone === true;
  const script = process.argv[1];
  if (!standalone && !script) throw new CliError("cannot tell which script is running; run bin/pi-server.js");
  return {
    program: realpathSync(process.execPath),
    ...(standalone ? {} : { script: realpathSync(script as string) }),
    dataDir,
    // Absolute entries only: a service has no working directory to resolve the others against.
    path: (process.env.PATH ?? "/usr/bin:/bin")
      .split(":")
      .filter((p) => p.startsWith("/"))
      .join(":"),
    workingDirectory: homedir(),
  };
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000 });
  if (r.error)
    return {
      ok: false,
      out: (r.error as NodeJS.ErrnoException).code === "ENOENT" ? `${cmd} not found` : r.error.message,
    };
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}`.trim() };
}

/** Why `systemctl --user` cannot talk to a user manager (in most containers, or over plain su), if it cannot. */
function systemdUserProblem(): string | undefined {
  const r = run("systemctl", ["--user", "show-environment"]);
  return r.ok ? undefined : r.out.split("\n")[0] || "systemctl --user failed";
}

function filePath(m: Manager): string {
  return m === "systemd" ? systemdUnitPath() : launchdPlistPath();
}

function render(m: Manager, spec: ServiceSpec): string {
  return m === "systemd" ? systemdUnit(spec) : launchdPlist(spec);
}

function enableCommand(m: Manager, file: string): string {
  return m === "systemd"
    ? `systemctl --user daemon-reload && systemctl --user enable --now ${SYSTEMD_UNIT}`
    : `launchctl bootstrap gui/${process.getuid?.()} ${file}`;
}

function install(o: ServiceOptions): void {
  const m = manager();
  const dataDir = resolveDataDir(o.dataDir);
  const file = filePath(m);
  const text = render(m, currentSpec(dataDir));
  if (o.print || o.dryRun) {
    print(`# ${file}${o.dryRun ? " (dry run: nothing written)" : ""}`);
    process.stdout.write(text);
    return;
  }
  const existed = existsSync(file);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, text);
  print(`${existed ? "replaced" : "wrote"} ${file} (data dir ${dataDir})`);
  if (m === "launchd") mkdirSync(launchdLogDir(), { recursive: true, mode: 0o700 });
  if (o.enable === false) {
    print(`not enabled (--no-enable); to enable and start it: ${enableCommand(m, file)}`);
    return;
  }
  if (m === "systemd") {
    const problem = systemdUserProblem();
    if (problem) {
      throw new CliError(
        `the service file is written but NOT enabled: systemctl --user cannot reach a user service manager (${problem}). ` +
          `This happens in containers and in shells reached without a login session (su, some ssh setups). ` +
          `From a real login session run: ${enableCommand(m, file)}`,
      );
    }
    for (const args of [["daemon-reload"], ["enable", "--now", SYSTEMD_UNIT]]) {
      const r = run("systemctl", ["--user", ...args]);
      if (!r.ok)
        throw new CliError(
          `the service file is written but systemctl --user ${args.join(" ")} failed: ${r.out}. Fix that and run: ${enableCommand(m, file)}`,
        );
    }
    print(`enabled and started; logs: journalctl --user -u ${SYSTEMD_UNIT} -f`);
    const linger = run("loginctl", ["show-user", String(process.getuid?.()), "--property=Linger"]);
    if (linger.ok && linger.out.includes("Linger=no"))
      print(
        `it stops when you log out; to keep it running: loginctl enable-linger ${process.env.USER ?? "$USER"}`,
      );
  } else {
    const domain = `gui/${process.getuid?.()}`;
    // A previous install may be loaded: bootstrap refuses a label that is already there.
    run("launchctl", ["bootout", `${domain}/${LAUNCHD_LABEL}`]);
    const r = run("launchctl", ["bootstrap", domain, file]);
    if (!r.ok)
      throw new CliError(
        `the agent file is written but launchctl bootstrap failed: ${r.out}. Retry with: ${enableCommand(m, file)}`,
      );
    print(`loaded and started; logs in ${launchdLogDir()}`);
  }
}

function uninstall(): void {
  const m = manager();
  const file = filePath(m);
  let note = "";
  if (m === "systemd") {
    const problem = systemdUserProblem();
    if (problem)
      note = ` (systemctl --user is not available: ${problem}; if it runs, stop it with systemctl --user disable --now ${SYSTEMD_UNIT})`;
    else run("systemctl", ["--user", "disable", "--now", SYSTEMD_UNIT]);
  } else run("launchctl", ["bootout", `gui/${process.getuid?.()}/${LAUNCHD_LABEL}`]);
  if (!existsSync(file)) {
    print(`nothing to remove: no service file at ${file}${note}`);
    return;
  }
  rmSync(file);
  if (m === "systemd" && !note) run("systemctl", ["--user", "daemon-reload"]);
  print(`removed ${file}${note}`);
}

function status(json: boolean): void {
  const m = manager();
  const file = filePath(m);
  const installed = existsSync(file);
  const dataDir = installed ? serviceDataDir(readFileSync(file, "utf8")) : undefined;
  let state: string;
  if (m === "systemd") {
    const problem = systemdUserProblem();
    state = problem
      ? `unknown: systemctl --user is not available (${problem})`
      : `${run("systemctl", ["--user", "is-enabled", SYSTEMD_UNIT]).out || "not-found"}, ${run("systemctl", ["--user", "is-active", SYSTEMD_UNIT]).out}`;
  } else {
    const r = run("launchctl", ["print", `gui/${process.getuid?.()}/${LAUNCHD_LABEL}`]);
    state = r.ok ? (/state = (\S+)/.exec(r.out)?.[1] ?? "loaded") : "not loaded";
  }
  const logs = m === "systemd" ? `journalctl --user -u ${SYSTEMD_UNIT}` : launchdLogDir();
  if (json) {
    print(JSON.stringify({ manager: m, file, installed, dataDir: dataDir ?? null, state, logs }, null, 2));
    return;
  }
  print(installed ? `${m}: ${file}` : `not installed (${file} does not exist)`);
  if (dataDir) print(`data dir: ${dataDir}`);
  print(`state: ${state}`);
  print(`logs: ${logs}`);
}

export function registerServiceCommands(program: Command): void {
  const service = program
    .command("service")
    .description("run pi-server as a user service: systemd on Linux, launchd on macOS");
  service
    .command("install")
    .description(
      `write and enable the service for a data dir (Linux: ~/.config/systemd/user/${SYSTEMD_UNIT})`,
    )
    .option(...DATA_DIR_OPTION)
    .option("--print", "print the service file instead of writing it")
    .option("--dry-run", "the same as --print")
    .option("--no-enable", "write the file but do not enable or start it")
    .action((o: ServiceOptions) => install(o));
  service
    .command("uninstall")
    .description("stop and disable the service and remove its file")
    .action(() => uninstall());
  service
    .command("status")
    .description("whether the service is installed and running, and where its logs are")
    .option("--json", "print JSON")
    .action((o: { json?: boolean }) => status(o.json === true));
}
