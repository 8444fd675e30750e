import { basename, resolve } from "node:path";
import { parseShell, type Command, type Part, type RawWord, type Script } from "./shell-parse.js";
import { type Atom, braceAtoms, literalWord, splitFields, toWord, type Word } from "./shell-words.js";
import { unwrap } from "./shell-wrappers.js";
import { codeOf, embeddedCommands } from "./interpreters.js";

/** One command bash would run, after expansion and with wrappers (`env`, `timeout`, …) peeled off. */
export interface Segment {
  /** The command and its arguments; empty for a bare redirection like `> file`. */
  argv: Word[];
  /** Every word as written (expanded), wrappers and assignments included. */
  words: Word[];
  assigns: { name: string; value: Word }[];
  redirects: { op: string; target?: Word; body?: string }[];
  /** argv as text: what rules and summaries match. */
  text: string;
  /** words as text, wrappers included. */
  fullText: string;
  /** How the command was reached: `$(…)`, `bash -c`, `eval`, `find -exec`, wrapper names. */
  via: string[];
  pipedFrom?: Segment;
  inPipeline: boolean;
  background: boolean;
  /** Functions whose body contains the command. */
  functions: string[];
  /** Variables the command's words refer to. */
  vars: string[];
  /** Directories it may run in; undefined when a `cd` could not be followed. */
  cwds: string[] | undefined;
  /** For shells: where their script comes from. */
  shellInput?: "string" | "dynamic" | "stdin" | "file";
}

export interface ShellContext {
  cwd: string;
  home: string;
  user?: string;
}

export interface Analysis {
  segments: Segment[];
  issues: string[];
}

interface State {
  /** Known values; null for variables set to something only known at run time. */
  vars: Map<string, string | null>;
  /** Plausible values of run-time variables (from `${x:-default}`), for guessing obfuscations. */
  guesses: Map<string, string>;
  cwds: string[] | undefined;
  aliases: Map<string, string>;
}

