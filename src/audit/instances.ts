// One vTPM answers at one address. Nothing in a VM's evidence names the URL
// it was asked at, so a machine that relays each request to another, healthy
// VM passes every check as that VM. In one audit the relay shows: two VMs
// answer as the same vTPM.
//
// - An instance the inventory names for a VM (instanceId) is that VM's from
//   the start, in every shard: another VM answering as it is refused, however
//   the two are ordered.
// - Otherwise "the same vTPM" is the same attestation key: a relay forwards
//   the key's quotes, a clone copies the key. The first VM whose top layer
//   verified with a key owns it; a later one answering with it is refused.
//   Between two VMs the inventory does not pin, which one that is depends on
//   the order, so the first is named in the refusal and in a warning at the
//   end (its own result, often reported by then, cannot say it).
// Keying unpinned claims on the key, not on the instance id a certificate
// states, keeps a compromised host (whose per-host CA can certify any id)
// from getting healthy VMs elsewhere refused by claiming their ids first.
//
// Memory: one entry per VM with a verified top layer, a 16-character key and
// the VM's index in the inventory (whose name and URL are already held):
// ~70 bytes per VM (measured with 200,000).

import { fail, pass, type CheckResult } from '../verify/checks.js';
import { withFailedCheck, type AttestationResult } from '../verify/result.js';

export interface RegistryVm {
  /** the VM's name in the inventory, else its url */
  key: string;
  url: string;
  instanceId?: string;
}

/** What a top layer showed: its vTPM instance (if its certificate names one) and its key, and whether every check passed. */
export interface TopClaim {
  instanceId: string | undefined;
  /** SHA-256 of the AK's SubjectPublicKeyInfo, hex */
  akKeyId: string;
  clean: boolean;
}

/** A VM refused because an earlier one it does not pin owns the key it answered with: the earlier one is in doubt too. */
export interface ContestedPair {
  first: string;
  firstUrl: string;
  later: string;
}

const MAX_PAIRS_KEPT = 1000;

export class TopInstanceRegistry {
  /** instance id -> index of the VM the inventory names it for */
  private readonly pinned = new Map<string, number>();
  /** AK key id (its first 128 bits, as 16 latin1 characters) -> index of the first VM that answered with it */
  private readonly keys = new Map<string, number>();
  private readonly pairs: ContestedPair[] = [];
  private pairsDropped = 0;

  /** `vms`: the whole inventory (every shard's VMs), by index. */
  constructor(private readonly vms: readonly RegistryVm[]) {
    vms.forEach((vm, i) => {
      if (vm.instanceId !== undefined) this.pinned.set(vm.instanceId, i);
    });
  }

  /** The VM at `index` answered with `claim`: the check for its top layer (undefined when the layer failed: it claims nothing). */
  claim(index: number, claim: TopClaim): CheckResult | undefined {
    // Its certificate is public: only a verified quote shows the key is held.
    if (!claim.clean) return undefined;
    const pinnedTo = claim.instanceId !== undefined ? this.pinned.get(claim.instanceId) : undefined;
    if (pinnedTo !== undefined && pinnedTo !== index) {
      const owner = this.vms[pinnedTo]!;
      return refuse(claim, `the inventory names vTPM instance ${claim.instanceId} for VM ${owner.key} (${owner.url})`, "this VM's URL serves that VM's evidence (a relay), or the vTPM was cloned", owner, true);
    }
    const key = keyOf(claim.akKeyId);
    const first = this.keys.get(key);
    if (first === undefined || first === index) {
      if (first === undefined) this.keys.set(key, index);
      return pass('audit.unique-instance', pinnedTo === index ? 'the inventory names this vTPM instance for this VM, and no other VM of this audit has answered with its key' : 'no other VM of this audit has answered with this attestation key');
    }
    const owner = this.vms[first]!;
    // a pinned VM claims only once its pin verified (clean): it is the VM its URL should serve, the other one is not
    const ownerSure = owner.instanceId !== undefined;
    if (!ownerSure) {
      if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: owner.key, firstUrl: owner.url, later: this.vms[index]!.key });
      else this.pairsDropped++;
    }
    return refuse(
      claim,
      `VM ${owner.key} (${owner.url}) answered with the same attestation key earlier in this audit`,
      ownerSure ? "this VM's URL serves that VM's evidence (a relay), or the vTPM was cloned" : 'one of the two URLs serves the other VM\'s evidence (a relay), or the vTPM was cloned; that VM came first and may be the relay (give the VMs their instanceId in the inventory to tell which)',
      owner,
      ownerSure,
    );
  }

  /** The refusals whose first VM is in doubt too (its own result does not say so), for a warning at the end. */
  contested(): { pairs: readonly ContestedPair[]; more: number } {
    return { pairs: this.pairs, more: this.pairsDropped };
  }
}

