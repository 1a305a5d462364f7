// The boot_aggregate entry ties the IMA list to the firmware log: its digest
// is the hash of PCRs 0-7 (and, for non-SHA-1 digests on Linux 5.8+, 8-9)
// read from the TPM when IMA started (ima_calc_boot_aggregate). Checking it
// against the firmware PCRs shows the two logs describe the same boot.

import { hash } from 'node:crypto';
import type { PcrValues } from '../../tpm/pcrs.js';
import { HASH_ALGS, type HashAlg } from '../../tpm/constants.js';
import type { ImaEntry } from './types.js';

export interface BootAggregateCheck {
  status: 'match' | 'mismatch' | 'not-applicable';
  /** PCR range the digest matched: kernels before 5.8 (and SHA-1) hash 0-7, later ones 0-9 */
  pcrs?: '0-7' | '0-9';
  reason?: string;
}

function algFor(name: string | undefined): HashAlg | undefined {
  if (!name) return undefined;
  const n = name === 'sm3' || name === 'sm3-256' ? 'sm3_256' : name;
  return HASH_ALGS.find((h) => h.name === n);
}

/** Checks a boot_aggregate entry against PCR values (use verified ones: from the quote, or a matched replay). */
export function checkBootAggregate(entry: ImaEntry, pcrs: PcrValues): BootAggregateCheck {
  if (entry.fields.name !== 'boot_aggregate' || !entry.fields.digest) return { status: 'not-applicable', reason: 'not a boot_aggregate entry' };
  const alg = algFor(entry.fields.digestAlgorithm);
  const bank = alg ? pcrs.get(alg.name) : undefined;
  if (!alg || !bank) return { status: 'not-applicable', reason: `no ${entry.fields.digestAlgorithm ?? 'unknown'} PCR values to check against` };
  const aggregate = (upTo: number): Buffer => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < upTo; i++) parts.push(bank.get(i) ?? Buffer.alloc(alg.size));
    return hash(alg.nodeName, Buffer.concat(parts), 'buffer');
  };
  const target = Buffer.from(entry.fields.digest);
  if (alg.name !== 'sha1' && aggregate(10).equals(target)) return { status: 'match', pcrs: '0-9' };
  if (aggregate(8).equals(target)) return { status: 'match', pcrs: '0-7' };
  return { status: 'mismatch', reason: `boot_aggregate is not the ${alg.name} hash of PCRs 0-7 or 0-9` };
}
