import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addRule, listRules, removeRule } from "../src/policy/admin.js";
import { evaluate } from "../src/policy/evaluate.js";
import {
  commandPatternMatches,
  decidingRule,
  pathGlobMatches,
  type PolicyRule,
  type Subject,
} from "../src/policy/rules.js";
import { AuditLog } from "../src/store/audit.js";
import { parseConfig, permissionTimeoutMs } from "../src/store/config.js";
import { type Db, openDb } from "../src/store/db.js";
import { PermissionRequestsStore } from "../src/store/permission-requests.js";
import { RulesStore } from "../src/store/rules.js";
import { SessionsIndex } from "../src/store/sessions-index.js";
import { tmp } from "./helpers/harness.js";
import { policyFixture, type PolicyFixture } from "./helpers/policy-fixture.js";

let seq = 0;
const rule = (r: Partial<PolicyRule> & Pick<PolicyRule, "decision">): PolicyRule => ({
  id: `r${++seq}`,
  tool: "bash",
  match: null,
  scope: "global",
  createdAt: seq,
  ...r,
});
const cmd = (text: string, fullText = text): Subject => ({ kind: "command", tool: "bash", text, fullText });

describe("patterns", () => {
  it.each([
    ["git push *", "git push", true],
    ["git push *", "git push origin main", true],
    ["git push *", "git pushy", false],
    ["git push", "git push origin", false],
    ["npm run ?est", "npm run test", true],
    ["*", "anything at all", true],
    ["rm -rf build", "rm -rf build", true],
    ["rm -rf build", "rm -rf build2", false],
  ])("command pattern %j vs %j → %s", (pattern, text, expected) => {
    expect(commandPatternMatches(pattern, text)).toBe(expected);
  });

  it.each([
    ["src/**", "src/a/b.ts", true],
    ["src/*", "src/a/b.ts", false],
    ["src/*.ts", "src/b.ts", true],
    ["**/*.md", "README.md", true],
    ["**/*.md", "docs/x/y.md", true],
    ["/etc/**", "/etc/hosts", true],
    ["notes/?.txt", "notes/a.txt", true],
  ])("path glob %j vs %j → %s", (glob, path, expected) => {
    expect(pathGlobMatches(glob, path)).toBe(expected);
  });
});

describe("which rule decides", () => {
  it("deny beats allow whatever the specificity", () => {
    const allow = rule({ decision: "allow", match: "git push origin main" });
    const deny = rule({ decision: "deny", match: "git *" });
    expect(decidingRule([allow, deny], cmd("git push origin main"), "/h")?.id).toBe(deny.id);
  });

  it("the most specific of the rest wins: tool, then literal length, then exactness, then scope", () => {
    const broad = rule({ decision: "allow", match: "git *" });
    const narrow = rule({ decision: "ask", match: "git push *" });
    expect(decidingRule([broad, narrow], cmd("git push"), "/h")?.id).toBe(narrow.id);
    expect(decidingRule([broad, narrow], cmd("git status"), "/h")?.id).toBe(broad.id);

    const anyTool = rule({ tool: "*", decision: "ask" });
    const bashOnly = rule({ decision: "allow" });
    expect(decidingRule([anyTool, bashOnly], cmd("ls"), "/h")?.id).toBe(bashOnly.id);

    const global = rule({ decision: "ask", match: "make *" });
    const session = rule({ decision: "allow", match: "make *", scope: "session" });
    expect(decidingRule([global, session], cmd("make all"), "/h")?.id).toBe(session.id);

    const tieAllow = rule({ decision: "allow", match: "cargo *" });
    const tieAsk = rule({ decision: "ask", match: "cargo *" });
    expect(decidingRule([tieAllow, tieAsk], cmd("cargo build"), "/h")?.id).toBe(tieAsk.id);
  });

  it("an allow rule must match the command as written; deny and ask also see through wrappers", () => {
    const allow = rule({ decision: "allow", match: "git status *" });
    const ask = rule({ decision: "ask", match: "git status *" });
    const wrapped = cmd("git status", "LD_PRELOAD=/tmp/x.so git status");
    expect(decidingRule([allow], wrapped, "/h")).toBeUndefined();
    expect(decidingRule([ask], wrapped, "/h")?.id).toBe(ask.id);
  });

  it("relative path globs match inside the worktree only; absolute and ~ globs match anywhere", () => {
    const wt = "/w";
    const inside: Subject = { kind: "path", tool: "write", absolute: "/w/src/a.ts", worktree: wt };
    const outside: Subject = { kind: "path", tool: "write", absolute: "/etc/src/a.ts", worktree: wt };
    const rel = rule({ tool: "write", decision: "allow", match: "src/**" });
    expect(decidingRule([rel], inside, "/h")?.id).toBe(rel.id);
    expect(decidingRule([rel], outside, "/h")).toBeUndefined();
    const tilde = rule({ tool: "write", decision: "deny", match: "~/.ssh/**" });
    const ssh: Subject = { kind: "path", tool: "write", absolute: "/h/.ssh/config", worktree: wt };
    expect(decidingRule([tilde], ssh, "/h")?.id).toBe(tilde.id);
  });
});

