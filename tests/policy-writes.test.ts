import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PolicyRule } from "../src/policy/rules.js";
import { policyFixture, type PolicyFixture } from "./helpers/policy-fixture.js";

/**
 * Commands that change files, git state or the user's checkout: the review's findings and the
 * look-alikes that must stay quiet. {H} is the home directory, {C} a registered repository (the
 * user's checkout) — both under /tmp, where scratch writes are otherwise fine — {R} the data dir.
 */
let f: PolicyFixture;
beforeAll(() => {
  f = policyFixture();
  writeFileSync(join(f.worktree, "x.sh"), "git push\n");
});
afterAll(() => f.cleanup());

const fill = (s: string): string =>
  s.replaceAll("{H}", f.home).replaceAll("{C}", f.checkout).replaceAll("{R}", f.dataDir);

const denyPush: PolicyRule = {
  id: "r_owner_push",
  tool: "bash",
  match: "git push *",
  decision: "deny",
  scope: "global",
  createdAt: 1,
};

describe("writes by bash commands are judged like the write tool", () => {
  it.each([
    ["tee ~/.bashrc", "writes outside the session's worktree ({H}/.bashrc)"],
    ["echo 'alias ls=rm' | tee -a notes.txt ~/.bashrc", "({H}/.bashrc)"],
    ["tee --append -- {H}/.profile < x", ".profile"],
    ["cp key.pub ~/.ssh/authorized_keys", "authorized_keys"],
    ["cp -t ~/.ssh key.pub other", "({H}/.ssh)"],
    ["cp --target-directory={C} a.txt", "outside the session's worktree"],
    ["cp -r src {C}/src", "{C}/src"],
    ["cp -- a {C}/README.md", "README.md"],
    ["mv a.txt {C}/a.txt", "{C}/a.txt"],
    ["mv -t {H} a.txt", "outside the session's worktree"],
    ["install -D tool {H}/.local/bin/tool", ".local/bin/tool"],
    ["install -m 0755 -d {H}/.config/autostart", "autostart"],
    ["ln -s /opt/evil ~/.bashrc", "({H}/.bashrc)"],
    ["ln -sf hook {C}/.git/hooks/pre-commit", "pre-commit"],
    ["ln -t {H} a", "outside the session's worktree"],
    ["rsync -a src/ {C}/", "{C}/"],
    ["rsync -av --exclude node_modules . {H}/backup", "backup"],
    ["sed -i s/a/b/ {C}/README.md", "README.md"],
    ["sed --in-place 's/x/y/' ~/.bashrc", ".bashrc"],
    ["sed --in-place=.orig 's/x/y/' ~/.bashrc", ".bashrc"],
    ["sed -i.bak -e 1d ~/.profile", ".profile"],
    ["sed -ni 1p ~/.profile", ".profile"],
    ["sed -e 's/a/b/' -i ~/.bashrc", ".bashrc"],
    ["truncate -s 0 {C}/README.md", "README.md"],
    ["touch {H}/.hushlogin", ".hushlogin"],
    ["touch -d yesterday {C}/stamp", "stamp"],
    ["dd if=payload of={H}/.bashrc", ".bashrc"],
    ["echo x > {C}/README.md", "README.md"],
    ["echo x >> {H}/.bashrc", ".bashrc"],
    ["cd {C} && tee README.md < /dev/null", "README.md"],
    ["cp a.txt $DEST", "named only when it runs"],
  ])("%s asks", (command, reason) => {
    const v = f.bash(fill(command));
    expect([v.decision, v.layer]).toEqual(["ask", "heuristic"]);
    expect(v.reason).toContain(fill(reason));
  });

  it.each([
    "cp a b",
    "cp -r src dist",
    "cp {C}/README.md copy.md",
    "cp -t dist a b",
    "mv old.txt new.txt",
    "install -D build/tool bin/tool",
    "ln -s /etc/hosts hosts-link",
    "ln -s /opt/shared",
    "rsync -a {C}/ mirror/",
    "tee out.txt",
    "tee -a log.txt < input",
    "sed -n 1p f",
    "sed -n 1p {H}/.bashrc",
    "sed 's/a/b/' input.txt > output.txt",
    "sed -i s/a/b/ f.txt",
    "truncate -s 0 log.txt",
    "touch a.txt src/b.ts",
    "touch src/*.ts",
    "cp a.txt /tmp/scratch.txt",
    "echo x > /tmp/out.txt",
    "tee /tmp/t.log < input",
    "echo done 2>&1 >/dev/null",
  ])("%s stays allowed", (command) => {
    const v = f.bash(fill(command));
    expect([v.decision, v.reason]).toEqual(["allow", "allowed by the tailscale-permissive profile"]);
  });

  it("sources are reads: copying a skill out is fine, copying into skills/ or the data dir is not", () => {
    expect(f.bash(fill("cp {R}/skills/x/SKILL.md notes.md")).decision).toBe("allow");
    expect(f.bash(fill("cp notes.md {R}/skills/x/SKILL.md"))).toMatchObject({
      decision: "deny",
      ruleId: "builtin:server-data-dir",
    });
    expect(f.bash(fill("cp {R}/auth.json /tmp/a"))).toMatchObject({ decision: "deny", layer: "builtin" });
  });

  it("the owner's file rules apply to bash writes and reads as to the write and read tools", () => {
    const rules: PolicyRule[] = [
      { id: "w1", tool: "write", match: "~/.ssh/**", decision: "deny", scope: "global", createdAt: 1 },
      { id: "w2", tool: "write", match: "/tmp/**", decision: "ask", scope: "global", createdAt: 1 },
      { id: "w3", tool: "write", match: "~/notes/**", decision: "allow", scope: "global", createdAt: 1 },
      { id: "r1", tool: "read", match: "secret/**", decision: "deny", scope: "global", createdAt: 1 },
    ];
    expect(f.bash("tee -a ~/.ssh/authorized_keys", { rules })).toMatchObject({
      decision: "deny",
      layer: "rule",
      ruleId: "w1",
    });
    expect(f.bash("cp a /tmp/b", { rules })).toMatchObject({ decision: "ask", layer: "rule", ruleId: "w2" });
    expect(f.bash("cp a ~/notes/today.md", { rules })).toMatchObject({ decision: "allow" });
    expect(f.bash("cp secret/key /tmp/k", { rules })).toMatchObject({ decision: "deny", ruleId: "r1" });
    // An allow rule for the command is the owner's word on it, but it does not lift a deny on the file.
    const allowTee: PolicyRule = {
      id: "b1",
      tool: "bash",
      match: "tee *",
      decision: "allow",
      scope: "global",
      createdAt: 2,
    };
    expect(f.bash("tee ~/.bashrc", { rules: [allowTee] })).toMatchObject({ decision: "allow", ruleId: "b1" });
    expect(f.bash("tee ~/.ssh/config", { rules: [...rules, allowTee] })).toMatchObject({
      decision: "deny",
      ruleId: "w1",
    });
  });
});

