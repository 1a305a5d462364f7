// Reads trust anchors, intermediates and CRLs from files and folders (the
// edge; src/x509 stays pure). Any command that validates certificates uses
// this: certs, and the deep-attestation commands.
//
// --trust [LABEL=]PATH   (repeatable)
//   PATH a file: every certificate in it (DER or PEM bundle) is an anchor with LABEL.
//   PATH a folder: every certificate file below it (.pem .crt .cer .der .cert,
//   up to 4 levels) is an anchor; a subfolder named after a well-known label
//   (ek-ca/, ak-ca/, vplatform-ca/) gives its files that label, overriding
//   LABEL=; a subfolder named intermediates/ holds untrusted intermediates.
//   Without a label: "unlabelled". Example layout:
//     trust/ek-ca/NUVO_2111.pem  trust/ek-ca/tpm-ca-roots.pem
//     trust/vplatform-ca/acme-vplatform-root.pem  trust/intermediates/IFX_RSA_034.pem
//
// Files that cannot be read or parsed are reported as problems (with their
// code) and files with other extensions as ignored: nothing is dropped silently.

import { readdirSync, statSync, type Stats } from 'node:fs';
import { extname, join } from 'node:path';
import { ParseError, UsageError } from '../errors.js';
import { readInputFile } from '../util/files.js';
import type { ValidationCache } from '../x509/cache.js';
import { parseCrls, type Crl } from '../x509/crl.js';
import { LABEL_PATTERN, WELL_KNOWN_LABELS, UNLABELLED, buildTrustStore, checkLabel, type TrustProblem, type TrustSource, type TrustStore } from '../x509/trust-store.js';

/** Cap per trust or CRL file: the largest real vendor bundle is ~300 KiB. */
const TRUST_FILE_CAP = 16 * 1024 * 1024;
/**
 * Cap on the bytes read from all trust and intermediates files together (and,
 * separately, from all CRL files): without it 10,000 files at the per-file cap
 * would be 160 GiB. Every TPM vendor's published CA certificates together are a
 * few MiB.
 */
export const TRUST_TOTAL_CAP = 64 * 1024 * 1024;
const MAX_DEPTH = 4;
const MAX_FILES = 10_000;
/** Folder entries looked at in all, and problems / ignored files listed (a hostile tree is refused, not walked). */
const MAX_ENTRIES = 100_000;
const MAX_LISTED = 1000;
const CERT_EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der', '.cert']);
const LABEL_FOLDERS = new Set(Object.keys(WELL_KNOWN_LABELS).filter((l) => l !== UNLABELLED));
const INTERMEDIATES_FOLDER = 'intermediates';

export interface TrustSpec {
  label?: string;
  path: string;
}

/** "[LABEL=]PATH": a prefix that is a valid label is a label (write ./a=b for a path containing '='). */
export function parseTrustSpec(arg: string): TrustSpec {
  const eq = arg.indexOf('=');
  if (eq > 0) {
    const prefix = arg.slice(0, eq);
    if (LABEL_PATTERN.test(prefix)) return { label: prefix, path: arg.slice(eq + 1) };
    if (/^[A-Za-z0-9_-]+$/.test(prefix)) checkLabel(prefix);
  }
  return { path: arg };
}

export interface LoadedTrust {
  store: TrustStore;
  problems: TrustProblem[];
  /** files under trust folders skipped for their extension or for being hidden */
  ignored: string[];
}

