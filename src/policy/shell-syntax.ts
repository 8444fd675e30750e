/**
 * The shapes the bash reader produces, and the grammar step that groups tokens into simple commands.
 * Lenient by design: input bash would reject still yields every word sequence as a command.
 */

/** One piece of a word as written. `quoted` pieces are not split, globbed or brace-expanded. */
export type Part =
  | { kind: "lit"; text: string; quoted: boolean }
  /** `$name` or `${name…}`; `op` is the operator after the name (`:-`, `-`, `+`, `#`, …) or "". */
  | { kind: "param"; name: string; op: string; arg?: RawWord; quoted: boolean }
  /** `$(…)`, backticks, `<(…)`, `>(…)`: the script runs, its output is the value. */
  | { kind: "sub"; script: Script; quoted: boolean }
  /** `$((…))`: a number, but the expression may itself contain substitutions. */
  | { kind: "arith"; subs: Script[]; quoted: boolean };

export interface RawWord {
  parts: Part[];
  raw: string;
}

export interface Redirect {
  op: string;
  target?: RawWord;
  /** Body of `<<`/`<<-`; `literal` when the delimiter was quoted (no expansion inside). */
  heredoc?: { body: RawWord; literal: boolean };
}

export interface Command {
  words: RawWord[];
  redirects: Redirect[];
  /** The command writing into this one's stdin through `|`. */
  pipedFrom?: Command;
  inPipeline: boolean;
  background: boolean;
  /** Functions whose body contains this command, innermost last. */
  functions: string[];
  /** Words of a `for`/`case` header: not a command, but their substitutions run. */
  header?: boolean;
}

export interface Script {
  commands: Command[];
  /** Things bash would not have accepted (unterminated quotes, too deep nesting, …). */
  issues: string[];
}

export type Token =
  { t: "word"; word: RawWord } | { t: "op"; op: string } | { t: "redir"; redirect: Redirect };

function bare(w: RawWord): string | undefined {
  if (w.parts.length !== 1) return undefined;
  const p = w.parts[0];
  return p?.kind === "lit" && !p.quoted ? p.text : undefined;
}

const SKIPPED_KEYWORDS = new Set([
  "!",
  "time",
  "then",
  "do",
  "else",
  "elif",
  "if",
  "while",
  "until",
  "fi",
  "done",
  "coproc",
]);

