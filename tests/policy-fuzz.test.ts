import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { policyFixture, type PolicyFixture } from "./helpers/policy-fixture.js";
import { seededRandom, type Rng } from "./helpers/random.js";

/**
 * Property test of the bash matcher: random but reproducible rewrites of hard-deny commands (quoting,
 * escapes, variables, wrappers, chains, subshells, nested shells) must stay denied, and the same
 * rewrites of harmless look-alikes must stay allowed. Set POLICY_FUZZ_SEED to explore other seeds.
 */
const SEED = Number(process.env.POLICY_FUZZ_SEED ?? 0x5eed);
const DANGEROUS_CASES = 800;
const HARMLESS_CASES = 400;

const pick = <T>(rng: Rng, xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)] as T;

/** How a word may be rewritten without changing what bash makes of it. */
type Kind = "plain" | "tilde" | "var" | "glob";
interface W {
  text: string;
  kind: Kind;
}
const plain = (text: string): W => ({ text, kind: "plain" });

const sq = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
const dq = (s: string): string => `"${s.replace(/["\\$`]/g, "\\$&")}"`;

/** Returns the rewritten word and any statement that has to run before the command. */
function rewriteWord(rng: Rng, w: W, isCommand: boolean, harmless: boolean, n: number): [string, string] {
  const t = w.text;
  if (w.kind === "tilde" || w.kind === "glob") return [t, ""];
  if (w.kind === "var") return [pick(rng, [t, `"${t}"`]), ""];
  const k = 1 + Math.floor(rng() * Math.max(1, t.length - 1));
  const ansi = `$'${[...t].map((c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("")}'`;
  const viaVar = (): [string, string] => [pick(rng, [`$V${n}`, `"$V${n}"`, `\${V${n}}`]), `V${n}=${sq(t)}; `];
  // Words with shell metacharacters only take rewrites that keep them one quoted word.
  if (!/^[A-Za-z0-9_./:=%@+,-]+$/.test(t))
    return pick<() => [string, string]>(rng, [
      () => [sq(t), ""],
      () => [dq(t), ""],
      () => [ansi, ""],
      viaVar,
    ])();
  const options: (() => [string, string])[] = [
    () => [t, ""],
    () => [sq(t), ""],
    () => [dq(t), ""],
    () => [t.slice(0, k) + "''" + t.slice(k), ""],
    () => [t.slice(0, k) + '""' + t.slice(k), ""],
    () => (/[A-Za-z0-9]/.test(t[k] ?? "") ? [t.slice(0, k) + "\\" + t.slice(k), ""] : [t, ""]),
    () => [ansi, ""],
    () => [sq(t.slice(0, k)) + t.slice(k).replace(/[^A-Za-z0-9_./-]/g, "\\$&"), ""],
    () =>
      /^[A-Za-z0-9_./-]+$/.test(t) && t[k] !== undefined
        ? [`${t.slice(0, k)}{${t[k]},${t[k]}}${t.slice(k + 1)}`, ""]
        : [t, ""],
    viaVar,
  ];
  if (!(harmless && isCommand) && /^[A-Za-z0-9_./-]+$/.test(t))
    options.push(() => [`\${UNSET_${n}:-${t}}`, ""]);
  return pick(rng, options)();
}

interface Core {
  words?: W[];
  /** A whole command line that only command-level rewrites may touch (fork bombs, cd chains). */
  raw?: string;
}

function buildSimple(rng: Rng, words: W[], harmless: boolean): string {
  let pre = "";
  const out = words.map((w, i) => {
    const [text, setup] = rewriteWord(rng, w, i === 0, harmless, i);
    pre += setup;
    return text;
  });
  return pre + out.join(" ");
}

