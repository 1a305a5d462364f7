// Evidence bundles: everything one deep attestation fetched, saved as one JSON
// file so it can be verified again offline (`vtpm-verify verify`) by the same
// walker, with the same result.
//
// Nothing in a bundle is trusted. The walker recomputes every nonce (the top
// one from the saved random bytes and time, see nonce-chain.ts), validates
// every certificate, and follows URIs only from verified certificates; the
// bundle source hands out a saved layer only when the walker asks for exactly
// the URI, nonce and instance it was saved under. So editing any byte that matters (a
// quote, a PCR value, a log, a certificate, the time, a URI, the target)
// makes verification fail.

import { ParseError, TransportError, VerificationError, type CodeTable } from '../errors.js';
import { parseEvidence, serializeEvidence, type EvidenceJson } from '../transport/evidence.js';
import { HASH_ALGS, LIMITS, type HashName } from '../tpm/constants.js';
import { bytesEqual, fromHex, toHex } from '../util/bytes.js';
import { topNonceFrom, type TopNonce } from './nonce-chain.js';
import type { CollectedLayer, EvidenceSource } from './walker.js';
import { duplicateJsonKey, formatJsonPath } from '../util/json-scan.js';
import { jsonShape } from '../util/json-nesting.js';
import { MAX_URL_LENGTH } from '../transport/url.js';
import { reservedParameterProblem } from '../transport/evidence-request.js';
import { fail } from './checks.js';
import { utcTime } from '../util/utc-time.js';
import { withFailedCheck, type AttestationResult } from './result.js';

export const BUNDLE_CODES = {
  BUNDLE_INVALID: { kind: 'input', summary: 'an evidence bundle is not valid JSON or not in the bundle format' },
  BUNDLE_MISSING_LAYER: { kind: 'transport', summary: 'the bundle holds no evidence for a layer the walk reaches: unreachable when it was saved, by the bundle\'s word, or removed since (the attestation is incomplete either way)' },
  BUNDLE_MISMATCH: { kind: 'verification', summary: 'the walk asked a bundle for a layer (URI, nonce, instance) that it does not hold, or the bundle holds layers below the one the walk ends at: the bundle was edited or is incomplete' },
  BUNDLE_CHALLENGE_MISMATCH: { kind: 'verification', summary: 'verify --challenge: the bundle\'s top nonce was not drawn from that challenge (a bundle saved before it was chosen, perhaps dated ahead)' },
} as const satisfies CodeTable;

export const BUNDLE_FORMAT = 'vtpm-verify/evidence-bundle';
/** 2: the top nonce binds the target too (version 1 bundles carry a nonce without it and cannot verify) */
export const BUNDLE_VERSION = 2;
/** Bundles are read whole; a deep attestation of a few layers is far below this. */
export const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;
const MAX_BUNDLE_LAYERS = 32;
/**
 * JSON values and nesting a bundle may hold, counted before it is parsed: a bundle is evidence, and its layers'
 * fields are read by the walk only after JSON.parse has built every value (32 MiB of `[[],[],...]` is 11 million
 * arrays, 1.2 GB). Four layers at the evidence cap (EVIDENCE_LIMITS.jsonValues) fit; the format nests 5 deep.
 */
export const MAX_BUNDLE_JSON_VALUES = 4_000_000;
export const MAX_BUNDLE_JSON_DEPTH = 64;

export interface BundleLayer {
  position: number;
  uri: string;
  /** the nonce the layer was asked to quote, hex */
  nonce: string;
  /** the instance parameter sent, hex */
  instance?: string;
  /** the PCR selection asked, e.g. "sha256:0,1,2" per bank */
  pcrs: string[];
  /** the evidence exactly as the service sent it (protocol section 2), absent when the layer could not be fetched */
  evidence?: EvidenceJson;
}

export interface EvidenceBundle {
  format: typeof BUNDLE_FORMAT;
  version: typeof BUNDLE_VERSION;
  /** the program that saved it */
  tool: string;
  target: string;
  /** when the attestation started; bound into the top nonce */
  time: string;
  /** the CSPRNG bytes of the top nonce, hex */
  random: string;
  layers: BundleLayer[];
}

