// The saved form of a soft TPM (keys, PCRs, Clock and counters), and its
// strict reader: a state file may come from disk, so every field is checked
// and anything unexpected is SIM_STATE_INVALID.

import { createPrivateKey, createPublicKey, sign, verify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';
import { hashByName, type HashName } from '../tpm/constants.js';
import { PCR_COUNT } from './marshal.js';

export interface SoftTpmState {
  format: 'vtpm-verify-soft-tpm';
  version: 1;
  /** private keys as JWK: JSON-native, and imported ~8x faster than PKCS#8 DER by node */
  ak: { scheme: 'ecdsa' | 'rsassa' | 'rsapss'; hash: HashName; pssSalt: 'digest' | 'max'; privateKey: JsonWebKey };
  ek: { privateKey: JsonWebKey };
  /** UINT64 as a decimal string */
  firmwareVersion: string;
  startupLocality: 0 | 3 | 4;
  clock: { clock: string; resetCount: number; restartCount: number; safe: boolean; safeAt: string | null };
  /** bank -> 24 PCR values, hex */
  pcrs: Record<string, string[]>;
}

export interface ParsedSoftTpmState {
  ak: { scheme: 'ecdsa' | 'rsassa' | 'rsapss'; hash: HashName; pssSalt: 'digest' | 'max' };
  akKey: KeyObject;
  ekKey: KeyObject;
  firmwareVersion: bigint;
  startupLocality: 0 | 3 | 4;
  clock: { clock: number; resetCount: number; restartCount: number; safe: boolean; safeAt: number | null };
  pcrs: Record<string, Buffer[]>;
}

function bad(field: string, message: string): UsageError {
  return new UsageError('SIM_STATE_INVALID', `soft TPM state: ${field}: ${message}`, { field });
}

function obj(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(field, 'not an object');
  return v as Record<string, unknown>;
}

function oneOf<T extends string | number>(v: unknown, allowed: readonly T[], field: string): T {
  if (!allowed.includes(v as T)) throw bad(field, `must be one of ${allowed.join(', ')}`);
  return v as T;
}

function u32(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) throw bad(field, 'not a UINT32');
  return v;
}

const DECIMAL_RE = /^(0|[1-9][0-9]{0,19})$/;

function clockValue(v: unknown, field: string): number {
  if (typeof v !== 'string' || !DECIMAL_RE.test(v) || !Number.isSafeInteger(Number(v))) throw bad(field, 'not a decimal string of a Clock value');
  return Number(v);
}

function privateKey(v: unknown, field: string): KeyObject {
  const jwk = obj(v, field);
  if (typeof jwk['d'] !== 'string') throw bad(field, 'not a private JWK');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' });
  } catch (err) {
    throw new UsageError('SIM_STATE_INVALID', `soft TPM state: ${field}: not a usable private JWK`, { field }, { cause: err });
  }
  // node does not check that d belongs to the public part of the JWK: a signature round trip does.
  let consistent = false;
  try {
    consistent = verify('sha256', KEY_CHECK, createPublicKey(key), sign('sha256', KEY_CHECK, key));
  } catch {
    // a key node can import but not use: as inconsistent as a mismatched one
  }
  if (!consistent) throw bad(field, 'the private part does not match the public part');
  return key;
}

const KEY_CHECK = Buffer.from('vtpm-verify soft TPM key check');

export function parseSoftTpmState(input: unknown): ParsedSoftTpmState {
  const s = obj(input, 'state');
  if (s['format'] !== 'vtpm-verify-soft-tpm') throw bad('format', 'not a vtpm-verify soft TPM state');
  if (s['version'] !== 1) throw bad('version', `unknown version ${JSON.stringify(s['version'])}`);
  const ak = obj(s['ak'], 'ak');
  const ek = obj(s['ek'], 'ek');
  const clock = obj(s['clock'], 'clock');
  const pcrsIn = obj(s['pcrs'], 'pcrs');

  const fw = s['firmwareVersion'];
  if (typeof fw !== 'string' || !DECIMAL_RE.test(fw) || BigInt(fw) > 0xffffffffffffffffn) throw bad('firmwareVersion', 'not a decimal UINT64');

  const pcrs: Record<string, Buffer[]> = {};
  const banks = Object.keys(pcrsIn);
  if (banks.length === 0) throw bad('pcrs', 'no PCR bank');
  for (const bank of banks) {
    const h = hashByName(bank);
    if (!h || h.name !== bank || !['sha1', 'sha256', 'sha384', 'sha512'].includes(bank)) throw bad(`pcrs.${bank}`, 'unknown bank');
    const values = pcrsIn[bank];
    if (!Array.isArray(values) || values.length !== PCR_COUNT) throw bad(`pcrs.${bank}`, `must list ${PCR_COUNT} values`);
    const hexRe = new RegExp(`^[0-9a-f]{${h.size * 2}}$`);
    pcrs[bank] = values.map((v, i) => {
      if (typeof v !== 'string' || !hexRe.test(v)) throw bad(`pcrs.${bank}[${i}]`, `not ${h.size} bytes of lowercase hex`);
      return Buffer.from(v, 'hex');
    });
  }

  const akKey = privateKey(ak['privateKey'], 'ak.privateKey');
  const ekKey = privateKey(ek['privateKey'], 'ek.privateKey');
  const scheme = oneOf(ak['scheme'], ['ecdsa', 'rsassa', 'rsapss'] as const, 'ak.scheme');
  if ((scheme === 'ecdsa') !== (akKey.asymmetricKeyType === 'ec')) throw bad('ak.scheme', `${scheme} does not fit a ${akKey.asymmetricKeyType} key`);
  const ekDetails = ekKey.asymmetricKeyDetails;
  if (!(ekKey.asymmetricKeyType === 'ec' && ekDetails?.namedCurve === 'prime256v1') && !(ekKey.asymmetricKeyType === 'rsa' && ekDetails?.modulusLength === 2048)) {
    throw bad('ek.privateKey', 'an EK is ECC P-256 or RSA-2048');
  }

  const safeAt = clock['safeAt'];
  return {
    ak: {
      scheme,
      hash: oneOf(ak['hash'], ['sha1', 'sha256', 'sha384', 'sha512'] as const, 'ak.hash'),
      pssSalt: oneOf(ak['pssSalt'], ['digest', 'max'] as const, 'ak.pssSalt'),
    },
    akKey,
    ekKey,
    firmwareVersion: BigInt(fw),
    startupLocality: oneOf(s['startupLocality'], [0, 3, 4] as const, 'startupLocality'),
    clock: {
      clock: clockValue(clock['clock'], 'clock.clock'),
      resetCount: u32(clock['resetCount'], 'clock.resetCount'),
      restartCount: u32(clock['restartCount'], 'clock.restartCount'),
      safe: (() => {
        if (typeof clock['safe'] !== 'boolean') throw bad('clock.safe', 'not a boolean');
        return clock['safe'];
      })(),
      safeAt: safeAt === null ? null : clockValue(safeAt, 'clock.safeAt'),
    },
    pcrs,
  };
}