/** Groups tokens into simple commands, tracking pipelines, function bodies and case/for headers. */
export function build(tokens: Token[], issues: string[]): Script {
  const commands: Command[] = [];
  // `shadowed`: the body redefined its own name, so later calls of it no longer recurse.
  const functions: { name: string; closer: "}" | ")"; level: number; shadowed?: boolean }[] = [];
  const groups: ("}" | ")")[] = [];
  let pendingFunction: string | undefined;
  let cur: Command | undefined;
  let pipeline: Command[] = [];
  let prevInPipe: Command | undefined;
  type CaseMode = "none" | "subject" | "pattern" | "body";
  let caseMode: CaseMode = "none";
  const caseStack: CaseMode[] = [];

  const open = (header = false): Command => {
    const c: Command = {
      words: [],
      redirects: [],
      inPipeline: prevInPipe !== undefined,
      background: false,
      functions: functions.filter((f) => !f.shadowed).map((f) => f.name),
      ...(prevInPipe && { pipedFrom: prevInPipe }),
      ...(header && { header: true }),
    };
    if (prevInPipe) prevInPipe.inPipeline = true;
    prevInPipe = undefined;
    commands.push(c);
    pipeline.push(c);
    return c;
  };
  const finish = (): void => {
    cur = undefined;
  };
  const endPipeline = (): void => {
    finish();
    prevInPipe = undefined;
    pipeline = [];
  };
  const openGroup = (closer: "}" | ")"): void => {
    groups.push(closer);
    if (pendingFunction !== undefined) {
      for (const f of functions) if (f.name === pendingFunction) f.shadowed = true;
      functions.push({ name: pendingFunction, closer, level: groups.length });
      pendingFunction = undefined;
    }
  };
  const closeGroup = (closer: "}" | ")"): void => {
    const f = functions.at(-1);
    if (f && f.closer === closer && f.level === groups.length) functions.pop();
    if (groups.at(-1) === closer) groups.pop();
  };

  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i] as Token;
    if (tok.t === "word") {
      const text = bare(tok.word);
      if (caseMode === "subject") {
        (cur ?? open(true)).words.push(tok.word);
        caseMode = text === "in" ? "pattern" : "subject";
        continue;
      }
      if (caseMode === "pattern") {
        if (text === "esac") {
          caseMode = caseStack.pop() ?? "none";
          endPipeline();
        } else (cur ?? open(true)).words.push(tok.word);
        continue;
      }
      if (!cur) {
        if (text === "esac" && caseMode === "body") {
          caseMode = caseStack.pop() ?? "none";
          continue;
        }
        if (text === "case") {
          if (caseMode !== "none") caseStack.push(caseMode);
          caseMode = "subject";
          cur = open(true);
          continue;
        }
        if (text === "for" || text === "select") {
          cur = open(true);
          continue;
        }
        if (text === "{") {
          openGroup("}");
          continue;
        }
        if (text === "}") {
          closeGroup("}");
          continue;
        }
        if (text === "function") {
          const name = tokens[i + 1];
          if (name?.t === "word") {
            pendingFunction = bare(name.word) ?? name.word.raw;
            i++;
            if (tokens[i + 1]?.t === "op" && tokens[i + 2]?.t === "op") i += 2;
          }
          continue;
        }
        if (text !== undefined && SKIPPED_KEYWORDS.has(text)) continue;
        const n1 = tokens[i + 1];
        const n2 = tokens[i + 2];
        if (n1?.t === "op" && n1.op === "(" && n2?.t === "op" && n2.op === ")") {
          pendingFunction = text ?? tok.word.raw;
          i += 2;
          continue;
        }
        cur = open();
      }
      cur.words.push(tok.word);
      continue;
    }
    if (tok.t === "redir") {
      (cur ?? open()).redirects.push(tok.redirect);
      continue;
    }
    if (caseMode === "subject" || caseMode === "pattern") {
      if (tok.op === ")") {
        caseMode = "body";
        endPipeline();
      }
      continue;
    }
    switch (tok.op) {
      case "|":
      case "|&":
        prevInPipe = cur ?? open();
        cur = undefined;
        break;
      case "&":
        for (const c of pipeline) c.background = true;
        endPipeline();
        break;
      case ";;":
      case ";&":
      case ";;&":
        endPipeline();
        if (caseMode === "body") caseMode = "pattern";
        break;
      case "(":
        endPipeline();
        openGroup(")");
        break;
      case ")":
        endPipeline();
        closeGroup(")");
        break;
      default:
        endPipeline();
    }
  }
  return { commands, issues };
}

/** The value of a `$'…'` word: C escapes decoded. */
export function decodeAnsiC(s: string): string {
  const simple: Record<string, string> = {
    n: "\n",
    t: "\t",
    r: "\r",
    a: "\x07",
    b: "\b",
    e: "\x1b",
    E: "\x1b",
    f: "\f",
    v: "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "?": "?",
  };
  return s.replace(
    /\\(x[0-9a-fA-F]{1,2}|u[0-9a-fA-F]{1,4}|U[0-9a-fA-F]{1,8}|[0-7]{1,3}|c.|.)/gs,
    (m, e: string) => {
      if (e[0] === "x" || e[0] === "u" || e[0] === "U") {
        const cp = parseInt(e.slice(1), 16);
        return cp <= 0x10ffff ? String.fromCodePoint(cp) : "";
      }
      if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
      if (e[0] === "c") return String.fromCharCode((e.charCodeAt(1) ?? 0) & 0x1f);
      return simple[e] ?? m;
    },
  );
}

/** Index of the closer that balances `depth` already-open openers, skipping quoted text. */
export function matchingClose(src: string, from: number, open: string, close: string, depth: number): number {
  let p = from;
  while (p < src.length) {
    const c = src[p];
    if (c === "\\") p += 2;
    else if (c === "'") {
      const end = src.indexOf("'", p + 1);
      p = end === -1 ? src.length : end + 1;
    } else {
      if (c === open) depth++;
      else if (c === close && --depth === 0) return p;
      p++;
    }
  }
  return src.length;
}
