// PCR values as every module exchanges them: bank name -> PCR index -> digest.
// A PcrValues object says nothing about trust by itself; whoever produces one
// documents whether it was checked against a quote.

import type { HashName } from './constants.js';

export type PcrBank = Map<number, Uint8Array>;
export type PcrValues = Map<HashName, PcrBank>;

/** Plain-JSON form used in output and evidence: {"sha256": {"0": "<hex>"}}; hex lowercase, no 0x. */
export type PcrValuesJson = Record<string, Record<string, string>>;

export function pcrValuesToJson(values: PcrValues): PcrValuesJson {
  const out: PcrValuesJson = {};
  for (const [bank, pcrs] of values) {
    const b: Record<string, string> = {};
    for (const index of [...pcrs.keys()].sort((x, y) => x - y)) {
      const v = pcrs.get(index)!;
      b[String(index)] = Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex');
    }
    out[bank] = b;
  }
  return out;
}