describe("rules cannot reach past the hard deny", () => {
  let f: PolicyFixture;
  beforeAll(() => {
    f = policyFixture();
  });
  afterAll(() => f.cleanup());

  it("an allow-everything rule still leaves sudo, the data dir and secrets denied", () => {
    const everything = [rule({ tool: "*", decision: "allow" })];
    for (const c of ["sudo id", `cat ${f.dataDir}/state.db`, "echo $OPENAI_API_KEY", "rm -rf ~"])
      expect(f.bash(c, { rules: everything })).toMatchObject({ decision: "deny", layer: "builtin" });
    expect(evaluate("read", { path: "link/auth.json" }, f.ctx({ rules: everything }))).toMatchObject({
      decision: "deny",
    });
    expect(f.bash("git push", { rules: everything })).toMatchObject({ decision: "allow", layer: "rule" });
  });

  it("a rule overrides a heuristic and the profile", () => {
    const askWrites = [rule({ tool: "write", decision: "ask" })];
    expect(evaluate("write", { path: "a.txt", content: "" }, f.ctx({ rules: askWrites }))).toMatchObject({
      decision: "ask",
      layer: "rule",
      remember: [{ tool: "write", match: "a.txt" }],
    });
    const allowRm = [rule({ decision: "allow", match: "rm -rf build" })];
    expect(f.bash("rm -rf build", { rules: allowRm })).toMatchObject({ decision: "allow", layer: "rule" });
    expect(f.bash("rm -rf dist", { rules: allowRm })).toMatchObject({ decision: "ask", layer: "heuristic" });
  });
});

describe("config", () => {
  it("permissions.timeoutMs is validated and defaults to ten minutes", () => {
    expect(permissionTimeoutMs(parseConfig("{}", "c.json"))).toBe(600_000);
    expect(permissionTimeoutMs(parseConfig('{"permissions":{"timeoutMs":1500}}', "c.json"))).toBe(1500);
    expect(() => parseConfig('{"permissions":{"timeoutMs":5}}', "c.json")).toThrow(/timeoutMs/);
    expect(() => parseConfig('{"permissions":{"timeout":5000}}', "c.json")).toThrow(/unknown key "timeout"/);
  });
});

