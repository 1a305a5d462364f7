// Reading input files with a size cap and typed errors. Only the edges (CLI,
// trust store loading, state) read files; the core takes bytes.

import { accessSync, closeSync, constants as fsConstants, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readdirSync, readSync, realpathSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** 64 MiB: larger than any evidence file we accept (IMA lists included). */
export const DEFAULT_FILE_CAP = 64 * 1024 * 1024;

export function readInputFile(path: string, what: string, maxBytes = DEFAULT_FILE_CAP): Buffer {
  // "-" names a file here, not standard input: inputs are regular files only (their size is checked before reading)
  const stdinHint = path === '-' ? " ('-' is not standard input here: every input is read from a regular file; save it to one first)" : '';
  const unreadable = (err: unknown): UsageError =>
    new UsageError('FILE_UNREADABLE', `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}${stdinHint}`, { path, what }, { cause: err });
  let fd: number;
  try {
    // One open file is checked and read, not a name looked up twice (a file swapped for a FIFO or a larger
    // one between a stat and the read). O_NONBLOCK: opening a FIFO does not wait for a writer, so it is
    // refused below instead of hanging the command; it changes nothing for a regular file.
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  } catch (err) {
    throw unreadable(err);
  }
  try {
    let size: number;
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new UsageError('FILE_UNREADABLE', `${what}: ${path} is not a regular file`, { path, what });
      size = st.size;
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw unreadable(err);
    }
    if (size > maxBytes) {
      throw new UsageError('FILE_TOO_LARGE', `${what}: ${path} is ${size} bytes, more than the ${maxBytes}-byte cap`, { path, what, size, max: maxBytes });
    }
    // never more than the cap and one byte in memory: a file still growing is refused once it passes the cap, not read whole
    let data = Buffer.allocUnsafe(Math.min(Math.max(size + 1, 8192), maxBytes + 1));
    let length = 0;
    try {
      for (;;) {
        if (length === data.length) {
          if (length > maxBytes) throw new UsageError('FILE_TOO_LARGE', `${what}: ${path} grew beyond the ${maxBytes}-byte cap`, { path, what, max: maxBytes });
          const larger = Buffer.allocUnsafe(Math.min(data.length * 2, maxBytes + 1));
          data.copy(larger, 0, 0, length);
          data = larger;
        }
        const n = readSync(fd, data, length, data.length - length, null);
        if (n === 0) break;
        length += n;
      }
    } catch (err) {
      if (err instanceof UsageError) throw err;
      throw unreadable(err);
    }
    return data.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

export function readInputText(path: string, what: string, maxBytes = DEFAULT_FILE_CAP): string {
  return readInputFile(path, what, maxBytes).toString('utf8');
}

/**
 * Checks, before any work, that `file` can be written as an output: a name in
 * an existing, writable folder, and not something other than a regular file
 * (a folder; a FIFO or a device, which writing would block on or spill into).
 */
export function checkOutputFile(option: string, file: string): void {
  if (file === '') throw new UsageError('USAGE', `${option}: the file name is empty`, { option });
  // `attest URL --save --json`: the option after took the place of the file name, and a file "--json" would be written
  if (file.startsWith('-')) {
    throw new UsageError('USAGE', `${option} ${file}: that is an option, not a file name (write ./${file} for a file of that name)`, { option, file, value: file });
  }
  const path = resolve(file);
  const dir = dirname(path);
  let problem: string | undefined;
  try {
    if (!statSync(dir).isDirectory()) problem = `${dir} is not a folder`;
    else {
      let existing;
      try {
        existing = statSync(path, { throwIfNoEntry: false });
      } catch (err) {
        // the folder is fine: the name itself leads nowhere (a symbolic link loop, a name too long)
        throw new UsageError('USAGE', `${option} ${file}: cannot write there: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { option, file }, { cause: err });
      }
      if (existing?.isDirectory()) problem = `${file} is a folder`;
      else if (existing && !existing.isFile()) problem = `${file} is not a regular file`;
      else accessSync(dir, fsConstants.W_OK);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    problem = (err as NodeJS.ErrnoException).code === 'ENOENT' ? `the folder ${dir} does not exist` : `the folder ${dir} is not writable (${(err as NodeJS.ErrnoException).code ?? String(err)})`;
  }
  if (problem) throw new UsageError('USAGE', `${option} ${file}: ${problem}`, { option, file });
}

/**
 * Where writing `file` by renaming onto it lands: its folder with symbolic
 * links resolved, and its own name (a link there is replaced, not followed).
 * Two spellings of one folder (`/link/x`, `/data/x`) give one entry.
 */
export function entryPath(file: string): string {
  const path = resolve(file);
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path;
  }
}

/**
 * The file `file` names, every symbolic link resolved (SQLite opens a state
 * file so, and keeps its -wal, -shm and -journal beside the real file); for
 * a file not there yet, its entryPath.
 */
export function realFilePath(file: string): string {
  try {
    return realpathSync(resolve(file));
  } catch {
    return entryPath(file);
  }
}

/** The temporary file `path` is written through (writeFileAtomic, the audit's reports) by process `pid`: `.NAME.PID.tmp` beside it. */
export function tempPathFor(path: string, pid = process.pid): string {
  return join(dirname(path), `.${basename(path)}.${pid}.tmp`);
}

/** Highest PID Linux hands out (pid_max is at most 2^22); a longer number in a name is not one of our PIDs. */
const MAX_PID = 4_194_304;

/** A temporary file modified this recently may be a live writer's, whatever its PID says here. */
export const STALE_TEMP_AGE_MS = 10 * 60 * 1000;

/**
 * Removes the temporary files of `path` (tempPathFor) that processes no longer
 * running left behind: a write killed (SIGKILL) between creating its temporary
 * file and renaming it into place leaves one, and each such kill would add
 * another. Only regular files of this user named so for `path` exactly, whose
 * PID no process has now and which were last modified over STALE_TEMP_AGE_MS
 * ago, are removed. A PID some process has (the writer itself, or another that
 * took the number since) keeps its file. A writer in another PID namespace
 * sharing the folder (a container) cannot be told from a dead one by its PID;
 * it is writing its file now, which the age spares. Best effort: what cannot
 * be listed or removed is left.
 */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `.${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const now = Date.now();
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const pidText = name.slice(prefix.length, -'.tmp'.length);
    if (!/^[1-9]\d{0,6}$/.test(pidText)) continue;
    const pid = Number(pidText);
    if (pid > MAX_PID || pid === process.pid || processExists(pid)) continue;
    const file = join(dir, name);
    try {
      const st = lstatSync(file);
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || st.mtimeMs > now - STALE_TEMP_AGE_MS) continue;
      unlinkSync(file);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
}

/** Whether a process with this PID exists (one of another user's counts: EPERM). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Writes `text` to `path` as a whole or not at all: into a temporary file
 * beside it, synced, then renamed onto it. A write that fails (a full disk)
 * leaves no partial file, and whatever `path` held before is left intact,
 * instead of truncated. Throws the file system's error, as writeFileSync does.
 */
export function writeFileAtomic(path: string, text: string, mode = 0o644): void {
  const temp = tempPathFor(path);
  removeStaleTemps(path);
  // a file replaced keeps its permissions (a golden policy kept 0600 stays so). A link there is replaced, not
  // followed (entryPath): what it points to lends the new file nothing (a link to a 0666 or setuid file would
  // make the policy written world-writable or setuid); nor do set-id bits of a file replaced (these are data files).
  let keepMode: number | undefined;
  try {
    const st = lstatSync(path);
    if (st.isFile()) keepMode = st.mode & 0o777;
  } catch {
    // nothing there yet
  }
  let fd: number | undefined;
  try {
    // never through what is already at the temporary name (a link planted in a shared folder): a stale
    // one of an earlier process with this pid is removed (the link itself, not what it points to)
    try {
      fd = openSync(temp, 'wx', mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      unlinkSync(temp);
      fd = openSync(temp, 'wx', mode);
    }
    if (keepMode !== undefined) fchmodSync(fd, keepMode);
    const bytes = Buffer.from(text, 'utf8');
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (err) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // the write's error is the one to report
      }
    }
    try {
      unlinkSync(temp);
    } catch {
      // not created, or already renamed
    }
    throw err;
  }
}
