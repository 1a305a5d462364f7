// Encoding between in-memory values and the state file's columns. The file is
// ours, but it sits on disk where anything can happen to it: what is read back
// is checked, and anything malformed is STATE_CORRUPT rather than a crash.

import { TransportError } from '../errors.js';
import { jsonNestingOver } from '../util/json-nesting.js';
import type { ClockReading, ClockState } from './clock-findings.js';
import type { ReadingSummary } from './findings.js';

const CLOCK_TEXT = /^[0-9]{20}$/;
const FW_TEXT = /^[0-9a-f]{16}$/;
const HEX = /^[0-9a-f]+$/;

/** u64 TPM clock as 20 zero-padded decimal digits: text order is numeric order. */
export function clockText(clock: bigint): string {
  return clock.toString().padStart(20, '0');
}

export function firmwareText(fw: bigint): string {
  return fw.toString(16).padStart(16, '0');
}

export function corrupt(path: string, what: string): TransportError {
  return new TransportError('STATE_CORRUPT', `state file ${path} holds a malformed ${what}; move it aside to start afresh`, { path, what });
}

/** JSON.stringify that writes bigint as decimal text and bytes as hex (results carry both). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    return v;
  });
}

/**
 * Nesting of arrays and objects in JSON read back from the file: a result is
 * about 10 deep, and reports refuse more than 64 (MAX_REPORT_NESTING). A
 * value nested 100,000 deep parses, but overflowed the stack of the --json
 * envelope's serializing (`history --json` ended in INTERNAL_ERROR).
 */
export const MAX_STORED_JSON_NESTING = 64;

/**
 * Length of JSON text read back from the file: what vtpm-verify writes is
 * smaller (a result is written under 32 Mi characters, and the findings,
 * platform path and clock state in it). A findings list of 300 MB, 150
 * million elements, ended the process in a V8 fatal error (no envelope, no
 * exit code of ours) when history parsed it.
 */
export const MAX_STORED_JSON_CHARS = 32 * 1024 * 1024;

export function parseJson(text: string, path: string, what: string): unknown {
  if (typeof text !== 'string' || text.length > MAX_STORED_JSON_CHARS || jsonNestingOver(text, MAX_STORED_JSON_NESTING)) throw corrupt(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw corrupt(path, what);
  }
}

export function parsePath(text: string, path: string): string[] {
  const v = parseJson(text, path, 'platform path');
  if (!Array.isArray(v) || !v.every((n) => typeof n === 'string' && HEX.test(n))) throw corrupt(path, 'platform path');
  return v as string[];
}

/** A lineage head as stored: the summary's fields, with times kept in ms. */
type StoredReading = Omit<ReadingSummary, 'time'> & { time: number; receivedAt: number };

export function encodeClockState(state: ClockState): string {
  const lineages: StoredReading[] = state.lineages.map((r) => ({
    clock: clockText(r.clockInfo.clock),
    resetCount: r.clockInfo.resetCount,
    restartCount: r.clockInfo.restartCount,
    safe: r.clockInfo.safe,
    firmwareVersion: firmwareText(r.firmwareVersion),
    platformPath: [...r.platformPath],
    time: r.time,
    receivedAt: r.receivedAt,
  }));
  return JSON.stringify({ v: 1, lineages });
}

const isU32 = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 0 && (n as number) < 2 ** 32;
/** A time a Date can hold (a verified reading's are; beyond 8.64e15 every summary of it threw a RangeError). */
const isMs = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0 && (n as number) <= 8.64e15;

export function decodeClockState(text: string, path: string): ClockState {
  const v = parseJson(text, path, 'clock state') as { v?: unknown; lineages?: unknown };
  if (!v || v.v !== 1 || !Array.isArray(v.lineages) || v.lineages.length === 0) throw corrupt(path, 'clock state');
  const lineages = v.lineages.map((x: unknown): ClockReading => {
    const s = x as Partial<StoredReading>;
    const ok =
      typeof s === 'object' &&
      s !== null &&
      typeof s.clock === 'string' &&
      CLOCK_TEXT.test(s.clock) &&
      isU32(s.resetCount) &&
      isU32(s.restartCount) &&
      typeof s.safe === 'boolean' &&
      typeof s.firmwareVersion === 'string' &&
      FW_TEXT.test(s.firmwareVersion) &&
      Array.isArray(s.platformPath) &&
      s.platformPath.every((n) => typeof n === 'string' && HEX.test(n)) &&
      isMs(s.time) &&
      isMs(s.receivedAt) &&
      s.receivedAt! >= s.time!;
    if (!ok) throw corrupt(path, 'clock state');
    const clock = BigInt(s.clock!);
    if (clock >= 1n << 64n) throw corrupt(path, 'clock state');
    return {
      clockInfo: { clock, resetCount: s.resetCount!, restartCount: s.restartCount!, safe: s.safe! },
      firmwareVersion: BigInt(`0x${s.firmwareVersion}`),
      platformPath: s.platformPath!,
      time: s.time!,
      receivedAt: s.receivedAt!,
    };
  });
  return { lineages };
}
