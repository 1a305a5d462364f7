// The audit's gate on large logs: walks whose layers bring logs past
// `smallBytes` parse them a cap's worth at a time, in arrival order; a walk
// holding a share goes on without waiting (no deadlock down a chain of large
// layers); an empty gate admits any size; small logs never wait.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseGate } from '../../src/verify/parse-gate.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import type { LayerEvidence } from '../../src/transport/evidence.js';

const MB = 1024 * 1024;

test('admission: small logs pass; large ones share the cap in arrival order; a holder takes more without waiting; an empty gate admits any size', async () => {
  const gate = new ParseGate(10 * MB, MB);
  const order: string[] = [];
  const a = gate.pass();
  const b = gate.pass();
  const c = gate.pass();
  assert.equal(a.admit(MB - 1), undefined, 'small: no wait, not counted');
  assert.equal(gate.heldBytes, 0);
  assert.equal(a.admit(6 * MB), undefined, 'room: at once');
  const bWaits = Promise.resolve(b.admit(6 * MB)).then(() => order.push('b'));
  const cWaits = Promise.resolve(c.admit(2 * MB)).then(() => order.push('c'));
  await Promise.resolve();
  assert.deepEqual(order, [], 'b does not fit; c, though it would, waits behind b');
  assert.equal(a.admit(20 * MB), undefined, 'a holder goes on past the cap: its chain of layers cannot deadlock');
  assert.equal(gate.heldBytes, 26 * MB);
  a.release();
  await Promise.all([bWaits, cWaits]);
  assert.deepEqual(order, ['b', 'c']);
  assert.equal(gate.heldBytes, 8 * MB);
  b.release();
  c.release();
  c.release();
  assert.equal(gate.heldBytes, 0, 'a second release gives nothing back twice');
  const huge = gate.pass();
  assert.equal(huge.admit(50 * MB), undefined, 'an empty gate admits a log larger than the cap, alone');
  huge.release();
  assert.deepEqual(gate.stats, { waited: 2, peakBytes: 50 * MB });
});

/**
 * `n` walks through one gate whose top layers all arrive at the same moment (as sixteen audit slots' would), each
 * given `evidence` (its quote does not parse: the walk ends after the gate); their verdicts.
 */
async function walksArrivingTogether(n: number, gate: ParseGate, evidence: LayerEvidence): Promise<string[]> {
  const trust = buildTrustStore([]).store;
  let asked = 0;
  let arrive!: () => void;
  const arrived = new Promise<void>((r) => (arrive = r));
  const source: EvidenceSource = async () => {
    if (++asked === n) arrive();
    await arrived;
    return evidence;
  };
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const now = new Date();
      const target = `http://127.0.0.1:1/vm-${i}`;
      return (await walk({ target, topNonce: drawTopNonce(now, target), trust, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now, parseGate: gate }, source)).result.verdict;
    }),
  );
}

test('concurrent walks bringing 30 MB IMA lists parse them one at a time; every walk ends and the gate empties', async () => {
  const gate = new ParseGate();
  const imaLog = `10 ${'0'.repeat(40)} ima-ng sha256:${'0'.repeat(64)} /x\n`.repeat(Math.ceil((30 * MB) / 120)).slice(0, 30 * MB);
  const evidence: LayerEvidence = { version: 1, quote: { message: Buffer.from('not a quote'), signature: Buffer.alloc(4) }, unverifiedPcrs: new Map(), certificates: [], imaLog };
  const verdicts = await walksArrivingTogether(6, gate, evidence);
  assert.equal(verdicts.length, 6);
  assert.equal(gate.heldBytes, 0);
  assert.equal(gate.stats.peakBytes, 30 * MB, 'never two 30 MB lists held at once (cap 48 MB)');
  assert.equal(gate.stats.waited, 5, 'five walks waited for the one parsing');
});

test('stop: every wait ends with its reason, later large layers are refused, small ones still pass, holders release as before', async () => {
  const gate = new ParseGate(10 * MB, MB);
  const a = gate.pass();
  const b = gate.pass();
  a.admit(8 * MB);
  const waiting = b.admit(4 * MB);
  const reason = new Error('stopped');
  gate.stop(reason);
  await assert.rejects(Promise.resolve(waiting), (err) => err === reason);
  await assert.rejects(Promise.resolve(gate.pass().admit(2 * MB)), (err) => err === reason);
  assert.equal(gate.pass().admit(MB - 1), undefined);
  a.release();
  b.release();
  assert.equal(gate.heldBytes, 0);
});

test('a wait whose signal aborts (the VM\'s deadline) ends with its reason and leaves the queue: the walk behind it goes in, and the one that left holds nothing', async () => {
  const gate = new ParseGate(10 * MB, MB);
  const holder = gate.pass();
  holder.admit(6 * MB);
  const leaving = gate.pass();
  const behind = gate.pass();
  const deadline = new AbortController();
  const waiting = leaving.admit(8 * MB, deadline.signal);
  let behindIn = false;
  const behindWait = Promise.resolve(behind.admit(2 * MB)).then(() => (behindIn = true));
  assert.equal(behindIn, false, 'in arrival order: behind the 8 MB wait');
  const reason = new Error('deadline');
  deadline.abort(reason);
  await assert.rejects(Promise.resolve(waiting), (err) => err === reason);
  await behindWait;
  assert.equal(gate.heldBytes, 8 * MB, 'the holder and the walk behind; nothing for the one that left');
  leaving.release();
  holder.release();
  behind.release();
  assert.equal(gate.heldBytes, 0);
  // a walk that need not wait ignores it; one that would wait is refused at once
  const a = gate.pass();
  assert.equal(a.admit(9 * MB, AbortSignal.abort(reason)), undefined);
  await assert.rejects(Promise.resolve(gate.pass().admit(2 * MB, AbortSignal.abort(reason))), (err) => err === reason);
  a.release();
  assert.equal(gate.heldBytes, 0);
  assert.equal(gate.stats.waited, 2);
});

test('a wait ends at whichever of its signals aborts first (the deadline, the budget dropping the body), with that one\'s reason', async () => {
  const gate = new ParseGate(10 * MB, MB);
  const holder = gate.pass();
  holder.admit(8 * MB);
  const deadline = new AbortController();
  const dropped = new AbortController();
  const waiting = gate.pass().admit(4 * MB, deadline.signal, undefined, dropped.signal);
  const reason = new Error('dropped by the budget');
  dropped.abort(reason);
  await assert.rejects(Promise.resolve(waiting), (err) => err === reason);
  deadline.abort(new Error('deadline, later'));
  assert.equal(gate.heldBytes, 8 * MB, 'the one that left holds nothing');
  holder.release();
  assert.equal(gate.heldBytes, 0);
});
