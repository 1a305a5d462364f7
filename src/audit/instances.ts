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

/**
 * A VM refused because an earlier, unpinned VM owns the key it answered with: the earlier one is in doubt
 * too, or (`firstIsRelay`: the refused VM's own pin verified, so the key is its) the earlier one is the relay.
 */
export interface ContestedPair {
  first: string;
  firstUrl: string;
  later: string;
  firstIsRelay: boolean;
  /** both VMs' pins verified: either may be the relay (one platform certified the other's key under its own VM's id) */
  bothPinned?: true;
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
    // A pinned VM claims only once its pin verified (clean): the key is the VM's its URL should serve.
    const ownerSure = owner.instanceId !== undefined;
    const mineSure = pinnedTo === index;
    if (ownerSure && mineSure) {
      // Both pins verified, with one key: one of the two platforms certified the other VM's key under its own
      // VM's instance id (a compromised host's CA can) and relays it. The evidence cannot tell which; the first
      // one's result is out already, so it is named in a warning, and this one is refused so that the audit fails.
      if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: owner.key, firstUrl: owner.url, later: this.vms[index]!.key, firstIsRelay: false, bothPinned: true });
      else this.pairsDropped++;
      return refuse(
        claim,
        `VM ${owner.key} (${owner.url}), whose instance the inventory names too, answered with the same attestation key earlier in this audit`,
        `both VMs' pins verified, so one of the two platforms certified the other VM's key under its own VM's instance id and relays it (or the vTPM was cloned); the evidence does not tell which, so ${owner.key}'s result is in doubt too, and this VM is refused because that result was already reported`,
        owner,
        true,
      );
    }
    if (ownerSure) {
      return refuse(claim, `VM ${owner.key} (${owner.url}), whose instance the inventory names, answered with the same attestation key earlier in this audit`, "this VM's URL serves that VM's evidence (a relay), or the vTPM was cloned", owner, true);
    }
    if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: owner.key, firstUrl: owner.url, later: this.vms[index]!.key, firstIsRelay: mineSure });
    else this.pairsDropped++;
    if (mineSure) {
      // The earlier VM's result is out already: refusing this one is what keeps the audit from passing.
      return refuse(
        claim,
        `VM ${owner.key} (${owner.url}), which the inventory does not pin, answered with this VM's attestation key earlier in this audit`,
        `this VM is the one the inventory names for its instance, and its pin verified, so ${owner.key}'s URL most likely relays this VM (under a certificate its platform made for this VM's key) and ${owner.key}'s result is wrong; this VM is refused because that result was already reported`,
        owner,
        false,
      );
    }
    return refuse(
      claim,
      `VM ${owner.key} (${owner.url}) answered with the same attestation key earlier in this audit`,
      "one of the two URLs serves the other VM's evidence (a relay), or the vTPM was cloned; that VM came first and may be the relay (give every VM its instanceId in the inventory to tell which)",
      owner,
      false,
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
  /** key -> the first VM (its name or url, the very string the merge keeps), its report, and whether its pin verified */
  private readonly keys = new Map<string, { vm: string; file: string; pinned: boolean }>();
  private readonly pairs: MergedPair[] = [];
  private pairsDropped = 0;

  check(result: AttestationResult, file: string): AttestationResult {
    const top = result.layers[0];
    if (!top || top.akKeyId === undefined || top.checks.some((c) => c.status === 'fail')) return result;
    const key = keyOf(top.akKeyId);
    const vm = result.name ?? result.target;
    // its inventory instanceId verified (the audit's check target.instance passed)
    const pinned = top.checks.some((c) => c.id === 'target.instance' && c.status === 'pass');
    const first = this.keys.get(key);
    if (!first) {
      this.keys.set(key, { vm, file, pinned });
      return result;
    }
    const where = first.file === file ? `(earlier in ${file}, which its audit did not compare keys in)` : `(in ${first.file}; each shard compared only its own VMs)`;
    let meaning: string;
    if (first.pinned && pinned) {
      // both pins verified with one key: either platform may have certified the other VM's key under its own VM's id
      if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: first.vm, firstReport: first.file, later: vm, sameReport: first.file === file, firstIsRelay: false, bothPinned: true });
      else this.pairsDropped++;
      meaning = `both VMs' inventory instanceIds verified, so one of the two platforms certified the other VM's key under its own VM's instance id and relays it (or the vTPM was cloned); the evidence does not tell which, so ${first.vm}'s result is in doubt too, and this VM is refused so that the fleet does not pass`;
    } else if (first.pinned) meaning = `${first.vm}'s instance is the one its inventory entry names: this VM's URL serves that VM's evidence (a relay), or the vTPM was cloned`;
    else {
      if (this.pairs.length < MAX_PAIRS_KEPT) this.pairs.push({ first: first.vm, firstReport: first.file, later: vm, sameReport: first.file === file, firstIsRelay: pinned });
      else this.pairsDropped++;
      meaning = pinned
        ? `this VM is the one its inventory entry names for its instance, and its pin verified, so ${first.vm}'s URL most likely relays this VM and ${first.vm}'s result is wrong; this VM is refused so that the fleet does not pass`
        : `one of the two URLs serves the other VM's evidence (a relay), or the vTPM was cloned; ${first.vm}, read first, may be the relay (give every VM its instanceId in the inventory to tell which)`;
    }
    const check = fail('audit.unique-instance', 'AUDIT_DUPLICATE_INSTANCE', `this VM answered ${top.instanceId !== undefined ? `as vTPM instance ${top.instanceId}` : 'with an attestation key'}, but VM ${first.vm} ${where} answered with the same attestation key: ${meaning}`, {
      expected: 'a vTPM no other VM of this audit answers as',
      actual: { ...(top.instanceId !== undefined ? { instanceId: top.instanceId } : {}), akKeyId: top.akKeyId, alsoAnsweredBy: first.vm, report: first.file, pinnedByInventory: first.pinned },
    });
    return withFailedCheck(result, 0, check);
  }

  /** The refusals whose first VM is in doubt too, or (firstIsRelay) the likely relay, for a warning. */
  contested(): { pairs: readonly MergedPair[]; more: number } {
    return { pairs: this.pairs, more: this.pairsDropped };
  }
}

export interface MergedPair {
  first: string;
  firstReport: string;
  later: string;
  sameReport: boolean;
  firstIsRelay: boolean;
  /** both VMs' pins verified: either may be the relay */
  bothPinned?: true;
}
