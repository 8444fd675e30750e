import type * as PiSdk from "@mariozechner/pi-coding-agent";
import type { ToolRuntime } from "../runtime/runtime.js";
import type { Sdk } from "./pi.js";

/** pi's four default tools; find/grep/ls would try to download helper binaries on first use. */
export const TOOL_NAMES = ["read", "bash", "edit", "write"];

/** The image types pi sends to a model, told apart by their first bytes. */
function sniffImage(buf: Buffer): string | null {
  if (
    buf.length >= 8 &&
    buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))
  )
    return "image/png";
  if (buf.length >= 3 && buf[0] === 0xff && buf[1] === 0xd8 && buf[2] === 0xff) return "image/jpeg";
  const head = buf.subarray(0, 12).toString("latin1");
  if (head.startsWith("GIF87a") || head.startsWith("GIF89a")) return "image/gif";
  if (head.startsWith("RIFF") && head.slice(8, 12) === "WEBP") return "image/webp";
  return null;
}

/**
 * pi's read, write, edit and bash tools with every file access and command going through the
 * session's runtime, so all four obey the same boundary (the sandbox, by default).
 */
export function runtimeTools(sdk: Sdk, cwd: string, runtime: ToolRuntime): PiSdk.ToolDefinition[] {
  // The read tool asks for the image type, then for the bytes: one read of the file serves both.
  let last: { path: string; data: Buffer } | undefined;
  const readOnce = async (path: string): Promise<Buffer> => {
    if (last?.path === path) {
      const data = last.data;
      last = undefined;
      return data;
    }
    return runtime.readFile(path);
  };
  const read = sdk.createReadToolDefinition(cwd, {
    operations: {
      access: (p) => runtime.access(p, false),
      readFile: readOnce,
      detectImageMimeType: async (p) => {
        const data = await runtime.readFile(p);
        last = { path: p, data };
        return sniffImage(data);
      },
    },
  });
  const write = sdk.createWriteToolDefinition(cwd, {
    operations: { writeFile: (p, c) => runtime.writeFile(p, c), mkdir: (d) => runtime.mkdir(d) },
  });
  const edit = sdk.createEditToolDefinition(cwd, {
    operations: {
      access: (p) => runtime.access(p, true),
      readFile: (p) => runtime.readFile(p),
      writeFile: (p, c) => runtime.writeFile(p, c),
    },
  });
  const bash = sdk.createBashToolDefinition(cwd, {
    operations: {
      exec: (command, execCwd, opts) =>
        runtime.exec(command, {
          cwd: execCwd,
          onData: opts.onData,
          signal: opts.signal,
          timeout: opts.timeout,
        }),
    },
  });
  return [read, write, edit, bash] as unknown as PiSdk.ToolDefinition[];
}
