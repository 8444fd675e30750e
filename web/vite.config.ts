import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { defineConfig, type Plugin } from "vite";

const OUT = fileURLToPath(new URL("../dist-web", import.meta.url));

/**
 * Writes a .br and a .gz beside every text file of the build, which the server sends to browsers
 * that accept them: a phone on a slow network loads a third of the bytes, and the server spends no
 * CPU compressing the same files on every request.
 */
function precompress(): Plugin {
  const TEXT = /\.(html|js|css|svg|webmanifest)$/;
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : [path];
    });
  return {
    name: "precompress",
    apply: "build",
    closeBundle() {
      for (const file of walk(OUT).filter((f) => TEXT.test(f))) {
        const body = readFileSync(file);
        writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
        writeFileSync(
          `${file}.br`,
          brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }),
        );
      }
    },
  };
}

// The server serves dist-web/ at /app/ under a CSP without 'unsafe-inline': everything Vite emits
// must be an external file, which its production build does by default.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/app/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  plugins: [precompress()],
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: "es2022",
    // One small app: inlining assets as data: URLs would be blocked for scripts and adds nothing.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
