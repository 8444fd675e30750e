/**
 * Entry point of the standalone binary (`npm run build:binary`, Node's single-executable
 * applications). Files the code reads at run time — pi's package files (package.json, themes,
 * docs), the web app, the SQLite addon — travel as SEA assets and are unpacked once into a cache
 * dir named for their content, before any application module is evaluated.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { getAsset } from "node:sea";
import { pathToFileURL } from "node:url";

interface Manifest {
  /** Hash of every asset: the cache dir's name, so a new build never reads an old unpack. */
  id: string;
  files: string[];
}

function cacheRoot(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "pi-server", "binary");
}

function unpack(manifest: Manifest): string {
  const dir = join(cacheRoot(), manifest.id);
  if (existsSync(join(dir, ".complete"))) return dir;
  mkdirSync(dirname(dir), { recursive: true, mode: 0o700 });
  // Unpacked beside, then renamed: two first runs at once never see half a tree.
  const staging = `${dir}.${process.pid}.${createHash("sha256").update(String(Date.now())).digest("hex").slice(0, 8)}`;
  rmSync(staging, { recursive: true, force: true });
  for (const key of manifest.files) {
    const target = join(staging, key);
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    writeFileSync(target, new Uint8Array(getAsset(key)), { mode: key.endsWith(".node") ? 0o700 : 0o600 });
  }
  writeFileSync(join(staging, ".complete"), manifest.id, { mode: 0o600 });
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another first run finished first: its tree is the same content.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, ".complete"))) throw err;
  }
  return dir;
}

async function main(): Promise<void> {
  const manifest = JSON.parse(getAsset("manifest.json", "utf8")) as Manifest;
  const dir = unpack(manifest);
  process.env.PI_PACKAGE_DIR = join(dir, "pi");
  const g = globalThis as {
    __piServerMetaUrl?: string;
    __piServerSqliteAddon?: unknown;
    __piServerStandalone?: boolean;
  };
  // `service install` runs this executable itself, not node and a script.
  g.__piServerStandalone = true;
  // The bundle's import.meta.url: ../package.json and ../dist-web resolve inside the unpacked app.
  g.__piServerMetaUrl = pathToFileURL(join(dir, "app", "dist", "pi-server.cjs")).href;
  const addon = { exports: {} as unknown };
  process.dlopen(addon, join(dir, "native", "better_sqlite3.node"));
  g.__piServerSqliteAddon = addon.exports;
  // ws's optional native helpers cannot load here; asking for them only prints a warning.
  process.env.WS_NO_BUFFER_UTIL ??= "1";
  process.env.WS_NO_UTF_8_VALIDATE ??= "1";
  const { run } = await import("../cli/main.js");
  // A single executable's argv is [binary, binary, ...args]: the same shape as [node, script, ...args].
  await run(process.argv);
}

main().catch((err: unknown) => {
  process.stderr.write(`pi-server: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
