// The result as an EAT Attestation Result (EAR, draft-ietf-rats-ear), in the
// profile Veraison produces: one `submods` entry per layer ("layer0-vm",
// "layer1-vmm", ..., "layer2-physical") with its `ear.status` and AR4SI
// `ear.trustworthiness-vector`. Unsigned JSON, or a compact JWT signed with
// ES256 (jose). The claim mapping lives in ear-mapping.ts.

import { createPrivateKey, createPublicKey, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { UsageError, VerificationError, type CodeTable } from '../errors.js';
import type { AttestationResult, LayerKind, LayerResult, LayerStatus, Verdict } from '../verify/result.js';
import { layerOutcomes, layerRole, resultWideOutcomes, type Outcome } from './format.js';
import { layerTrustVector, vectorStatus, worseTier, type EarStatus, type TrustVector } from './ear-mapping.js';
import { terminalSafeJson } from '../util/terminal-safe.js';

export const EAR_CODES = {
  EAR_KEY_INVALID: { kind: 'input', summary: 'the EAR signing key is not a usable ES256 (EC P-256) private key in PEM or JWK form' },
  EAR_TOKEN_INVALID: { kind: 'verification', summary: 'an EAR JWT does not verify: bad signature, wrong algorithm or type, or malformed' },
} as const satisfies CodeTable;

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';

/** Our own per-layer claims (an unregistered EAR appraisal extension). */
export interface EarLayerClaims {
  position: number;
  uri: string;
  status: LayerStatus;
  kind?: LayerKind;
  'instance-id'?: string;
  'ak-name'?: string;
  anchor?: string;
  /** the code of the failure that decided this layer's status */
  code?: string;
}

export interface EarAppraisal {
  'ear.status': EarStatus;
  'ear.trustworthiness-vector': TrustVector;
  'ear.appraisal-policy-id': string;
  'vtpm-verify.layer': EarLayerClaims;
}

export interface EarClaims {
  eat_profile: typeof EAR_PROFILE;
  /** seconds since the epoch */
  iat: number;
  'ear.verifier-id': { developer: string; build: string };
  /** the top nonce, base64url without padding */
  eat_nonce?: string;
  submods: Record<string, EarAppraisal>;
  /** the overall verdict (an unregistered extension): relying parties that read one claim read this */
  'vtpm-verify.result': {
    target: string;
    name?: string;
    verdict: Verdict;
    reason: string;
    code?: string;
    /** verify of a saved bundle: when its evidence was collected (ISO 8601), which iat (when it was verified) does not say */
    evidenceTime?: string;
  };
}

export interface EarOptions {
  /** issued-at, seconds; default: the result's finishedAt (when the appraisal completed) */
  iat?: number;
  /** ear.verifier-id.developer; default "vtpm-verify" */
  developer?: string;
  /** ear.verifier-id.build, e.g. "vtpm-verify 0.1.0"; default "vtpm-verify" */
  build?: string;
  /**
   * The relying party's challenge the top nonce was drawn from (attest/verify --challenge; the caller has
   * checked it is): eat_nonce is then the challenge itself, which the relying party can compare with the one it
   * chose. Otherwise eat_nonce is the top nonce, a hash of random bytes, the start time and the target.
   */
  challenge?: Uint8Array;
}

/** "layer0-vm", "layer1-vmm", "layer2-physical" ("layer2-host" when the kind is unknown). */
export function submodName(layer: Pick<LayerResult, 'position' | 'kind'>): string {
  return `layer${layer.position}-${layerRole(layer)}`;
}

/** The EAR claims set of a result. Pure: the same result and options give the same claims. */
export function toEar(result: AttestationResult, opts: EarOptions = {}): EarClaims {
  const finished = Math.floor(Date.parse(result.finishedAt) / 1000);
  // a result with an unusable finishedAt (hand-edited, say) is issued now rather than in 1970
  const iat = opts.iat ?? (Number.isFinite(finished) ? finished : Math.floor(Date.now() / 1000));
  const nonce = nonceClaim(opts.challenge !== undefined ? Buffer.from(opts.challenge).toString('hex') : result.nonce);
  const verdict: EarClaims['vtpm-verify.result'] = { target: result.target, verdict: result.verdict, reason: result.reason };
  if (result.name !== undefined) verdict.name = result.name;
  if (result.error) verdict.code = result.error.code;
  const evidenceTime = (result as { evidenceTime?: unknown }).evidenceTime;
  if (typeof evidenceTime === 'string') verdict.evidenceTime = evidenceTime;
  const claims: EarClaims = {
    eat_profile: EAR_PROFILE,
    iat,
    'ear.verifier-id': { developer: opts.developer ?? 'vtpm-verify', build: opts.build ?? 'vtpm-verify' },
    ...(nonce !== undefined ? { eat_nonce: nonce } : {}),
    submods: {},
    'vtpm-verify.result': verdict,
  };

  // With no layer at all (the top never answered), the VM still gets an
  // entry: nothing claimed (its status, as the result is not trusted, warning).
  const layers: LayerResult[] = result.layers.length
    ? result.layers
    : [{ position: 0, uri: result.target, status: 'not-reached', nonce: result.nonce, checks: [], rules: [] }];
  const appraisals = layers.map((layer) => {
    // Chain-wide rules and state findings are about the attested VM: they go with the top layer.
    const outcomes = layer.position === 0 ? [...layerOutcomes(layer), ...resultWideOutcomes(result)] : layerOutcomes(layer);
    return appraisal(layer, outcomes, result.policy.id);
  });
  // Deep attestation: a layer is no more trustworthy than the platform it runs on. Each submod's status is
  // never better than that of any layer below it, and the attested VM's is never `affirming` unless the
  // result is trusted: binding checks (a host that does not host the VM, a stale table, a foreign issuer) are
  // recorded on the lower layer, and a walk cut short has no submod for what it never reached. Before, the
  // VM's entry said `affirming` in all those results; a relying party reading only it got more than was shown.
  // The vectors stay each layer's own claims.
  for (let i = appraisals.length - 2; i >= 0; i--) {
    appraisals[i]!['ear.status'] = worseTier(appraisals[i]!['ear.status'], appraisals[i + 1]!['ear.status']);
  }
  if (result.verdict !== 'trusted') appraisals[0]!['ear.status'] = worseTier(appraisals[0]!['ear.status'], 'warning');
  layers.forEach((layer, i) => (claims.submods[submodName(layer)] = appraisals[i]!));
  return claims;
}

function appraisal(layer: LayerResult, outcomes: readonly Outcome[], policyId: string): EarAppraisal {
  const vector = layerTrustVector({ layer, outcomes });
  let status = vectorStatus(vector);
  // A layer we judged not trusted is never reported better than warning,
  // even when its failure maps to no claim or only to the none tier.
  if (layer.status === 'not-trusted' || outcomes.some((o) => o.status === 'fail')) status = worseTier(status, 'warning');
  const info: EarLayerClaims = { position: layer.position, uri: layer.uri, status: layer.status };
  if (layer.kind !== undefined) info.kind = layer.kind;
  if (layer.instanceId !== undefined) info['instance-id'] = layer.instanceId;
  if (layer.akName !== undefined) info['ak-name'] = layer.akName;
  if (layer.anchor !== undefined) info.anchor = layer.anchor.label;
  if (layer.error !== undefined) info.code = layer.error.code;
  return { 'ear.status': status, 'ear.trustworthiness-vector': vector, 'ear.appraisal-policy-id': policyId, 'vtpm-verify.layer': info };
}

/** EAT's JSON nonce is text of 10 to 74 characters (RFC 9711): 8 to 55 bytes as base64url; anything else (or bad hex) is left out rather than mangled. */
function nonceClaim(hex: string): string | undefined {
  if (!/^(?:[0-9a-fA-F]{2}){8,55}$/.test(hex)) return undefined;
  return Buffer.from(hex, 'hex').toString('base64url');
}

/**
 * The unsigned EAR as JSON text. `attest --ear` prints it to the terminal, and
 * its reason, URIs and names carry server and certificate text: the control,
 * bidi and other unseen characters JSON.stringify leaves raw are \u escaped
 * (the claims parse back the same).
 */
export function earJson(claims: EarClaims): string {
  return `${terminalSafeJson(JSON.stringify(claims, null, 2))}\n`;
}

/**
 * An ES256 signing key from PEM (PKCS#8 "PRIVATE KEY" or SEC1 "EC PRIVATE
 * KEY") or JWK JSON text. Anything else — a public key, another curve, RSA,
 * an encrypted PEM — is EAR_KEY_INVALID.
 */
export function parseEarSigningKey(text: string): KeyObject {
  const trimmed = text.trim();
  // said in words: OpenSSL's own errors for these ("interrupted or cancelled", "DECODER routines::unsupported") do not say what is wrong
  if (/^-----BEGIN ENCRYPTED PRIVATE KEY-----|^Proc-Type:\s*4,\s*ENCRYPTED/m.test(trimmed)) {
    throw new UsageError('EAR_KEY_INVALID', 'the EAR signing key is an encrypted (passphrase-protected) PEM: give it unencrypted (openssl pkey -in KEY -out KEY.plain.pem)', { actual: 'encrypted PEM' });
  }
  if (trimmed.startsWith('{') && jwkKty(trimmed) === 'oct') {
    throw new UsageError('EAR_KEY_INVALID', 'the EAR signing key is a symmetric (JWK kty "oct", HMAC) secret: EARs are signed with ES256, which needs an EC P-256 private key', {
      expected: 'ec prime256v1',
      actual: 'oct (symmetric secret)',
    });
  }
  // (a certificate beside its private key, in one file, is a usable key)
  const publicPem = /^-----BEGIN (?:PUBLIC KEY|EC PUBLIC KEY|CERTIFICATE)-----/m.test(trimmed) && !/^-----BEGIN (?:EC )?PRIVATE KEY-----/m.test(trimmed);
  if (publicPem || (trimmed.startsWith('{') && isPublicJwk(trimmed))) {
    throw new UsageError('EAR_KEY_INVALID', 'the EAR signing key is a public key: signing needs the private key (PEM "PRIVATE KEY" or "EC PRIVATE KEY", or a JWK with "d")', { actual: 'public key' });
  }
  let key: KeyObject;
  try {
    key = trimmed.startsWith('{') ? createPrivateKey({ key: JSON.parse(trimmed) as import('node:crypto').JsonWebKey, format: 'jwk' }) : createPrivateKey(trimmed);
  } catch (err) {
    throw new UsageError('EAR_KEY_INVALID', `the EAR signing key cannot be read as a PEM or JWK private key: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
  checkP256(key, 'EAR_KEY_INVALID', UsageError);
  checkSigns(key);
  return key;
}

/**
 * Signs a probe and verifies it with the key's own public part: a JWK whose
 * "d" is not the private key of its "x"/"y" (or is 0, or not below the group
 * order) is read without complaint, and would fail only when the EAR is signed,
 * after the walk (or sign tokens its published public key does not verify).
 */
function checkSigns(key: KeyObject): void {
  const probe = Buffer.from('vtpm-verify EAR signing key probe');
  let ok = false;
  try {
    const signature = cryptoSign('sha256', probe, { key, dsaEncoding: 'ieee-p1363' });
    ok = cryptoVerify('sha256', probe, { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    ok = false;
  }
  if (!ok) {
    throw new UsageError('EAR_KEY_INVALID', 'the EAR signing key cannot sign: its private part (JWK "d") is not the private key of its public part ("x", "y"), or not a valid P-256 scalar', {
      expected: 'a P-256 private key matching its public key',
      actual: 'a signature its own public key does not verify',
    });
  }
}

/** The "kty" of JWK text, if it is a JSON object with one. */
function jwkKty(text: string): string | undefined {
  try {
    const jwk = JSON.parse(text) as unknown;
    const kty = typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk) ? (jwk as Record<string, unknown>)['kty'] : undefined;
    return typeof kty === 'string' ? kty : undefined;
  } catch {
    return undefined;
  }
}

/** A JWK object without the private part "d" (text that is no JSON object is left to the key parser). */
function isPublicJwk(text: string): boolean {
  try {
    const jwk = JSON.parse(text) as unknown;
    return typeof jwk === 'object' && jwk !== null && !Array.isArray(jwk) && typeof (jwk as Record<string, unknown>)['kty'] === 'string' && !('d' in jwk);
  } catch {
    return false;
  }
}

function checkP256(key: KeyObject, code: string, E: typeof UsageError | typeof VerificationError): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    throw new E(code, `ES256 needs an EC P-256 key, got ${key.asymmetricKeyType ?? 'unknown'}${curve ? ` (${curve})` : ''}`, {
      expected: 'ec prime256v1',
      actual: `${key.asymmetricKeyType ?? 'unknown'} ${curve ?? ''}`.trim(),
    });
  }
}

/** The EAR as a compact JWT (header alg ES256, typ JWT) signed with `key` (a KeyObject, or PEM/JWK text). */
export async function signEar(claims: EarClaims, key: KeyObject | string): Promise<string> {
  const k = typeof key === 'string' ? parseEarSigningKey(key) : key;
  if (k.type !== 'private') throw new UsageError('EAR_KEY_INVALID', 'the EAR signing key must be a private key', { actual: k.type });
  checkP256(k, 'EAR_KEY_INVALID', UsageError);
  if (typeof key !== 'string') checkSigns(k);
  const { SignJWT } = await import('jose'); // loaded only when signing
  try {
    return await new SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(k);
  } catch (err) {
    // a key jose (WebCrypto) refuses is the key's fault, said with its code, never an unexpected error
    throw new UsageError('EAR_KEY_INVALID', `the EAR signing key cannot sign: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
}

/**
 * Verifies an EAR JWT with the verifier's public key (PEM, JWK text, or a
 * KeyObject; a private key works too) and returns its claims. Only ES256 with
 * typ JWT is accepted; anything else is EAR_TOKEN_INVALID.
 */
export async function verifyEar(token: string, key: KeyObject | string): Promise<EarClaims> {
  let pub: KeyObject;
  try {
    if (typeof key !== 'string') pub = key.type === 'private' ? createPublicKey(key) : key;
    else {
      const t = key.trim();
      pub = createPublicKey(t.startsWith('{') ? { key: JSON.parse(t) as import('node:crypto').JsonWebKey, format: 'jwk' } : t);
    }
  } catch (err) {
    throw new UsageError('EAR_KEY_INVALID', `the EAR verification key cannot be read: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
  checkP256(pub, 'EAR_KEY_INVALID', UsageError);
  const { jwtVerify } = await import('jose');
  try {
    const { payload } = await jwtVerify(token, pub, { algorithms: ['ES256'], typ: 'JWT' });
    if (payload['eat_profile'] !== EAR_PROFILE) {
      throw new VerificationError('EAR_TOKEN_INVALID', 'the JWT is not an EAR of the Veraison profile', { expected: EAR_PROFILE, actual: payload['eat_profile'] });
    }
    return payload as unknown as EarClaims;
  } catch (err) {
    if (err instanceof VerificationError) throw err;
    throw new VerificationError('EAR_TOKEN_INVALID', `the EAR JWT does not verify: ${err instanceof Error ? err.message : String(err)}`, {}, { cause: err });
  }
}
