// A software TPM for the simulated platform. Genuine: the AK's public area,
// Name and Qualified Name, the TPMS_ATTEST and TPMT_SIGNATURE bytes, the PCR
// extend arithmetic and the clock/reset/restart semantics follow the TPM 2.0
// specification, so tpm2-tools accept what it produces. Simulated: there is
// no TPM command interface, no sealed storage or sessions, the keys live in
// this process, and "Clock" runs from an injectable time source.
//
// Keys: the EK is a primary key of the endorsement hierarchy (TCG default
// template), the AK a restricted signing child of the EK, as tpm2_createak
// makes it; so the quote's qualifiedSigner is the AK's Qualified Name
// H(QN_EK || Name_AK), not its Name. The instance id (protocol section 5) is
// SHA-256 of the EK's SubjectPublicKeyInfo DER.

import {
  constants as cryptoConstants,
  createECDH,
  createPrivateKey,
  createPublicKey,
  hash,
  hkdfSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { LIMITS, type HashName } from '../tpm/constants.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { toHex } from '../util/bytes.js';
import { freshKeyPair } from '../util/fresh-key-pair.js';
import { invalidArgument } from './codes.js';
import {
  ECC_CURVES,
  hashAlg,
  TPM_RH,
  akPublicArea,
  ecdsaSignatureFromP1363,
  ekPublicArea,
  encodePublic,
  encodePublic2b,
  encodeQuoteAttestWith,
  encodeSignature,
  handleName,
  objectName,
  qualifiedName,
  PCR_COUNT,
  type ClockInfo,
  type EccCurveName,
  type PcrSelectionSpec,
  type PublicArea,
  type TpmSignature,
} from './marshal.js';
import { PcrSnapshots, snapshotValues, type PcrSnapshot } from './pcr-snapshot.js';
import { parseSoftTpmState, type SoftTpmState } from './soft-tpm-state.js';
import { subjectPublicKeyInfo } from './spki.js';

export type { SoftTpmState } from './soft-tpm-state.js';

/** The AK: ECDSA P-256 with SHA-256 unless said otherwise. */
export type AkSpec =
  | { type: 'ecc'; curve?: EccCurveName; hash?: HashName }
  | {
      type: 'rsa';
      bits?: 2048 | 3072 | 4096;
      scheme?: 'rsassa' | 'rsapss';
      hash?: HashName;
      /** RSA-PSS salt: the digest size (libtpms and the reference TPM) or the maximum (some TPMs) */
      pssSalt?: 'digest' | 'max';
    };

/** The EK the instance id is derived from. P-256 by default: an RSA EK costs ~100 ms to generate. */
export type EkSpec = 'ecc-p256' | 'rsa-2048';

export interface SoftTpmOptions {
  ak?: AkSpec;
  ek?: EkSpec;
  /** derive the (ECC) AK and EK from this seed: the same seed gives the same identity */
  seed?: Uint8Array | string;
  /** use this AK private key (e.g. a fixed RSA key), overriding generation */
  akPrivateKey?: KeyObject;
  /** use this EK private key, overriding generation */
  ekPrivateKey?: KeyObject;
  /** PCR banks; default sha1, sha256, sha384 */
  banks?: readonly HashName[];
  /** time source in ms (monotonic); default performance.now */
  now?: () => number;
  /** Clock at start, ms; default 0 */
  clock?: number;
  resetCount?: number;
  restartCount?: number;
  /** TPMS_ATTEST.firmwareVersion */
  firmwareVersion?: bigint;
  /** locality of TPM2_Startup: 3 or 4 (H-CRTM) sets the last byte of PCR 0 to it */
  startupLocality?: 0 | 3 | 4;
}

/** The AK's signing scheme as TPMT_SIG_SCHEME. */
export interface SigningScheme {
  scheme: 'ecdsa' | 'rsassa' | 'rsapss';
  hash: HashName;
  pssSalt: 'digest' | 'max';
}

/**
 * Faults a genuine TPM cannot produce, for negative tests. Each one is an
 * explicit option of one quote() call, never hidden state.
 */
export interface QuoteFaults {
  /** sign with this private key instead of the AK (a forged quote) */
  signingKey?: KeyObject;
  /** TPMS_ATTEST.extraData carries this instead of the nonce asked for (wrong or replayed nonce) */
  extraData?: Uint8Array;
  /** TPMS_QUOTE_INFO.pcrDigest carries this instead of the digest of the selected PCRs */
  pcrDigest?: Uint8Array;
  /** flip one bit of the signature after signing */
  corruptSignature?: boolean;
}

export interface SoftQuote {
  /** marshalled TPMS_ATTEST (what `tpm2_quote -m` writes) */
  message: Buffer;
  /** marshalled TPMT_SIGNATURE (what `tpm2_quote -s` writes) */
  signature: Buffer;
  /** the values of the quoted PCRs, as the evidence's `pcrs` member reports them (copies) */
  readonly pcrs: PcrValues;
  /** the same values as the TPM holds them, shared with later quotes over unchanged PCRs: read only */
  readonly snapshot: PcrSnapshot;
  pcrDigest: Buffer;
  clockInfo: ClockInfo;
}

/** A quote whose PCR values are copied out of the snapshot only when asked for (the evidence JSON reads the snapshot). */
class SoftQuoteOf implements SoftQuote {
  private copies: PcrValues | null = null;
  readonly pcrDigest: Buffer;

  constructor(
    readonly message: Buffer,
    readonly signature: Buffer,
    readonly snapshot: PcrSnapshot,
    readonly clockInfo: ClockInfo,
  ) {
    this.pcrDigest = Buffer.from(snapshot.digest);
  }

  get pcrs(): PcrValues {
    return (this.copies ??= snapshotValues(this.snapshot));
  }
}

/**
 * The reference TPM saves Clock to NV every 2^NV_CLOCK_UPDATE_INTERVAL
 * (12) "seconds" of 1024 ms; an unorderly shutdown loses what was not saved.
 */
export const NV_CLOCK_UPDATE_INTERVAL_MS = 2 ** 22;

const DEFAULT_BANKS: readonly HashName[] = ['sha1', 'sha256', 'sha384'];
const SUPPORTED_BANKS: ReadonlySet<HashName> = new Set(['sha1', 'sha256', 'sha384', 'sha512']);
const SEED_SALT = 'vtpm-verify soft-tpm key derivation';

/** Curve orders, to turn seed bytes into a valid private scalar (FIPS 186-5 A.2.1). */
const CURVE_ORDER: Record<EccCurveName, bigint> = {
  p256: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  p384: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
};

/** An EC private key derived from `seed` and `label` (HKDF-SHA-256): the same inputs give the same key. */
export function seededEcKey(seed: Uint8Array, label: string, curve: EccCurveName): KeyObject {
  const c = ECC_CURVES[curve];
  const okm = Buffer.from(hkdfSync('sha256', seed, SEED_SALT, label, c.size + 8));
  const d = (BigInt(`0x${okm.toString('hex')}`) % (CURVE_ORDER[curve] - 1n)) + 1n;
  const dBytes = Buffer.from(d.toString(16).padStart(c.size * 2, '0'), 'hex');
  const ecdh = createECDH(c.nodeName);
  ecdh.setPrivateKey(dBytes);
  const point = ecdh.getPublicKey(); // 04 || x || y
  return createPrivateKey({
    key: {
      kty: 'EC',
      crv: c.jwkCrv,
      d: dBytes.toString('base64url'),
      x: point.subarray(1, 1 + c.size).toString('base64url'),
      y: point.subarray(1 + c.size).toString('base64url'),
    },
    format: 'jwk',
  });
}

function seedBytes(seed: Uint8Array | string): Uint8Array {
  return typeof seed === 'string' ? Buffer.from(seed, 'utf8') : seed;
}

function makeAkKey(spec: AkSpec, opts: SoftTpmOptions): KeyObject {
  if (opts.akPrivateKey) return opts.akPrivateKey;
  if (spec.type === 'ecc') {
    const curve = spec.curve ?? 'p256';
    if (opts.seed !== undefined) return seededEcKey(seedBytes(opts.seed), 'ak', curve);
    return seededEcKey(randomBytes(32), 'ak', curve); // a random key from a random seed, not generateKeyPairSync: see util/fresh-key-pair.ts
  }
  if (opts.seed !== undefined) throw invalidArgument('seeded keys are ECC only: pass akPrivateKey for a fixed RSA AK', {});
  return freshKeyPair('rsa', { modulusLength: spec.bits ?? 2048 }).privateKey;
}

function makeEkKey(spec: EkSpec, opts: SoftTpmOptions): KeyObject {
  if (opts.ekPrivateKey) return opts.ekPrivateKey;
  if (spec === 'ecc-p256') {
    if (opts.seed !== undefined) return seededEcKey(seedBytes(opts.seed), 'ek', 'p256');
    return seededEcKey(randomBytes(32), 'ek', 'p256');
  }
  if (opts.seed !== undefined) throw invalidArgument('seeded keys are ECC only: pass ekPrivateKey for a fixed RSA EK', {});
  return freshKeyPair('rsa', { modulusLength: 2048 }).privateKey;
}

function signingFor(key: KeyObject, spec: AkSpec): SigningScheme {
  if (key.asymmetricKeyType === 'ec') {
    const curve = spec.type === 'ecc' ? spec.curve : undefined;
    const keyCurve = key.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'p384' : 'p256';
    if (curve !== undefined && curve !== keyCurve) throw invalidArgument(`the AK key is ${keyCurve}, the spec says ${curve}`, {});
    return { scheme: 'ecdsa', hash: (spec.type === 'ecc' ? spec.hash : undefined) ?? ECC_CURVES[keyCurve].defaultHash, pssSalt: 'digest' };
  }
  if (spec.type !== 'rsa') throw invalidArgument('the AK key is RSA, the spec says ECC', {});
  return { scheme: spec.scheme ?? 'rsassa', hash: spec.hash ?? 'sha256', pssSalt: spec.pssSalt ?? 'digest' };
}

/** Signs like TPM2_Sign/TPM2_Quote would with this key and scheme. */
function signTpm(key: KeyObject, signing: SigningScheme, message: Uint8Array): TpmSignature {
  const h = hashAlg(signing.hash);
  if (key.asymmetricKeyType === 'ec') {
    // ieee-p1363 pads r and s to the curve size, as TPMs do; s is left as the signer made it (not low-S normalized).
    return ecdsaSignatureFromP1363(signing.hash, sign(h.nodeName, message, { key, dsaEncoding: 'ieee-p1363' }));
  }
  if (signing.scheme === 'rsapss') {
    const saltLength = signing.pssSalt === 'max' ? cryptoConstants.RSA_PSS_SALTLEN_MAX_SIGN : h.size;
    return { scheme: 'rsapss', hash: signing.hash, signature: sign(h.nodeName, message, { key, padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength }) };
  }
  return { scheme: 'rsassa', hash: signing.hash, signature: sign(h.nodeName, message, key) };
}

interface ClockState {
  /** Clock at timeBase */
  clockBase: number;
  /** the time source's reading when clockBase was set */
  timeBase: number;
  /** highest Clock reported since the last (re)set: Clock never runs backwards while powered */
  lastReported: number;
  resetCount: number;
  restartCount: number;
  safe: boolean;
  /** after an unorderly reset, safe returns once Clock reaches the next NV save */
  safeAt: number | null;
}

export class SoftTpm {
  readonly akPrivateKey: KeyObject;
  readonly akPublicKey: KeyObject;
  readonly signing: SigningScheme;
  /** the AK's public area, its TPMT_PUBLIC and TPM2B_PUBLIC bytes, Name and Qualified Name */
  readonly akPublicArea: PublicArea;
  readonly akPublic: Buffer;
  readonly akPublic2b: Buffer;
  readonly akName: Buffer;
  readonly akQualifiedName: Buffer;
  readonly ekPrivateKey: KeyObject;
  readonly ekPublicKey: KeyObject;
  readonly ekPublicArea: PublicArea;
  readonly ekPublic2b: Buffer;
  readonly ekName: Buffer;
  /** protocol section 5: SHA-256 of the EK SubjectPublicKeyInfo DER */
  readonly instanceId: Buffer;
  readonly firmwareVersion: bigint;
  readonly startupLocality: 0 | 3 | 4;
  readonly banks: readonly HashName[];

  private readonly now: () => number;
  private pcrBanks = new Map<HashName, Buffer[]>();
  private readonly snapshots: PcrSnapshots;
  private clockState: ClockState;

  private constructor(akKey: KeyObject, akSpec: AkSpec, ekKey: KeyObject, opts: SoftTpmOptions) {
    this.now = opts.now ?? (() => performance.now());
    this.akPrivateKey = akKey;
    this.akPublicKey = createPublicKey(akKey);
    this.signing = signingFor(akKey, akSpec);
    this.akPublicArea = akPublicArea(this.akPublicKey, this.signing);
    this.akPublic = encodePublic(this.akPublicArea);
    this.akPublic2b = encodePublic2b(this.akPublicArea);
    this.akName = objectName('sha256', this.akPublic);

    this.ekPrivateKey = ekKey;
    this.ekPublicKey = createPublicKey(ekKey);
    this.ekPublicArea = ekPublicArea(this.ekPublicKey);
    this.ekPublic2b = encodePublic2b(this.ekPublicArea);
    this.ekName = objectName('sha256', encodePublic(this.ekPublicArea));
    const ekQualifiedName = qualifiedName('sha256', handleName(TPM_RH.ENDORSEMENT), this.ekName);
    this.akQualifiedName = qualifiedName('sha256', ekQualifiedName, this.akName);
    this.instanceId = hash('sha256', subjectPublicKeyInfo(this.ekPublicKey), 'buffer');

    this.firmwareVersion = opts.firmwareVersion ?? 0x2023_0001_0000_0000n;
    this.startupLocality = opts.startupLocality ?? 0;
    const banks = opts.banks ?? DEFAULT_BANKS;
    for (const b of banks) if (!SUPPORTED_BANKS.has(b)) throw invalidArgument(`PCR bank ${b}: the soft TPM has sha1, sha256, sha384, sha512`, { bank: b });
    if (new Set(banks).size !== banks.length || banks.length === 0) throw invalidArgument('PCR banks: at least one, each once', { banks });
    this.banks = [...banks];
    this.resetPcrs();
    this.snapshots = new PcrSnapshots(this.signing.hash, (bank) => this.bank(bank));

    const clock = opts.clock ?? 0;
    this.clockState = {
      clockBase: clock,
      timeBase: this.now(),
      lastReported: clock,
      resetCount: opts.resetCount ?? 0,
      restartCount: opts.restartCount ?? 0,
      safe: true,
      safeAt: null,
    };
  }

  /** A new TPM with a fresh (or seeded) AK and EK. */
  static create(opts: SoftTpmOptions = {}): SoftTpm {
    const akSpec = opts.ak ?? { type: 'ecc' };
    return new SoftTpm(makeAkKey(akSpec, opts), akSpec, makeEkKey(opts.ek ?? 'ecc-p256', opts), opts);
  }

  /** A TPM restored from exportState() output (a clone, a backup, a migrated vTPM). */
  static fromState(state: unknown, opts: { now?: () => number } = {}): SoftTpm {
    const s = parseSoftTpmState(state);
    const akSpec: AkSpec = s.ak.scheme === 'ecdsa' ? { type: 'ecc', hash: s.ak.hash } : { type: 'rsa', scheme: s.ak.scheme, hash: s.ak.hash, pssSalt: s.ak.pssSalt };
    const tpm = new SoftTpm(s.akKey, akSpec, s.ekKey, {
      ...(opts.now ? { now: opts.now } : {}),
      banks: Object.keys(s.pcrs) as HashName[],
      firmwareVersion: s.firmwareVersion,
      startupLocality: s.startupLocality,
    });
    tpm.restoreVolatile(s);
    return tpm;
  }

  /**
   * Everything needed to run this TPM elsewhere: keys (JWK), PCRs, Clock
   * and counters. JSON-serializable. A later importState()/fromState() of it
   * reproduces the old Clock and resetCount, as restoring a vTPM backup does.
   */
  exportState(): SoftTpmState {
    const c = this.readClock();
    const pcrs: Record<string, string[]> = {};
    for (const [bank, values] of this.pcrBanks) pcrs[bank] = values.map((v) => v.toString('hex'));
    return {
      format: 'vtpm-verify-soft-tpm',
      version: 1,
      ak: {
        scheme: this.signing.scheme,
        hash: this.signing.hash,
        pssSalt: this.signing.pssSalt,
        privateKey: this.akPrivateKey.export({ format: 'jwk' }),
      },
      ek: { privateKey: this.ekPrivateKey.export({ format: 'jwk' }) },
      firmwareVersion: String(this.firmwareVersion),
      startupLocality: this.startupLocality,
      clock: {
        clock: String(c),
        resetCount: this.clockState.resetCount,
        restartCount: this.clockState.restartCount,
        safe: this.clockState.safe,
        safeAt: this.clockState.safeAt === null ? null : String(this.clockState.safeAt),
      },
      pcrs,
    };
  }

  /**
   * Replaces the volatile state (PCRs, Clock, counters) with a saved one of
   * the same TPM: a restored backup or snapshot. The identity must match.
   */
  importState(state: unknown): void {
    const s = parseSoftTpmState(state);
    const ak = createPublicKey(s.akKey).export({ type: 'spki', format: 'der' });
    if (!ak.equals(this.akPublicKey.export({ type: 'spki', format: 'der' }))) {
      throw invalidArgument('importState: the saved state is of another TPM (different AK); use SoftTpm.fromState', {});
    }
    const banks = Object.keys(s.pcrs);
    if (banks.length !== this.banks.length || !this.banks.every((b) => banks.includes(b))) {
      throw invalidArgument('importState: the saved state has other PCR banks', { saved: banks, banks: this.banks });
    }
    this.restoreVolatile(s);
  }

  private restoreVolatile(s: ReturnType<typeof parseSoftTpmState>): void {
    this.pcrBanks = new Map(Object.entries(s.pcrs).map(([bank, values]) => [bank as HashName, values.map((v) => Buffer.from(v))]));
    this.clockState = {
      clockBase: s.clock.clock,
      timeBase: this.now(),
      lastReported: s.clock.clock,
      resetCount: s.clock.resetCount,
      restartCount: s.clock.restartCount,
      safe: s.clock.safe,
      safeAt: s.clock.safeAt,
    };
  }

  // -------------------------------------------------------------------------
  // Clock

  private readClock(): number {
    const st = this.clockState;
    const elapsed = Math.floor(this.now() - st.timeBase);
    const clock = Math.max(st.lastReported, st.clockBase + Math.max(0, elapsed));
    st.lastReported = clock;
    if (!st.safe && st.safeAt !== null && clock >= st.safeAt) {
      st.safe = true;
      st.safeAt = null;
    }
    return clock;
  }

  /** TPMS_CLOCK_INFO now. */
  get clockInfo(): ClockInfo {
    const clock = this.readClock();
    const st = this.clockState;
    return { clock: BigInt(clock), resetCount: st.resetCount, restartCount: st.restartCount, safe: st.safe };
  }

  /** Moves Clock forward by `ms` (time passing without waiting for it). */
  advanceClock(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw invalidArgument('advanceClock: Clock only moves forward', { ms });
    this.clockState.clockBase += Math.floor(ms);
  }

  private restartClockAt(clock: number): void {
    const st = this.clockState;
    st.clockBase = clock;
    st.timeBase = this.now();
    st.lastReported = clock;
  }

  /**
   * TPM Reset (a reboot: Startup(CLEAR) after Shutdown(CLEAR) or a power
   * loss): resetCount + 1, restartCount 0, PCRs to their initial values.
   * Clock keeps running across an orderly reboot. Unorderly (power lost
   * without TPM2_Shutdown), Clock falls back to its last NV save and safe is
   * NO until the next save.
   */
  reboot(opts: { orderly?: boolean } = {}): void {
    const clock = this.readClock();
    const st = this.clockState;
    if (opts.orderly === false) {
      const saved = clock - (clock % NV_CLOCK_UPDATE_INTERVAL_MS);
      this.restartClockAt(saved);
      st.safe = false;
      st.safeAt = saved + NV_CLOCK_UPDATE_INTERVAL_MS;
    } else {
      this.restartClockAt(clock);
    }
    st.resetCount = (st.resetCount + 1) >>> 0;
    st.restartCount = 0;
    this.resetPcrs();
  }

  /** TPM Restart (Shutdown(STATE) then Startup(CLEAR), e.g. hibernation): restartCount + 1, PCRs reset. */
  restart(): void {
    this.restartClockAt(this.readClock());
    this.clockState.restartCount = (this.clockState.restartCount + 1) >>> 0;
    this.resetPcrs();
  }

  /** TPM Resume (Shutdown(STATE) then Startup(STATE), suspend to RAM): restartCount + 1, PCRs kept. */
  resume(): void {
    this.restartClockAt(this.readClock());
    this.clockState.restartCount = (this.clockState.restartCount + 1) >>> 0;
  }

  // -------------------------------------------------------------------------
  // PCRs

  /** PC Client initial values: 0 for PCRs 0-16 and 23, all ones for 17-22 (reset by a dynamic launch). */
  private resetPcrs(): void {
    this.pcrBanks = new Map();
    for (const bank of this.banks) {
      const size = hashAlg(bank).size;
      const values: Buffer[] = [];
      for (let i = 0; i < PCR_COUNT; i++) values.push(Buffer.alloc(size, i >= 17 && i <= 22 ? 0xff : 0));
      values[0]![size - 1] = this.startupLocality;
      this.pcrBanks.set(bank, values);
    }
  }

  private bank(bank: HashName): Buffer[] {
    const values = this.pcrBanks.get(bank);
    if (!values) throw invalidArgument(`PCR bank ${bank} is not allocated (banks: ${this.banks.join(', ')})`, { bank, banks: this.banks });
    return values;
  }

  private checkPcr(pcr: number): void {
    if (!Number.isInteger(pcr) || pcr < 0 || pcr >= PCR_COUNT) throw invalidArgument(`PCR ${pcr} does not exist (0..${PCR_COUNT - 1})`, { pcr });
  }

  /** TPM2_PCR_Extend for one bank: PCR = H(PCR || digest). */
  extend(bank: HashName, pcr: number, digest: Uint8Array): void {
    const values = this.bank(bank);
    this.checkPcr(pcr);
    const old = values[pcr]!;
    if (digest.length !== old.length) throw invalidArgument(`extend ${bank}:${pcr}: a ${bank} digest has ${old.length} bytes, got ${digest.length}`, { bank, pcr });
    values[pcr] = hash(hashAlg(bank).nodeName, Buffer.concat([old, digest]), 'buffer');
  }

  /** TPM2_PCR_Event: extends every bank with that bank's hash of `data`; returns the digests extended. */
  extendData(pcr: number, data: Uint8Array): Map<HashName, Buffer> {
    const digests = new Map<HashName, Buffer>();
    for (const bank of this.banks) {
      const d = hash(hashAlg(bank).nodeName, data, 'buffer');
      this.extend(bank, pcr, d);
      digests.set(bank, d);
    }
    return digests;
  }

  /**
   * Sets every PCR to the values another TPM of the same banks holds: a
   * shortcut for a fleet, where every machine of one image measures the
   * same boot (replaying ~150 extends per machine would cost more than its
   * keys). PCR buffers are never changed in place, so the values are shared.
   */
  adoptPcrs(from: SoftTpm): void {
    if (from.banks.length !== this.banks.length || !from.banks.every((b) => this.banks.includes(b))) {
      throw invalidArgument('adoptPcrs: the TPMs have different PCR banks', { from: from.banks, banks: this.banks });
    }
    this.pcrBanks = new Map([...from.pcrBanks].map(([bank, values]) => [bank, [...values]]));
  }

  readPcr(bank: HashName, pcr: number): Buffer {
    const values = this.bank(bank);
    this.checkPcr(pcr);
    return Buffer.from(values[pcr]!);
  }

  /** The values of the selected PCRs. */
  readPcrs(selection: PcrSelectionSpec): PcrValues {
    return snapshotValues(this.snapshots.of(selection));
  }

  // -------------------------------------------------------------------------
  // Quote

  /**
   * TPM2_Quote with the AK: TPMS_ATTEST over the selected PCRs with `nonce`
   * as extraData, signed with the AK's scheme; the PCR digest uses the
   * scheme's hash. `faults` builds a quote a genuine TPM would not produce.
   */
  quote(nonce: Uint8Array, selection: PcrSelectionSpec, faults: QuoteFaults = {}): SoftQuote {
    if (nonce.length > LIMITS.data) throw invalidArgument(`quote: qualifying data of ${nonce.length} bytes exceeds TPM2B_DATA (${LIMITS.data})`, { length: nonce.length });
    // the PCR part (values, digest, selection bytes) is the same for every quote over unchanged PCRs
    const snapshot = this.snapshots.of(selection);
    const clockInfo = this.clockInfo;
    const message = encodeQuoteAttestWith({
      qualifiedSigner: this.akQualifiedName,
      extraData: faults.extraData ?? nonce,
      clockInfo,
      firmwareVersion: this.firmwareVersion,
      pcrSelectionBytes: snapshot.selectionBytes,
      pcrDigest: faults.pcrDigest ?? snapshot.digest,
    });
    const signature = encodeSignature(signTpm(faults.signingKey ?? this.akPrivateKey, this.signing, message));
    if (faults.corruptSignature) signature[signature.length - 1]! ^= 0x01;
    return new SoftQuoteOf(message, signature, snapshot, clockInfo);
  }

  /** Signs arbitrary bytes with the AK's scheme (e.g. to build a TPM2_Certify-like structure). */
  signWithAk(message: Uint8Array): Buffer {
    return encodeSignature(signTpm(this.akPrivateKey, this.signing, message));
  }

  /** The AK public key as PEM (SubjectPublicKeyInfo), what `tpm2_checkquote -u` takes. */
  akPublicPem(): string {
    return this.akPublicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  get instanceIdHex(): string {
    return toHex(this.instanceId);
  }
}
