import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The server serves dist-web/ at /app/ under a CSP without 'unsafe-inline': everything Vite emits
// must be an external file, which its production build does by default.
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/app/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: fileURLToPath(new URL("../dist-web", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
    // One small app: inlining assets as data: URLs would be blocked for scripts and adds nothing.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
