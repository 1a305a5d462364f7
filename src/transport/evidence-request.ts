// The evidence request of protocol section 2, both ways:
//   GET {base}/v1/evidence?nonce={hex}&pcrs={bank}:{i},{j}[&pcrs=...][&instance={hex}]
// built by the challenger, parsed by a service (the simulator).

import { ParseError, type ErrorDetails } from '../errors.js';
import { HASH_ALGS, type HashName } from '../tpm/constants.js';
import type { LayerLabel } from './errors.js';
import { joinEndpoint, type QueryParam } from './url.js';

export const EVIDENCE_PATH = '/v1/evidence';
export const NONCE_BYTES = 32;
export const INSTANCE_ID_BYTES = 32;
/** PC Client TPMs have 24 PCRs. */
export const PCR_INDEX_MAX = 23;

export interface PcrSelection {
  bank: HashName;
  /** PCR indexes 0..23 */
  pcrs: readonly number[];
}

export interface EvidenceRequest {
  /** 32 bytes from a CSPRNG (top layer) or the nonce chain (protocol section 3) */
  nonce: Uint8Array;
  /** one selection per bank */
  pcrs: readonly PcrSelection[];
  /** informational: the upper layer's instanceId being followed down */
  instance?: Uint8Array | undefined;
}

function requestError(message: string, details: ErrorDetails = {}): ParseError {
  return new ParseError('EVIDENCE_REQUEST_INVALID', `evidence request: ${message}`, details);
}

const BANK_NAMES: ReadonlySet<string> = new Set(HASH_ALGS.map((h) => h.name));

function checkBank(bank: string): HashName {
  if (!BANK_NAMES.has(bank)) throw requestError(`unknown PCR bank "${bank.slice(0, 40)}"`, { bank: bank.slice(0, 40), expected: [...BANK_NAMES] });
  return bank as HashName;
}

function checkIndex(i: number, bank: string): number {
  if (!Number.isInteger(i) || i < 0 || i > PCR_INDEX_MAX) throw requestError(`PCR index ${i} of bank ${bank} is not in 0..${PCR_INDEX_MAX}`, { bank, index: i });
  return i;
}

/** "sha256:0,1,2": indexes sorted and deduplicated. */
export function formatPcrSelection(sel: PcrSelection): string {
  const bank = checkBank(sel.bank);
  if (sel.pcrs.length === 0) throw requestError(`empty PCR selection for bank ${bank}`, { bank });
  const indexes = [...new Set(sel.pcrs.map((i) => checkIndex(i, bank)))].sort((a, b) => a - b);
  return `${bank}:${indexes.join(',')}`;
}

/** Parses "sha256:0,1,2" strictly: a known bank, canonical decimal indexes 0..23, no repeats. */
export function parsePcrSelection(text: string): PcrSelection {
  const m = /^([a-z0-9_]{1,16}):((?:0|[1-9]\d?)(?:,(?:0|[1-9]\d?))*)$/.exec(text);
  if (m === null) throw requestError(`PCR selection "${text.slice(0, 60)}" is not of the form bank:i,j,...`, { selection: text.slice(0, 60) });
  const bank = checkBank(m[1]!);
  const pcrs = m[2]!.split(',').map((s) => checkIndex(Number(s), bank));
  if (new Set(pcrs).size !== pcrs.length) throw requestError(`PCR selection "${text}" repeats an index`, { selection: text });
  return { bank, pcrs };
}

function checkBytes(bytes: Uint8Array, size: number, what: string): string {
  if (bytes.length !== size) throw requestError(`${what} must be ${size} bytes, got ${bytes.length}`, { field: what, expected: size, actual: bytes.length });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The query parameters, in protocol order. */
export function evidenceQuery(req: EvidenceRequest): QueryParam[] {
  const params: QueryParam[] = [['nonce', checkBytes(req.nonce, NONCE_BYTES, 'nonce')]];
  if (req.pcrs.length === 0) throw requestError('no PCR selection');
  const banks = new Set<string>();
  for (const sel of req.pcrs) {
    if (banks.has(sel.bank)) throw requestError(`bank ${sel.bank} selected twice`, { bank: sel.bank });
    banks.add(sel.bank);
    params.push(['pcrs', formatPcrSelection(sel)]);
  }
  if (req.instance !== undefined) params.push(['instance', checkBytes(req.instance, INSTANCE_ID_BYTES, 'instance')]);
  return params;
}

/** The query parameters of an evidence request (protocol section 2): a base URI may set none of them. */
export const EVIDENCE_QUERY_PARAMS = ['nonce', 'pcrs', 'instance'] as const;

/**
 * What is wrong with a base URI (given on the command line or in an inventory) that sets one of
 * EVIDENCE_QUERY_PARAMS itself, or undefined: checked up front, so it is bad input, not a transport failure.
 */
export function reservedParameterProblem(base: URL): { parameter: string; message: string } | undefined {
  for (const name of new URLSearchParams(base.search).keys()) {
    if ((EVIDENCE_QUERY_PARAMS as readonly string[]).includes(name)) {
      return { parameter: name, message: `the URL sets the query parameter "${name}", which the protocol reserves for the challenger (${EVIDENCE_QUERY_PARAMS.join(', ')})` };
    }
  }
  return undefined;
}

/** `{base}/v1/evidence?...`, safe for a base with a path, query or trailing slash. */
export function evidenceUrl(base: string | URL, req: EvidenceRequest, layer?: LayerLabel): URL {
  return joinEndpoint(base, EVIDENCE_PATH, evidenceQuery(req), layer, EVIDENCE_QUERY_PARAMS);
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The service side: a request's query parameters, checked as strictly as we build them. */
export function parseEvidenceQuery(params: URLSearchParams): EvidenceRequest {
  // Other parameters are ignored: the protocol grows by optional additions.
  const nonces = params.getAll('nonce');
  if (nonces.length !== 1 || !HEX64.test(nonces[0]!)) throw requestError('nonce must be given once, as 64 lowercase hex digits', { field: 'nonce' });
  const selections = params.getAll('pcrs');
  if (selections.length === 0) throw requestError('pcrs is required', { field: 'pcrs' });
  if (selections.length > HASH_ALGS.length) throw requestError(`more pcrs parameters (${selections.length}) than known banks`, { field: 'pcrs' });
  const pcrs = selections.map(parsePcrSelection);
  if (new Set(pcrs.map((p) => p.bank)).size !== pcrs.length) throw requestError('a bank is selected twice', { field: 'pcrs' });
  const instances = params.getAll('instance');
  if (instances.length > 1 || (instances.length === 1 && !HEX64.test(instances[0]!))) {
    throw requestError('instance must be given at most once, as 64 lowercase hex digits', { field: 'instance' });
  }
  const request: EvidenceRequest = { nonce: Buffer.from(nonces[0]!, 'hex'), pcrs };
  if (instances.length === 1) request.instance = Buffer.from(instances[0]!, 'hex');
  return request;
}
