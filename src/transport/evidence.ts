// The evidence response of protocol section 2, validated strictly into a typed
// LayerEvidence (pure: no I/O), and serialized back (simulator, saved bundles).
//
// Nothing in a LayerEvidence is trusted yet: it is what a possibly compromised
// attester sent. The quote is checked by its signature, the PCR values by the
// quote's digest, the logs by replay, the certificates by their path. This
// module only guarantees shape, encodings and bounded sizes, and names the
// offending field's path in every error.

import { VerificationError, type ErrorDetails } from '../errors.js';
import { HASH_ALGS, LIMITS, type HashAlg, type HashName } from '../tpm/constants.js';
import { pcrValuesToJson, type PcrBank, type PcrValues, type PcrValuesJson } from '../tpm/pcrs.js';
import { EVIDENCE_CODES, sanitizeServerText, type LayerLabel } from './errors.js';
import { PCR_INDEX_MAX, INSTANCE_ID_BYTES } from './evidence-request.js';
import { childPath, FieldReader, type FieldProblem, type JsonObject } from './json-fields.js';
import { duplicateJsonKey, formatJsonPath } from '../util/json-scan.js';
import { jsonShape } from '../util/json-nesting.js';

export * from './evidence-request.js';

export const EVIDENCE_VERSION = 1;
/** vplatformLog entries are extended into this PCR (SHA-256 bank) in protocol version 1. */
export const VPLATFORM_PCR = 23;

/** Caps on every variable-size part of the evidence. */
export const EVIDENCE_LIMITS = {
  /** decoded quote.message: a marshalled TPMS_ATTEST fits a TPM2B_ATTEST */
  quoteMessageBytes: LIMITS.attest,
  /** decoded quote.signature: a TPMT_SIGNATURE (RSA-4096 is 518 bytes) */
  quoteSignatureBytes: 1024,
  /** AK certificate plus intermediates */
  certificates: 10,
  /** one certificate, DER bytes */
  certificateBytes: 16 * 1024,
  /** decoded eventLog (real firmware logs are 20-200 KiB) */
  eventLogBytes: 8 * 1024 * 1024,
  /** imaLog, characters */
  imaLogChars: 24 * 1024 * 1024,
  /** vplatformLog entries (each one is replayed: a hash per entry) */
  vplatformLogEntries: 100_000,
  /** vplatformLog[].vm label, characters */
  vmLabelChars: 256,
  /**
   * JSON values in the document (arrays, objects and comma-separated values, counted before it is parsed):
   * a full vplatformLog is about 500,000; 32 MiB of `[[],[],...]` would be 11 million arrays, 1.2 GB
   */
  jsonValues: 1_000_000,
  /** nesting of arrays and objects in the document (the protocol's is 3) */
  jsonDepth: 64,
} as const;

export type EvidenceLimits = { -readonly [K in keyof typeof EVIDENCE_LIMITS]: number };

export type InstanceOp = 'create' | 'destroy' | 'migrate-in' | 'migrate-out';
export type VplatformOp = InstanceOp | 'issuer';
export const INSTANCE_OPS: readonly InstanceOp[] = ['create', 'destroy', 'migrate-in', 'migrate-out'];

/** A change to the vPlatform table (protocol section 5). */
export interface InstanceLogEntry {
  pcr: typeof VPLATFORM_PCR;
  op: InstanceOp;
  /** the 32-byte instanceId: 64 lowercase hex digits (hex until replayed: a dense host's table has thousands of entries) */
  instance: string;
  /** informational label */
  vm?: string | undefined;
}

/** The CA a host issues vTPM AK certificates with (protocol section 5.1). */
export interface IssuerLogEntry {
  pcr: typeof VPLATFORM_PCR;
  op: 'issuer';
  /** SHA-256 of the CA certificate's DER: 64 lowercase hex digits */
  certificate: string;
  vm?: string | undefined;
}

export type VplatformLogEntry = InstanceLogEntry | IssuerLogEntry;

