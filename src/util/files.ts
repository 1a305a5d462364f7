// Reading input files with a size cap and typed errors. Only the edges (CLI,
// trust store loading, state) read files; the core takes bytes.

import { readFileSync, statSync } from 'node:fs';
import { UsageError } from '../errors.js';

/** 64 MiB: larger than any evidence file we accept (IMA lists included). */
export const DEFAULT_FILE_CAP = 64 * 1024 * 1024;

export function readInputFile(path: string, what: string, maxBytes = DEFAULT_FILE_CAP): Buffer {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError('FILE_UNREADABLE', `${what}: ${path} is not a regular file`, { path, what });
    size = st.size;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('FILE_UNREADABLE', `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path, what }, { cause: err });
  }
  if (size > maxBytes) {
    throw new UsageError('FILE_TOO_LARGE', `${what}: ${path} is ${size} bytes, more than the ${maxBytes}-byte cap`, { path, what, size, max: maxBytes });
  }
  try {
    const data = readFileSync(path);
    if (data.length > maxBytes) throw new UsageError('FILE_TOO_LARGE', `${what}: ${path} grew beyond the ${maxBytes}-byte cap`, { path, what, max: maxBytes });
    return data;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError('FILE_UNREADABLE', `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path, what }, { cause: err });
  }
}

export function readInputText(path: string, what: string, maxBytes = DEFAULT_FILE_CAP): string {
  return readInputFile(path, what, maxBytes).toString('utf8');
}
