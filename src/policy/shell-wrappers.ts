import { basename } from "node:path";
import { literalWord, type Word } from "./shell-words.js";

/**
 * Commands that run another command given as their arguments. The policy judges the command they
 * run, so `timeout 5 env -i nice sudo id` is judged as `sudo id`.
 */
interface WrapperSpec {
  /** Options followed by a separate value. */
  withArg?: string[];
  /** Operands between the options and the command (`timeout DURATION`, `chroot DIR`). */
  positional?: number;
  /** Options that mean "do not run a command" (`command -v`). */
  notWhen?: string[];
  /** Option whose value is a shell command string (`flock -c`, `sg -c`). */
  scriptOpt?: string;
  /** Without scriptOpt the command does not run anything (`script` without `-c`). */
  requireScript?: boolean;
}

const TRACE_OPTS = ["-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-P", "-S", "-X", "-n"];

const WRAPPERS: Record<string, WrapperSpec> = {
  command: { notWhen: ["-v", "-V"] },
  builtin: {},
  exec: { withArg: ["-a"] },
  nohup: {},
  time: { withArg: ["-f", "-o", "--format", "--output"] },
  nice: { withArg: ["-n", "--adjustment"] },
  ionice: {
    withArg: ["-c", "-n", "--class", "--classdata"],
    notWhen: ["-p", "-P", "-u", "--pid", "--pgid", "--uid"],
  },
  timeout: { withArg: ["-s", "-k", "--signal", "--kill-after"], positional: 1 },
  stdbuf: { withArg: ["-i", "-o", "-e", "--input", "--output", "--error"] },
  chrt: { withArg: ["-T", "-P", "-D"], positional: 1, notWhen: ["-p", "--pid"] },
  taskset: { positional: 1, notWhen: ["-p", "--pid"] },
  setsid: {},
  unbuffer: {},
  torsocks: {},
  catchsegv: {},
  proxychains: { withArg: ["-f"] },
  proxychains4: { withArg: ["-f"] },
  sshpass: { withArg: ["-p", "-f", "-d", "-e", "-P"] },
  xargs: {
    withArg: [
      "-a",
      "-d",
      "-E",
      "-I",
      "-L",
      "-n",
      "-P",
      "-s",
      "--arg-file",
      "--delimiter",
      "--eof",
      "--replace",
      "--max-lines",
      "--max-args",
      "--max-procs",
      "--max-chars",
      "--process-slot-var",
    ],
  },
  strace: { withArg: TRACE_OPTS },
  ltrace: { withArg: TRACE_OPTS },
  chroot: { withArg: ["--userspec", "--groups"], positional: 1 },
  busybox: {},
  toybox: {},
  flock: { withArg: ["-w", "--timeout", "-E", "--conflict-exit-code"], positional: 1, scriptOpt: "-c" },
  sg: { positional: 1, scriptOpt: "-c" },
  script: {
    withArg: ["-t", "-T", "-I", "-O", "-B", "-E", "-m", "--log-in", "--log-out", "--log-io", "--log-timing"],
    scriptOpt: "-c",
    requireScript: true,
  },
};

/** Commands whose remaining words are joined and run as a shell command string. */
const JOINERS = new Set(["eval", "watch"]);
const WATCH_OPTS = ["-n", "--interval", "-q", "--equexit"];
const EXEC_ACTIONS = new Set(["-exec", "-execdir", "-ok", "-okdir"]);

export interface Unwrapped {
  argv: Word[];
  wrappers: string[];
  /** `env NAME=value cmd` assignments. */
  assigns: { name: string; value: Word }[];
  /** `env -C dir`. */
  chdir?: Word;
  /** A shell command string the command runs (`eval`, `watch`, `env -S`, `flock -c`); null if unknown. */
  script?: string | null;
  /** Commands it runs with their own argv (`find -exec`). */
  subcommands: { argv: Word[]; via: string }[];
}

const joined = (ws: Word[]): string | null =>
  ws.some((w) => w.value === undefined) ? null : ws.map((w) => w.value).join(" ");

