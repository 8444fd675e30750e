/**
 * A bash reader for policy decisions: it turns a command line into simple commands with their words
 * still unexpanded, and recurses into every place bash runs code from (`$(…)`, backticks, `<(…)`,
 * `$((…))`, heredoc bodies). It is lenient by design: input bash would reject still yields every word
 * sequence as a command, so a syntax trick cannot hide a command from the policy, only add one.
 */

import {
  build,
  decodeAnsiC,
  matchingClose,
  type Part,
  type RawWord,
  type Redirect,
  type Script,
  type Token,
} from "./shell-syntax.js";

export type { Command, Part, RawWord, Redirect, Script } from "./shell-syntax.js";

const MAX_DEPTH = 24;
const METACHARS = new Set([" ", "\t", "\n", ";", "&", "|", "(", ")", "<", ">"]);
const OPERATORS = [";;&", ";;", ";&", ";", "&&", "&", "||", "|&", "|", "(", ")"];
const REDIRECTS = ["<<<", "<<-", "<<", "<>", "<&", "<", "&>>", "&>", ">>", ">&", ">|", ">"];
const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

class Lexer {
  pos = 0;
  private pendingHeredocs: { redirect: Redirect; delimiter: string; strip: boolean; literal: boolean }[] = [];

  constructor(
    private readonly src: string,
    private readonly depth: number,
    private readonly issues: string[],
  ) {}

  private child(): Lexer {
    const l = new Lexer(this.src, this.depth + 1, this.issues);
    l.pos = this.pos;
    return l;
  }

