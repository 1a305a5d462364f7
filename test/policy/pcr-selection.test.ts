import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcrSelectionFor } from '../../src/policy/pcr-selection.js';
import { policy, sha256 } from './fixtures.js';

test('pcrSelectionFor: PCR 4 in every bank a boot-application list names (digests count only in quoted banks)', () => {
  const p = policy(`apiVersion: vtpm-verify/v1
name: n
layers:
  - name: vm
    eventLog: { bootApplications: { forbidden: { sha1: ["${'ab'.repeat(20)}"] }, allowed: { sha384: ["${'cd'.repeat(48)}"] } } }
`);
  const plain = (m: Map<string, Set<number>>) => Object.fromEntries([...m].map(([b, s]) => [b, [...s].sort((x, y) => x - y)]));
  assert.deepEqual(plain(pcrSelectionFor(p, 0)), { sha256: [4], sha384: [4], sha1: [4] });
});

test('pcrSelectionFor: PCRs named by the rule sets that may apply at a position, plus the PCRs log rules read', () => {
  const p = policy(`apiVersion: vtpm-verify/v1
name: n
layers:
  - name: vm
    select: { position: 0 }
    pcrs: { sha256: { 0: replay, 9: ["${sha256('x')}"] }, sha1: { 7: replay } }
    eventLog: { requireSecureBoot: true, bootApplications: { forbidden: { sha256: ["${sha256('y')}"] } } }
    ima: { required: true }
  - name: host
    select: { position: -1 }
    pcrs: { sha384: { 2: replay } }
  - name: vmm
    select: { position: 1 }
    pcrs: { sha256: { 23: replay } }
`);
  const plain = (m: Map<string, Set<number>>) => Object.fromEntries([...m].map(([b, s]) => [b, [...s].sort((x, y) => x - y)]));
  assert.deepEqual(plain(pcrSelectionFor(p, 0)), { sha256: [0, 4, 7, 9, 10], sha1: [7], sha384: [2] });
  assert.deepEqual(plain(pcrSelectionFor(p, 1)), { sha384: [2], sha256: [23] });
  assert.deepEqual(plain(pcrSelectionFor(p, 2)), { sha384: [2] });
});
