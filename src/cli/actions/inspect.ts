// Implementation of `vtpm-verify inspect`: detects what a file holds and
// decodes it for a person (like tpm2_print) or as JSON. Detection tries the
// strongly marked formats first (PEM armour, JSON, the TPM_GENERATED magic,
// the fixed size of tpm2-tools' serialized PCR files), then the TPM
// structures that must parse exactly, then DER.

import { X509Certificate, createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { EXIT_CODES, ParseError, UsageError, VtpmError } from '../../errors.js';
import { TPM_GENERATED_VALUE } from '../../tpm/constants.js';
import { parseTpm2bAttest, parseTpmsAttest } from '../../tpm/attest.js';
import { parseJsonPcrs, parseMarshaledPcrs, parseSerializedPcrs, type PcrFile } from '../../tpm/pcr-formats.js';
import { formatPcrSelection } from '../../tpm/pcr-selection.js';
import { pcrValuesToJson } from '../../tpm/pcrs.js';
import { looksLikeTpm2bPublic, parseTpm2bPublic, parseTpmtPublic, tpmObjectName } from '../../tpm/public.js';
import { parseTpmtSignature } from '../../tpm/signature.js';
import { readInputFile } from '../../util/files.js';
import { parseEventLog } from '../../eventlog/parse.js';
import type { GlobalOptions } from '../command.js';
import { describeAttest, describePublic, describeSignature, renderDescribed, type Described } from '../describe-tpm.js';
import type { CommandOutcome, Style } from '../output.js';
import { TPM12_UNSUPPORTED, describeTpm12Structure } from '../../tpm/tpm12.js';

export { INSPECT_CODES } from './inspect-codes.js';

export interface InspectOptions {
  type?: string;
}

export const INSPECT_TYPES = ['attest', 'tpm2b-attest', 'signature', 'public', 'pcrs-serialized', 'pcrs-marshaled', 'pcrs-json', 'key', 'certificate'] as const;
export type InspectType = (typeof INSPECT_TYPES)[number];

const INSPECT_CAP = 4 * 1024 * 1024;

function describePcrFile(f: PcrFile): Described {
  return { structure: `PCR file (${f.format})`, selection: formatPcrSelection(f.selection), values: pcrValuesToJson(f.values) };
}

function describeKey(key: KeyObject): Described {
  const d = key.asymmetricKeyDetails ?? {};
  const spki = key.export({ format: 'der', type: 'spki' });
  const out: Described = { type: key.asymmetricKeyType ?? 'unknown' };
  if (d.modulusLength !== undefined) out['bits'] = d.modulusLength;
  if (d.publicExponent !== undefined) out['exponent'] = Number(d.publicExponent);
  if (d.namedCurve !== undefined) out['curve'] = d.namedCurve;
  out['spkiSha256'] = createHash('sha256').update(spki).digest('hex');
  return out;
}

function describeCertificate(c: X509Certificate): Described {
  return {
    structure: 'X.509 certificate',
    // node gives undefined for an empty subject (TCG AK and EK certificates often have one)
    subject: (c.subject ?? '').replace(/\n/g, ', '),
    issuer: (c.issuer ?? '').replace(/\n/g, ', '),
    serialNumber: c.serialNumber.toLowerCase(),
    validFrom: new Date(c.validFrom).toISOString(),
    validTo: new Date(c.validTo).toISOString(),
    ca: c.ca,
    subjectAltName: c.subjectAltName ?? '',
    // node's X509Certificate.keyUsage lists the extended key usage OIDs
    extKeyUsage: c.keyUsage ?? [],
    selfIssued: c.checkIssued(c),
    publicKey: describeKey(c.publicKey),
    fingerprintSha256: c.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

function decodeAs(type: InspectType, bytes: Buffer): Described {
  switch (type) {
    case 'attest':
      return describeAttest(parseTpmsAttest(bytes));
    case 'tpm2b-attest':
      return { ...describeAttest(parseTpm2bAttest(bytes)), structure: 'TPM2B_ATTEST' };
    case 'signature':
      return describeSignature(parseTpmtSignature(bytes));
    case 'public': {
      const sized = looksLikeTpm2bPublic(bytes);
      const pub = sized ? parseTpm2bPublic(bytes) : parseTpmtPublic(bytes);
      return describePublic(pub, tpmObjectName(pub), sized ? 'TPM2B_PUBLIC' : 'TPMT_PUBLIC');
    }
    case 'pcrs-serialized':
      return describePcrFile(parseSerializedPcrs(bytes));
    case 'pcrs-marshaled':
      return describePcrFile(parseMarshaledPcrs(bytes));
    case 'pcrs-json':
      return describePcrFile(parseJsonPcrs(bytes));
    case 'certificate':
      try {
        if (!isPem(bytes)) return describeCertificate(new X509Certificate(bytes));
        // a PEM file may hold several certificates (a bundle): describe the first, count them all
        const blocks = pemCertificates(bytes.toString('latin1'));
        if (blocks.length === 0) throw new Error('no CERTIFICATE block');
        const first = describeCertificate(new X509Certificate(blocks[0]!));
        return blocks.length > 1 ? { ...first, certificatesInFile: blocks.length } : first;
      } catch (err) {
        throw new ParseError('INSPECT_UNKNOWN_FORMAT', `not an X.509 certificate (${(err as Error).message})`, { type }, { cause: err });
      }
    case 'key':
      try {
        const pem = isPem(bytes);
        const key = pem ? createPublicKey(bytes.toString('latin1').slice(bytes.indexOf('-----BEGIN '))) : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
        return { structure: pem ? 'PEM public key' : 'DER SubjectPublicKeyInfo', ...describeKey(key) };
      } catch (err) {
        throw new ParseError('INSPECT_UNKNOWN_FORMAT', `not a public key (${(err as Error).message})`, { type }, { cause: err });
      }
  }
}

/** PEM armour anywhere in the file's head: bundles and openssl dumps put text before it. */
function isPem(bytes: Buffer): boolean {
  return bytes.subarray(0, 64 * 1024).includes('-----BEGIN ');
}

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----';
const PEM_END = '-----END CERTIFICATE-----';

/** The CERTIFICATE blocks of PEM text, in one pass (a lazy regex rescanned the rest of the text for every BEGIN without an END). */
function pemCertificates(text: string): string[] {
  const blocks: string[] = [];
  let begin = text.indexOf(PEM_BEGIN);
  while (begin !== -1) {
    const end = text.indexOf(PEM_END, begin + PEM_BEGIN.length);
    if (end === -1) break;
    // a BEGIN inside this block (one without an END before it) starts the block instead
    const inner = text.lastIndexOf(PEM_BEGIN, end);
    blocks.push(text.slice(inner, end + PEM_END.length));
    begin = text.indexOf(PEM_BEGIN, end + PEM_END.length);
  }
  return blocks;
}

const SERIALIZED_HEADER = 132 + 4;
const SERIALIZED_LIST = 532;

/** The candidate types for these bytes, most specific first; `strong` ones report their own parse error. */
function candidates(bytes: Buffer): { type: InspectType; strong: boolean }[] {
  if (isPem(bytes)) {
    return [{ type: bytes.includes('-----BEGIN CERTIFICATE-----') ? 'certificate' : 'key', strong: true }];
  }
  if (/^\s*\{/.test(bytes.subarray(0, 64).toString('latin1'))) return [{ type: 'pcrs-json', strong: true }];
  const u32 = (o: number): number => (bytes.length >= o + 4 ? bytes.readUInt32BE(o) : -1);
  if (u32(0) === TPM_GENERATED_VALUE) return [{ type: 'attest', strong: true }];
  if (u32(2) === TPM_GENERATED_VALUE) return [{ type: 'tpm2b-attest', strong: true }];
  const list: { type: InspectType; strong: boolean }[] = [];
  if (bytes.length > SERIALIZED_HEADER && (bytes.length - SERIALIZED_HEADER) % SERIALIZED_LIST === 0) list.push({ type: 'pcrs-serialized', strong: false });
  list.push({ type: 'signature', strong: false }, { type: 'public', strong: false });
  if (bytes[0] === 0x30) list.push({ type: 'certificate', strong: false }, { type: 'key', strong: false });
  list.push({ type: 'pcrs-marshaled', strong: false });
  return list;
}

function detect(bytes: Buffer): { type: InspectType; decoded: Described } {
  const tried: string[] = [];
  for (const c of candidates(bytes)) {
    try {
      return { type: c.type, decoded: decodeAs(c.type, bytes) };
    } catch (err) {
      if (!(err instanceof VtpmError)) throw err;
      if (c.strong) throw err;
      tried.push(`${c.type}: ${err.code}`);
    }
  }
  const hint = otherCommandHint(bytes);
  throw new ParseError(
    'INSPECT_UNKNOWN_FORMAT',
    `not a structure inspect knows (tried ${tried.join('; ')})${hint ? `: ${hint.text}` : ''}`,
    { size: bytes.length, tried, ...(hint ? { format: hint.format } : {}) },
  );
}

/** What a file no TPM structure fits is, when another command reads it: an empty file, an event log, an IMA list. */
function otherCommandHint(bytes: Buffer): { format: string; text: string } | undefined {
  if (bytes.length === 0) return { format: 'empty', text: 'the file is empty (0 bytes)' };
  const tpm12 = describeTpm12Structure(bytes);
  if (tpm12) return { format: 'tpm1.2', text: `this is ${tpm12}: ${TPM12_UNSUPPORTED}` };
  try {
    const log = parseEventLog(bytes);
    return { format: 'tcg-pc-client', text: `this is a TCG PC Client event log (${log.events.length} events): decode it with vtpm-verify eventlog FILE` };
  } catch (err) {
    if (!(err instanceof VtpmError) || err.code !== 'EVENTLOG_NOT_PC_CLIENT') return undefined;
    const format = String(err.details['format'] ?? '');
    if (format.startsWith('ima-')) return { format, text: 'this is an IMA measurement list: decode it with vtpm-verify eventlog LOG --ima FILE' };
    if (format === 'text') return undefined;
    return { format, text: err.message };
  }
}

export async function runInspect(file: string, opts: InspectOptions, _globals: GlobalOptions): Promise<CommandOutcome> {
  const bytes = readInputFile(file, 'input', INSPECT_CAP);
  let found: { type: InspectType; decoded: Described };
  if (opts.type !== undefined) {
    if (!(INSPECT_TYPES as readonly string[]).includes(opts.type)) throw new UsageError('USAGE', `--type must be one of ${INSPECT_TYPES.join(', ')}, not "${opts.type}"`);
    found = { type: opts.type as InspectType, decoded: decodeAs(opts.type as InspectType, bytes) };
  } else {
    found = detect(bytes);
  }
  return {
    ok: true,
    exitCode: EXIT_CODES.OK,
    result: { file, type: found.type, decoded: found.decoded },
    human: (style: Style) => `${style.bold(`${file}`)} ${style.dim(`(${found.type})`)}\n${renderDescribed(found.decoded, style, 1)}`,
  };
}
