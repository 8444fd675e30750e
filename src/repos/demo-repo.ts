import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import type { DataPaths } from "../store/paths.js";
import { git } from "./git.js";
import { appendRepoEntry, DEMO_REPO_DIR, readReposFile } from "./repos.js";

export const DEMO_REPO_ID = "demo";

const FILES: Record<string, string> = {
  "README.md": [
    "# pi-server demo repository",
    "",
    "Made by `pi-server serve --demo` so that a first session has something to work on.",
    "Sessions get a repository of their own cloned from this one; what they commit arrives here",
    "as branches `pi/<session id>`.",
    "",
  ].join("\n"),
  "hello.py":
    'def greet(name: str) -> str:\n    return f"Hello, {name}!"\n\n\nif __name__ == "__main__":\n    print(greet("pi"))\n',
  "docs/notes.md": "# Notes\n\n- a second directory, so that `ls` has something to show\n",
};

/**
 * `<data-dir>/demo-repo`: a small git repository the server makes and owns (no sandbox mounts it),
 * registered as `demo` unless repos.json already has an entry with that id. True when the `demo`
 * entry is this repository.
 */
export async function ensureDemoRepo(paths: DataPaths, log: Logger): Promise<boolean> {
  const dir = join(paths.root, DEMO_REPO_DIR);
  if (!existsSync(join(dir, ".git"))) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [name, content] of Object.entries(FILES)) {
      mkdirSync(join(dir, name, ".."), { recursive: true });
      writeFileSync(join(dir, name), content);
    }
    await git(dir, ["init", "-q", "-b", "main"]);
    await git(dir, ["add", "-A"]);
    const who = [
      "-c",
      "user.name=pi-server",
      "-c",
      "user.email=pi-server@localhost",
      "-c",
      "commit.gpgsign=false",
    ];
    await git(dir, [...who, "commit", "-q", "--no-verify", "-m", "Demo repository"]);
    log.info({ path: dir }, "created the demo repository");
  }
  if (appendRepoEntry(paths.repos, { id: DEMO_REPO_ID, name: "demo", path: dir })) return true;
  const existing = readReposFile(paths.repos).find((r) => r.id === DEMO_REPO_ID);
  if (existing?.path === dir) return true;
  log.info({ path: existing?.path }, 'repos.json already has a "demo" entry; kept it');
  return false;
}