function nameOf(w: Word | undefined): string | undefined {
  return w?.value === undefined ? undefined : basename(w.value);
}

/** Peels one generic wrapper; undefined when these words do not run a command through it. */
function peel(spec: WrapperSpec, args: Word[]): { rest: Word[]; script?: string | null } | undefined {
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]?.value;
    if (a === undefined) break;
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (spec.notWhen?.some((o) => a === o || a.startsWith(`${o}=`))) return undefined;
    if (spec.scriptOpt && a === spec.scriptOpt) return { rest: [], script: args[i + 1]?.value ?? null };
    if (spec.withArg?.includes(a)) i++;
  }
  i += spec.positional ?? 0;
  if (spec.scriptOpt && args[i]?.value === spec.scriptOpt)
    return { rest: [], script: args[i + 1]?.value ?? null };
  if (spec.requireScript) return undefined;
  return { rest: args.slice(i) };
}

function peelEnv(args: Word[], out: Unwrapped): Word[] | undefined {
  let i = 0;
  for (; i < args.length; i++) {
    const w = args[i] as Word;
    const a = w.value;
    if (a === undefined) break;
    if (a === "--") return args.slice(i + 1);
    const eq = a.indexOf("=");
    if (!a.startsWith("-")) {
      if (eq > 0 && /^[A-Za-z_]\w*$/.test(a.slice(0, eq))) {
        out.assigns.push({ name: a.slice(0, eq), value: literalWord(a.slice(eq + 1)) });
        continue;
      }
      break;
    }
    const split =
      a === "-S" || a === "--split-string" ? args[++i]?.value : /^(?:-S|--split-string=)(.+)$/.exec(a)?.[1];
    if (split !== undefined || a === "-S" || a === "--split-string") {
      const rest = joined(args.slice(i + 1));
      out.script = split === undefined || rest === null ? null : `${split} ${rest}`;
      return undefined;
    }
    if (a === "-C" || a === "--chdir") {
      const dir = args[++i];
      if (dir) out.chdir = dir;
      continue;
    }
    const chdir = /^(?:-C|--chdir=)(.+)$/.exec(a)?.[1];
    if (chdir !== undefined) out.chdir = literalWord(chdir);
    else if (a === "-u" || a === "--unset") i++;
  }
  return args.slice(i);
}

/** Peels wrappers off a command; `argv` is what finally runs. */
export function unwrap(words: Word[]): Unwrapped {
  const out: Unwrapped = { argv: words, wrappers: [], assigns: [], subcommands: [] };
  for (let guard = 0; guard < 16; guard++) {
    const name = nameOf(out.argv[0]);
    if (name === undefined) break;
    const args = out.argv.slice(1);
    if (name === "env") {
      const rest = peelEnv(args, out);
      if (rest === undefined) return out;
      out.wrappers.push("env");
      out.argv = rest;
      continue;
    }
    if (JOINERS.has(name)) {
      let i = 0;
      if (name === "watch") {
        while (i < args.length && (args[i]?.value ?? "").startsWith("-")) {
          if (WATCH_OPTS.includes(args[i]?.value ?? "")) i++;
          i++;
        }
      }
      out.script = joined(args.slice(i));
      return out;
    }
    if (name === "find") {
      for (let i = 1; i < out.argv.length; i++) {
        const action = out.argv[i]?.value;
        if (!action || !EXEC_ACTIONS.has(action)) continue;
        let j = i + 1;
        while (j < out.argv.length && out.argv[j]?.value !== ";" && out.argv[j]?.value !== "+") j++;
        out.subcommands.push({ argv: out.argv.slice(i + 1, j), via: `find ${action}` });
        i = j;
      }
      return out;
    }
    const spec = WRAPPERS[name];
    if (!spec) break;
    const peeled = peel(spec, args);
    if (!peeled) break;
    if (peeled.script !== undefined) {
      out.script = peeled.script;
      return out;
    }
    out.wrappers.push(name);
    out.argv = peeled.rest;
  }
  return out;
}
