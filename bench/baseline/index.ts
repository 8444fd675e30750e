import { type ChildProcess, fork } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { stopChild, ROOT } from "../lib/server-proc.js";
import type { BaselineReply, BaselineRequest, ResultOf } from "./protocol.js";

/** The raw-SDK child, driven over IPC; its pid is for reading CPU and RSS from /proc. */
export interface Baseline {
  pid: number;
  call<C extends BaselineRequest["cmd"]>(req: Extract<BaselineRequest, { cmd: C }>): Promise<ResultOf[C]>;
  stop(): Promise<void>;
}

/** The child's modules: everything it imports from bench/ at run time. */
const CHILD_SOURCES = ["bench/baseline/child.ts", "bench/lib/common.ts", "bench/lib/workload.ts"];

/**
 * Plain JS for the child. Under tsx it would carry tsx's loader thread (about 70 MB of RSS on this
 * machine) and the baseline's memory would not be comparable with the built server's. Written under
 * node_modules/ so that the child resolves the pi SDK from the project, as the server does.
 */
function compileChild(): string {
  const out = join(ROOT, "node_modules/.cache/pi-server-bench");
  for (const src of CHILD_SOURCES) {
    const { outputText } = ts.transpileModule(readFileSync(join(ROOT, src), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    const file = join(out, src.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, outputText);
  }
  writeFileSync(join(out, "package.json"), JSON.stringify({ type: "module" }));
  return join(out, "bench/baseline/child.js");
}

export async function startBaseline(dataDir: string): Promise<Baseline> {
  const child: ChildProcess = fork(compileChild(), [], {
    cwd: ROOT,
    // fork() would pass on this process's flags, tsx's loader among them.
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("baseline child has no pid");
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on("message", (msg: BaselineReply) => {
    const p = pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`baseline: ${msg.error}`));
  });
  child.once("exit", (code) => {
    for (const p of pending.values()) p.reject(new Error(`baseline child exited (${code})`));
    pending.clear();
  });
  const baseline: Baseline = {
    pid,
    call(req) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ id, req });
      });
    },
    async stop() {
      await stopChild(child);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  await baseline.call({ cmd: "init", dataDir });
  return baseline;
}
