import { basename, isAbsolute } from "node:path";
import { expandGlob, type PathClass, PathGuard } from "./paths.js";
import { type Analysis, analyzeShell, type Segment } from "./shell-analyze.js";
import { codeOf } from "./interpreters.js";
import { globMatches, likely, type Word } from "./shell-words.js";
import { type Access, fileAccesses } from "./writes.js";
import {
  PRIVILEGED,
  SYSTEM_DIRS,
  BLOCK_DEVICE,
  SECRET_FILE,
  NO_FILE_ARGS,
  READ_ONLY,
  RECURSIVE_READERS,
  STRING_LITERAL,
  CODE_FORK_BOMB,
  type HardDeny,
} from "./builtin.js";

export interface HardDenyContext {
  cwd: string;
  worktree: string;
  dataDir: string;
  home: string;
  user?: string;
  isSecretName(name: string): boolean;
}

export interface BashCheck {
  deny?: HardDeny;
  analysis: Analysis;
  /** Things the check could not follow; the heuristics ask about them. */
  uncertain: string[];
}

const nameOf = (w: Word | undefined): string | undefined => {
  const v = w?.value ?? w?.guess;
  return v === undefined ? undefined : basename(v);
};

/** find's own words: what follows -exec up to `;` is a command of its own, judged as such. */
function withoutExecActions(words: Word[]): Word[] {
  const out: Word[] = [];
  let inExec = false;
  for (const w of words) {
    const v = likely(w);
    if (inExec) inExec = v !== ";" && v !== "+";
    else if (/^-(exec|execdir|ok|okdir)$/.test(v)) inExec = true;
    else out.push(w);
  }
  return out;
}

class BashChecker {
  readonly guard: PathGuard;
  readonly uncertain: string[] = [];
  private readonly critical: Set<string>;

  constructor(private readonly ctx: HardDenyContext) {
    this.guard = new PathGuard(ctx);
    const ancestors: string[] = [];
    for (let p = ctx.home; p !== "/" && p !== "."; p = p.slice(0, p.lastIndexOf("/")) || "/")
      ancestors.push(p);
    this.critical = new Set(["/", ...SYSTEM_DIRS.map((d) => `/${d}`), ...ancestors]);
  }

  check(analysis: Analysis): HardDeny | undefined {
    for (const seg of analysis.segments) {
      const deny =
        this.privilege(seg) ??
        this.forkBomb(seg) ??
        this.secrets(seg) ??
        this.paths(seg) ??
        this.destroy(seg) ??
        this.interpreter(seg);
      if (deny) return deny;
    }
    return undefined;
  }

  private privilege(seg: Segment): HardDeny | undefined {
    const cmd = seg.argv[0];
    if (!cmd) return undefined;
    const named = nameOf(cmd);
    let hit = named !== undefined && PRIVILEGED.includes(named) ? named : undefined;
    if (!hit && cmd.value === undefined) {
      const base = cmd.glob.slice(cmd.glob.lastIndexOf("/") + 1);
      if (base.replace(/[*?[\]!\\]/g, "") !== "") hit = PRIVILEGED.find((p) => globMatches(base, p));
    }
    if (!hit) return undefined;
    return { rule: "builtin:privilege-escalation", reason: `privilege escalation (${hit}) is never allowed` };
  }

  private forkBomb(seg: Segment): HardDeny | undefined {
    const name = seg.argv[0]?.value;
    if (name === undefined || !seg.functions.includes(name) || !(seg.inPipeline || seg.background))
      return undefined;
    return { rule: "builtin:fork-bomb", reason: `fork bomb: function ${name} spawns copies of itself` };
  }

  private secrets(seg: Segment): HardDeny | undefined {
    const named = seg.vars.find((v) => this.ctx.isSecretName(v));
    const printed =
      nameOf(seg.argv[0]) === "printenv"
        ? seg.argv.slice(1).find((w) => likely(w) !== "" && this.ctx.isSecretName(likely(w)))
        : undefined;
    const secret = named ?? (printed && likely(printed));
    if (secret === undefined) return undefined;
    return {
      rule: "builtin:secret-env",
      reason: `secret environment variable ${secret} may not be printed or used`,
    };
  }

