// What a quote needs from the PCRs of one selection (the values in
// selection order, their composite digest, the marshalled
// TPML_PCR_SELECTION), kept per selection by the soft TPM and reused by
// every quote over it until one of those PCRs changes. The digest and the
// selection bytes are pure functions of the values and the selection, so a
// quote made with a kept snapshot has exactly the bytes of one made afresh;
// only the nonce, Clock and signature are new each time, as on a real TPM.
//
// A snapshot is valid while the TPM's PCR buffers are the very ones it
// holds: the soft TPM never changes a PCR buffer in place (an extend or a
// reset puts a new buffer in its slot), so an identity check per value is an
// exact test.

import type { HashName } from '../tpm/constants.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { invalidArgument } from './codes.js';
import { encodePcrSelection, pcrCompositeDigest, selectedPcrs, type PcrSelectionSpec } from './marshal.js';

/** One bank of a snapshot: PCR indices ascending, once each, and their values. */
export interface SnapshotBank {
  readonly bank: HashName;
  readonly indices: readonly number[];
  /** the TPM's own PCR buffers: never modify them */
  readonly values: readonly Buffer[];
}

/** The selected PCRs at one moment. Shared between quotes: read only. */
export interface PcrSnapshot {
  /** in the selection's bank order */
  readonly banks: readonly SnapshotBank[];
  /** TPMS_QUOTE_INFO.pcrDigest: H(values in selection order) */
  readonly digest: Buffer;
  /** TPML_PCR_SELECTION as marshalled */
  readonly selectionBytes: Buffer;
}

/** Snapshots kept per TPM; selections come from requests, so the count is bounded. */
const MAX_SNAPSHOTS = 16;

/**
 * A text that names a selection exactly (bank, then the PCRs in the order
 * given), or null for one that is not well typed (it is then checked and
 * refused the usual way, never kept).
 */
function selectionKey(selection: PcrSelectionSpec): string | null {
  let key = '';
  for (const entry of selection) {
    if (typeof entry.bank !== 'string') return null;
    key += `${entry.bank}:`;
    for (const i of entry.pcrs) {
      if (!Number.isInteger(i)) return null;
      key += `${i},`;
    }
    key += ';';
  }
  return key;
}

function stillValid(snapshot: PcrSnapshot, bankValues: (bank: HashName) => readonly Buffer[]): boolean {
  for (const b of snapshot.banks) {
    const current = bankValues(b.bank);
    for (let k = 0; k < b.indices.length; k++) if (current[b.indices[k]!] !== b.values[k]) return false;
  }
  return true;
}

/** The PCR values of a snapshot as copies, in the PcrValues shape. */
export function snapshotValues(snapshot: PcrSnapshot): PcrValues {
  const out: PcrValues = new Map();
  for (const b of snapshot.banks) out.set(b.bank, new Map(b.indices.map((i, k) => [i, Buffer.from(b.values[k]!)])));
  return out;
}

export class PcrSnapshots {
  private readonly kept = new Map<string, PcrSnapshot>();

  /**
   * @param digestHash the hash of pcrDigest (the AK signing scheme's)
   * @param bankValues the TPM's current PCR buffers of a bank (throws for a bank it lacks)
   */
  constructor(
    private readonly digestHash: HashName,
    private readonly bankValues: (bank: HashName) => readonly Buffer[],
  ) {}

  /** The snapshot of `selection` now; SIM_INVALID_ARGUMENT for a selection the TPM cannot quote. */
  of(selection: PcrSelectionSpec): PcrSnapshot {
    const key = selectionKey(selection);
    const kept = key === null ? undefined : this.kept.get(key);
    if (kept && stillValid(kept, this.bankValues)) return kept;
    const snapshot = this.take(selection);
    if (key !== null) {
      if (!kept && this.kept.size >= MAX_SNAPSHOTS) this.kept.clear();
      this.kept.set(key, snapshot);
    }
    return snapshot;
  }

  private take(selection: PcrSelectionSpec): PcrSnapshot {
    const banks: SnapshotBank[] = [];
    const ordered: Buffer[] = [];
    for (const entry of selection) {
      if (banks.some((b) => b.bank === entry.bank)) throw invalidArgument(`PCR selection names bank ${entry.bank} twice`, { bank: entry.bank });
      const current = this.bankValues(entry.bank);
      const indices = selectedPcrs(entry);
      const values = indices.map((i) => current[i]!);
      banks.push({ bank: entry.bank, indices, values });
      ordered.push(...values);
    }
    return { banks, digest: pcrCompositeDigest(this.digestHash, ordered), selectionBytes: encodePcrSelection(selection) };
  }
}
