import { basename } from "node:path";
import { CODE_FLAGS, INTERPRETER, STRING_LITERAL } from "./builtin.js";
import type { Word } from "./shell-words.js";

/**
 * Interpreter one-liners (`python -c`, `node -e`, `perl -e`, …): the code they run, and the
 * commands that code hands to the system — a shell string (`os.system('git push')`) or an argv list
 * (`subprocess.run(['git', 'push'])`, `system("git", "push")`, `spawn('git', ['push'])`).
 */

const CALL =
  /(?:system|exec\w*|popen\d?|spawn\w*|run|call|check_call|check_output|Popen|getoutput|getstatusoutput|shell_exec|passthru|proc_open)\s*\(((?:\s*\[?\s*(["'`])(?:\\.|(?!\2)[^\\])*\2\s*\]?\s*,?)+)/g;

/** Python options that take a separate value; `-m` runs a module, not a script file. */
const VALUE_OPTS = new Set(["-W", "-X", "-Q", "-r", "--require", "--loader", "--import"]);

export function isInterpreter(name: string | undefined): boolean {
  return name !== undefined && INTERPRETER.test(name);
}

/** The code strings of an interpreter command line (`-c CODE`, `-e CODE`). */
export function codeOf(argv: Word[]): string[] {
  const name = argv[0]?.value === undefined ? undefined : basename(argv[0].value);
  if (!isInterpreter(name)) return [];
  const codes: string[] = [];
  argv.forEach((w, i) => {
    const prev = argv[i - 1]?.value;
    if (i > 0 && prev !== undefined && CODE_FLAGS.has(prev) && w.value !== undefined) codes.push(w.value);
  });
  return codes;
}

/** The script file an interpreter runs (`python3 tool.py`), if it runs one rather than code given inline. */
export function interpreterScript(argv: Word[]): Word | undefined {
  const name = argv[0]?.value === undefined ? undefined : basename(argv[0].value);
  if (!isInterpreter(name)) return undefined;
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]?.value;
    if (a === undefined) return argv[i];
    if (CODE_FLAGS.has(a) || a === "-m") return undefined;
    if (VALUE_OPTS.has(a)) i++;
    else if (!a.startsWith("-")) return argv[i];
  }
  return undefined;
}

const quote = (s: string): string => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Shell command lines the code runs, argv lists joined as the shell would have to spell them. */
export function embeddedCommands(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(CALL)) {
    const list = m[1] ?? "";
    const strings = [...list.matchAll(STRING_LITERAL)].map((s) => (s[2] ?? "").replace(/\\(.)/g, "$1"));
    const argv = strings.length > 1 || list.trimStart().startsWith("[");
    out.push(argv ? strings.map(quote).join(" ") : (strings[0] ?? ""));
  }
  return out.filter((c) => c !== "");
}