export interface EvidenceCertificate {
  /** the PEM text as received */
  pem: string;
  /** its DER bytes (base64 body decoded); not parsed as X.509 here */
  der: Uint8Array;
}

/**
 * One layer's evidence as received. Every field is an unverified claim of the
 * attester until the verifier has checked it.
 */
export interface LayerEvidence {
  version: typeof EVIDENCE_VERSION;
  quote: {
    /** marshalled TPMS_ATTEST, exactly as signed */
    message: Uint8Array;
    /** marshalled TPMT_SIGNATURE */
    signature: Uint8Array;
  };
  /** PCR values as the attester claims them; only a quote digest match makes them trustworthy */
  unverifiedPcrs: PcrValues;
  /** AK certificate first, then intermediates (leaf to root); not yet path-validated */
  certificates: EvidenceCertificate[];
  /** TCG PC Client event log bytes, unparsed */
  eventLog?: Uint8Array | undefined;
  /** ascii_runtime_measurements text, unparsed */
  imaLog?: string | undefined;
  /** vPlatform table entries, in order; not yet replayed against PCR 23 */
  vplatformLog?: VplatformLogEntry[] | undefined;
  /**
   * The PCRs the challenger asked for when this evidence was fetched, when that was not this walk (a saved
   * bundle: its layer's `pcrs`); the walker checks the quote against them instead of its own request.
   */
  askedPcrs?: readonly { bank: HashName; pcrs: readonly number[] }[];
}

/** The wire form (protocol section 2). */
export interface EvidenceJson {
  version: typeof EVIDENCE_VERSION;
  quote: { message: string; signature: string };
  pcrs: PcrValuesJson;
  certificates: string[];
  eventLog?: string;
  imaLog?: string;
  vplatformLog?: VplatformLogEntryJson[];
}

export type VplatformLogEntryJson =
  | { pcr: number; op: InstanceOp; instance: string; vm?: string }
  | { pcr: number; op: 'issuer'; certificate: string; vm?: string };

export interface ParseEvidenceOptions {
  /** names the layer in errors: an index, a URI */
  layer?: LayerLabel | undefined;
  limits?: Partial<EvidenceLimits> | undefined;
}

const PROBLEM_CODES: Record<FieldProblem, keyof typeof EVIDENCE_CODES> = {
  missing: 'EVIDENCE_MISSING_FIELD',
  type: 'EVIDENCE_FIELD_TYPE',
  value: 'EVIDENCE_BAD_VALUE',
  limit: 'EVIDENCE_LIMIT',
};

function layerDetails(layer: LayerLabel | undefined, details: ErrorDetails): ErrorDetails {
  return layer === undefined ? details : { ...details, layer };
}

function layerPrefix(layer: LayerLabel | undefined): string {
  return layer === undefined ? 'evidence: ' : `layer ${layer}: evidence: `;
}

