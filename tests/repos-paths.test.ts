import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readReposFile } from "../src/repos/repos.js";
import { makeRepo, tmp } from "./helpers/harness.js";

describe("repos.json paths", () => {
  it("are resolved to real directories outside the data dir and kernel file systems", () => {
    const dataDir = tmp("data");
    const repo = makeRepo();
    const link = join(tmp("links"), "via-link");
    symlinkSync(repo, link);
    mkdirSync(join(dataDir, "sessions", "x"), { recursive: true });
    const linkToData = join(tmp("links"), "to-data");
    symlinkSync(join(dataDir, "sessions"), linkToData);
    const file = join(dataDir, "repos.json");
    writeFileSync(
      file,
      JSON.stringify({
        repos: [
          { id: "link", path: link },
          { id: "proc", path: "/proc/self/cwd" },
          { id: "inside", path: join(dataDir, "sessions", "x") },
          { id: "sneaky", path: linkToData },
          { id: "dots", path: `${repo}/../${repo.split("/").pop()}` },
        ],
      }),
    );
    const byId = Object.fromEntries(readReposFile(file).map((r) => [r.id, r]));
    expect(byId.link).toMatchObject({ ok: true, path: repo });
    expect(byId.proc).toMatchObject({ ok: false, error: expect.stringMatching(/kernel file system/) });
    expect(byId.inside).toMatchObject({
      ok: false,
      error: expect.stringMatching(/inside the server's data dir/),
    });
    expect(byId.sneaky).toMatchObject({
      ok: false,
      error: expect.stringMatching(/inside the server's data dir/),
    });
    expect(byId.dots).toMatchObject({ ok: true, path: repo });
  });
});