/** Command-level rewrites; `simple` ones only apply to a single command (prefixes, find -exec, xargs). */
function wrap(rng: Rng, s: string, simple: boolean, harmless: boolean): [string, boolean] {
  const prefixes = [
    "env ",
    "env -i ",
    "env A=1 ",
    "command ",
    "nice -n 5 ",
    "timeout 30 ",
    "nohup ",
    "time ",
    "exec ",
    "stdbuf -o L ",
    "setsid ",
  ];
  const compound: ((x: string) => string)[] = [
    (x) => `( ${x} )`,
    (x) => `{ ${x}; }`,
    (x) => `echo $( ${x} )`,
    (x) => `echo "$( ${x} )"`,
    (x) => `true && ${x}`,
    (x) => `false || ${x}`,
    (x) => `echo start; ${x}`,
    (x) => `${x}; echo end`,
    (x) => `${x} | cat`,
    (x) => `${x} & wait`,
    (x) => `echo a\n${x}`,
    (x) => `if true; then ${x}; fi`,
    (x) => `for i in 1; do ${x}; done`,
    (x) => `while true; do ${x}; break; done`,
    (x) => `g() { ${x}; }; g`,
    (x) => `bash -c ${sq(x)}`,
    (x) => `sh -c ${sq(x)}`,
    (x) => `bash -lc ${sq(x)}`,
    (x) => `eval ${sq(x)}`,
    (x) => `cat <( ${x} )`,
  ];
  if (!s.includes("`")) compound.push((x) => `echo \`${x}\``);
  if (!harmless) {
    compound.push((x) => `echo ${sq(x)} | bash`);
    compound.push((x) => `bash <<< ${sq(x)}`);
    const tag = `EOF${Math.floor(rng() * 1e6)}`;
    compound.push((x) => `bash <<'${tag}'\n${x}\n${tag}\ntrue`);
  }
  const forms: (() => [string, boolean])[] = compound.map((c) => () => [c(s), false]);
  if (simple) {
    forms.push(() => [pick(rng, prefixes) + s, true]);
    forms.push(() => [`echo x | xargs ${s}`, false]);
    if (!/[;&|]/.test(s)) forms.push(() => [`find . -maxdepth 0 -exec ${s} \\;`, false]);
  }
  return pick(rng, forms)();
}

/** Cases bash itself would reject: they prove nothing, so the generator must not produce them. */
function syntaxErrors(cases: string[]): string[] {
  const check = (src: string): boolean => {
    try {
      execFileSync("bash", ["-n"], { input: src, stdio: ["pipe", "ignore", "ignore"] });
      return true;
    } catch {
      return false;
    }
  };
  // One bash for all of them; only on failure one per case, to name the culprits.
  if (check(cases.map((c, i) => `case_${i}() {\n${c}\n}\n`).join(""))) return [];
  return cases.filter((c) => !check(c));
}

function generate(rng: Rng, cores: Core[], count: number, harmless: boolean): string[] {
  const out = new Set<string>();
  for (let guard = 0; out.size < count && guard < count * 20; guard++) {
    const core = pick(rng, cores);
    let s = core.words ? buildSimple(rng, core.words, harmless) : (core.raw as string);
    let simple = core.words !== undefined && !s.includes(";");
    const layers = Math.floor(rng() * 4);
    for (let i = 0; i < layers; i++) [s, simple] = wrap(rng, s, simple, harmless);
    out.add(s);
  }
  return [...out];
}

let f: PolicyFixture;
beforeAll(() => {
  f = policyFixture();
});
afterAll(() => f.cleanup());

