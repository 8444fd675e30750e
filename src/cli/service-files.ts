import { homedir } from "node:os";
import { join } from "node:path";

/** What the service runs: the program, its arguments (up to `serve --data-dir <dir>`), and its PATH. */
export interface ServiceSpec {
  /** Absolute path of node (or of the standalone binary). */
  program: string;
  /** The script node runs (absent for the standalone binary). */
  script?: string;
  dataDir: string;
  /** PATH for the service: git and bwrap must be found, and a service manager's default PATH is minimal. */
  path: string;
  /** Where it starts: the home dir, which exists before the data dir does. */
  workingDirectory: string;
}

export const SYSTEMD_UNIT = "pi-server.service";
export const LAUNCHD_LABEL = "local.pi-server";

export function systemdUnitPath(home = homedir()): string {
  return join(home, ".config", "systemd", "user", SYSTEMD_UNIT);
}

export function launchdPlistPath(home = homedir()): string {
  return join(home, "Library", "LaunchAgents", `${LAUNCHD_LABEL}.plist`);
}

export function launchdLogDir(home = homedir()): string {
  return join(home, "Library", "Logs", "pi-server");
}

function argv(spec: ServiceSpec): string[] {
  return [spec.program, ...(spec.script ? [spec.script] : []), "serve", "--data-dir", spec.dataDir];
}

function noLineBreak(word: string): string {
  if (/[\n\r]/.test(word))
    throw new Error(`a service path cannot contain a line break: ${JSON.stringify(word)}`);
  return word;
}

/**
 * One word of a systemd command line or Environment= assignment: double-quoted, with `\` and `"`
 * escaped and `%` doubled (specifiers); on a command line `$` is doubled too (variable expansion),
 * so any path means itself.
 */
function systemdQuote(word: string, commandLine = true): string {
  let q = noLineBreak(word).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%");
  if (commandLine) q = q.replace(/\$/g, "$$$$");
  return `"${q}"`;
}

/** A systemd user unit: restarts on failure, its logs in the journal (journalctl --user -u pi-server). */
export function systemdUnit(spec: ServiceSpec): string {
  return [
    "[Unit]",
    "Description=pi-server: pi coding-agent sessions for remote clients",
    // Restarting forever on a broken config would only fill the journal: 5 tries in 2 minutes.
    "StartLimitIntervalSec=120",
    "StartLimitBurst=5",
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${argv(spec)
      .map((w) => systemdQuote(w))
      .join(" ")}`,
    // WorkingDirectory= takes the rest of the line unquoted; only specifiers need escaping.
    `WorkingDirectory=${noLineBreak(spec.workingDirectory).replace(/%/g, "%%")}`,
    `Environment=${systemdQuote(`PATH=${spec.path}`, false)}`,
    "Restart=on-failure",
    "RestartSec=5",
    // The server stops within 10 s of SIGTERM (docs/operations.md); then systemd may kill it.
    "TimeoutStopSec=20",
    "UMask=0077",
    "",
    "[Install]",
    "WantedBy=default.target",
    "",
  ].join("\n");
}

function xml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A launchd agent: started at login, started again when it exits with an error, logs in ~/Library/Logs. */
export function launchdPlist(spec: ServiceSpec, home = homedir()): string {
  const logs = launchdLogDir(home);
  const str = (s: string): string => `<string>${xml(s)}</string>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    `  <key>Label</key>${str(LAUNCHD_LABEL)}`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...argv(spec).map((a) => `    ${str(a)}`),
    "  </array>",
    `  <key>WorkingDirectory</key>${str(spec.workingDirectory)}`,
    "  <key>EnvironmentVariables</key>",
    "  <dict>",
    `    <key>PATH</key>${str(spec.path)}`,
    "  </dict>",
    "  <key>RunAtLoad</key><true/>",
    "  <key>KeepAlive</key>",
    "  <dict>",
    "    <key>SuccessfulExit</key><false/>",
    "  </dict>",
    "  <key>ThrottleInterval</key><integer>10</integer>",
    "  <key>ExitTimeOut</key><integer>20</integer>",
    // 0077: what the server writes is the user's alone.
    "  <key>Umask</key><integer>63</integer>",
    `  <key>StandardOutPath</key>${str(join(logs, "pi-server.out.log"))}`,
    `  <key>StandardErrorPath</key>${str(join(logs, "pi-server.err.log"))}`,
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}

function unXml(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&amp;/g, "&");
}

/** The data dir an installed service file names (what `status` reports), or undefined. */
export function serviceDataDir(text: string): string | undefined {
  const plist = /<string>--data-dir<\/string>\s*<string>([^<]*)<\/string>/.exec(text);
  if (plist) return unXml(plist[1] as string);
  const unit = /^ExecStart=.*?"--data-dir" "((?:[^"\\]|\\.)*)"/m.exec(text);
  if (!unit) return undefined;
  return (unit[1] as string).replace(/\$\$/g, "$").replace(/%%/g, "%").replace(/\\(.)/g, "$1");
}
