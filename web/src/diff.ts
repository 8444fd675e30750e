/** Splits a `git diff` patch into per-file parts and numbers its lines, for the review screen. */

export type DiffLineKind = "add" | "del" | "ctx" | "hunk" | "meta";

export interface DiffLine {
  kind: DiffLineKind;
  text: string;
  /** Line number in the old file (del, ctx). */
  old?: number;
  /** Line number in the new file (add, ctx). */
  new?: number;
}

/** The patch cut into one chunk per `diff --git` header, keyed by that header line. */
export function splitPatch(patch: string): Map<string, string> {
  const parts = new Map<string, string>();
  const starts: number[] = [];
  const re = /^diff --git /gm;
  for (let m = re.exec(patch); m; m = re.exec(patch)) starts.push(m.index);
  starts.forEach((start, i) => {
    const chunk = patch.slice(start, starts[i + 1] ?? patch.length);
    const header = chunk.slice(0, chunk.indexOf("\n") === -1 ? undefined : chunk.indexOf("\n"));
    parts.set(header, chunk);
  });
  return parts;
}

function quote(p: string): string {
  return JSON.stringify(p);
}

/** The chunk of `parts` for one file of `session.diff`'s `files`, if the patch (maybe cut) has it. */
export function chunkFor(
  parts: Map<string, string>,
  file: { path: string; oldPath?: string },
): string | undefined {
  const from = file.oldPath ?? file.path;
  return (
    parts.get(`diff --git a/${from} b/${file.path}`) ??
    // git quotes paths with unusual characters: "a/na\"me" "b/na\"me".
    parts.get(`diff --git ${quote(`a/${from}`)} ${quote(`b/${file.path}`)}`)
  );
}

/** The lines of one file's chunk, with old and new line numbers from the hunk headers. */
export function parseChunk(chunk: string): DiffLine[] {
  const lines = chunk.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const out: DiffLine[] = [];
  let inHunk = false;
  let oldNo = 0;
  let newNo = 0;
  for (const text of lines) {
    const h = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (h) {
      inHunk = true;
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      out.push({ kind: "hunk", text });
    } else if (!inHunk) {
      // diff --git, index, mode and ---/+++ lines: only a binary notice or a rename says anything.
      if (/^(Binary files|rename |new file mode|deleted file mode|old mode|new mode)/.test(text))
        out.push({ kind: "meta", text });
    } else if (text.startsWith("+")) out.push({ kind: "add", text: text.slice(1), new: newNo++ });
    else if (text.startsWith("-")) out.push({ kind: "del", text: text.slice(1), old: oldNo++ });
    else if (text.startsWith("\\")) out.push({ kind: "meta", text });
    else out.push({ kind: "ctx", text: text.slice(1), old: oldNo++, new: newNo++ });
  }
  return out;
}
