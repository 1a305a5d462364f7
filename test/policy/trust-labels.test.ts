// A policy's anchor labels against the trust store it meets: a label no
// anchor has, under select, leaves the rule set selecting nothing (the layer
// meant then passes on the built-in checks alone under unmatchedLayers:
// allow); it is said as a warning by every command that brings the two
// together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from '../../src/policy/load.js';
import { unknownAnchorLabels } from '../../src/policy/trust-labels.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const TYPO = `apiVersion: vtpm-verify/v1
name: typo
layers:
  - name: vmm
    select: { certificate: { anchor: vplatfrom-ca } }
    kinds: [physical]
  - name: host
    select: { position: -1 }
    trust: { anchors: [tpm-vendr], anchorRoles: [ak-ca, nothing] }
  - name: vm
    select: { position: 0, certificate: { anchor: [vplatform-ca, other] } }
    trust: { anchors: [vplatform-ca] }
`;

test('unknownAnchorLabels: a select or trust label no anchor has is named, with the rule set and where it is written; a label some anchor has is not', () => {
  const policy = loadPolicy(TYPO, { path: 'p.yaml' });
  const found = unknownAnchorLabels(policy, new Set(['vplatform-ca', 'ak-ca']));
  assert.equal(found.length, 2, found.join('\n'));
  assert.match(found[0]!, /^rule set "vmm" \(p\.yaml:4:5\) selects layers by trust anchor vplatfrom-ca, a label no anchor of the trust store has \(its labels: ak-ca, vplatform-ca\): it selects no layer/);
  assert.match(found[1]!, /^rule set "host" \(p\.yaml:7:5\) requires trust anchor tpm-vendr, .*every layer it selects fails POLICY_TRUST_ANCHOR$/);
  // anchorRoles [ak-ca, nothing]: one of them is there; the vm rule set's labels are there too
  assert.deepEqual(unknownAnchorLabels(policy, new Set(['vplatfrom-ca', 'tpm-vendr', 'ak-ca', 'vplatform-ca'])), []);
  assert.equal(unknownAnchorLabels(loadPolicy(TYPO, { path: 'p.yaml' }), new Set()).length, 5, 'an empty store: every label is unknown (vmm select, host anchors and roles, vm select and anchors)');
});

test('demo and attest say on stderr that a rule set selects by an anchor label the trust store lacks (the verdict is as before: the layer meant passed without it)', async (t) => {
  const dir = tempDir(t, 'vtpm-labels-');
  const file = join(dir, 'p.yaml');
  writeFileSync(file, TYPO.split('  - name: host')[0]!);
  const run = await runCli(['demo', '--policy', file]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, new RegExp(`^warning: policy ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: rule set "vmm" \\(.*p\\.yaml:4:5\\) selects layers by trust anchor vplatfrom-ca, a label no anchor of the trust store has \\(its labels: ak-ca, vplatform-ca\\)`, 'm'));
  // the shipped demo policy fits the demo's trust store: no such warning
  const plain = await runCli(['demo']);
  assert.equal(plain.code, 0);
  assert.doesNotMatch(plain.stderr, /a label no anchor of the trust store has/);
});

test('audit: the warning is in run.warnings of the JSON report and envelope, once per policy and trust store', async (t) => {
  const { fleetOnDisk } = await import('../audit/fleet-on-disk.js');
  const { dir, inventory, sim } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-labels-');
  const file = join(dir, 'p.yaml');
  writeFileSync(file, TYPO.split('  - name: host')[0]!);
  const run = await runCli(['audit', inventory, '--trust', sim.trustDir, '--policy', file, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const warnings: string[] = run.json!.result.run.warnings;
  assert.equal(warnings.filter((w) => /rule set "vmm" .* selects layers by trust anchor vplatfrom-ca, a label no anchor of the trust store has/.test(w)).length, 1, JSON.stringify(warnings));
});