function readerFor(layer: LayerLabel | undefined): FieldReader {
  return new FieldReader((problem, _path, message, details) => new VerificationError(PROBLEM_CODES[problem], `${layerPrefix(layer)}${message}`, layerDetails(layer, details)));
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Parses a response body (UTF-8 JSON text) into a LayerEvidence. */
export function parseEvidenceBytes(body: Uint8Array | string, options: ParseEvidenceOptions = {}): LayerEvidence {
  const { layer } = options;
  let text: string;
  try {
    text = typeof body === 'string' ? body : UTF8.decode(body);
  } catch {
    throw new VerificationError('EVIDENCE_JSON', `${layerPrefix(layer)}response is not valid UTF-8`, layerDetails(layer, {}));
  }
  // What JSON.parse would build is bounded before it builds it: unknown fields are ignored, but parsed first.
  const limits: EvidenceLimits = { ...EVIDENCE_LIMITS, ...options.limits };
  const shape = jsonShape(text);
  if (shape.values > limits.jsonValues || shape.depth > limits.jsonDepth) {
    const deep = shape.depth > limits.jsonDepth;
    const [max, actual] = deep ? [limits.jsonDepth, shape.depth] : [limits.jsonValues, shape.values];
    const what = deep ? `nests arrays and objects ${actual} deep` : `holds about ${actual} JSON values`;
    throw new VerificationError('EVIDENCE_LIMIT', `${layerPrefix(layer)}the document ${what}, more than the cap of ${max}`, layerDetails(layer, { field: '(top level)', max, actual }));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = sanitizeServerText(err instanceof Error ? err.message : String(err), 160);
    throw new VerificationError('EVIDENCE_JSON', `${layerPrefix(layer)}response is not valid JSON: ${reason}`, layerDetails(layer, { reason }));
  }
  const duplicate = duplicateJsonKey(text, value);
  if (duplicate) {
    // two values for one field: which one a reader takes is up to the reader, so neither is evidence
    const at = sanitizeServerText(formatJsonPath(duplicate), 120);
    throw new VerificationError('EVIDENCE_JSON', `${layerPrefix(layer)}response repeats a key (${at}): JSON keeps only the last value, so the document is ambiguous`, layerDetails(layer, { reason: 'duplicate key', path: at }));
  }
  return parseEvidence(value, options);
}

/** Validates an already-parsed JSON value (a response, or a saved bundle's entry). */
export function parseEvidence(value: unknown, options: ParseEvidenceOptions = {}): LayerEvidence {
  const { layer } = options;
  const limits: EvidenceLimits = { ...EVIDENCE_LIMITS, ...options.limits };
  const r = readerFor(layer);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new VerificationError('EVIDENCE_JSON', `${layerPrefix(layer)}top level is not a JSON object`, layerDetails(layer, {}));
  }
  const top = value as JsonObject;

  // version: number, must be 1
  const version = r.optional(top, 'version');
  if (version !== EVIDENCE_VERSION) {
    const actual = version === undefined ? 'missing' : sanitizeServerText(JSON.stringify(version) ?? String(version), 40);
    throw new VerificationError('EVIDENCE_VERSION', `${layerPrefix(layer)}version must be ${EVIDENCE_VERSION}, got ${actual}`, layerDetails(layer, { field: 'version', expected: EVIDENCE_VERSION, actual }));
  }

  // quote: { message: base64 TPMS_ATTEST, signature: base64 TPMT_SIGNATURE }
  const quote = r.object(r.required(top, 'quote', ''), 'quote');
  const message = r.base64(r.required(quote, 'message', 'quote'), 'quote.message', limits.quoteMessageBytes);
  const signature = r.base64(r.required(quote, 'signature', 'quote'), 'quote.signature', limits.quoteSignatureBytes);

  const evidence: LayerEvidence = {
    version: EVIDENCE_VERSION,
    quote: { message, signature },
    unverifiedPcrs: readPcrs(r, r.required(top, 'pcrs', '')),
    certificates: readCertificates(r, r.required(top, 'certificates', ''), limits),
  };

  // eventLog: optional base64
  const eventLog = r.optional(top, 'eventLog');
  if (eventLog !== undefined) evidence.eventLog = r.base64(eventLog, 'eventLog', limits.eventLogBytes);
  // imaLog: optional text
  const imaLog = r.optional(top, 'imaLog');
  if (imaLog !== undefined) evidence.imaLog = r.string(imaLog, 'imaLog', limits.imaLogChars);
  // vplatformLog: optional array of entries
  const vplatformLog = r.optional(top, 'vplatformLog');
  if (vplatformLog !== undefined) evidence.vplatformLog = readVplatformLog(r, vplatformLog, limits);
  // Any other top-level field is ignored: the protocol grows by optional additions.
  return evidence;
}

const BANKS: ReadonlyMap<string, HashAlg> = new Map(HASH_ALGS.map((h) => [h.name, h]));
const PCR_INDEX_RE = /^(?:0|[1-9]\d?)$/;