describe("git state and pushes under any spelling", () => {
  it.each([
    ["git config core.hooksPath x", "changes git configuration"],
    ["git config --global user.name x", "changes git configuration"],
    ["git config alias.x push", "changes git configuration"],
    ["git config --unset user.email", "changes git configuration"],
    ["git config set core.pager less", "changes git configuration"],
    ["git config -f .git/config core.fsmonitor ./x", "changes git configuration"],
    ["git update-ref refs/heads/main HEAD~3", "git update-ref"],
    ["git symbolic-ref HEAD refs/heads/other", "git symbolic-ref"],
    ["git send-pack /srv/remote main", "pushes to a git remote (git send-pack)"],
    ["git http-push https://example.com/r.git main", "pushes to a git remote"],
    ["git receive-pack {C}", "git receive-pack"],
    ["git push origin main", "pushes to a git remote (git push)"],
    ["git -C {C} push", "pushes to a git remote"],
    ["git --exec-path=/tmp/bin push", "--exec-path"],
    ["git --exec-path=/tmp/bin status", "--exec-path"],
    ["git -c alias.p=push p", "-c alias.p"],
    ["git -c core.hooksPath=/tmp/h commit -m x", "-c core.hooksPath"],
    ["git -c core.sshCommand='sh -c id' fetch", "-c core.sshCommand"],
    ["git --config-env=alias.p=PUSH p", "alias.p"],
    ["GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=alias.p GIT_CONFIG_VALUE_0=push git p", "GIT_CONFIG_COUNT"],
    ["GIT_SSH_COMMAND='sh -c id' git fetch", "GIT_SSH_COMMAND"],
    ["git x", "git x is not a git command: it may be an alias"],
    ["git config alias.x push && git x", "pushes through the git alias x"],
    ["git -C {C} fetch {R}/sessions/s1/worktree", "outside the session's worktree ({C})"],
    ["git --git-dir={C}/.git fetch", "outside the session's worktree"],
    ["GIT_DIR={C}/.git git fetch origin", "outside the session's worktree"],
    ["cd {C} && git pull", "git pull in a repository outside the session's worktree"],
    ["git -C {C} commit -am wip", "git commit in a repository outside"],
    ["git fetch {C} main", "git fetch from a path outside the session's worktree ({C})"],
    ["git pull file://{C}", "from a path outside"],
    ["git credential fill < q", "stored git credentials"],
    ['cd "$D" && git commit -m x', "git commit in a repository only known when it runs"],
    [`python3 -c "import subprocess; subprocess.run(['git','push'])"`, "pushes to a git remote"],
    [`node -e "require('child_process').execSync('git push')"`, "pushes to a git remote"],
    [`perl -e 'system("git", "push", "origin")'`, "pushes to a git remote"],
    [`ruby -e 'system "git push"'`, "mentions push"],
    [`python3 -c "import os; getattr(os, 'system')('git push')"`, "mentions push"],
  ])("%s asks", (command, reason) => {
    const v = f.bash(fill(command));
    expect([v.decision, v.layer]).toEqual(["ask", "heuristic"]);
    expect(v.reason).toContain(fill(reason));
  });

  it.each([
    "git status",
    "git config --get user.name",
    "git config user.name",
    "git config --list --show-origin",
    "git config -l",
    "git config get user.email",
    "git symbolic-ref --short HEAD",
    "git -c user.name=Bot -c user.email=bot@example.com commit -m msg",
    "git -C src status",
    "git log --oneline -5",
    "git fetch origin",
    "git pull --rebase origin main",
    "git -C {C} log --oneline",
    "git --no-pager diff",
    "git stash list",
    "git lfs ls-files",
    "git clone {C} copy",
    "git fetch /tmp/scratch-repo",
    'cd "$D" && git status',
    "python3 -c 'print(1)'",
    "node -e 'console.log(2)'",
  ])("%s stays allowed", (command) => {
    const v = f.bash(fill(command));
    expect([v.decision, v.reason]).toEqual(["allow", "allowed by the tailscale-permissive profile"]);
  });

  it.each([
    "git push",
    "git push --force origin main",
    "git -C . push",
    "git --no-pager -C src push origin",
    "git --exec-path=/tmp/bin push",
    "git -c alias.p=push p origin",
    "git -c alias.p='!git push' p",
    "git config alias.x push; git x origin",
    "git send-pack /srv/remote main",
    "timeout 5 git -c color.ui=never push",
    `python3 -c "import subprocess; subprocess.run(['git','push'])"`,
    `python3 -c "import os; os.system('git push origin main')"`,
    `node -e "require('child_process').spawnSync('git', ['push'])"`,
    `perl -e 'system("git", "push")'`,
  ])("an owner's deny rule for git push * catches %s", (command) => {
    expect(f.bash(command, { rules: [denyPush] })).toMatchObject({
      decision: "deny",
      layer: "rule",
      ruleId: "r_owner_push",
    });
  });
});

describe("scripts run from files", () => {
  it.each(["bash ./x.sh", "./x.sh", "sh x", "source x.sh", ". ./x.sh", "python3 tool.py", "node build.js"])(
    "%s asks when the owner has a bash deny rule, and is judged by its starter otherwise",
    (command) => {
      const denied = f.bash(command, { rules: [denyPush] });
      expect([denied.decision, denied.layer]).toEqual(["ask", "heuristic"]);
      expect(denied.reason).toContain("whose commands no rule can see");
      expect(f.bash(command).decision).toBe("allow");
    },
  );

  it("writing a script and running it in one line asks; commands that run no file stay allowed", () => {
    const rules = [denyPush];
    expect(f.bash("echo 'git push' > y.sh && bash y.sh", { rules }).decision).toBe("ask");
    for (const c of ["ls -la", "bash -c 'ls'", "npm test", "/usr/bin/env", "python3 -m pytest", "git status"])
      expect([c, f.bash(c, { rules }).decision]).toEqual([c, "allow"]);
  });
});