export function bundleFromWalk(target: string, top: TopNonce, collected: readonly CollectedLayer[], tool: string): EvidenceBundle {
  return {
    format: BUNDLE_FORMAT,
    version: BUNDLE_VERSION,
    tool,
    target,
    time: top.time,
    random: toHex(top.random),
    layers: collected.map((c) => ({
      position: c.position,
      uri: c.uri,
      nonce: toHex(c.nonce),
      ...(c.instance ? { instance: toHex(c.instance) } : {}),
      pcrs: c.pcrs.map((p) => `${p.bank}:${p.pcrs.join(',')}`),
      ...(c.evidence ? { evidence: serializeEvidence(c.evidence) } : {}),
    })),
  };
}

function invalid(message: string, field: string): ParseError {
  return new ParseError('BUNDLE_INVALID', `evidence bundle: ${field}: ${message}`, { field });
}

const BANK_NAMES: ReadonlySet<string> = new Set(HASH_ALGS.map((h) => h.name));

/** "sha256:0,1,7": a known bank, PCRs 0-23 ascending without repeats (an empty list is a bank asked for nothing). */
function isPcrLabel(label: unknown): boolean {
  if (typeof label !== 'string' || label.length > 80) return false;
  const m = /^([a-z0-9_]+):((?:\d{1,2},)*\d{1,2})?$/.exec(label);
  if (!m || !BANK_NAMES.has(m[1]!)) return false;
  const pcrs = m[2] === undefined ? [] : m[2].split(',');
  return pcrs.every((p, i) => p === String(Number(p)) && Number(p) <= 23 && (i === 0 || Number(p) > Number(pcrs[i - 1])));
}

/** A string of exactly `bytes` bytes in hex: garbage in a bundle is the bundle's format error, not a bare HEX_INVALID. */
function isHexOf(v: unknown, bytes: number): boolean {
  return typeof v === 'string' && v.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(v);
}

/** YYYY-MM-DDTHH:MM:SS[.fraction] with Z or an offset (a year past 9999 as toISOString writes it: +YYYYYY). */
const ISO_TIME = /^(\d{4}|[+-]\d{6})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** A bundle's time as attest writes it, of a real date and clock time (Date.parse rolls 2026-02-30 over to March 2). */
function isBundleTime(text: string): boolean {
  const m = ISO_TIME.exec(text);
  return m !== null && !Number.isNaN(utcTime(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))) && !Number.isNaN(Date.parse(text));
}

function isEndpointUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && url.username === '' && url.password === '' && url.port !== '0' && reservedParameterProblem(url) === undefined;
  } catch {
    return false;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export interface ParseBundleOptions {
  /**
   * Called with the document's size once its shape is within the caps and before JSON.parse builds it (its strings
   * again, two bytes a character if one is past U+00FF, and an object or array per value): it may throw, a typed
   * error, to stop a bundle the caller's memory cannot hold (the CLI's bundleMemoryCheck).
   */
  beforeParse?: (document: { chars: number; values: number; twoByte: boolean }) => void;
}

/** Checks a bundle's shape; the evidence inside each layer is validated when the walk asks for it. */
export function parseBundle(text: string, options: ParseBundleOptions = {}): EvidenceBundle {
  // a byte order mark (an editor on some systems writes one) is not part of the document, as in inventories
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const shape = jsonShape(text);
  if (shape.depth > MAX_BUNDLE_JSON_DEPTH) throw invalid(`nests arrays and objects ${shape.depth} deep, more than ${MAX_BUNDLE_JSON_DEPTH}`, '$');
  if (shape.values > MAX_BUNDLE_JSON_VALUES) throw invalid(`holds about ${shape.values} JSON values, more than ${MAX_BUNDLE_JSON_VALUES}`, '$');
  options.beforeParse?.({ chars: text.length, values: shape.values, twoByte: /[^\u0000-\u00ff]/.test(text) });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ParseError('BUNDLE_INVALID', `evidence bundle: not valid JSON: ${(err as Error).message}`, {}, { cause: err });
  }
  const duplicate = duplicateJsonKey(text, value);
  if (duplicate) throw invalid('a key repeats (JSON keeps only the last value, so the bundle is ambiguous)', formatJsonPath(duplicate));
  if (!isObject(value)) throw invalid('not a JSON object', '$');
  if (value['format'] !== BUNDLE_FORMAT) throw invalid(`expected "${BUNDLE_FORMAT}"`, 'format');
  if (value['version'] !== BUNDLE_VERSION) throw invalid(`unsupported version ${JSON.stringify(value['version'])}, expected ${BUNDLE_VERSION}`, 'version');
  for (const f of ['tool', 'target', 'time', 'random'] as const) if (typeof value[f] !== 'string') throw invalid('expected a string', f);
  // a URI longer than any the walk can ask for (attest's argument, a TrustedLayer URI) is copied into every message and result that names it
  if ((value['target'] as string).length > MAX_URL_LENGTH) throw invalid(`more than ${MAX_URL_LENGTH} characters`, 'target');
  // what attest takes as its URL: a bundle saved by another tool under a target no attest could have walked (a
  // name, a file path) verified as trusted under that label
  if (!isEndpointUrl(value['target'] as string)) throw invalid('not an http or https URL with a host (no credentials, no port 0, no query parameter the protocol reserves), as attest takes', 'target');
  // the form attest writes (toISOString), or another offset: Date.parse also takes "1", "Sat Nov 28 2026 12:00" and
  // times without a zone, read in the verifier's own time zone, so one bundle was judged at instants hours apart
  if (!isBundleTime(value['time'] as string)) {
    throw invalid('not an ISO 8601 time with a zone (as attest writes it, e.g. 2026-11-28T11:58:18.631Z)', 'time');
  }
  if (!isHexOf(value['random'], 32)) throw invalid('expected 32 bytes of hex', 'random');
  const layers = value['layers'];
  if (!Array.isArray(layers) || layers.length === 0) throw invalid('expected a non-empty array', 'layers');
  if (layers.length > MAX_BUNDLE_LAYERS) throw invalid(`more than ${MAX_BUNDLE_LAYERS} layers`, 'layers');
  layers.forEach((l: unknown, i) => {
    const at = `layers[${i}]`;
    if (!isObject(l)) throw invalid('expected an object', at);
    if (l['position'] !== i) throw invalid(`expected position ${i}`, `${at}.position`);
    if (typeof l['uri'] !== 'string') throw invalid('expected a string', `${at}.uri`);
    if (l['uri'].length > MAX_URL_LENGTH) throw invalid(`more than ${MAX_URL_LENGTH} characters`, `${at}.uri`);
    if (!isHexOf(l['nonce'], 32)) throw invalid('expected 32 bytes of hex', `${at}.nonce`);
    if (l['instance'] !== undefined && !isHexOf(l['instance'], 32)) throw invalid('expected 32 bytes of hex', `${at}.instance`);
    // what was asked, as bundleFromWalk writes it (the walk does not read it back: the quote says what it covers)
    if (!Array.isArray(l['pcrs']) || l['pcrs'].length > LIMITS.pcrSelectionCount || !l['pcrs'].every(isPcrLabel)) {
      throw invalid(`expected at most ${LIMITS.pcrSelectionCount} selections "bank:n,n,...", one per bank, PCRs 0-23 in ascending order`, `${at}.pcrs`);
    }
    if (new Set((l['pcrs'] as string[]).map((p) => p.slice(0, p.indexOf(':')))).size !== l['pcrs'].length) throw invalid('a bank is selected twice', `${at}.pcrs`);
    if (l['evidence'] !== undefined && !isObject(l['evidence'])) throw invalid('expected an object', `${at}.evidence`);
  });
  return value as unknown as EvidenceBundle;
}

export function bundleTopNonce(bundle: EvidenceBundle): TopNonce {
  const random = fromHex(bundle.random, 'random');
  return { nonce: topNonceFrom(random, bundle.time, bundle.target), random, time: bundle.time };
}

/**
 * The relying party's challenge (`verify --challenge`): the bundle's random
 * bytes must be it. The time in a bundle is the saver's word (a runner saving
 * its own bundle can date it ahead, so freshness.maxAge alone accepts quotes
 * made long before); a challenge the verifier chose and the top quote carries
 * (through the nonce) shows the quotes were made after it was chosen.
 */
