// npm run bench: runs every benchmark module (bench/*.bench.ts), one after the
// other, and prints their figures. Benchmarks print; they never fail on speed.
// Usage: npm run bench [-- name ...]   (only modules whose file name contains one)
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const filters = process.argv.slice(2);
const modules = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

console.log(`vtpm-verify benchmarks: node ${process.version}, ${(await import('node:os')).cpus().length} CPU(s), ${new Date().toISOString()}`);
for (const file of modules) {
  console.log(`\n=== ${file.replace(/\.bench\.js$/, '')} ===`);
  const mod = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<void> };
  await mod.default();
}
