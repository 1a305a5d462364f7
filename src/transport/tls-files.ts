// TLS options from files, as the CLI names them (--ca FILE --cert FILE --key FILE).
// Read with a cap and typed errors; the PEM contents are checked when the
// HttpClient builds its secure context (TRANSPORT_TLS_CONFIG).

import { UsageError } from '../errors.js';
import { readInputFile } from '../util/files.js';
import type { TlsOptions } from './http-client.js';

/** PEM bundles are small; 4 MiB holds any CA bundle in use. */
const TLS_FILE_CAP = 4 * 1024 * 1024;

export interface TlsFiles {
  /** one or more CA bundle files */
  ca?: string | readonly string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** Where the files were named, for messages: the CLI's options, or an inventory's tls keys. */
export const CLI_TLS_NAMES = { ca: '--ca', cert: '--cert', key: '--key' } as const;
export const INVENTORY_TLS_NAMES = { ca: 'tls.ca', cert: 'tls.cert', key: 'tls.key' } as const;

export function readTlsFiles(files: TlsFiles, names: { ca: string; cert: string; key: string } = CLI_TLS_NAMES): TlsOptions {
  if ((files.cert === undefined) !== (files.key === undefined)) {
    throw new UsageError('USAGE', `${names.cert} and ${names.key} must be given together`, { cert: files.cert, key: files.key });
  }
  const out: TlsOptions = {};
  if (files.ca !== undefined) {
    const list = typeof files.ca === 'string' ? [files.ca] : files.ca;
    out.ca = list.map((p) => readInputFile(p, `CA bundle (${names.ca})`, TLS_FILE_CAP));
  }
  if (files.cert !== undefined) out.cert = readInputFile(files.cert, `client certificate (${names.cert})`, TLS_FILE_CAP);
  if (files.key !== undefined) out.key = readInputFile(files.key, `client key (${names.key})`, TLS_FILE_CAP);
  return out;
}
