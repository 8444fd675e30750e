import { execFile, execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync, lstatSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PiClient } from "../src/client/client.js";
import { TokenStore } from "../src/store/tokens.js";
import { startGitHttp, type GitHttpServer } from "./helpers/git-http.js";
import { makeRepo, runTurn, startHarness, tmp, type Harness } from "./helpers/harness.js";

const BIN = fileURLToPath(new URL("../bin/pi-server.js", import.meta.url));
const exec = promisify(execFile);
const SECRET = "ghp_canaryToken0123456789abcdefXYZ";

let h: Harness;
let srv: GitHttpServer;
let other: GitHttpServer;
let root: string;

/** Every file under `dir` whose bytes contain `needle` (symlinks are not followed). */
function filesContaining(dir: string, needle: string): string[] {
  const hits: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) hits.push(p);
    }
  };
  walk(dir);
  return hits;
}

beforeAll(async () => {
  root = tmp("git-root");
  const src = makeRepo({ "README.md": "# private\n", "src/app.ts": "export const secret = 42;\n" });
  execFileSync("git", ["clone", "-q", "--bare", src, join(root, "private.git")]);
  execFileSync("git", ["clone", "-q", "--bare", src, join(root, "second.git")]);
  srv = await startGitHttp(root, SECRET);
  other = await startGitHttp(root, SECRET);
  h = await startHarness({ config: { repos: { tokenHosts: [srv.host] } } });
  rmSync(src, { recursive: true, force: true });
});
afterAll(async () => {
  await h?.close();
  await srv?.close();
  await other?.close();
  rmSync(root, { recursive: true, force: true });
});

describe("repos by clone url", () => {
  it("a private repo needs the token; with it, sessions work on the clone and the token is on no disk", async () => {
    const client = await h.connect();
    const url = `${srv.url}/private.git`;
    await expect(client.request("repos.add", { url })).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("could not clone"),
    });
    writeFileSync(join(h.dataDir, ".env"), `GITHUB_TOKEN=${SECRET}\n`, { mode: 0o600 });

    const { repo, workspace } = await client.request("repos.add", { url, name: "Private" });
    expect(repo).toMatchObject({ id: "private", name: "Private", url, ok: true });
    expect(workspace).toMatchObject({ id: "private", repoId: "private", isDefault: true });
    const listed = (await client.request("repos.list", {})).repos.find((r) => r.id === "private");
    expect(listed).toMatchObject({ ok: true, url });
    expect(JSON.parse(readFileSync(join(h.dataDir, "repos.json"), "utf8")).repos).toContainEqual({
      id: "private",
      name: "Private",
      url,
    });

    const { session } = await client.request("session.create", { repoId: "private" });
    expect(readFileSync(join(session.worktree, "src/app.ts"), "utf8")).toContain("secret = 42");
    await runTurn(h, client, session.id, "hello", { kind: "text", text: "hi" });
    // A second session fetches again (the token is needed every time, and stored no time).
    const second = await client.request("session.create", { repoId: "private" });
    expect(second.session.branch).toMatch(/^pi\//);

    // The git server saw the token, so it did travel; the data dir holds it only in .env.
    expect(srv.authHeaders.some((a) => a?.startsWith("Basic "))).toBe(true);
    const hits = filesContaining(h.dataDir, SECRET).filter((p) => p !== join(h.dataDir, ".env"));
    expect(hits).toEqual([]);
  });

  it("offers the token only to the hosts in repos.tokenHosts", async () => {
    const client = await h.connect();
    const before = other.authHeaders.length;
    await expect(
      client.request("repos.add", { url: `${other.url}/private.git`, id: "elsewhere" }),
    ).rejects.toMatchObject({
      code: "invalid_request",
      message: expect.stringContaining("could not clone"),
    });
    const seen = other.authHeaders.slice(before);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((a) => a === undefined)).toBe(true);
  });

  it("refuses urls that carry credentials or are not clone urls", async () => {
    const client = await h.connect();
    for (const url of [
      `http://x-access-token:${SECRET}@${srv.host}/private.git`,
      "file:///etc",
      "ext::sh -c touch% /tmp/pwned",
      "--upload-pack=touch /tmp/pwned",
    ]) {
      const err = await client.request("repos.add", { url }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: "invalid_request" });
      expect(JSON.stringify(err)).not.toContain(SECRET);
    }
    await expect(
      client.request("repos.add", { url: "https://example.com/x.git", path: "/tmp" }),
    ).rejects.toMatchObject({
      code: "invalid_request",
    });
    expect(JSON.parse(readFileSync(join(h.dataDir, "repos.json"), "utf8")).repos).not.toContainEqual(
      expect.objectContaining({ url: expect.stringContaining(SECRET) }),
    );
  });

  it("the CLI clones a url too, printing and storing no token", async () => {
    const url = `${srv.url}/second.git`;
    const { stdout, stderr } = await exec(
      process.execPath,
      [BIN, "repos", "add", url, "--id", "cli-private", "--data-dir", h.dataDir],
      {
        env: { ...process.env, GITHUB_TOKEN: "" },
      },
    );
    expect(stdout).toContain("registered cli-private");
    expect(stdout + stderr).not.toContain(SECRET);
    const hits = filesContaining(h.dataDir, SECRET).filter((p) => p !== join(h.dataDir, ".env"));
    expect(hits).toEqual([]);
  });

  it("repos.add and repos.remove are the owner's; remove refuses while sessions use the repo", async () => {
    const client = await h.connect();
    const phoneToken = "device-token-0123456789abcdef-phone";
    new TokenStore(h.server.db).add("device", "phone", phoneToken);
    const phone = await PiClient.connect(h.server.url, { token: phoneToken });
    const local = makeRepo();
    try {
      await expect(phone.request("repos.add", { path: local })).rejects.toMatchObject({ code: "forbidden" });
      await expect(phone.request("repos.remove", { repoId: "demo" })).rejects.toMatchObject({
        code: "forbidden",
      });
      const { repo } = await client.request("repos.add", { path: local, id: "local" });
      expect(repo).toMatchObject({ id: "local", path: local, ok: true });
      const { session } = await client.request("session.create", { repoId: "local" });
      await expect(client.request("repos.remove", { repoId: "local" })).rejects.toMatchObject({
        code: "conflict",
        data: { sessions: [session.id] },
      });
      await client.request("session.delete", { sessionId: session.id, force: true, deleteBranch: true });
      await expect(client.request("repos.remove", { repoId: "local" })).resolves.toEqual({ removed: true });
      const { workspaces } = await client.request("workspaces.list", {});
      expect(workspaces.some((w) => w.repoId === "local")).toBe(false);
      await expect(client.request("repos.remove", { repoId: "local" })).rejects.toMatchObject({
        code: "not_found",
      });
    } finally {
      await phone.close();
      rmSync(local, { recursive: true, force: true });
    }
  });
});
