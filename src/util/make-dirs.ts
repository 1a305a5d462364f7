// mkdir -p without { recursive: true }: Node 20's recursive mkdir spins at
// 100% CPU for ever on a path under /proc that does not exist (/proc/nope/x).
// Walking up to the nearest folder that exists and creating each missing
// level in turn fails there at once, with ENOENT.

import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Creates `path` and any missing parents (each with `mode`); throws the file system's error as mkdirSync does. */
export function makeDirs(path: string, mode = 0o777): void {
  const missing: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    try {
      if (statSync(dir).isDirectory()) break;
      throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${dir}'`), { code: 'ENOTDIR', path: dir });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    try {
      mkdirSync(dir, { mode });
    } catch (err) {
      // another process made it meanwhile
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