/** pcrs: { bank: { "index": hex digest } } with known banks, indexes 0..23, digests of the bank's size. */
function readPcrs(r: FieldReader, v: unknown): PcrValues {
  const banksObj = r.object(v, 'pcrs');
  const bankNames = Object.keys(banksObj);
  if (bankNames.length > BANKS.size) throw r.limit('pcrs', `${bankNames.length} banks`, BANKS.size, bankNames.length);
  const values: PcrValues = new Map();
  for (const name of bankNames) {
    const bankPath = childPath('pcrs', sanitizeServerText(name, 40));
    const alg = BANKS.get(name);
    if (alg === undefined) throw r.invalid(bankPath, `unknown PCR bank "${sanitizeServerText(name, 40)}"`, { expected: [...BANKS.keys()] });
    const indexObj = r.object(banksObj[name], bankPath);
    const indexes = Object.keys(indexObj);
    if (indexes.length > PCR_INDEX_MAX + 1) throw r.limit(bankPath, `${indexes.length} PCRs`, PCR_INDEX_MAX + 1, indexes.length);
    const bank: PcrBank = new Map();
    for (const key of indexes) {
      const path = childPath(bankPath, sanitizeServerText(key, 40));
      if (!PCR_INDEX_RE.test(key) || Number(key) > PCR_INDEX_MAX) throw r.invalid(path, `PCR index must be 0..${PCR_INDEX_MAX}`, { actual: sanitizeServerText(key, 40) });
      bank.set(Number(key), r.hex(indexObj[key], path, alg.size));
    }
    values.set(alg.name, new Map([...bank].sort((a, b) => a[0] - b[0])));
  }
  return values;
}

const PEM_RE = /^\s*-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END CERTIFICATE-----\s*$/;

/** certificates: non-empty array of single-certificate PEM strings. */
function readCertificates(r: FieldReader, v: unknown, limits: EvidenceLimits): EvidenceCertificate[] {
  const list = r.array(v, 'certificates', limits.certificates);
  if (list.length === 0) throw r.invalid('certificates', 'is empty; the AK certificate must come first');
  // PEM adds a third for base64, line breaks and the armour lines.
  const maxPemChars = Math.ceil(limits.certificateBytes / 3) * 4 * 1.1 + 200;
  return list.map((item, i) => {
    const path = childPath('certificates', i);
    const pem = r.string(item, path, maxPemChars);
    const m = PEM_RE.exec(pem);
    if (m === null) throw r.invalid(path, 'not one PEM CERTIFICATE block');
    const der = r.base64(m[1]!.replace(/[\r\n]/g, ''), path, limits.certificateBytes);
    if (der.length === 0 || der[0] !== 0x30) throw r.invalid(path, 'PEM body is not a DER SEQUENCE');
    return { pem, der };
  });
}

const OPS: ReadonlySet<string> = new Set<VplatformOp>([...INSTANCE_OPS, 'issuer']);