export function checkBundleChallenge(bundle: EvidenceBundle, challenge: Uint8Array): void {
  const random = fromHex(bundle.random, 'random');
  if (!bytesEqual(random, challenge)) {
    throw new VerificationError('BUNDLE_CHALLENGE_MISMATCH', `the bundle's top nonce was drawn from random bytes ${toHex(random).slice(0, 16)}…, not from the challenge ${toHex(challenge).slice(0, 16)}…: it was not saved for this challenge`, {
      expected: toHex(challenge),
      actual: toHex(random),
    });
  }
}

/**
 * An evidence source that replays a bundle: layer k is handed out only when
 * the walker asks for the URI, nonce and instance it was saved under (the
 * instance recorded as sent must be the one the verified layer above names). A layer saved
 * without evidence (it was unreachable) is unreachable again.
 */
export function bundleSource(bundle: EvidenceBundle): EvidenceSource {
  return async (request) => {
    const saved = bundle.layers[request.position];
    const nonce = toHex(request.nonce);
    const instance = request.instance ? toHex(request.instance) : undefined;
    // hex of either case is the same bytes (parseBundle takes both, as for the random bytes): uppercase was refused
    // with a message that named the same nonce twice, once in each case
    if (!saved || saved.uri !== request.uri || saved.nonce.toLowerCase() !== nonce || saved.instance?.toLowerCase() !== instance) {
      const label = (uri: string, n: string, i: string | undefined) => `${uri} with nonce ${n.slice(0, 16)}…${i === undefined ? '' : ` for instance ${i.slice(0, 16)}…`}`;
      throw new VerificationError(
        'BUNDLE_MISMATCH',
        saved
          ? `layer ${request.position}: the bundle holds evidence for ${label(saved.uri, saved.nonce, saved.instance)}, the walk asks for ${label(request.uri, nonce, instance)}`
          : `layer ${request.position}: the bundle holds no evidence for ${request.uri}`,
        {
          position: request.position,
          expected: { uri: request.uri, nonce, ...(instance !== undefined ? { instance } : {}) },
          actual: saved ? { uri: saved.uri, nonce: saved.nonce, ...(saved.instance !== undefined ? { instance: saved.instance } : {}) } : null,
        },
      );
    }
    if (!saved.evidence) {
      // the bundle's word only: whoever holds it can also remove a layer's evidence (a failing one's: exit 3 for 1)
      throw new TransportError(
        'BUNDLE_MISSING_LAYER',
        `layer ${request.position} (${request.uri}): the bundle holds no evidence for it (the layer was unreachable when the bundle was saved, or its evidence was removed since): the attestation is incomplete`,
        { position: request.position, uri: request.uri },
      );
    }
    // checked against what was asked when the bundle was saved; a policy reading more finds it missing itself
    const askedPcrs = saved.pcrs.map((label) => {
      const [bank, list] = label.split(':') as [HashName, string];
      return { bank, pcrs: list === '' ? [] : list.split(',').map(Number) };
    });
    return { ...parseEvidence(saved.evidence, { layer: request.uri }), askedPcrs };
  };
}

/**
 * A trusted walk that asked a bundle for fewer layers than it holds: the walk
 * of the same evidence asks for the same layers (where it ends is what the
 * verified certificates say), and a bundle is saved with exactly the layers
 * its walk asked for, so the rest were added to it. They judged nothing, yet
 * whoever reads the bundle takes them for part of what verified: the result
 * is not trusted (BUNDLE_MISMATCH on the last layer walked). A walk that did
 * not end trusted stops early for its own reason, which stays the verdict.
 */
export function refuseUnaskedLayers(bundle: EvidenceBundle, result: AttestationResult, asked: number): AttestationResult {
  if (result.verdict !== 'trusted' || bundle.layers.length <= asked || asked === 0) return result;
  const extra = bundle.layers[asked]!;
  const message = `the bundle holds ${bundle.layers.length - asked} layer(s) below the last one the walk asked for (layer ${asked}: ${extra.uri}): the walk ended at layer ${asked - 1}, so they were added to the bundle after it was saved`;
  return withFailedCheck(result, asked - 1, fail('bundle.layers', 'BUNDLE_MISMATCH', message, { expected: asked, actual: bundle.layers.length }));
}
