/**
 * The app shell's JavaScript, gzipped (level 9, as the build's own .gz files): the scripts
 * index.html loads, and — since a phone on plain http without WebCrypto's Ed25519 also loads the
 * @noble fallback — every other chunk of the build too. The budget applies to that sum.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

export interface ShellSize {
  /** Scripts named in index.html (entry and modulepreloads). */
  entryGzip: number;
  /** Every .js file of the build. */
  allGzip: number;
  cssGzip: number;
  files: { name: string; gzip: number; raw: number }[];
}

export function shellSize(distWeb: string): ShellSize {
  const html = readFileSync(join(distWeb, "index.html"), "utf8");
  const named = new Set([...html.matchAll(/(?:src|href)="\/app\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]!));
  const gz = (rel: string): number => gzipSync(readFileSync(join(distWeb, rel)), { level: 9 }).length;
  const assets = readdirSync(join(distWeb, "assets"));
  const files = assets
    .filter((f) => f.endsWith(".js"))
    .map((f) => ({ name: f, gzip: gz(`assets/${f}`), raw: readFileSync(join(distWeb, "assets", f)).length }));
  return {
    entryGzip: files.filter((f) => named.has(`assets/${f.name}`)).reduce((s, f) => s + f.gzip, 0),
    allGzip: files.reduce((s, f) => s + f.gzip, 0),
    cssGzip: assets.filter((f) => f.endsWith(".css")).reduce((s, f) => s + gz(`assets/${f}`), 0),
    files,
  };
}
