import { describe, expect, it } from "vitest";
import { chunkFor, parseChunk, splitPatch } from "../web/src/diff.js";

const PATCH = [
  "diff --git a/README.md b/README.md",
  "index 1b2c3d4..5e6f7a8 100644",
  "--- a/README.md",
  "+++ b/README.md",
  "@@ -1,2 +1,2 @@",
  " # demo",
  "-old line",
  "+new line",
  "diff --git a/old name.txt b/new name.txt",
  "similarity index 100%",
  "rename from old name.txt",
  "rename to new name.txt",
  'diff --git "a/t\\"q.bin" "b/t\\"q.bin"',
  "new file mode 100644",
  "index 0000000..3e75765",
  'Binary files /dev/null and "b/t\\"q.bin" differ',
  "",
].join("\n");

describe("web app diff parsing", () => {
  it("finds each file's part of the patch and numbers its lines", () => {
    const parts = splitPatch(PATCH);
    expect(parts.size).toBe(3);
    expect(parseChunk(chunkFor(parts, { path: "README.md" })!)).toEqual([
      { kind: "hunk", text: "@@ -1,2 +1,2 @@" },
      { kind: "ctx", text: "# demo", old: 1, new: 1 },
      { kind: "del", text: "old line", old: 2 },
      { kind: "add", text: "new line", new: 2 },
    ]);
    const renamed = parseChunk(chunkFor(parts, { path: "new name.txt", oldPath: "old name.txt" })!);
    expect(renamed.map((l) => l.text)).toEqual(["rename from old name.txt", "rename to new name.txt"]);
    const binary = parseChunk(chunkFor(parts, { path: 't"q.bin' })!);
    expect(binary).toEqual([
      { kind: "meta", text: "new file mode 100644" },
      { kind: "meta", text: 'Binary files /dev/null and "b/t\\"q.bin" differ' },
    ]);
    // A file past the cut of a truncated patch has no part.
    expect(chunkFor(parts, { path: "later.txt" })).toBeUndefined();
  });
});
