import { existsSync } from "node:fs";
import type { Command } from "commander";
import dotenv from "dotenv";
import { diagnosePi, type PiDiagnosis } from "../sessions/pi-diagnostics.js";
import { dataPaths, resolveDataDir } from "../store/paths.js";
import { SERVER_VERSION } from "../server.js";
import { DATA_DIR_OPTION, print } from "./context.js";
import {
  checkApns,
  checkConfig,
  checkDisk,
  checkGit,
  checkLock,
  checkModels,
  runningServer,
  checkNode,
  checkPermissions,
  checkPort,
  checkProviders,
  checkSandbox,
  checkTls,
  type CheckResult,
} from "./doctor-checks.js";
import { escapeControl } from "./terminal.js";

/** Every check, in the order a user fixes things. Nothing is changed on disk or in the config. */
export async function runDoctor(dataDir: string): Promise<CheckResult[]> {
  const paths = dataPaths(dataDir);
  const results: CheckResult[] = [
    checkNode(),
    { name: "pi-server", status: "ok", message: `pi-server ${SERVER_VERSION}` },
  ];
  results.push(await checkGit());
  if (!existsSync(paths.root)) {
    results.push(await checkSandbox(undefined));
    results.push({
      name: "data dir",
      status: "fail",
      message: `no data dir at ${paths.root}`,
      fix: "pi-server init (or start the server once), or pass the right --data-dir",
    });
    return results;
  }
  const { result: configResult, config } = checkConfig(paths);
  results.push(await checkSandbox(config));
  results.push({ name: "data dir", status: "ok", message: paths.root });
  results.push(checkPermissions(paths));
  results.push(configResult);
  // The server reads provider keys from .env too; variables already set win, as there.
  dotenv.config({ path: paths.env, quiet: true });
  let pi: PiDiagnosis | Error;
  try {
    pi = await diagnosePi(paths);
    results.push({ name: "pi", status: "ok", message: `pi SDK ${pi.version}` });
  } catch (err) {
    pi = err as Error;
  }
  results.push(checkModels(paths, pi));
  results.push(...checkProviders(pi, config, runningServer(paths)?.demo === true));
  results.push(checkLock(paths));
  results.push(await checkPort(paths, config));
  results.push(checkTls(paths, config));
  results.push(checkApns(paths, config));
  results.push(checkDisk(paths));
  return results;
}

const LABEL = { ok: "ok  ", warn: "warn", fail: "FAIL" } as const;

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("check that this machine and data dir can run pi-server, and say how to fix what cannot")
    .option("--json", "print JSON")
    .option(...DATA_DIR_OPTION)
    .action(async (o: { json?: boolean; dataDir?: string }) => {
      const results = await runDoctor(resolveDataDir(o.dataDir));
      const failed = results.filter((r) => r.status === "fail").length;
      const warned = results.filter((r) => r.status === "warn").length;
      if (o.json) print(JSON.stringify({ ok: failed === 0, checks: results }, null, 2));
      else {
        const width = Math.max(...results.map((r) => r.name.length));
        for (const r of results) {
          print(`${LABEL[r.status]}  ${r.name.padEnd(width)}  ${escapeControl(r.message)}`);
          if (r.fix) print(`      ${" ".repeat(width)}  fix: ${escapeControl(r.fix)}`);
        }
        print(
          failed > 0
            ? `${plural(failed, "check")} failed${warned ? `, ${plural(warned, "warning")}` : ""}`
            : `all checks passed${warned ? ` (${plural(warned, "warning")})` : ""}`,
        );
      }
      if (failed > 0) process.exitCode = 1;
    });
}

/** "1 warning", "2 warnings". */
function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