/** vplatformLog: [{pcr: 23, op, instance | certificate, vm?}] (protocol sections 5 and 5.1). */
function readVplatformLog(r: FieldReader, v: unknown, limits: EvidenceLimits): VplatformLogEntry[] {
  const list = r.array(v, 'vplatformLog', limits.vplatformLogEntries);
  const out: VplatformLogEntry[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = readVplatformEntry(r, list[i], i, limits);
  return out;
}

const LOWER_HEX32_RE = /^[0-9a-f]{64}$/;

/**
 * One entry. A VMM's table has an entry per VM it ever hosted and every VM's
 * audit reads it again, so the common case (a well-formed entry) builds no
 * field path and decodes no hex: ids stay lowercase hex until replay. Any
 * other entry is read again field by field, which names the failing field.
 */
function readVplatformEntry(r: FieldReader, item: unknown, i: number, limits: EvidenceLimits): VplatformLogEntry {
  if (item !== null && typeof item === 'object' && !Array.isArray(item)) {
    const o = item as JsonObject;
    const op = o['op'];
    const vm = o['vm'];
    const issuer = op === 'issuer';
    const id = issuer ? o['certificate'] : o['instance'];
    if (
      o['pcr'] === VPLATFORM_PCR &&
      typeof op === 'string' &&
      OPS.has(op) &&
      typeof id === 'string' &&
      LOWER_HEX32_RE.test(id) &&
      (issuer ? o['instance'] : o['certificate']) == null &&
      (vm == null || (typeof vm === 'string' && vm.length <= limits.vmLabelChars)) &&
      Object.prototype.hasOwnProperty.call(o, issuer ? 'certificate' : 'instance')
    ) {
      const entry: VplatformLogEntry = issuer ? { pcr: VPLATFORM_PCR, op, certificate: id } : { pcr: VPLATFORM_PCR, op: op as InstanceOp, instance: id };
      if (typeof vm === 'string') entry.vm = vm;
      return entry;
    }
  }
  return readVplatformEntrySlowly(r, item, i, limits);
}

/** The same entry read field by field: names the failing field, or accepts what the fast path does not (uppercase hex). */
function readVplatformEntrySlowly(r: FieldReader, item: unknown, i: number, limits: EvidenceLimits): VplatformLogEntry {
  const path = childPath('vplatformLog', i);
  const o = r.object(item, path);
  const pcr = r.integer(r.required(o, 'pcr', path), childPath(path, 'pcr'), 0, PCR_INDEX_MAX);
  if (pcr !== VPLATFORM_PCR) throw r.invalid(childPath(path, 'pcr'), `must be ${VPLATFORM_PCR} in protocol version 1, got ${pcr}`, { expected: VPLATFORM_PCR, actual: pcr });
  const op = r.string(r.required(o, 'op', path), childPath(path, 'op'), 32);
  if (!OPS.has(op)) throw r.invalid(childPath(path, 'op'), `unknown op "${sanitizeServerText(op, 32)}"`, { expected: [...OPS], actual: sanitizeServerText(op, 32) });
  const vmRaw = r.optional(o, 'vm');
  const vm = vmRaw === undefined ? undefined : r.string(vmRaw, childPath(path, 'vm'), limits.vmLabelChars);
  // An entry names exactly one of instance (instance ops) or certificate (issuer).
  const [wanted, unwanted] = op === 'issuer' ? ['certificate', 'instance'] : ['instance', 'certificate'];
  if (r.optional(o, unwanted) !== undefined) throw r.invalid(childPath(path, unwanted), `not allowed with op "${op}"`);
  const id = r.hex(r.required(o, wanted, path), childPath(path, wanted), INSTANCE_ID_BYTES).toString('hex');
  const entry: VplatformLogEntry = op === 'issuer' ? { pcr: VPLATFORM_PCR, op, certificate: id } : { pcr: VPLATFORM_PCR, op: op as InstanceOp, instance: id };
  if (vm !== undefined) entry.vm = vm;
  return entry;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** The inverse of parseEvidence: parseEvidence(serializeEvidence(e)) equals e. */
export function serializeEvidence(e: LayerEvidence): EvidenceJson {
  const out: EvidenceJson = {
    version: EVIDENCE_VERSION,
    quote: { message: b64(e.quote.message), signature: b64(e.quote.signature) },
    pcrs: pcrValuesToJson(e.unverifiedPcrs),
    certificates: e.certificates.map((c) => c.pem),
  };
  if (e.eventLog !== undefined) out.eventLog = b64(e.eventLog);
  if (e.imaLog !== undefined) out.imaLog = e.imaLog;
  if (e.vplatformLog !== undefined) {
    out.vplatformLog = e.vplatformLog.map((entry): VplatformLogEntryJson => {
      const wire: VplatformLogEntryJson =
        entry.op === 'issuer' ? { pcr: entry.pcr, op: entry.op, certificate: entry.certificate } : { pcr: entry.pcr, op: entry.op, instance: entry.instance };
      if (entry.vm !== undefined) wire.vm = entry.vm;
      return wire;
    });
  }
  return out;
}

/** A PEM CERTIFICATE block for DER bytes (64-character lines), for producers of evidence. */
export function certificatePem(der: Uint8Array): string {
  const body = b64(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${body}-----END CERTIFICATE-----\n`;
}