const SHELLS = new Set(["bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "posh", "rbash", "fish"]);
const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*(\[[^\]]*\])?\+?=/;
const DECLARERS = new Set(["export", "declare", "typeset", "local", "readonly"]);
const READERS = new Set(["read", "mapfile", "readarray", "getopts"]);
const MAX_SEGMENTS = 2000;
const MAX_NESTING = 16;

function isAssignment(w: RawWord): boolean {
  const first = w.parts[0];
  return first?.kind === "lit" && !first.quoted && ASSIGNMENT.test(first.text);
}

const wordsText = (ws: Word[]): string => ws.map((w) => w.text).join(" ");

class Analyzer {
  readonly segments: Segment[] = [];

  constructor(
    private readonly ctx: ShellContext,
    readonly issues: string[],
  ) {}

  script(script: Script, st: State, via: string[]): void {
    if (via.length > MAX_NESTING) {
      this.issues.push("commands nested too deeply to follow");
      return;
    }
    const bySource = new Map<Command, Segment>();
    for (const c of script.commands) {
      if (this.segments.length >= MAX_SEGMENTS) {
        this.issues.push("too many commands to follow");
        return;
      }
      const seg = this.command(c, st, via, c.pipedFrom && bySource.get(c.pipedFrom));
      if (seg) bySource.set(c, seg);
    }
  }

  text(src: string, st: State, via: string[]): void {
    const parsed = parseShell(src);
    this.issues.push(...parsed.issues);
    this.script(parsed, st, via);
  }

  private atoms(parts: Part[], st: State, vars: Set<string>, via: string[]): Atom[] {
    const out: Atom[] = [];
    for (const p of parts) {
      if (p.kind === "lit") out.push({ k: "text", s: p.text, quoted: p.quoted });
      else if (p.kind === "sub") {
        this.script(p.script, copy(st), [...via, "$(…)"]);
        out.push({ k: "unknown", raw: "$(…)", quoted: p.quoted });
      } else if (p.kind === "arith") {
        for (const s of p.subs) this.script(s, copy(st), [...via, "$((…))"]);
        out.push({ k: "unknown", raw: "$((…))", quoted: p.quoted });
      } else out.push(this.param(p, st, vars, via));
    }
    return out;
  }

  private param(p: Extract<Part, { kind: "param" }>, st: State, vars: Set<string>, via: string[]): Atom {
    vars.add(p.name);
    const arg = p.arg ? toWord(this.atoms(p.arg.parts, st, vars, via)) : undefined;
    const known = /^[A-Za-z_]/.test(p.name) ? st.vars.get(p.name) : undefined;
    const raw = p.op === "" ? `$${p.name}` : `\${${p.name}${p.op}…}`;
    const set = known !== undefined && known !== null;
    const guessed = st.guesses.get(p.name);
    switch (p.op) {
      case "":
      case ":?":
        if (set) return { k: "known", s: known, quoted: p.quoted };
        return { k: "unknown", raw, quoted: p.quoted, ...(guessed !== undefined && { guess: guessed }) };
      case "-":
      case ":-":
      case "=":
      case ":=":
        if (set && (known !== "" || !p.op.startsWith(":"))) return { k: "known", s: known, quoted: p.quoted };
        return { k: "unknown", raw, quoted: p.quoted, guess: arg?.value ?? arg?.guess ?? "" };
      case "+":
      case ":+":
        if (set && arg?.value !== undefined) return { k: "known", s: arg.value, quoted: p.quoted };
        return { k: "unknown", raw, quoted: p.quoted, guess: arg?.value ?? "" };
      default:
        return { k: "unknown", raw, quoted: p.quoted };
    }
  }

  /** Expands one word into its fields; assignments and redirection targets are not split. */
  private expand(w: RawWord, st: State, vars: Set<string>, via: string[], split: boolean): Word[] {
    const atoms = this.atoms(w.parts, st, vars, via);
    const out: Word[] = [];
    for (const braced of split ? braceAtoms(atoms) : [atoms]) {
      const tilded = this.tilde(braced, st);
      const fields = split ? splitFields(tilded, st.vars.get("IFS") ?? "") : [tilded];
      for (const f of fields) out.push(toWord(f));
    }
    return out;
  }

  private tilde(atoms: Atom[], st: State): Atom[] {
    const first = atoms[0];
    if (first?.k !== "text" || first.quoted || !first.s.startsWith("~")) return atoms;
    const slash = first.s.indexOf("/");
    const head = slash === -1 ? first.s : first.s.slice(0, slash);
    const rest = slash === -1 ? "" : first.s.slice(slash);
    const user = head.slice(1);
    let home: Atom;
    if (user === "" || user === this.ctx.user) home = { k: "known", s: this.ctx.home, quoted: true };
    else if (user === "root") home = { k: "known", s: "/root", quoted: true };
    else if (user === "+" && st.cwds?.length === 1)
      home = { k: "known", s: st.cwds[0] as string, quoted: true };
    else home = { k: "unknown", raw: head, quoted: true };
    return [home, ...(rest ? [{ k: "text", s: rest, quoted: false } as Atom] : []), ...atoms.slice(1)];
  }

  private command(c: Command, st: State, via: string[], pipedFrom: Segment | undefined): Segment | undefined {
    const vars = new Set<string>();
    let i = 0;
    const assigns: { name: string; value: Word }[] = [];
    for (; i < c.words.length && !c.header; i++) {
      const w = c.words[i] as RawWord;
      if (!isAssignment(w)) break;
      const [word] = this.expand(w, st, vars, via, false);
      if (!word) continue;
      const eq = word.text.indexOf("=");
      const name = word.text.slice(0, eq).replace(/\[.*$/, "").replace(/\+$/, "");
      assigns.push({ name, value: sliceWord(word, eq + 1) });
    }
    const words: Word[] = [];
    for (const w of c.words.slice(i)) words.push(...this.expand(w, st, vars, via, true));
    const redirects = c.redirects.map((r) => {
      const target = r.target ? this.expand(r.target, st, vars, via, false)[0] : undefined;
      let body: string | undefined;
      if (r.heredoc) body = toWord(this.atoms(r.heredoc.body.parts, st, vars, via)).text;
      else if (r.op === "<<<" && target) body = target.value ?? target.guess;
      return { op: r.op, ...(target && { target }), ...(body !== undefined && { body }) };
    });
    if (c.header) {
      for (const w of words) if (w.value && /^[A-Za-z_]\w*$/.test(w.value)) st.vars.set(w.value, null);
      return undefined;
    }
    if (words.length === 0) {
      for (const a of assigns) assign(st, a.name, a.value);
      if (redirects.length === 0) return undefined;
    }
    const alias = words[0]?.value !== undefined ? st.aliases.get(words[0].value) : undefined;
    if (alias !== undefined && !via.includes("alias")) {
      this.text([alias, ...words.slice(1).map((w) => w.text)].join(" "), st, [...via, "alias"]);
      return undefined;
    }
    const seg = this.segment(words, assigns, redirects, c, st, via, [...vars], pipedFrom);
    this.track(seg, st);
    return seg;
  }

  private segment(
    words: Word[],
    assigns: Segment["assigns"],
    redirects: Segment["redirects"],
    c: Pick<Command, "inPipeline" | "background" | "functions">,
    st: State,
    via: string[],
    vars: string[],
    pipedFrom: Segment | undefined,
  ): Segment {
    const peeled = unwrap(words);
    const allAssigns = [...assigns, ...peeled.assigns];
    const cwds = peeled.chdir ? this.cd(st.cwds, peeled.chdir) : st.cwds;
    const seg: Segment = {
      argv: peeled.argv,
      words,
      assigns: allAssigns,
      redirects,
      text: wordsText(peeled.argv),
      fullText: [...assigns.map((a) => `${a.name}=${a.value.text}`), wordsText(words)].join(" "),
      via: [...via, ...peeled.wrappers],
      inPipeline: c.inPipeline,
      background: c.background,
      functions: c.functions,
      vars,
      cwds: cwds && [...cwds],
      ...(pipedFrom && { pipedFrom }),
    };
    this.segments.push(seg);
    const inner = { ...copy(st), cwds };
    for (const a of allAssigns) assign(inner, a.name, a.value);
    if (peeled.script !== undefined) {
      if (peeled.script === null) seg.shellInput = "dynamic";
      else this.text(peeled.script, peeled.wrappers.at(-1) === "eval" ? st : inner, seg.via);
    }
    for (const sub of peeled.subcommands)
      this.segment(sub.argv, [], [], c, inner, [...seg.via, sub.via], [], undefined);
    const name = seg.argv[0]?.value !== undefined ? basename(seg.argv[0].value) : undefined;
    if (name && SHELLS.has(name)) this.shell(seg, inner);
    // Commands an interpreter one-liner hands to the system are commands of this line too.
    for (const code of codeOf(seg.argv))
      for (const cmd of embeddedCommands(code)) this.text(cmd, copy(inner), [...seg.via, `${name} code`]);
    return seg;
  }

  /** `bash -c '…'`, `bash <<EOF`, `echo … | sh`: the script a shell runs is analysed as well. */
  private shell(seg: Segment, st: State): void {
    const args = seg.argv.slice(1);
    let i = 0;
    let hasC = false;
    for (; i < args.length; i++) {
      const a = args[i]?.value;
      if (a === undefined) break;
      if (a === "--") {
        i++;
        break;
      }
      if (a === "-o" || a === "+o" || a === "-O" || a === "+O" || a === "--rcfile" || a === "--init-file") {
        i++;
        continue;
      }
      if (a.startsWith("--")) continue;
      if (/^[-+][A-Za-z]+$/.test(a)) {
        if (a.startsWith("-") && a.includes("c")) hasC = true;
        continue;
      }
      break;
    }
    const via = [...seg.via, `${seg.argv[0]?.value ?? "sh"} -c`];
    if (hasC) {
      const script = args[i];
      if (script?.value !== undefined) {
        seg.shellInput = "string";
        this.text(script.value, copy(st), via);
      } else seg.shellInput = "dynamic";
      return;
    }
    if (i < args.length) {
      seg.shellInput = "file";
      return;
    }
    seg.shellInput = "stdin";
    for (const r of seg.redirects) if (r.body !== undefined) this.text(r.body, copy(st), via);
    const from = seg.pipedFrom;
    const producer = from?.argv[0]?.value;
    if (from && producer === "cat" && from.argv.length === 1)
      for (const r of from.redirects) if (r.body !== undefined) this.text(r.body, copy(st), via);
    if (from && (producer === "echo" || producer === "printf")) {
      const args = from.argv.slice(1).filter((w, n) => !(n === 0 && /^-[neE]+$/.test(w.value ?? "")));
      const text = args.map((w) => w.value ?? w.guess ?? w.text).join(" ");
      this.text(
        producer === "printf" || /^-\w*e/.test(from.argv[1]?.value ?? "") ? unescape(text) : text,
        copy(st),
        via,
      );
    }
  }

  /** Follows variable assignments, `cd`, aliases and the like into the commands that come after. */
  private track(seg: Segment, st: State): void {
    const name = seg.argv[0]?.value;
    const args = seg.argv.slice(1);
    if (name === undefined) return;
    if (DECLARERS.has(name)) {
      const dynamicKinds = args.some((a) => /^-\w*[aAn]/.test(a.value ?? ""));
      for (const a of args) {
        const eq = a.text.indexOf("=");
        if (eq > 0 && /^[A-Za-z_]\w*$/.test(a.text.slice(0, eq)))
          assign(st, a.text.slice(0, eq), dynamicKinds ? undefined : sliceWord(a, eq + 1));
      }
    } else if (name === "unset" || READERS.has(name)) {
      for (const a of args) if (a.value && /^[A-Za-z_]\w*$/.test(a.value)) st.vars.set(a.value, null);
    } else if (name === "printf" && args[0]?.value === "-v" && args[1]?.value) {
      st.vars.set(args[1].value, null);
    } else if (name === "cd" || name === "pushd") {
      const target = args.find((a) => !/^-[LPe@]+$/.test(a.value ?? ""));
      st.cwds = this.cd(st.cwds, target ?? literalWord(this.ctx.home));
    } else if (name === "popd") {
      st.cwds = undefined;
    } else if (name === "alias") {
      for (const a of args) {
        const eq = (a.value ?? "").indexOf("=");
        if (eq > 0) st.aliases.set((a.value as string).slice(0, eq), (a.value as string).slice(eq + 1));
      }
    }
  }

  private cd(cwds: string[] | undefined, target: Word): string[] | undefined {
    if (!cwds || target.value === undefined || target.value === "-") return undefined;
    const t = target.value;
    const next = cwds.map((c) => resolve(c, t));
    return [...new Set([...cwds, ...next])];
  }
}

function copy(st: State): State {
  return {
    vars: new Map(st.vars),
    guesses: new Map(st.guesses),
    cwds: st.cwds && [...st.cwds],
    aliases: new Map(st.aliases),
  };
}

function assign(st: State, name: string, value: Word | undefined): void {
  st.vars.set(name, value?.value ?? null);
  if (value?.value === undefined && value?.guess !== undefined) st.guesses.set(name, value.guess);
  else st.guesses.delete(name);
}

function sliceWord(w: Word, from: number): Word {
  const text = w.text.slice(from);
  const out: Word = { text, glob: w.glob.slice(w.glob.indexOf("=") + 1), globbing: w.globbing };
  if (w.value !== undefined) out.value = w.value.slice(from);
  if (w.guess !== undefined) out.guess = w.guess.slice(w.guess.indexOf("=") + 1);
  return out;
}

function unescape(s: string): string {
  return s.replace(/\\n/g, "\n").replace(/\\t/g, "\t").replace(/%s/g, "");
}

/**
 * Every command a bash command line would run, as far as can be known without running it. Variables
 * assigned earlier on the line are followed; others are unknown, except HOME, USER and PWD.
 */
export function analyzeShell(src: string, ctx: ShellContext): Analysis {
  const issues: string[] = [];
  const a = new Analyzer(ctx, issues);
  const vars = new Map<string, string | null>([
    ["HOME", ctx.home],
    ["PWD", ctx.cwd],
  ]);
  if (ctx.user) {
    vars.set("USER", ctx.user);
    vars.set("LOGNAME", ctx.user);
  }
  a.text(src, { vars, guesses: new Map(), cwds: [ctx.cwd], aliases: new Map() }, []);
  return { segments: a.segments, issues: [...new Set(issues)] };
}
