import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { currentSpec } from "../src/cli/service.js";
import { launchdPlist, serviceDataDir, systemdUnit, type ServiceSpec } from "../src/cli/service-files.js";
import { tmp } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));

const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const ANALYZE_MISSING =
  "systemd-analyze is not installed: the unit's content is checked, not systemd's verdict";
if (!hasAnalyze) console.warn(`service.test: ${ANALYZE_MISSING}`);
/** A user manager that would really enable the unit: the test must not touch one. */
const hasUserManager = spawnSync("systemctl", ["--user", "show-environment"]).status === 0;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(home: string, args: string[]): Promise<Run> {
  return promisify(execFile)(process.execPath, [BIN, ...args], {
    env: { ...process.env, HOME: home, PI_SERVER_DATA_DIR: "" },
  }).then(
    (x) => ({ code: 0, stdout: x.stdout, stderr: x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({
      code: e.code,
      stdout: e.stdout,
      stderr: e.stderr,
    }),
  );
}

function verify(file: string): { ok: boolean; out: string } {
  const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
}

const unitPath = (home: string): string => join(home, ".config", "systemd", "user", "pi-server.service");

describe.runIf(process.platform === "linux")("service on Linux (systemd user unit)", () => {
  it("install --no-enable writes a unit systemd accepts, naming the data dir and restart policy", async () => {
    const home = tmp("svc-home");
    const dataDir = join(tmp("svc-data"), "my data %1 $HOME");
    const r = await cli(home, ["service", "install", "--no-enable", "--data-dir", dataDir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("not enabled");
    expect(r.stdout).toContain("systemctl --user enable --now pi-server.service");
    const file = unitPath(home);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const text = readFileSync(file, "utf8");
    const lines = text.split("\n");
    const node = realpathSync(process.execPath);
    const script = realpathSync(BIN);
    expect(lines).toContain(
      `ExecStart="${node}" "${script}" "serve" "--data-dir" "${dataDir.replace("%", "%%").replace("$", () => "$$")}"`,
    );
    expect(lines).toContain("Restart=on-failure");
    expect(lines).toContain(`WorkingDirectory=${home}`);
    expect(lines).toContain("WantedBy=default.target");
    expect(lines.find((l) => l.startsWith('Environment="PATH=/'))).toBeDefined();
    expect(serviceDataDir(text)).toBe(dataDir);

    const status = await cli(home, ["service", "status", "--json"]);
    const s = JSON.parse(status.stdout) as {
      installed: boolean;
      dataDir: string;
      file: string;
      state: string;
    };
    expect(s).toMatchObject({ installed: true, dataDir, file });
    if (!hasUserManager) expect(s.state).toContain("systemctl --user is not available");
  });

  it.skipIf(!hasAnalyze)(
    `systemd-analyze verify accepts the unit and rejects a broken ExecStart`,
    async () => {
      const home = tmp("svc-home");
      const r = await cli(home, ["service", "install", "--no-enable", "--data-dir", join(home, 'd "q" \\b')]);
      expect(r.code, r.stderr).toBe(0);
      const good = verify(unitPath(home));
      expect(good.ok, good.out).toBe(true);
      // The check is not vacuous: the same unit pointing at a missing program fails.
      const bad = join(tmp("svc-bad"), "pi-server.service");
      const node = realpathSync(process.execPath);
      writeFileSync(bad, readFileSync(unitPath(home), "utf8").replace(`"${node}"`, `"${node}-missing"`));
      const v = verify(bad);
      expect(v.ok).toBe(false);
      expect(v.out).toContain("-missing");
    },
  );

  it.skipIf(hasUserManager)(
    "install without a user manager writes the file and says enabling was not done",
    async () => {
      const home = tmp("svc-home");
      const r = await cli(home, ["service", "install", "--data-dir", join(home, "data")]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("written but NOT enabled");
      expect(r.stderr).toContain(
        "systemctl --user daemon-reload && systemctl --user enable --now pi-server.service",
      );
      expect(existsSync(unitPath(home))).toBe(true);
    },
  );

  it("--print and --dry-run write nothing", async () => {
    const home = tmp("svc-home");
    for (const flag of ["--print", "--dry-run"]) {
      const r = await cli(home, ["service", "install", flag, "--data-dir", "/srv/pi data"]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`# ${unitPath(home)}`);
      expect(r.stdout).toContain('"--data-dir" "/srv/pi data"');
      expect(r.stdout).toContain("Restart=on-failure");
    }
    expect(existsSync(join(home, ".config"))).toBe(false);
  });

  it("uninstall removes the unit, and says so when there is none", async () => {
    const home = tmp("svc-home");
    expect((await cli(home, ["service", "install", "--no-enable"])).code).toBe(0);
    expect(existsSync(unitPath(home))).toBe(true);
    const r = await cli(home, ["service", "uninstall"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`removed ${unitPath(home)}`);
    expect(existsSync(unitPath(home))).toBe(false);
    const again = await cli(home, ["service", "uninstall"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("nothing to remove");
    const status = await cli(home, ["service", "status"]);
    expect(status.stdout).toContain("not installed");
  });

  it("bad flags and commands get clear errors", async () => {
    const home = tmp("svc-home");
    const bogus = await cli(home, ["service", "install", "--bogus"]);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toContain("unknown option '--bogus'");
    const missing = await cli(home, ["service", "install", "--data-dir"]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("argument missing");
    const cmd = await cli(home, ["service", "frob"]);
    expect(cmd.code).not.toBe(0);
    expect(cmd.stderr).toContain("unknown command 'frob'");
    const nl = await cli(home, ["service", "install", "--print", "--data-dir", "/tmp/a\nb"]);
    expect(nl.code).not.toBe(0);
    expect(nl.stderr).toContain("cannot contain a line break");
    expect(existsSync(join(home, ".config"))).toBe(false);
  });
});

describe("service files", () => {
  const g = globalThis as { __piServerStandalone?: boolean };
  afterEach(() => {
    delete g.__piServerStandalone;
  });

  it("the standalone binary runs itself, with no script", () => {
    g.__piServerStandalone = true;
    const spec = currentSpec("/srv/pi");
    expect(spec.program).toBe(realpathSync(process.execPath));
    expect(spec.script).toBeUndefined();
    expect(systemdUnit(spec)).toContain(`ExecStart="${spec.program}" "serve" "--data-dir" "/srv/pi"\n`);
  });

  it("the launchd plist parses with the keys launchd needs", async () => {
    const home = tmp("svc-mac");
    mkdirSync(home, { recursive: true });
    const spec: ServiceSpec = {
      program: "/usr/local/bin/node",
      script: "/opt/pi-server/bin/pi-server.js",
      dataDir: '/Users/me/pi <&> "data"',
      path: "/usr/local/bin:/usr/bin:/bin",
      workingDirectory: home,
    };
    const text = launchdPlist(spec, home);
    const file = join(home, "agent.plist");
    writeFileSync(file, text);
    const { stdout } = await promisify(execFile)("python3", [
      "-c",
      "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))",
      file,
    ]);
    const p = JSON.parse(stdout) as Record<string, unknown>;
    expect(p).toEqual({
      Label: "local.pi-server",
      ProgramArguments: [spec.program, spec.script, "serve", "--data-dir", spec.dataDir],
      WorkingDirectory: home,
      EnvironmentVariables: { PATH: spec.path },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 10,
      ExitTimeOut: 20,
      Umask: 0o077,
      StandardOutPath: join(home, "Library", "Logs", "pi-server", "pi-server.out.log"),
      StandardErrorPath: join(home, "Library", "Logs", "pi-server", "pi-server.err.log"),
    });
    expect(serviceDataDir(text)).toBe(spec.dataDir);
  });
});
