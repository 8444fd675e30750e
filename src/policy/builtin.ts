/** The built-in hard-deny list. No rule, API call or config setting can remove or override it. */
export const BUILTIN_RULES = [
  {
    id: "builtin:privilege-escalation",
    tool: "bash",
    description: "privilege escalation: sudo, sudoedit, su, doas, pkexec, run0, runuser",
  },
  {
    id: "builtin:destroy-root-or-home",
    tool: "bash",
    description:
      "destroying the filesystem root, system directories or the home directory: recursive rm/chmod/chown, find -delete, mv or shred of them; mkfs, dd or redirection onto block devices",
  },
  { id: "builtin:fork-bomb", tool: "bash", description: "fork bombs: functions that spawn themselves" },
  {
    id: "builtin:server-data-dir",
    tool: "*",
    description:
      "reading or writing the server's data directory (config.json, .env, auth.json, models.json, repos.json, state.db, identity/, session history, other sessions) outside the session's own worktree; skills/ is read-only",
  },
  {
    id: "builtin:secret-env",
    tool: "*",
    description:
      "printing secret environment variables: provider keys, credential-like names, /proc/*/environ",
  },
] as const;

export type BuiltinRuleId = (typeof BUILTIN_RULES)[number]["id"];

export interface HardDeny {
  rule: BuiltinRuleId;
  reason: string;
}

/* What the hard-deny checks look for. */
export const PRIVILEGED = ["sudo", "sudoedit", "su", "doas", "pkexec", "run0", "runuser"];
export const SYSTEM_DIRS = [
  "bin",
  "boot",
  "dev",
  "etc",
  "lib",
  "lib32",
  "lib64",
  "opt",
  "root",
  "sbin",
  "srv",
  "sys",
  "usr",
  "var",
];
export const BLOCK_DEVICE = /^\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|md\d|dm-|mapper\/|disk\/|loop\d|sr\d)/;
export const SECRET_FILE =
  /(^|\/)(state\.db(-wal|-shm)?|auth\.json|session\.jsonl|models\.json|repos\.json|identity(\/.*)?)$/;
export const NO_FILE_ARGS = new Set([
  "echo",
  "printf",
  "true",
  "false",
  ":",
  "basename",
  "dirname",
  "which",
  "type",
  "man",
]);
export const READ_ONLY = new Set(
  "cat head tail less more sed grep egrep fgrep rg ls find wc file stat diff cmp sort uniq cut tr md5sum sha1sum sha256sum sha512sum xxd od hexdump strings jq bat tree du readlink realpath basename dirname test [ echo printf nl column fold comm paste".split(
    " ",
  ),
);
export const RECURSIVE_READERS = new Set([
  "grep",
  "egrep",
  "fgrep",
  "rg",
  "ag",
  "ack",
  "cp",
  "tar",
  "zip",
  "rsync",
  "scp",
  "7z",
]);
export const INTERPRETER = /^(python[\d.]*|pypy[\d.]*|node|nodejs|perl|ruby|php|lua[\d.]*|deno|bun|Rscript)$/;
export const CODE_FLAGS = new Set(["-c", "-e", "-E", "--eval", "-r", "-p", "--print", "eval"]);
export const STRING_LITERAL = /(["'`])((?:\\.|(?!\1)[^\\])*)\1/g;
export const CODE_FORK_BOMB = [
  /fork\s*(\(\s*\))?\s*while\s*fork/,
  /while\s*\(?\s*(true|True|1)\s*\)?\s*[:{]?\s*(os\s*\.\s*)?fork\s*\(/,
  /for\s*\(\s*;\s*;\s*\)\s*\{?\s*fork\s*\(/,
];