  /** Resolves every word that could be a path against every directory the command may run in. */
  private candidates(w: Word, cwds: string[] | undefined, assignment = false): string[] {
    const raw: string[] = [];
    for (const v of [w.value, w.guess]) {
      if (v === undefined || v === "") continue;
      raw.push(v);
      const eq = v.indexOf("=");
      if (eq >= 0) raw.push(v.slice(eq + 1));
      if (v.startsWith("@")) raw.push(v.slice(1));
      if (v.startsWith("file://")) raw.push(v.slice(7));
      if (/^-[A-Za-z]./.test(v)) raw.push(v.slice(2));
      if (assignment) raw.push(...v.split(":"));
    }
    const out: string[] = [];
    const absolutes = (s: string): string[] => {
      if (s.startsWith("~/") || s === "~") return [this.ctx.home + s.slice(1)];
      if (isAbsolute(s)) return [s];
      if (!cwds) {
        if (s.includes("..") || s.includes("/"))
          this.uncertain.push(`relative path ${s} after a cd that could not be followed`);
        return [];
      }
      return cwds.map((c) => `${c}/${s}`);
    };
    for (const s of raw) out.push(...absolutes(s));
    const dynamic = w.value === undefined && w.guess !== undefined;
    if (dynamic) {
      // `/proc/$PPID/environ` is caught by its shape; `/x/$Y/state.db` by what exists on disk.
      out.push(...absolutes(w.glob));
      if (SECRET_FILE.test(w.glob))
        this.uncertain.push(`${w.text} may name a file of the server's data directory`);
    }
    if (w.globbing || (dynamic && w.glob.includes("/"))) {
      for (const base of absolutes(w.glob)) {
        const { matches, truncated } = expandGlob(base);
        if (truncated) this.uncertain.push(`the pattern ${w.text} matches too many files to check`);
        out.push(...matches);
      }
    }
    return out;
  }

  private paths(seg: Segment): HardDeny | undefined {
    const name = nameOf(seg.argv[0]);
    const access: "read" | "write" =
      name !== undefined &&
      READ_ONLY.has(name) &&
      !(name === "sed" && seg.argv.some((w) => /^-\w*i/.test(likely(w))))
        ? "read"
        : "write";
    // echo and friends never open their arguments: `echo ../state.db` only prints a name.
    const words =
      name !== undefined && NO_FILE_ARGS.has(name)
        ? seg.words.slice(0, seg.words.length - seg.argv.length)
        : name === "find"
          ? withoutExecActions(seg.words)
          : seg.words;
    // Commands with a known grammar read their sources and write their targets (`cp skills/x .`).
    const known = new Map<Word, Access>((fileAccesses(seg) ?? []).map((a) => [a.word, a.access]));
    const checks: { word: Word; access: Access; assignment?: boolean }[] = [
      ...words.map((word) => ({ word, access: known.get(word) ?? access })),
      ...seg.assigns.map((a) => ({ word: a.value, access, assignment: true })),
      ...seg.redirects.flatMap((r) =>
        r.target ? [{ word: r.target, access: r.op === "<" ? ("read" as const) : ("write" as const) }] : [],
      ),
    ];
    for (const c of checks.slice(0, 500)) {
      for (const abs of this.candidates(c.word, seg.cwds, c.assignment)) {
        const cls = this.guard.classify(abs);
        const deny = this.pathDeny(cls, c.access, c.word.text);
        if (deny) return deny;
      }
    }
    if (checks.length > 500) this.uncertain.push("too many arguments to check");
    if (name && RECURSIVE_READERS.has(name)) {
      const operands = seg.argv.slice(1).filter((w) => !likely(w).startsWith("-"));
      const targets =
        operands.length > 0 ? operands : [{ value: ".", glob: ".", text: ".", globbing: false }];
      for (const w of targets)
        for (const abs of this.candidates(w, seg.cwds))
          if (this.guard.containsDataDir(abs))
            return {
              rule: "builtin:server-data-dir",
              reason: `${name} over ${w.text} would read the server's data directory`,
            };
    }
    return undefined;
  }

  private pathDeny(
    cls: PathClass | undefined,
    access: "read" | "write",
    shown: string,
  ): HardDeny | undefined {
    if (cls === "proc-environ")
      return {
        rule: "builtin:secret-env",
        reason: `${shown} holds a process's environment, secrets included`,
      };
    if (cls === "data-dir" || (cls === "skills" && access === "write"))
      return { rule: "builtin:server-data-dir", reason: `${shown} is inside the server's data directory` };
    return undefined;
  }

  private isCritical(abs: string): boolean {
    return this.guard.forms(abs).some((p) => this.critical.has(p.replace(/\/+$/, "") || "/"));
  }

