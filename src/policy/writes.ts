import { basename, isAbsolute, resolve } from "node:path";
import { physicalPath } from "./paths.js";
import type { Segment } from "./shell-analyze.js";
import { likely, type Word } from "./shell-words.js";

/**
 * Which operands of a command it reads and which it writes, from each command's own argument
 * grammar. A write is judged like pi's `write` tool on that path; a read like `read`.
 */

export type Access = "read" | "write";

export interface FileAccess {
  word: Word;
  access: Access;
  /** For copy-like commands: whether the word is one of the sources or the destination. */
  role?: "source" | "target";
}

/** Where a session may write without a question. */
export interface WriteScope {
  worktree: string;
  home: string;
  /** Registered repositories: the user's own checkouts, never scratch space. */
  repos: readonly string[];
}

interface Grammar {
  /** Short options followed by a value (`-t DIR`); also given glued (`-tDIR`). */
  short?: string;
  /** Long options followed by a value when written without `=`. */
  long?: string[];
  /** Short options whose value can only be glued (`sed -i.bak`): they end the word, never take the next. */
  glued?: string;
}

const CP: Grammar = { short: "tS", long: ["--target-directory", "--suffix"] };
const INSTALL: Grammar = {
  short: "tmogS",
  long: ["--target-directory", "--mode", "--owner", "--group", "--suffix", "--strip-program"],
};
const RSYNC: Grammar = {
  short: "efTBM",
  long: [
    "--rsh",
    "--rsync-path",
    "--exclude",
    "--include",
    "--filter",
    "--exclude-from",
    "--include-from",
    "--files-from",
    "--partial-dir",
    "--temp-dir",
    "--compare-dest",
    "--copy-dest",
    "--link-dest",
    "--backup-dir",
    "--suffix",
    "--chmod",
    "--chown",
    "--log-file",
    "--password-file",
    "--port",
    "--timeout",
    "--bwlimit",
    "--out-format",
    "--remote-option",
  ],
};
const TOUCH: Grammar = { short: "drt", long: ["--date", "--reference"] };
const TRUNCATE: Grammar = { short: "sr", long: ["--size", "--reference"] };
const SED: Grammar = { short: "efl", long: ["--expression", "--file", "--line-length"], glued: "i" };
const TEE: Grammar = {};

interface Parsed {
  /** Options as written, with their values. */
  opts: { name: string; value?: Word }[];
  operands: Word[];
}

/** Splits arguments into options (with their values) and operands, honouring `--`. */
function parse(args: Word[], g: Grammar): Parsed {
  const out: Parsed = { opts: [], operands: [] };
  for (let i = 0; i < args.length; i++) {
    const w = args[i] as Word;
    const a = likely(w);
    if (a === "--") {
      out.operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq !== -1) out.opts.push({ name: a.slice(0, eq), value: tail(w, eq + 1) });
      else if (g.long?.includes(a)) out.opts.push({ name: a, ...optValue(args[++i]) });
      else out.opts.push({ name: a });
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      // Combined short flags: the first that takes a value swallows the rest of the word or the next.
      for (let j = 1; j < a.length; j++) {
        const c = a[j] as string;
        if (g.glued?.includes(c)) {
          out.opts.push({ name: `-${c}` });
          break;
        }
        if (!g.short?.includes(c)) {
          out.opts.push({ name: `-${c}` });
          continue;
        }
        const glued = a.slice(j + 1);
        out.opts.push({ name: `-${c}`, ...(glued ? { value: tail(w, j + 1) } : optValue(args[++i])) });
        break;
      }
      continue;
    }
    out.operands.push(w);
  }
  return out;
}

const optValue = (w: Word | undefined): { value?: Word } => (w ? { value: w } : {});

function tail(w: Word, from: number): Word {
  const out: Word = { text: w.text.slice(from), glob: w.glob.slice(from), globbing: w.globbing };
  if (w.value !== undefined) out.value = w.value.slice(from);
  if (w.guess !== undefined) out.guess = w.guess.slice(from);
  return out;
}

const has = (p: Parsed, ...names: string[]): boolean => p.opts.some((o) => names.includes(o.name));
const optWord = (p: Parsed, ...names: string[]): Word | undefined =>
  p.opts.find((o) => names.includes(o.name) && o.value)?.value;

const reads = (ws: Word[]): FileAccess[] => ws.map((word) => ({ word, access: "read" }));
const writes = (ws: Word[]): FileAccess[] => ws.map((word) => ({ word, access: "write" }));

/** `cp`/`mv`/`install`/`rsync`: sources, then a target given by `-t` or as the last operand. */
function copyLike(p: Parsed, sourcesWritten: boolean): FileAccess[] {
  const dir = optWord(p, "-t", "--target-directory");
  const sources = dir ? p.operands : p.operands.slice(0, -1);
  const target = dir ?? p.operands.at(-1);
  const src = (sourcesWritten ? writes(sources) : reads(sources)).map((a) => ({
    ...a,
    role: "source" as const,
  }));
  const dest =
    target && (dir || p.operands.length > 1)
      ? [{ word: target, access: "write" as const, role: "target" as const }]
      : [];
  return [...src, ...dest];
}