  /** Tokens until the end, or until the `)` that closes a `$(`/`<(` when `inSub`. */
  tokens(inSub: boolean): Token[] {
    const out: Token[] = [];
    let parens = 0;
    const src = this.src;
    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      if (c === " " || c === "\t" || c === "\r") {
        this.pos++;
        continue;
      }
      if (c === "\\" && src[this.pos + 1] === "\n") {
        this.pos += 2;
        continue;
      }
      if (c === "\n") {
        this.pos++;
        out.push({ t: "op", op: "\n" });
        this.readHeredocBodies();
        continue;
      }
      if (c === "#") {
        while (this.pos < src.length && src[this.pos] !== "\n") this.pos++;
        continue;
      }
      if ((c === "<" || c === ">") && src[this.pos + 1] === "(") {
        out.push({ t: "word", word: this.word() });
        continue;
      }
      const redir = this.redirect();
      if (redir) {
        out.push({ t: "redir", redirect: redir });
        continue;
      }
      const op = OPERATORS.find((o) => src.startsWith(o, this.pos));
      if (op) {
        if (op === ")" && inSub && parens === 0) {
          this.pos++;
          return out;
        }
        if (op === "(") parens++;
        if (op === ")") parens--;
        this.pos += op.length;
        out.push({ t: "op", op });
        continue;
      }
      out.push({ t: "word", word: this.word() });
    }
    if (inSub) this.issues.push("unterminated command substitution");
    if (this.pendingHeredocs.length > 0) this.readHeredocBodies();
    return out;
  }

  private redirect(): Redirect | undefined {
    const src = this.src;
    let p = this.pos;
    while (p < src.length && src[p]! >= "0" && src[p]! <= "9") p++;
    const op = REDIRECTS.find((r) => src.startsWith(r, p));
    if (!op) return undefined;
    this.pos = p + op.length;
    while (src[this.pos] === " " || src[this.pos] === "\t") this.pos++;
    const next = src[this.pos];
    if (next === undefined || next === "\n" || (METACHARS.has(next) && next !== "<" && next !== ">")) {
      this.issues.push(`redirection ${op} without a target`);
      return { op };
    }
    const target = this.word();
    const redirect: Redirect = { op, target };
    if (op === "<<" || op === "<<-") {
      const literal = target.parts.some((part) => part.kind === "lit" && part.quoted);
      const delimiter = target.parts.map((part) => (part.kind === "lit" ? part.text : "")).join("");
      this.pendingHeredocs.push({ redirect, delimiter, strip: op === "<<-", literal });
    }
    return redirect;
  }

  private readHeredocBodies(): void {
    const src = this.src;
    for (const h of this.pendingHeredocs) {
      const lines: string[] = [];
      let closed = false;
      while (this.pos < src.length) {
        const end = src.indexOf("\n", this.pos);
        const line = src.slice(this.pos, end === -1 ? src.length : end);
        this.pos = end === -1 ? src.length : end + 1;
        if ((h.strip ? line.replace(/^\t+/, "") : line) === h.delimiter) {
          closed = true;
          break;
        }
        lines.push(line);
      }
      if (!closed) this.issues.push(`heredoc ${h.delimiter} is not terminated`);
      const text = lines.join("\n");
      const body: RawWord = h.literal
        ? { parts: [{ kind: "lit", text, quoted: true }], raw: text }
        : new Lexer(text, this.depth + 1, this.issues).heredocText();
      h.redirect.heredoc = { body, literal: h.literal };
    }
    this.pendingHeredocs = [];
  }

  /** The whole source read like the inside of double quotes, with `"` as an ordinary character. */
  heredocText(): RawWord {
    const parts: Part[] = [];
    this.quotedParts(parts, undefined);
    return { parts, raw: this.src };
  }

  private tooDeep(): boolean {
    if (this.depth <= MAX_DEPTH) return false;
    this.issues.push("nested too deeply");
    return true;
  }

  /** Reads one word; stops at an unquoted metacharacter. */
  word(): RawWord {
    const src = this.src;
    const start = this.pos;
    const parts: Part[] = [];
    const lit = (text: string, quoted: boolean): void => {
      const last = parts.at(-1);
      if (last?.kind === "lit" && last.quoted === quoted) last.text += text;
      else parts.push({ kind: "lit", text, quoted });
    };
    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      if ((c === "<" || c === ">") && src[this.pos + 1] === "(") {
        this.pos += 2;
        parts.push({ kind: "sub", script: this.subScript(), quoted: false });
        continue;
      }
      if (METACHARS.has(c) || c === "\r") break;
      if (c === "\\") {
        const n = src[this.pos + 1];
        if (n === "\n") this.pos += 2;
        else if (n === undefined) {
          lit("\\", false);
          this.pos++;
        } else {
          lit(n, true);
          this.pos += 2;
        }
        continue;
      }
      if (c === "'") {
        const end = src.indexOf("'", this.pos + 1);
        if (end === -1) this.issues.push("unterminated single quote");
        lit(src.slice(this.pos + 1, end === -1 ? src.length : end), true);
        this.pos = end === -1 ? src.length : end + 1;
        continue;
      }
      if (c === "$" && src[this.pos + 1] === "'") {
        let p = this.pos + 2;
        while (p < src.length && src[p] !== "'") p += src[p] === "\\" ? 2 : 1;
        if (p >= src.length) this.issues.push("unterminated $'…' quote");
        lit(decodeAnsiC(src.slice(this.pos + 2, Math.min(p, src.length))), true);
        this.pos = Math.min(p + 1, src.length);
        continue;
      }
      if (c === '"' || (c === "$" && src[this.pos + 1] === '"')) {
        this.pos += c === "$" ? 2 : 1;
        const before = parts.length;
        this.quotedParts(parts, '"');
        if (parts.length === before) parts.push({ kind: "lit", text: "", quoted: true });
        continue;
      }
      if (c === "`") {
        parts.push({ kind: "sub", script: this.backtick(), quoted: false });
        continue;
      }
      if (c === "$") {
        const part = this.dollar(false);
        if (part) parts.push(part);
        else {
          lit("$", false);
          this.pos++;
        }
        continue;
      }
      lit(c, false);
      this.pos++;
    }
    return { parts, raw: src.slice(start, this.pos) };
  }

  /** Parts up to the closing quote (`close`), or to the end for heredoc bodies. */
  private quotedParts(parts: Part[], close: '"' | undefined): void {
    const src = this.src;
    let text = "";
    const flush = (): void => {
      if (text) parts.push({ kind: "lit", text, quoted: true });
      text = "";
    };
    while (this.pos < src.length) {
      const c = src[this.pos] as string;
      if (c === close) {
        this.pos++;
        flush();
        return;
      }
      if (c === "\\") {
        const n = src[this.pos + 1];
        if (n === "\n") this.pos += 2;
        else if (n === "$" || n === "`" || n === "\\" || (n === '"' && close)) {
          text += n;
          this.pos += 2;
        } else {
          text += c;
          this.pos++;
        }
        continue;
      }
      if (c === "`") {
        flush();
        parts.push({ kind: "sub", script: this.backtick(), quoted: true });
        continue;
      }
      if (c === "$") {
        const part = this.dollar(true);
        if (part) {
          flush();
          parts.push(part);
          continue;
        }
      }
      text += c;
      this.pos++;
    }
    if (close) this.issues.push("unterminated double quote");
    flush();
  }

  private subScript(): Script {
    if (this.tooDeep()) {
      this.pos = this.src.length;
      return { commands: [], issues: [] };
    }
    const l = this.child();
    const tokens = l.tokens(true);
    this.pos = l.pos;
    return build(tokens, this.issues);
  }

  private backtick(): Script {
    const src = this.src;
    let p = this.pos + 1;
    let inner = "";
    while (p < src.length && src[p] !== "`") {
      if (src[p] === "\\" && (src[p + 1] === "`" || src[p + 1] === "\\" || src[p + 1] === "$")) {
        inner += src[p + 1];
        p += 2;
      } else inner += src[p++];
    }
    if (p >= src.length) this.issues.push("unterminated backtick");
    this.pos = Math.min(p + 1, src.length);
    if (this.tooDeep()) return { commands: [], issues: [] };
    return parseScriptAt(inner, this.depth + 1, this.issues);
  }

  /** `$…` at this.pos; undefined when the `$` is literal. */
  private dollar(quoted: boolean): Part | undefined {
    const src = this.src;
    const n = src[this.pos + 1];
    // `$((…))` is arithmetic only when both parentheses close together; `$( (…) )` runs a subshell.
    const arith =
      n === "(" &&
      src[this.pos + 2] === "(" &&
      matchingClose(src, this.pos + 3, "(", ")", 1) + 1 === matchingClose(src, this.pos + 2, "(", ")", 1);
    if (arith) {
      const end = matchingClose(src, this.pos + 3, "(", ")", 2);
      const inner = src.slice(this.pos + 3, Math.max(this.pos + 3, end - 1));
      this.pos = end + 1;
      if (end >= src.length) this.issues.push("unterminated $((");
      return {
        kind: "arith",
        subs: this.tooDeep() ? [] : substitutionsIn(inner, this.depth + 1, this.issues),
        quoted,
      };
    }
    if (n === "(") {
      this.pos += 2;
      return { kind: "sub", script: this.subScript(), quoted };
    }
    if (n === "{") {
      const end = matchingClose(src, this.pos + 2, "{", "}", 1);
      const inner = src.slice(this.pos + 2, end);
      this.pos = Math.min(end + 1, src.length);
      if (end >= src.length) this.issues.push("unterminated ${");
      return this.braceParam(inner, quoted);
    }
    if (n !== undefined && /[0-9@*#?$!-]/.test(n)) {
      this.pos += 2;
      return { kind: "param", name: n, op: "", quoted };
    }
    const name = NAME.exec(src.slice(this.pos + 1))?.[0];
    if (!name) return undefined;
    this.pos += 1 + name.length;
    return { kind: "param", name, op: "", quoted };
  }

  private braceParam(inner: string, quoted: boolean): Part {
    const m = /^([#!]?)([A-Za-z_][A-Za-z0-9_]*|[0-9@*#?$!-])(\[[^\]]*\])?(.*)$/s.exec(inner);
    if (!m) return { kind: "param", name: "", op: "?", quoted };
    const [, prefix, name, index, rest] = m as unknown as [
      string,
      string,
      string,
      string | undefined,
      string,
    ];
    const op = /^(:?[-=+?]|##?|%%?|\/\/?|\^\^?|,,?|:|@)/.exec(rest)?.[0] ?? (rest ? "?" : "");
    const argText = rest.slice(op.length);
    const arg = argText ? new Lexer(argText, this.depth + 1, this.issues).wordInQuotes(quoted) : undefined;
    // Length, indirection, indexing and transformations give values the policy does not compute.
    const effective = prefix || index ? "?" : op;
    return { kind: "param", name, op: effective, ...(arg && { arg }), quoted };
  }

  /** The operand of `${x:-…}`: read to the end, quotes kept as in a word. */
  private wordInQuotes(quoted: boolean): RawWord {
    if (quoted) {
      const parts: Part[] = [];
      this.quotedParts(parts, undefined);
      return { parts, raw: this.src };
    }
    const parts: Part[] = [];
    while (this.pos < this.src.length) {
      const w = this.word();
      parts.push(...w.parts);
      if (this.pos < this.src.length) {
        parts.push({ kind: "lit", text: this.src[this.pos] as string, quoted: true });
        this.pos++;
      }
    }
    return { parts, raw: this.src };
  }
}

/** The command substitutions inside text that is not itself a command (arithmetic). */
function substitutionsIn(text: string, depth: number, issues: string[]): Script[] {
  const script = parseScriptAt(text, depth, issues);
  const out: Script[] = [];
  const visit = (w: RawWord): void => {
    for (const p of w.parts) {
      if (p.kind === "sub") out.push(p.script);
      else if (p.kind === "arith") out.push(...p.subs);
      else if (p.kind === "param" && p.arg) visit(p.arg);
    }
  };
  for (const c of script.commands) {
    c.words.forEach(visit);
    for (const r of c.redirects) if (r.target) visit(r.target);
  }
  return out;
}

/** Plain unquoted text of a word, or undefined when any part is quoted or expanded. */
function parseScriptAt(src: string, depth: number, issues: string[]): Script {
  const lexer = new Lexer(src, depth, issues);
  return build(lexer.tokens(false), issues);
}

/** Parses a bash command line. Never throws; problems are listed in `issues`. */
export function parseShell(src: string): Script {
  const issues: string[] = [];
  return parseScriptAt(src, 0, issues);
}