function dangerousCores(): Core[] {
  const R = f.dataDir;
  const H = f.home;
  const cmd = (...ws: (string | W)[]): Core => ({
    words: ws.map((w) => (typeof w === "string" ? plain(w) : w)),
  });
  const roots: W[] = [
    plain("/"),
    plain("/."),
    plain("//"),
    plain("/tmp/.."),
    plain("/usr"),
    plain("/etc/../usr"),
    plain(H),
    plain(`${H}/.`),
    { text: "/*", kind: "glob" },
    { text: "~", kind: "tilde" },
    { text: "~/", kind: "tilde" },
    { text: "~/*", kind: "tilde" },
    { text: "$HOME", kind: "var" },
    { text: "${HOME}/", kind: "var" },
  ];
  const dataPaths = [
    `${R}/state.db`,
    `${R}/./auth.json`,
    `${R}//config.json`,
    `${R}/identity/server.key`,
    `${R}/sessions/../models.json`,
    "../session.jsonl",
    "../../../state.db",
    "../../s2/worktree/notes",
    "link/.env",
    "link/repos.json",
    "src/deep/../repos.json",
    "src/deep/s1/session.jsonl",
  ];
  return [
    cmd("sudo", "id"),
    cmd("sudo", "-u", "root", "sh"),
    cmd("su", "-"),
    cmd("su", "root", "-c", "id"),
    cmd("doas", "ls"),
    cmd("pkexec", "bash"),
    cmd("sudoedit", "/etc/hosts"),
    cmd("/usr/bin/sudo", "true"),
    ...roots.map((r, i) => cmd("rm", ["-rf", "-fr", "-Rf", "--recursive"][i % 4] as string, r)),
    ...roots.map((r) => cmd("rm", "-r", "-f", "--no-preserve-root", r)),
    cmd("chmod", "-R", "000", { text: "~", kind: "tilde" }),
    cmd("find", "/", "-delete"),
    cmd("dd", "if=/dev/zero", "of=/dev/sda"),
    ...dataPaths.map((p) => cmd("cat", p)),
    ...dataPaths.map((p) => cmd("cp", p, "/tmp/stolen")),
    ...dataPaths.map((p) => cmd("base64", "-w0", p)),
    cmd("sqlite3", `${R}/state.db`, ".dump"),
    cmd("echo", { text: "$OPENAI_API_KEY", kind: "var" }),
    cmd("echo", { text: "${GITHUB_TOKEN}", kind: "var" }),
    cmd("printenv", "ANTHROPIC_API_KEY"),
    cmd("cat", "/proc/self/environ"),
    cmd("cat", { text: "/proc/$PPID/environ", kind: "var" }),
    ...[":", "f", "bomb", "x_1"].flatMap((n) => [
      { raw: `${n}(){ ${n}|${n}& };${n}` },
      { raw: `${n}() { ${n} | ${n} & }; ${n}` },
      { raw: `function ${n} { ${n}|${n} & }; ${n}` },
    ]),
    { raw: "cd .. && cat session.jsonl" },
    { raw: "cd ../../.. ; cat state.db" },
    { raw: `D=${sq(R)}; cat "$D/auth.json"` },
  ];
}

function harmlessCores(): Core[] {
  const cmd = (...ws: (string | W)[]): Core => ({
    words: ws.map((w) => (typeof w === "string" ? plain(w) : w)),
  });
  return [
    cmd("echo", "sudo"),
    cmd("echo", "su", "-"),
    cmd("grep", "-rn", "sudo", "src"),
    cmd("git", "log", "--grep=doas"),
    cmd("man", "su"),
    cmd("which", "sudo"),
    cmd("cat", "sudoers.md"),
    cmd("./pseudo", "--help"),
    cmd("sudoku", "--level", "3"),
    cmd("echo", "rm -rf /"),
    cmd("printf", "%s\\n", "rm -rf ~"),
    cmd("echo", ":(){ :|:& };:"),
    cmd("ls", { text: "~", kind: "tilde" }),
    cmd("ls", "-la", "/"),
    cmd("rm", "-f", "/tmp/scratch.txt"),
    cmd("rm", "build.log"),
    cmd("echo", { text: "$HOME", kind: "var" }),
    cmd("printenv", "PATH"),
    cmd("env"),
    cmd("cat", "state.db"),
    cmd("cat", "config.json"),
    cmd("cat", "src/../config.json"),
    cmd("wc", "-l", "src/a.ts"),
    cmd("python3", "-c", "print('su')"),
    cmd("git", "status", "--short"),
    cmd("echo", "../session.jsonl"),
  ];
}

describe("bash matcher property test", () => {
  it(`${DANGEROUS_CASES} rewrites of hard-deny commands stay denied (seed ${SEED})`, () => {
    const cases = generate(seededRandom(SEED), dangerousCores(), DANGEROUS_CASES, false);
    expect(cases.length).toBe(DANGEROUS_CASES);
    expect(syntaxErrors(cases)).toEqual([]);
    const escaped = cases
      .map((c) => [c, f.bash(c)] as const)
      .filter(([, v]) => v.decision !== "deny" || v.layer !== "builtin")
      .map(([c, v]) => `${JSON.stringify(c)} → ${v.decision}: ${v.reason}`);
    expect(escaped).toEqual([]);
  });

  it(`${HARMLESS_CASES} rewrites of harmless look-alikes stay allowed (seed ${SEED})`, () => {
    const cases = generate(seededRandom(SEED + 1), harmlessCores(), HARMLESS_CASES, true);
    expect(cases.length).toBe(HARMLESS_CASES);
    expect(syntaxErrors(cases)).toEqual([]);
    const blocked = cases
      .map((c) => [c, f.bash(c)] as const)
      .filter(([, v]) => v.decision !== "allow")
      .map(([c, v]) => `${JSON.stringify(c)} → ${v.decision}: ${v.reason}`);
    expect(blocked).toEqual([]);
  });
});