/** `ln [-s] TARGET [LINK]`, `ln -t DIR TARGET…`: the link is written, its target is only named. */
function ln(p: Parsed): FileAccess[] {
  const dir = optWord(p, "-t", "--target-directory");
  if (dir) return writes([dir]);
  if (p.operands.length === 1) {
    const only = p.operands[0] as Word;
    const name = basename(likely(only));
    return name ? writes([{ value: name, glob: name, text: name, globbing: false }]) : [];
  }
  const link = p.operands.at(-1);
  return link ? writes([link]) : [];
}

function sed(p: Parsed): FileAccess[] {
  const inPlace = p.opts.some((o) => o.name === "-i" || o.name === "--in-place");
  const scripted = has(p, "-e", "--expression", "-f", "--file");
  const files = scripted ? p.operands : p.operands.slice(1);
  const scriptFiles = p.opts.filter((o) => (o.name === "-f" || o.name === "--file") && o.value);
  return [...reads(scriptFiles.map((o) => o.value as Word)), ...(inPlace ? writes(files) : reads(files))];
}

/**
 * The files a known command reads and writes, or undefined for commands without a grammar here.
 */
export function fileAccesses(seg: Segment): FileAccess[] | undefined {
  const cmd = seg.argv[0];
  const name = cmd?.value === undefined ? undefined : basename(cmd.value);
  const args = seg.argv.slice(1);
  switch (name) {
    case "cp":
      return copyLike(parse(args, CP), false);
    case "mv":
      return copyLike(parse(args, CP), true);
    case "install": {
      const p = parse(args, INSTALL);
      return has(p, "-d", "--directory") ? writes(p.operands) : copyLike(p, false);
    }
    case "rsync": {
      const p = parse(args, RSYNC);
      return copyLike(p, has(p, "--remove-source-files"));
    }
    case "ln":
      return ln(parse(args, CP));
    case "tee":
      return writes(parse(args, TEE).operands);
    case "touch":
    case "truncate": {
      const p = parse(args, name === "touch" ? TOUCH : TRUNCATE);
      const ref = optWord(p, "-r", "--reference");
      return [...(ref ? reads([ref]) : []), ...writes(p.operands)];
    }
    case "sed":
      return sed(parse(args, SED));
    case "dd":
      return args.flatMap((w): FileAccess[] => {
        const a = likely(w);
        if (a.startsWith("of=")) return [{ word: tail(w, 3), access: "write" }];
        if (a.startsWith("if=")) return [{ word: tail(w, 3), access: "read" }];
        return [];
      });
    default:
      return undefined;
  }
}

/** Output redirections: `>`, `>>`, `>|`, `&>`, `<>` write their target. */
export function redirectWrites(seg: Segment): Word[] {
  return seg.redirects.flatMap((r) => {
    if (r.op === "<" || r.op.startsWith("<<") || !r.target) return [];
    // `2>&1`, `>&-`: duplicating a descriptor writes no file.
    if (r.target.value !== undefined && /^&?\d*-?$/.test(r.target.value)) return [];
    return [r.target];
  });
}

const SCRATCH = /^\/(dev\/(null|stdout|stderr|tty|fd\/\d+)\/|tmp\/|var\/tmp\/)/;

function within(path: string, root: string): boolean {
  return path === root || path.startsWith(`${root}/`);
}

/**
 * True for a path outside the worktree that is not scratch space. /tmp and /var/tmp are scratch
 * only where they hold neither a registered repository nor the home directory: a checkout or a
 * home under /tmp is still someone's files.
 */
export function outsideWorktree(abs: string, scope: WriteScope): boolean {
  const real = physicalPath(abs);
  const root = physicalPath(scope.worktree);
  if (within(real, root)) return false;
  const forms = [...new Set([resolve(abs), real])];
  if (!forms.some((p) => SCRATCH.test(`${p}/`))) return true;
  const guarded = [scope.home, ...scope.repos].flatMap((p) => [resolve(p), physicalPath(p)]);
  return forms.some((p) => guarded.some((g) => within(p, g)));
}

/** Every absolute path a word may name, against every directory the command may run in. */
export function pathsOf(w: Word, cwds: string[] | undefined): string[] | undefined {
  // A glob with nothing decided at run time is judged by the directory it names (`src/*.ts`).
  const v = w.value ?? (w.guess === undefined && w.globbing ? w.glob : undefined);
  if (v === undefined) return undefined;
  if (isAbsolute(v)) return [v];
  if (!cwds) return undefined;
  return cwds.map((c) => resolve(c, v));
}
