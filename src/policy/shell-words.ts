/**
 * Word expansion as bash does it, as far as it can be known before the command runs: quotes, `~`,
 * braces, variables assigned earlier in the same command line, field splitting. Whatever is decided
 * only at run time stays visible as "dynamic" so the policy can treat it with suspicion.
 */

/** A word after expansion. */
export interface Word {
  /** The exact value, when nothing in it is decided at run time and it does not glob. */
  value?: string;
  /** A glob every possible value matches: run-time parts are `*`, unquoted glob characters kept. */
  glob: string;
  /** Known parts expanded, run-time parts as written: what summaries and rules see. */
  text: string;
  /** For dynamic words: the value if unset variables take their `${x:-default}` defaults. */
  guess?: string;
  /** Contains unquoted `*`, `?` or `[` that bash expands against the file system. */
  globbing: boolean;
}

export type Atom =
  | { k: "text"; s: string; quoted: boolean }
  | { k: "known"; s: string; quoted: boolean }
  | { k: "unknown"; raw: string; quoted: boolean; guess?: string };

const PLACEHOLDER_BASE = 0xe000;
const MAX_BRACE_RESULTS = 64;

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** `{a,b}` and `{1..3}` expansion of a string (placeholders stand for quoted or expanded parts). */
export function braceExpand(s: string, budget = { left: MAX_BRACE_RESULTS }): string[] {
  for (let i = 0; i < s.length; i++) {
    if (s[i] !== "{") continue;
    let depth = 0;
    const commas: number[] = [];
    let j = i;
    for (; j < s.length; j++) {
      if (s[j] === "{") depth++;
      else if (s[j] === "}") {
        if (--depth === 0) break;
      } else if (s[j] === "," && depth === 1) commas.push(j);
    }
    if (j >= s.length) return [s];
    const body = s.slice(i + 1, j);
    let alts: string[] | undefined;
    if (commas.length > 0) {
      alts = [];
      let from = i + 1;
      for (const c of [...commas, j]) {
        alts.push(s.slice(from, c));
        from = c + 1;
      }
    } else alts = sequence(body);
    if (!alts) continue;
    const out: string[] = [];
    for (const alt of alts) {
      for (const r of braceExpand(s.slice(0, i) + alt + s.slice(j + 1), budget)) {
        if (budget.left <= 0) return out;
        out.push(r);
        budget.left--;
      }
    }
    return out;
  }
  return [s];
}

function sequence(body: string): string[] | undefined {
  const m = /^(-?\d+|[a-zA-Z])\.\.(-?\d+|[a-zA-Z])(?:\.\.(-?\d+))?$/.exec(body);
  if (!m) return undefined;
  const [, a, b, stepText] = m as unknown as [string, string, string, string | undefined];
  const numeric = /\d/.test(a) && /\d/.test(b);
  if (!numeric && (/\d/.test(a) || /\d/.test(b))) return undefined;
  const from = numeric ? Number(a) : a.charCodeAt(0);
  const to = numeric ? Number(b) : b.charCodeAt(0);
  const step = Math.max(1, Math.abs(Number(stepText ?? 1)) || 1);
  const out: string[] = [];
  for (let v = from; from <= to ? v <= to : v >= to; v += from <= to ? step : -step) {
    out.push(numeric ? String(v) : String.fromCharCode(v));
    if (out.length >= MAX_BRACE_RESULTS) break;
  }
  return out;
}

/** Expands braces over atoms: unquoted text takes part, everything else is carried through whole. */
export function braceAtoms(atoms: Atom[]): Atom[][] {
  if (!atoms.some((a) => a.k === "text" && !a.quoted && a.s.includes("{"))) return [atoms];
  let template = "";
  atoms.forEach((a, i) => {
    template += a.k === "text" && !a.quoted ? a.s : String.fromCharCode(PLACEHOLDER_BASE + i);
  });
  return braceExpand(template).map((t) => {
    const out: Atom[] = [];
    let text = "";
    for (const ch of t) {
      const code = ch.charCodeAt(0);
      const idx = code - PLACEHOLDER_BASE;
      if (idx >= 0 && idx < atoms.length) {
        if (text) out.push({ k: "text", s: text, quoted: false });
        text = "";
        out.push(atoms[idx] as Atom);
      } else text += ch;
    }
    if (text) out.push({ k: "text", s: text, quoted: false });
    return out;
  });
}

/** Splits unquoted expansion results on IFS characters, as bash does after expansion. */
export function splitFields(atoms: Atom[], ifs: string): Atom[][] {
  const sep = new RegExp(`([${(" \t\n" + ifs).replace(/[\]\\^-]/g, "\\$&")}]+)`);
  const fields: Atom[][] = [[]];
  let cur = fields[0] as Atom[];
  for (const a of atoms) {
    if (a.k !== "known" || a.quoted || !sep.test(a.s)) {
      cur.push(a);
      continue;
    }
    for (const piece of a.s.split(sep)) {
      if (piece === "") continue;
      if (sep.test(piece)) {
        if (cur.length > 0) {
          cur = [];
          fields.push(cur);
        }
      } else cur.push({ k: "known", s: piece, quoted: false });
    }
  }
  return fields.filter((f) => f.some((a) => a.quoted || a.k === "unknown" || a.s !== ""));
}

export function toWord(atoms: Atom[]): Word {
  let value = "";
  let glob = "";
  let text = "";
  let guess = "";
  let dynamic = false;
  let globbing = false;
  for (const a of atoms) {
    if (a.k === "unknown") {
      dynamic = true;
      text += a.raw;
      glob += "*";
      guess += a.guess ?? "";
      continue;
    }
    value += a.s;
    guess += a.s;
    text += a.s;
    if (a.quoted) glob += escapeGlob(a.s);
    else {
      glob += a.s;
      if (/[*?[]/.test(a.s)) globbing = true;
    }
  }
  const word: Word = { glob, text, globbing };
  if (!dynamic && !globbing) word.value = value;
  if (dynamic) word.guess = guess;
  return word;
}

/** A word made of known text, as if it had been typed quoted. */
export function literalWord(s: string): Word {
  return { value: s, glob: escapeGlob(s), text: s, globbing: false };
}

/** Matches `s` against a bash glob (`*`, `?`, `[…]`, backslash escapes). */
export function globMatches(glob: string, s: string): boolean {
  return globRegExp(glob).test(s);
}

export function globRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === "\\" && i + 1 < glob.length) re += escapeRe(glob[++i] as string);
    else if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) re += "\\[";
      else {
        let cls = glob.slice(i + 1, end);
        if (cls.startsWith("!")) cls = "^" + cls.slice(1);
        re += `[${cls.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`, "s");
  } catch {
    return /^.*$/s;
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** The word's value, or its most likely value when it depends on run time; "" when unknown. */
export function likely(w: Word | undefined): string {
  return w?.value ?? w?.guess ?? "";
}
