import { execFile } from "node:child_process";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHarness, tmp, TOKEN, type Harness } from "./helpers/harness.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const exec = promisify(execFile);

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return exec(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env } }).then(
    (r) => ({ stdout: r.stdout, stderr: r.stderr, code: 0 }),
    (e: { stdout: string; stderr: string; code: number }) => ({
      stdout: e.stdout,
      stderr: e.stderr,
      code: e.code,
    }),
  );
}

describe("the typed client as a package entry point", () => {
  let h: Harness;
  let project: string;
  beforeAll(async () => {
    h = await startHarness();
    // A project outside the clone that depends on pi-server (what `npm install <path>` links).
    project = tmp("client-user");
    mkdirSync(join(project, "node_modules"));
    symlinkSync(ROOT, join(project, "node_modules", "pi-server"), "dir");
    writeFileSync(join(project, "package.json"), JSON.stringify({ type: "module" }));
  });
  afterAll(() => h.close());

  it("imports as pi-server/client from another project and talks to a server", async () => {
    writeFileSync(
      join(project, "use.mjs"),
      [
        'import { PiClient } from "pi-server/client";',
        "const client = await PiClient.connect(process.argv[2], { token: process.argv[3] });",
        'const { repos } = await client.request("repos.list", {});',
        "console.log(JSON.stringify({ principal: client.hello.principal, repos: repos.map((r) => r.id) }));",
        "await client.close();",
      ].join("\n"),
    );
    const r = await run(process.execPath, ["use.mjs", h.server.url, TOKEN], { cwd: project });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toMatchObject({ principal: { kind: "owner" }, repos: ["demo"] });
  });

  it("carries its types: a wrong parameter is a compile error there", async () => {
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
        },
        files: ["typed.ts"],
      }),
    );
    const tsc = join(ROOT, "node_modules", "typescript", "bin", "tsc");
    const source = (repoId: string): string =>
      [
        'import { PiClient } from "pi-server/client";',
        'const client = await PiClient.connect("ws://127.0.0.1:1", { token: "t" });',
        `const { session } = await client.request("session.create", { repoId: ${repoId} });`,
        "const id: string = session.id;",
        "export { id };",
      ].join("\n");
    writeFileSync(join(project, "typed.ts"), source('"demo"'));
    expect(await run(process.execPath, [tsc, "-p", project])).toMatchObject({ code: 0 });
    writeFileSync(join(project, "typed.ts"), source("42"));
    const bad = await run(process.execPath, [tsc, "-p", project]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout).toContain("typed.ts");
    expect(bad.stdout).toContain("Type 'number' is not assignable to type 'string'");
  }, 240_000);

  it("the README's example says what it needs instead of a stack trace", async () => {
    const tsx = join(ROOT, "node_modules", "tsx", "dist", "cli.mjs");
    const noToken = await run(process.execPath, [tsx, join(ROOT, "examples", "turn.ts")], {
      env: { TOKEN: "" },
    });
    expect(noToken).toMatchObject({
      code: 1,
      stderr: "set TOKEN to the owner token the server printed on its first start\n",
    });
    const wrong = await run(process.execPath, [tsx, join(ROOT, "examples", "turn.ts")], {
      env: { TOKEN: "wrong-token-0123456789", URL: h.server.url },
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^could not connect: .*invalid/);
    expect(wrong.stderr).not.toMatch(/^\s+at /m);
  });
});