  /** A target whose removal destroys the system or the home directory. */
  private destroys(w: Word, cwds: string[] | undefined): boolean {
    const values = [w.value, w.guess].filter((v): v is string => v !== undefined && v !== "");
    const abs = (s: string): string[] => (isAbsolute(s) ? [s] : (cwds ?? []).map((c) => `${c}/${s}`));
    if (values.some((v) => abs(v).some((a) => this.isCritical(a)))) return true;
    if (!w.globbing) return false;
    for (const pattern of abs(w.glob)) {
      const comps = pattern.split("/");
      const first = comps.findIndex((c) => /(^|[^\\])[*?[]/.test(c));
      const base = comps.slice(0, first).join("/") || "/";
      const broad = (comps[first] ?? "").replace(/[*?[\]!^.\\-]/g, "") === "";
      if (this.guard.forms(base).some((b) => b === "/" || (broad && this.critical.has(b)))) return true;
    }
    return false;
  }

  private destroy(seg: Segment): HardDeny | undefined {
    const name = nameOf(seg.argv[0]);
    const args = seg.argv.slice(1);
    const dashDash = args.findIndex((w) => w.value === "--");
    const opts = (dashDash === -1 ? args : args.slice(0, dashDash)).filter((w) => /^-/.test(likely(w)));
    const operands = args.filter((w, i) => (dashDash !== -1 && i > dashDash) || !/^-/.test(likely(w)));
    const recursive = opts.some((w) => /^-[A-Za-z]*[rR]/.test(likely(w)) || likely(w) === "--recursive");
    const deny = (what: string): HardDeny => ({
      rule: "builtin:destroy-root-or-home",
      reason: `${what} would destroy the filesystem root or the home directory`,
    });
    const dataDeny = (w: Word): HardDeny => ({
      rule: "builtin:server-data-dir",
      reason: `${name} ${w.text} would remove or change the server's data directory`,
    });
    let targets: Word[] = [];
    if (name === "rm" && recursive) targets = operands;
    else if ((name === "chmod" || name === "chown" || name === "chgrp") && recursive)
      targets = operands.slice(1);
    else if (name === "mv")
      targets = (fileAccesses(seg) ?? []).filter((a) => a.role === "source").map((a) => a.word);
    else if (name === "shred" || name === "rsync") targets = operands;
    else if (name === "find" && seg.argv.some((w) => ["-delete", "-exec", "-execdir"].includes(likely(w))))
      targets = args.slice(
        0,
        Math.max(
          0,
          args.findIndex((w) => /^[-(!]/.test(likely(w))),
        ),
      );
    for (const w of targets) {
      if (this.destroys(w, seg.cwds)) return deny(`${name} ${w.text}`);
      if (name !== "rsync" && this.candidates(w, seg.cwds).some((a) => this.guard.containsDataDir(a)))
        return dataDeny(w);
    }
    if (
      name &&
      /^(mkfs(\..*)?|mke2fs|wipefs|shred)$/.test(name) &&
      operands.some((w) => BLOCK_DEVICE.test(likely(w)))
    )
      return deny(`${name} on a block device`);
    if (name === "dd" && args.some((w) => /^of=/.test(likely(w)) && BLOCK_DEVICE.test(likely(w).slice(3))))
      return deny("dd onto a block device");
    const onto = seg.redirects.find(
      (r) => r.op !== "<" && r.op !== "<<" && r.op !== "<<<" && BLOCK_DEVICE.test(likely(r.target)),
    );
    if (onto) return deny(`writing to ${onto.target?.text}`);
    return undefined;
  }

  /**
   * Interpreter code: fork loops, and string literals that name data-dir paths. Shell strings handed
   * to exec calls are commands of the line already (the analyzer reads them), checked as such.
   */
  private interpreter(seg: Segment): HardDeny | undefined {
    const name = nameOf(seg.argv[0]);
    for (const code of codeOf(seg.argv)) {
      if (CODE_FORK_BOMB.some((re) => re.test(code)))
        return { rule: "builtin:fork-bomb", reason: `fork bomb in ${name} code` };
      for (const m of code.matchAll(STRING_LITERAL)) {
        const s = m[2] ?? "";
        if (!s.includes("/") && !s.startsWith("~")) continue;
        const abs = s.startsWith("~")
          ? this.ctx.home + s.slice(1)
          : isAbsolute(s)
            ? s
            : `${this.ctx.cwd}/${s}`;
        const deny = this.pathDeny(this.guard.classify(abs), "write", s);
        if (deny) return deny;
      }
    }
    return undefined;
  }
}

export function checkBash(command: string, ctx: HardDenyContext): BashCheck {
  const analysis = analyzeShell(command, {
    cwd: ctx.cwd,
    home: ctx.home,
    ...(ctx.user && { user: ctx.user }),
  });
  const checker = new BashChecker(ctx);
  const deny = checker.check(analysis);
  return { ...(deny && { deny }), analysis, uncertain: [...new Set(checker.uncertain)] };
}

/** The hard-deny verdict for a file tool's path (`read`, `write`, `edit`, `ls`, `grep`, `find`). */
export function checkPath(
  path: string,
  access: "read" | "write",
  ctx: HardDenyContext,
): HardDeny | undefined {
  const guard = new PathGuard(ctx);
  const cls = guard.classify(path);
  if (cls === "proc-environ")
    return { rule: "builtin:secret-env", reason: `${path} holds a process's environment, secrets included` };
  if (cls === "data-dir" || (cls === "skills" && access === "write"))
    return { rule: "builtin:server-data-dir", reason: `${path} is inside the server's data directory` };
  return undefined;
}
