import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { evaluate, type EvalContext, type Profile, type Verdict } from "../../src/policy/evaluate.js";
import type { PolicyRule } from "../../src/policy/rules.js";
import { tmp } from "./harness.js";

/** A data dir laid out like the server's, a session worktree inside it, and a home directory. */
export interface PolicyFixture {
  root: string;
  dataDir: string;
  worktree: string;
  home: string;
  /** A registered repository (the user's checkout), under /tmp like the worktree. */
  checkout: string;
  ctx(opts?: { profile?: Profile; rules?: PolicyRule[] }): EvalContext;
  bash(command: string, opts?: { profile?: Profile; rules?: PolicyRule[] }): Verdict;
  cleanup(): void;
}

export function policyFixture(): PolicyFixture {
  const root = tmp("policy");
  const dataDir = join(root, "data");
  const worktree = join(dataDir, "sessions", "s1", "worktree");
  const home = join(root, "home", "u");
  const checkout = join(root, "checkout");
  for (const d of [
    join(worktree, "src"),
    join(dataDir, "sessions", "s2", "worktree"),
    join(dataDir, "identity"),
    join(dataDir, "skills", "x"),
    join(home, ".ssh"),
    checkout,
  ])
    mkdirSync(d, { recursive: true });
  for (const f of [
    "state.db",
    "config.json",
    ".env",
    "auth.json",
    "models.json",
    "repos.json",
    "identity/server.key",
    "sessions/s1/session.jsonl",
    "skills/x/SKILL.md",
  ])
    writeFileSync(join(dataDir, f), "secret\n");
  // Files with data-dir names inside the worktree belong to the project and are fine.
  writeFileSync(join(worktree, "config.json"), "{}\n");
  writeFileSync(join(worktree, "state.db"), "");
  symlinkSync(dataDir, join(worktree, "link"));
  symlinkSync(join(dataDir, "sessions"), join(worktree, "src", "deep"));
  const ctx = (opts: { profile?: Profile; rules?: PolicyRule[] } = {}): EvalContext => ({
    cwd: worktree,
    worktree,
    dataDir,
    home,
    user: "u",
    isSecretName: (n) => /(^|_)(API_?KEY|TOKEN|SECRET|PASSWORD)$/i.test(n) || n === "MY_PROVIDER_KEY",
    repos: [checkout],
    profile: opts.profile ?? "tailscale-permissive",
    rules: opts.rules ?? [],
  });
  return {
    root,
    dataDir,
    worktree,
    home,
    checkout,
    ctx,
    bash: (command, opts) => evaluate("bash", { command }, ctx(opts)),
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