describe("stores in state.db", () => {
  let db: Db;
  let dir: string;
  beforeAll(() => {
    dir = tmp("policy-db");
    db = openDb(join(dir, "state.db"));
    new SessionsIndex(db).insert({
      id: "s1",
      name: "one",
      repoId: "demo",
      worktree: "/w",
      branch: null,
      model: null,
      thinkingLevel: "off",
      piSessionFile: "/w.jsonl",
      createdAt: 1,
      lastActivity: 1,
      status: "idle",
      lastSeq: 0,
      seqReserved: 0,
      mode: "code",
      systemPrompt: null,
    });
  });
  afterAll(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("rules: scope filtering, expiry, built-ins listed and protected", () => {
    const rules = new RulesStore(db);
    const deps = { rules, sessions: new SessionsIndex(db) };
    const now = Date.now();
    const g = addRule(deps, { tool: "bash", match: "ls *", decision: "allow", scope: "global" }, "me");
    const w = addRule(deps, { tool: "bash", decision: "ask", scope: "workspace", sessionId: "s1" }, "me");
    const s = addRule(deps, { tool: "write", decision: "deny", scope: "session", sessionId: "s1" }, "me");
    const other = addRule(
      deps,
      { tool: "bash", decision: "deny", scope: "workspace", workspace: "elsewhere" },
      "me",
    );
    const short = addRule(
      deps,
      { tool: "read", decision: "allow", scope: "global", expiresAt: now + 50 },
      "me",
    );
    expect(w.workspace).toBe("demo");
    expect(
      rules
        .applicable("s1", "demo", now)
        .map((r) => r.id)
        .sort(),
    ).toEqual([g.id, w.id, s.id, short.id].sort());
    expect(rules.applicable("s1", "demo", now + 100).map((r) => r.id)).not.toContain(short.id);
    expect(
      rules
        .applicable("s2", null, now)
        .map((r) => r.id)
        .sort(),
    ).toEqual([g.id, short.id].sort());
    expect(
      listRules(deps, { sessionId: "s1" })
        .filter((r) => !r.builtIn)
        .map((r) => r.id),
    ).not.toContain(other.id);
    expect(listRules(deps).filter((r) => r.builtIn)).toHaveLength(5);

    expect(() => removeRule(deps, "builtin:fork-bomb")).toThrow(
      expect.objectContaining({ code: "forbidden" }),
    );
    expect(() => removeRule(deps, "r_nope")).toThrow(expect.objectContaining({ code: "not_found" }));
    expect(() => addRule(deps, { tool: "bash", decision: "allow", scope: "workspace" }, "me")).toThrow(
      expect.objectContaining({ code: "invalid_request" }),
    );
    expect(() => addRule(deps, { tool: "b a d", decision: "allow", scope: "global" }, "me")).toThrow(
      expect.objectContaining({ code: "invalid_request" }),
    );
    expect(removeRule(deps, s.id).id).toBe(s.id);
    expect(rules.removeForSession("s1")).toBe(0);
  });

  it("permission requests: the first resolution wins; a crash leaves nothing pending", () => {
    const store = new PermissionRequestsStore(db);
    const base = {
      sessionId: "s1",
      toolCallId: "t",
      tool: "write",
      input: { path: "a" },
      summary: "write a",
      reason: "r",
      options: ["allow_once"],
      createdAt: 1,
      expiresAt: 2,
    };
    store.insert({ ...base, id: "p1" });
    store.insert({ ...base, id: "p2" });
    expect(store.resolve("p1", "allow_once", "a")).toBe(true);
    expect(store.resolve("p1", "deny_once", "b")).toBe(false);
    expect(store.get("p1")).toMatchObject({
      status: "resolved",
      decision: "allow_once",
      resolvedBy: "a",
      input: { path: "a" },
    });
    expect(store.pending().map((r) => r.id)).toEqual(["p2"]);
    expect(store.cancelAllPending("restart").map((r) => r.id)).toEqual(["p2"]);
    expect(store.get("p2")).toMatchObject({
      status: "resolved",
      decision: "cancelled",
      resolvedBy: "restart",
    });
    expect(store.pending()).toEqual([]);
    expect(store.prune(Date.now() + 1)).toBe(2);
    expect(store.get("p1")).toBeUndefined();
  });

  it("audit: newest first, filtered by session, paged with before", () => {
    const audit = new AuditLog(db);
    const ids = [1, 2, 3, 4, 5].map((i) =>
      audit.append({
        sessionId: i % 2 ? "s1" : "s2",
        toolCallId: `t${i}`,
        tool: "bash",
        summary: `c${i}`,
        layer: "profile",
        ruleId: null,
        decision: "allow",
        by: "policy",
        reason: null,
        requestId: null,
      }),
    );
    expect(audit.list({ limit: 2 }).map((e) => e.id)).toEqual([ids[4], ids[3]]);
    expect(audit.list({ limit: 2, before: ids[3] }).map((e) => e.id)).toEqual([ids[2], ids[1]]);
    expect(audit.list({ limit: 10, sessionId: "s2" }).map((e) => e.summary)).toEqual(["c4", "c2"]);
  });
});