function statOrThrow(path: string, what: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw new UsageError('FILE_UNREADABLE', `${what}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path, what }, { cause: err });
  }
}

function totalTooLarge(what: string, read: number, maxTotalBytes: number, path: string): UsageError {
  return new UsageError('USAGE', `${what} hold more than ${maxTotalBytes} bytes together (${read} once ${path} was read)`, { max: maxTotalBytes, read, path });
}

export function loadTrustStore(
  specs: readonly string[],
  options: { intermediates?: readonly string[]; cache?: ValidationCache; maxTotalBytes?: number } = {},
): LoadedTrust {
  const maxTotalBytes = options.maxTotalBytes ?? TRUST_TOTAL_CAP;
  let totalBytes = 0;
  const sources: TrustSource[] = [];
  const problems: TrustProblem[] = [];
  const ignored: string[] = [];
  // Folders already walked, by device and inode (and the role and label they were read for): a symbolic
  // link loop (a -> .) would otherwise multiply the walk by its fan-out at every level.
  const walked = new Set<string>();
  let entries = 0;
  // past MAX_LISTED each list is counted, and the count said at the end: nothing is dropped silently
  let unlistedProblems = 0;
  let unlistedIgnored = 0;
  const problem = (p: TrustProblem): void => {
    if (problems.length < MAX_LISTED) problems.push(p);
    else unlistedProblems++;
  };
  const ignore = (path: string): void => {
    if (ignored.length < MAX_LISTED) ignored.push(path);
    else unlistedIgnored++;
  };

  const addFile = (path: string, role: TrustSource['role'], label: string | undefined, explicit: boolean): void => {
    if (sources.length >= MAX_FILES) throw new UsageError('USAGE', `more than ${MAX_FILES} trust files`, { max: MAX_FILES });
    let bytes: Buffer;
    try {
      bytes = readInputFile(path, role === 'anchor' ? 'trust anchor file' : 'intermediates file', TRUST_FILE_CAP);
    } catch (err) {
      // A file the user named is a usage error; one found in a folder is a reported problem.
      if (explicit || !(err instanceof UsageError)) throw err;
      problem({ origin: path, code: err.code, message: err.message });
      return;
    }
    // the total is a refusal wherever the file came from (not a problem to list and go on past)
    totalBytes += bytes.length;
    if (totalBytes > maxTotalBytes) throw totalTooLarge('trust and intermediates files', totalBytes, maxTotalBytes, path);
    sources.push({ origin: path, bytes, role, ...(label !== undefined ? { label } : {}) });
  };

  const walk = (dir: string, role: TrustSource['role'], label: string | undefined, depth: number, st: Stats): void => {
    // the same folder named again under another label (or as intermediates) is read again for it
    const id = `${st.dev}:${st.ino}:${role}:${label ?? ''}`;
    if (walked.has(id)) {
      problem({ origin: dir, code: 'FILE_UNREADABLE', message: `${dir} is a folder already read (a symbolic link loop or a second link to it); not read again` });
      return;
    }
    walked.add(id);
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (err) {
      problem({ origin: dir, code: 'FILE_UNREADABLE', message: `cannot list ${dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      return;
    }
    entries += names.length;
    if (entries > MAX_ENTRIES) throw new UsageError('USAGE', `trust folders hold more than ${MAX_ENTRIES} entries`, { max: MAX_ENTRIES, path: dir });
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith('.')) {
        ignore(path);
        continue;
      }
      let st: Stats;
      try {
        st = statSync(path);
      } catch (err) {
        problem({ origin: path, code: 'FILE_UNREADABLE', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        continue;
      }
      if (st.isDirectory()) {
        if (depth + 1 > MAX_DEPTH) {
          problem({ origin: path, code: 'FILE_UNREADABLE', message: `${path} is deeper than ${MAX_DEPTH} folder levels; not read` });
        } else if (name === INTERMEDIATES_FOLDER) {
          walk(path, 'intermediate', undefined, depth + 1, st);
        } else if (LABEL_FOLDERS.has(name) && role === 'anchor') {
          walk(path, role, name, depth + 1, st);
        } else {
          walk(path, role, label, depth + 1, st);
        }
      } else if (st.isFile() && CERT_EXTENSIONS.has(extname(name).toLowerCase())) {
        addFile(path, role, label, false);
      } else {
        ignore(path);
      }
    }
  };

  for (const arg of specs) {
    const spec = parseTrustSpec(arg);
    const st = statOrThrow(spec.path, 'trust path');
    if (st.isDirectory()) walk(spec.path, 'anchor', spec.label, 0, st);
    else addFile(spec.path, 'anchor', spec.label, true);
  }
  for (const path of options.intermediates ?? []) {
    const st = statOrThrow(path, 'intermediates');
    if (st.isDirectory()) walk(path, 'intermediate', undefined, 0, st);
    else addFile(path, 'intermediate', undefined, true);
  }

  const built = buildTrustStore(sources, options.cache);
  for (const p of built.problems) problem(p);
  if (unlistedProblems > 0) problems.push({ origin: specs.join(', '), code: 'FILE_UNREADABLE', message: `... and ${unlistedProblems} more problem(s) not listed` });
  if (unlistedIgnored > 0) ignored.push(`... and ${unlistedIgnored} more ignored file(s) not listed`);
  if (built.store.anchors.length === 0) {
    throw new UsageError('TRUST_NO_ANCHORS', `no trust anchor could be loaded from ${specs.join(', ') || '(no --trust given)'}`, {
      trust: specs,
      problems,
    });
  }
  return { store: built.store, problems, ignored };
}

/** Every CRL of the given files; a broken CRL file is bad input (CRL_MALFORMED). */
export function loadCrls(paths: readonly string[], maxTotalBytes = TRUST_TOTAL_CAP): Crl[] {
  const out: Crl[] = [];
  let totalBytes = 0;
  for (const path of paths) {
    const bytes = readInputFile(path, 'CRL file', TRUST_FILE_CAP);
    totalBytes += bytes.length;
    if (totalBytes > maxTotalBytes) throw totalTooLarge('CRL files', totalBytes, maxTotalBytes, path);
    try {
      out.push(...parseCrls(bytes, path));
    } catch (err) {
      if (err instanceof ParseError) throw new ParseError(err.code, err.message, { ...err.details, path }, { cause: err });
      throw err;
    }
  }
  return out;
}
