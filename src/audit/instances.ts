// One vTPM instance answers at one address. Nothing in a VM's evidence names
// the URL it was asked at, so a machine that relays each request to another,
// healthy VM passes every check as that VM. In one audit the relay shows: two
// VMs answer as the same instance. The registry holds, per instance id, the VM
// that owns it: the one the inventory names it for (its instanceId, known
// before the audit starts, in every shard), else the first VM that answered
// as it with evidence that verified. Any other VM answering as it is
// AUDIT_DUPLICATE_INSTANCE: it relays the owner's evidence, the owner relays
// its, or the vTPM was cloned. Between two VMs the inventory does not pin,
// which one is flagged depends on which finished first; the message names both.

import { fail, pass, type CheckResult } from '../verify/checks.js';

export interface InstanceClaimant {
  /** the VM's name in the inventory, else its url */
  key: string;
  url: string;
}

export class TopInstanceRegistry {
  private readonly owners = new Map<string, InstanceClaimant & { pinned: boolean }>();

  /** Seeds the owners with the inventory's instanceIds (every VM of it, not only this shard's). */
  constructor(pinned: Iterable<{ instanceId: string } & InstanceClaimant> = []) {
    for (const p of pinned) this.owners.set(p.instanceId, { key: p.key, url: p.url, pinned: true });
  }

  /**
   * The VM `vm` answered as `instanceId`: the check to show on its top layer. `clean`: every check of that
   * layer passed (its certificate is public, so only a verified quote shows the VM holds the key); a layer
   * that failed already claims nothing.
   */
  claim(instanceId: string, vm: InstanceClaimant, clean: boolean): CheckResult | undefined {
    if (!clean) return undefined;
    const owner = this.owners.get(instanceId);
    if (!owner) {
      this.owners.set(instanceId, { ...vm, pinned: false });
      return pass('audit.unique-instance', 'no other VM of this audit has answered as this vTPM instance');
    }
    if (owner.key === vm.key) return pass('audit.unique-instance', owner.pinned ? 'the inventory names this vTPM instance for this VM and no other' : 'no other VM of this audit has answered as this vTPM instance');
    const whose = owner.pinned ? `the inventory names it for VM ${owner.key} (${owner.url})` : `VM ${owner.key} (${owner.url}) answered as it earlier in this audit`;
    return fail(
      'audit.unique-instance',
      'AUDIT_DUPLICATE_INSTANCE',
      `this VM answered as vTPM instance ${instanceId}, but ${whose}: ${owner.pinned ? "this VM's URL" : 'one of the two URLs'} serves the other VM's evidence (a relay), or the vTPM was cloned${owner.pinned ? '' : '; give the VMs their instanceId in the inventory to tell which'}`,
      { expected: `an instance no other VM of this audit answers as`, actual: { instanceId, alsoAnsweredBy: owner.key, url: owner.url, pinnedByInventory: owner.pinned } },
    );
  }
}
