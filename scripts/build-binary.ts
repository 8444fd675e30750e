/**
 * npm run build:binary → dist/pi-server: one executable that runs without Node installed.
 *
 * Node's single-executable applications (SEA): esbuild bundles the CLI into one CommonJS script
 * (SEA runs CommonJS only), import.meta.url becomes a value the entry point sets at run time, and
 * the files the code reads from disk travel as SEA assets (see src/binary/main.ts). postject
 * injects the blob into a copy of the node binary running this script.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist", "sea");
const target = join(root, "dist", "pi-server");
const require = createRequire(join(root, "package.json"));

function filesUnder(dir: string, keep: (path: string) => boolean = () => true): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) found.push(...filesUnder(p, keep));
    else if (keep(p)) found.push(p);
  }
  return found;
}

/** Asset key → file. What the bundle reads from disk at run time, and nothing it has in its code. */
function assets(): Record<string, string> {
  const pi = join(root, "node_modules", "@mariozechner", "pi-coding-agent");
  const map: Record<string, string> = {
    "app/package.json": join(root, "package.json"),
    "pi/package.json": join(pi, "package.json"),
    "pi/README.md": join(pi, "README.md"),
    "pi/CHANGELOG.md": join(pi, "CHANGELOG.md"),
    "native/better_sqlite3.node": join(
      root,
      "node_modules",
      "better-sqlite3",
      "build",
      "Release",
      "better_sqlite3.node",
    ),
  };
  // pi's docs (its system prompt points the agent at them), themes, export templates, images.
  for (const f of filesUnder(join(pi, "docs"))) map[`pi/${relative(pi, f)}`] = f;
  for (const f of filesUnder(join(pi, "dist"), (p) => !/\.(js|d\.ts|map)$/.test(p)))
    map[`pi/${relative(pi, f)}`] = f;
  const web = join(root, "dist-web");
  if (!existsSync(join(web, "index.html")))
    throw new Error("dist-web/ is not built: run npm run build first");
  for (const f of filesUnder(web)) map[`app/${relative(root, f)}`] = f;
  return map;
}

async function main(): Promise<void> {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const bundle = join(out, "pi-server.cjs");
  const result = await build({
    entryPoints: [join(root, "src", "binary", "main.ts")],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: bundle,
    define: { "import.meta.url": "globalThis.__piServerMetaUrl" },
    // A SEA's main script has no dynamic import() on Node 20: what the bundle cannot inline
    // (node: builtins named at run time) becomes require(), which a SEA serves for builtins.
    supported: { "dynamic-import": false },
    // Optional native helpers of pi's terminal UI (clipboard, images): the server never loads them.
    external: ["@mariozechner/clipboard*", "koffi", "@silvia-odwyer/photon-node"],
    logLevel: "warning",
    legalComments: "none",
  });
  if (result.errors.length > 0) throw new Error("bundling failed");

  const files = assets();
  const hash = createHash("sha256");
  for (const [key, file] of Object.entries(files).sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(key).update("\0").update(readFileSync(file)).update("\0");
  }
  const manifest = { id: hash.digest("hex").slice(0, 16), files: Object.keys(files) };
  const manifestFile = join(out, "manifest.json");
  writeFileSync(manifestFile, JSON.stringify(manifest));
  const blob = join(out, "sea-prep.blob");
  const seaConfig = join(out, "sea-config.json");
  writeFileSync(
    seaConfig,
    JSON.stringify(
      {
        main: bundle,
        output: blob,
        disableExperimentalSEAWarning: true,
        useCodeCache: true,
        assets: { "manifest.json": manifestFile, ...files },
      },
      null,
      2,
    ),
  );
  execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: "inherit" });
  rmSync(target, { force: true });
  copyFileSync(process.execPath, target);
  chmodSync(target, 0o755);
  if (process.platform === "darwin") execFileSync("codesign", ["--remove-signature", target]);
  execFileSync(
    process.execPath,
    [
      require.resolve("postject/dist/cli.js"),
      target,
      "NODE_SEA_BLOB",
      blob,
      "--sentinel-fuse",
      "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2",
      ...(process.platform === "darwin" ? ["--macho-segment-name", "NODE_SEA"] : []),
    ],
    { stdio: "inherit" },
  );
  if (process.platform === "darwin") execFileSync("codesign", ["--sign", "-", target]);
  const mib = (statSync(target).size / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `dist/pi-server: ${mib} MiB, node ${process.version}, ${manifest.files.length} assets\n`,
  );
}

await main();