function refuse(claim: TopClaim, why: string, meaning: string, owner: RegistryVm, ownerPinned: boolean): CheckResult {
  return fail('audit.unique-instance', 'AUDIT_DUPLICATE_INSTANCE', `this VM answered ${claim.instanceId !== undefined ? `as vTPM instance ${claim.instanceId}` : 'with an attestation key'}, but ${why}: ${meaning}`, {
    expected: 'a vTPM no other VM of this audit answers as',
    actual: { ...(claim.instanceId !== undefined ? { instanceId: claim.instanceId } : {}), akKeyId: claim.akKeyId, alsoAnsweredBy: owner.key, url: owner.url, pinnedByInventory: ownerPinned },
  });
}

/** 128 bits of the key id as a 16-character string of its own (a slice of the hex would keep the whole hex alive). */
function keyOf(akKeyId: string): string {
  return Buffer.from(akKeyId.slice(0, 32), 'hex').toString('latin1');
}

/**
 * The same across the shards of one audit, when `report` merges their reports: each shard compared its
 * own VMs' keys only (and every instance the inventory names). A VM whose top layer verified with a key
 * that a VM read before it answered with is refused in the merged report (its shard's report stays as it
 * was), and that earlier VM is named in a warning. Reading a merged report again changes nothing: a
 * refused result has a failed check, and claims nothing.
 */
export class MergedKeyCheck {
  /** key -> the first VM (its name or url, the very string the merge keeps) and its report */
  private readonly keys = new Map<string, { vm: string; file: string }>();
  private readonly pairs: { first: string; firstReport: string; later: string }[] = [];
  private pairsDropped = 0;

  check(result: AttestationResult, file: string): AttestationResult {
    const top = result.layers[0];
    if (!top || top.akKeyId === undefined || top.checks.some((c) => c.status === 'fail')) return result;
    const key = keyOf(top.akKeyId);
    const vm = result.name ?? result.target;
    const first = this.keys.get(key);
    if (!first) {
      this.keys.set(key, { vm, file });
      return result;
    }
    if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: first.vm, firstReport: first.file, later: vm });
    else this.pairsDropped++;
    const check = fail(
      'audit.unique-instance',
      'AUDIT_DUPLICATE_INSTANCE',
      `this VM answered ${top.instanceId !== undefined ? `as vTPM instance ${top.instanceId}` : 'with an attestation key'}, but VM ${first.vm} (in ${first.file}) answered with the same attestation key: one of the two URLs serves the other VM's evidence (a relay), or the vTPM was cloned; each shard compared only its own VMs, and ${first.vm}, read first, may be the relay (give the VMs their instanceId in the inventory to tell which)`,
      {
        expected: 'a vTPM no other VM of this audit answers as',
        actual: { ...(top.instanceId !== undefined ? { instanceId: top.instanceId } : {}), akKeyId: top.akKeyId, alsoAnsweredBy: first.vm, report: first.file, pinnedByInventory: false },
      },
    );
    return withFailedCheck(result, 0, check);
  }

  /** The refusals whose first VM is in doubt too, for a warning. */
  contested(): { pairs: readonly { first: string; firstReport: string; later: string }[]; more: number } {
    return { pairs: this.pairs, more: this.pairsDropped };
  }
}
