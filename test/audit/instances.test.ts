// One vTPM instance answers at one address: in an audit, a VM answering as an
// instance another VM owns (the inventory names it for that VM, or that VM
// answered as it first) is AUDIT_DUPLICATE_INSTANCE. The registry alone, then
// an audit of a simulated fleet whose VM URLs are partly relays (relayed-top),
// over the real CLI, with and without instanceIds in the inventory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MergedKeyCheck, TopInstanceRegistry } from '../../src/audit/instances.js';
import { shardOf } from '../../src/audit/shard.js';
import { withFailedCheck } from '../../src/verify/result.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { html } from '../../src/report/html.js';
import type { AuditRun } from '../../src/report/json-report.js';
import { xmlText } from '../../src/report/junit.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const X = 'aa'.repeat(32);
const Y = 'bb'.repeat(32);
const K1 = '11'.repeat(32);
const K2 = '22'.repeat(32);
const vm = (key: string, instanceId?: string) => ({ key, url: `http://h.example/l/${key}`, ...(instanceId !== undefined ? { instanceId } : {}) });
const claim = (instanceId: string | undefined, akKeyId: string, clean = true) => ({ instanceId, akKeyId, clean });

test('the registry, no instanceIds: the first VM whose top layer verified owns its key; a later one answering with it is refused naming the first, which the warnings list as in doubt', () => {
  const r = new TopInstanceRegistry([vm('a'), vm('b'), vm('c'), vm('d')]);
  assert.equal(r.claim(0, claim(X, K1))?.status, 'pass');
  assert.equal(r.claim(0, claim(X, K1))?.status, 'pass', 'a retry of the same VM');
  const dup = r.claim(1, claim(X, K1))!;
  assert.equal(dup.status, 'fail');
  assert.equal(dup.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(dup.message, /VM a \(http:\/\/h\.example\/l\/a\) answered with the same attestation key earlier in this audit: one of the two URLs serves the other VM's evidence .*that VM came first and may be the relay/);
  assert.deepEqual(dup.actual, { instanceId: X, akKeyId: K1, alsoAnsweredBy: 'a', url: 'http://h.example/l/a', pinnedByInventory: false });
  assert.deepEqual(r.contested(), { pairs: [{ first: 'a', firstUrl: 'http://h.example/l/a', later: 'b', firstIsRelay: false }], more: 0 });
  // a layer with a failed check claims nothing (its certificate is public: only a verified quote shows the key is held)
  assert.equal(r.claim(2, claim(Y, K2, false)), undefined);
  assert.equal(r.claim(3, claim(Y, K2))?.status, 'pass', 'c never owned the key');
  // the same instance id stated with another key is no claim on that vTPM: a host's own CA can certify any id
  assert.equal(r.claim(2, claim(X, K2))?.code, 'AUDIT_DUPLICATE_INSTANCE', 'K2 is d\'s');
  const r2 = new TopInstanceRegistry([vm('a'), vm('b')]);
  assert.equal(r2.claim(0, claim(X, K1))?.status, 'pass');
  assert.equal(r2.claim(1, claim(X, K2))?.status, 'pass', 'another key claiming X frames nobody');
  // a top layer that names no instance (physical) is still known by its key
  assert.equal(r2.claim(1, claim(undefined, K1))?.code, 'AUDIT_DUPLICATE_INSTANCE');
});

test('the registry: an instance the inventory names for a VM is that VM\'s from the start, whoever answers first; a pinned owner is not in doubt', () => {
  const r = new TopInstanceRegistry([vm('owner', X), vm('other')]);
  const first = r.claim(1, claim(X, K1))!;
  assert.equal(first.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(first.message, /the inventory names vTPM instance a+ for VM owner .*: this VM's URL serves that VM's evidence/);
  assert.equal((first.actual as { pinnedByInventory: boolean }).pinnedByInventory, true);
  assert.equal(r.claim(0, claim(X, K1))?.status, 'pass');
  assert.match(r.claim(0, claim(X, K1))!.message, /the inventory names this vTPM instance for this VM/);
  // the pinned owner answered first with its key: another VM with that key (any id) is the impostor, and no one is in doubt
  const r2 = new TopInstanceRegistry([vm('owner', X), vm('other')]);
  assert.equal(r2.claim(0, claim(X, K1))?.status, 'pass');
  const late = r2.claim(1, claim(undefined, K1))!;
  assert.equal(late.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(late.message, /this VM's URL serves that VM's evidence/);
  assert.deepEqual(r2.contested(), { pairs: [], more: 0 });
});

test('the registry: a pinned VM whose pin verified, answering with the key an unpinned VM took first, is still refused (the audit must fail) and names that VM as the likely relay', () => {
  // a compromised platform's relay: the healthy VM's quotes under a certificate its own CA made for that key (another id)
  const r = new TopInstanceRegistry([vm('relay'), vm('healthy', X)]);
  assert.equal(r.claim(0, claim(Y, K1))?.status, 'pass');
  const refused = r.claim(1, claim(X, K1))!;
  assert.equal(refused.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(refused.message, /this VM is the one the inventory names for its instance, and its pin verified, so relay's URL most likely relays this VM .*relay's result is wrong/);
  assert.deepEqual(r.contested().pairs, [{ first: 'relay', firstUrl: 'http://h.example/l/relay', later: 'healthy', firstIsRelay: true }]);
});

test('the registry: two pinned VMs whose pins both verified answer with one key: the later is refused without being called the relay, and the first, already reported, is named in a warning as in doubt (a relay whose platform certified a healthy VM\'s key under the relay\'s own pinned id, audited first)', () => {
  // the relay's compromised platform certified the healthy VM's key under the relay VM's own (pinned) instance id
  const r = new TopInstanceRegistry([vm('relay', Y), vm('healthy', X)]);
  assert.equal(r.claim(0, claim(Y, K1))?.status, 'pass');
  const refused = r.claim(1, claim(X, K1))!;
  assert.equal(refused.code, 'AUDIT_DUPLICATE_INSTANCE', 'the audit must still fail');
  assert.doesNotMatch(refused.message, /this VM's URL serves that VM's evidence/, 'the healthy VM is not called the relay');
  assert.match(refused.message, /both VMs' pins verified, .*relay's result is in doubt too/);
  assert.deepEqual(r.contested().pairs, [{ first: 'relay', firstUrl: 'http://h.example/l/relay', later: 'healthy', firstIsRelay: false, bothPinned: true }]);
  // the same across shards, when report merges them
  const m = new MergedKeyCheck();
  assert.equal(m.check(topResult('relay', K1, true), 'a.json').verdict, 'trusted');
  const merged = m.check(topResult('healthy', K1, true), 'b.json');
  assert.equal(merged.verdict, 'not-trusted');
  const top = merged.layers[0]!.checks.find((c) => c.id === 'audit.unique-instance')!;
  assert.doesNotMatch(top.message, /this VM's URL serves that VM's evidence/);
  assert.deepEqual(m.contested().pairs.map((p) => [p.first, p.later, p.bothPinned]), [['relay', 'healthy', true]]);
});

function topResult(name: string, akKeyId: string, pinned: boolean): AttestationResult {
  const checks = [{ id: 'quote.signature', status: 'pass' as const, message: 'ok' }, ...(pinned ? [{ id: 'target.instance', status: 'pass' as const, message: 'expected' }] : [])];
  return {
    target: `http://h/${name}`,
    name,
    verdict: 'trusted',
    reason: 'all 1 layer(s) verified',
    policy: { source: 'x', id: 'x', builtin: true },
    nonce: '00',
    startedAt: '',
    finishedAt: '',
    layers: [{ position: 0, uri: `http://h/${name}`, status: 'trusted', nonce: '00', akKeyId, checks, rules: [] }],
    chain: [],
    platformPath: [],
  };
}

test('report\'s MergedKeyCheck: the second VM with a key is refused; the wording follows whether the two are in one report, and which of them is pinned', () => {
  const m = new MergedKeyCheck();
  assert.equal(m.check(topResult('a', K1, false), 's0.json').verdict, 'trusted');
  const other = m.check(topResult('b', K1, false), 's1.json');
  assert.equal(other.verdict, 'not-trusted');
  assert.match(other.error!.message, /VM a \(in s0\.json; each shard compared only its own VMs\) answered with the same attestation key: one of the two URLs .*a, read first, may be the relay/);
  const same = m.check(topResult('c', K1, false), 's0.json');
  assert.match(same.error!.message, /VM a \(earlier in s0\.json, which its audit did not compare keys in\)/);
  const healthy = m.check(topResult('d', K1, true), 's1.json');
  assert.match(healthy.error!.message, /its pin verified, so a's URL most likely relays this VM/);
  assert.deepEqual(m.contested().pairs.map((p) => [p.first, p.later, p.sameReport, p.firstIsRelay]), [['a', 'b', false, false], ['a', 'c', true, false], ['a', 'd', false, true]]);
  // a pinned first VM: the later one is the impostor, nobody else in doubt
  const p = new MergedKeyCheck();
  p.check(topResult('owner', K2, true), 's0.json');
  const impostor = p.check(topResult('x', K2, false), 's1.json');
  assert.match(impostor.error!.message, /owner's instance is the one its inventory entry names: this VM's URL serves that VM's evidence/);
  assert.deepEqual(p.contested().pairs, []);
  // a refused result (a failed check on its top layer) claims nothing when read again
  assert.equal(p.check(impostor, 's1.json'), impostor);
});

/** VM name -> [verdict, code of the first failing layer, its position] */
function findings(reportFile: string): Map<string, [string, string | null, number | null]> {
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as { results: AttestationResult[] };
  return new Map(
    report.results.map((r) => {
      const l = r.layers.find((x) => x.status === 'not-trusted' || x.status === 'unreachable');
      return [r.name!, [r.verdict, l?.error?.code ?? null, l?.position ?? null]];
    }),
  );
}

test('an audit of a fleet with relays at VM URLs: with instanceIds each relay is TARGET_INSTANCE_MISMATCH; without, one of each pair answering as one instance is AUDIT_DUPLICATE_INSTANCE', async (t) => {
  const topology = { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 4 };
  const sim = await startSimulator({ topology, faults: [{ layer: 'vm-0001', fault: 'relayed-top' }, { layer: 'vm-0006', fault: 'relayed-top' }] });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-instances-');
  const decoyOf = (name: string) => sim.expected(name).path[0]!;
  const pairs = ['vm-0001', 'vm-0006'].map((relay) => [relay, decoyOf(relay)] as const);
  for (const [relay, decoy] of pairs) assert.ok(sim.inventory().some((e) => e.name === decoy), `${relay} relays ${decoy}, a VM of the fleet`);

  // the inventory names each VM's instance: the relays fail their own check, nobody else is accused
  const pinned = join(dir, 'pinned.yaml');
  writeFileSync(pinned, inventoryYaml(sim.inventory()));
  const a = await runCli(['audit', pinned, '--trust', sim.trustDir, '--json', join(dir, 'a.json')]);
  assert.equal(a.code, 1, a.stderr);
  const fa = findings(join(dir, 'a.json'));
  for (const [name, f] of fa) {
    const relay = pairs.some(([r]) => r === name);
    assert.deepEqual(f, relay ? ['not-trusted', 'TARGET_INSTANCE_MISMATCH', 0] : ['trusted', null, null], name);
  }

  // no instanceIds: the audit still sees two VMs answer as one instance, and refuses one of them, naming the other
  const bare = join(dir, 'bare.yaml');
  writeFileSync(bare, inventoryYaml(sim.inventory().map(({ instanceId: _, ...e }) => e)));
  const b = await runCli(['audit', bare, '--trust', sim.trustDir, '--json', join(dir, 'b.json'), '--junit', join(dir, 'b-audit.xml'), '--html', join(dir, 'b.html'), '--concurrency', '1']);
  assert.equal(b.code, 1, b.stderr);
  const fb = findings(join(dir, 'b.json'));
  const report = JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')) as { run: AuditRun; results: AttestationResult[] };
  // the warnings are kept in every report, not only shown on the terminal
  const inDoubt = report.run.warnings?.filter((w) => w.includes('in doubt')) ?? [];
  assert.equal(inDoubt.length, pairs.length, JSON.stringify(report.run.warnings));
  const junitXml = readFileSync(join(dir, 'b-audit.xml'), 'utf8');
  const htmlText = readFileSync(join(dir, 'b.html'), 'utf8');
  for (const w of inDoubt) {
    assert.ok(b.stderr.includes(`warning: ${w}`), w);
    assert.ok(junitXml.includes(`warning: ${xmlText(w)}`), 'the JUnit suite\'s system-err');
    assert.ok(htmlText.includes(`<li>${html(w)}</li>`), 'the HTML report\'s warnings');
  }
  for (const [relay, decoy] of pairs) {
    const flagged = [relay, decoy].filter((n) => fb.get(n)![1] === 'AUDIT_DUPLICATE_INSTANCE');
    assert.equal(flagged.length, 1, `one of ${relay} and ${decoy}: ${JSON.stringify([fb.get(relay), fb.get(decoy)])}`);
    const other = flagged[0] === relay ? decoy : relay;
    assert.deepEqual(fb.get(other), ['trusted', null, null]);
    const check = report.results.find((r) => r.name === flagged[0])!.layers[0]!.checks.find((c) => c.id === 'audit.unique-instance')!;
    assert.equal((check.actual as { alsoAnsweredBy: string }).alsoAnsweredBy, other);
    // the one reported trusted before the refusal is named as in doubt, since its own result cannot say it
    assert.match(b.stderr, new RegExp(`warning: VM ${other} \\(\\S+\\) answered with the attestation key VM ${flagged[0]} answered with later .*${other}'s own result is in doubt too`));
  }
  const flaggedNames = new Set(pairs.flat().filter((n) => fb.get(n)![1] === 'AUDIT_DUPLICATE_INSTANCE'));
  for (const [name, f] of fb) if (!flaggedNames.has(name)) assert.deepEqual(f, ['trusted', null, null], name);
  assert.match(b.stdout, /AUDIT_DUPLICATE_INSTANCE/);
  // the report reader, which derives each verdict from the result's own layers and checks again, takes it as it is
  const again = await runCli(['report', join(dir, 'b.json'), '--inventory', bare, '--junit', join(dir, 'b.xml'), '--json']);
  assert.equal(again.code, 1, again.stdout);
  const rewritten = await runCli(['report', join(dir, 'b.json'), '--inventory', bare, '--json', join(dir, 'b-again.json')]);
  assert.equal(rewritten.code, 1, rewritten.stderr);
  // read again, the report keeps the audit's warnings once each (the pairs are within the one report)
  const reread = JSON.parse(readFileSync(join(dir, 'b-again.json'), 'utf8')) as { run: AuditRun };
  assert.deepEqual(reread.run.warnings, report.run.warnings!.map((w) => `${join(dir, 'b.json')}: ${w}`));
  assert.equal(again.json?.error?.code, 'AUDIT_NOT_TRUSTED');
  assert.match(readFileSync(join(dir, 'b.xml'), 'utf8'), /type="AUDIT_DUPLICATE_INSTANCE"/);

  // one VM of a pair pinned: the other is the one refused, whatever the order
  for (const [relay, decoy] of pairs) {
    const mixed = join(dir, `mixed-${relay}.yaml`);
    writeFileSync(mixed, inventoryYaml(sim.inventory().map((e) => (e.name === decoy ? e : (({ instanceId: _, ...rest }) => rest)(e)))));
    const m = await runCli(['audit', mixed, '--trust', sim.trustDir, '--json', join(dir, `m-${relay}.json`)]);
    assert.equal(m.code, 1, m.stderr);
    const fm = findings(join(dir, `m-${relay}.json`));
    assert.deepEqual(fm.get(relay), ['not-trusted', 'AUDIT_DUPLICATE_INSTANCE', 0]);
    assert.deepEqual(fm.get(decoy), ['trusted', null, null]);
  }
});

test('withFailedCheck: a check found after the walk refuses a trusted layer and the verdict follows; a layer failed by a rule keeps its error', () => {
  const layer = (position: number, status: 'trusted' | 'not-trusted') => ({ position, uri: `http://h/${position}`, status, nonce: '00', checks: [], rules: [] });
  const base: AttestationResult = {
    target: 'http://h/0',
    verdict: 'trusted',
    reason: 'all 2 layer(s) verified',
    policy: { source: 'x', id: 'x', builtin: true },
    nonce: '00',
    startedAt: '',
    finishedAt: '',
    layers: [layer(0, 'trusted'), layer(1, 'trusted')],
    chain: [],
    platformPath: [],
  };
  const check = { id: 'audit.unique-instance', status: 'fail' as const, code: 'AUDIT_DUPLICATE_INSTANCE', message: 'twice', actual: { alsoAnsweredBy: 'a' } };
  const r = withFailedCheck(base, 0, check);
  assert.equal(r.verdict, 'not-trusted');
  assert.equal(r.error?.code, 'AUDIT_DUPLICATE_INSTANCE');
  assert.match(r.reason, /^layer 0 \(http:\/\/h\/0\): AUDIT_DUPLICATE_INSTANCE: twice/);
  assert.equal(r.layers[0]!.status, 'not-trusted');
  assert.deepEqual(r.layers[0]!.checks, [check]);
  assert.equal(r.layers[1], base.layers[1], 'other layers untouched');
  assert.equal(base.layers[0]!.checks.length, 0, 'the input is not changed');
  const byRule = { ...base, verdict: 'not-trusted' as const, error: { code: 'POLICY_PCR_VALUE', message: 'pcr' }, layers: [{ ...layer(0, 'not-trusted'), error: { code: 'POLICY_PCR_VALUE', message: 'pcr' } }] };
  assert.equal(withFailedCheck(byRule, 0, check).error?.code, 'POLICY_PCR_VALUE', 'the first failure still decides');
});

test('report: relay and relayed VM audited in different shards (no instanceIds) each look trusted; the merge refuses the one read second and names the first; merging the merged report again changes nothing', async (t) => {
  const topology = { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 4 };
  const sim = await startSimulator({ topology, faults: [{ layer: 'vm-0002', fault: 'relayed-top' }] });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-instances-shards-');
  const relay = 'vm-0002';
  const decoy = sim.expected(relay).path[0]!;
  const count = [2, 3, 4, 5, 6, 7].find((n) => shardOf(relay, n) !== shardOf(decoy, n))!;
  const bare = join(dir, 'bare.yaml');
  writeFileSync(bare, inventoryYaml(sim.inventory().map(({ instanceId: _, ...e }) => e)));
  const shards: string[] = [];
  for (let i = 0; i < count; i++) {
    const file = join(dir, `shard-${i}.json`);
    const r = await runCli(['audit', bare, '--trust', sim.trustDir, '--shard', `${i}/${count}`, '--json', file]);
    assert.equal(r.code, 0, `each shard alone sees one of the pair: all trusted\n${r.stderr}`);
    shards.push(file);
  }
  const mergedFile = join(dir, 'merged.json');
  const merged = await runCli(['report', ...shards, '--inventory', bare, '--json', mergedFile]);
  assert.equal(merged.code, 1, merged.stderr);
  const fm = findings(mergedFile);
  const flagged = [relay, decoy].filter((n) => fm.get(n)![1] === 'AUDIT_DUPLICATE_INSTANCE');
  assert.equal(flagged.length, 1, JSON.stringify([fm.get(relay), fm.get(decoy)]));
  const other = flagged[0] === relay ? decoy : relay;
  assert.deepEqual(fm.get(other), ['trusted', null, null]);
  assert.equal([...fm.values()].filter((f) => f[0] !== 'trusted').length, 1, 'nobody else');
  assert.match(merged.stderr, new RegExp(`warning: VM ${other} \\(in \\S+shard-\\d\\.json\\) answered with the attestation key VM ${flagged[0]} of another report answered with`));
  // the merged report keeps the warning only the merge could give
  const mergedRun = (JSON.parse(readFileSync(mergedFile, 'utf8')) as { run: AuditRun }).run;
  assert.equal(mergedRun.warnings?.length, 1, JSON.stringify(mergedRun.warnings));
  assert.ok(merged.stderr.includes(`warning: ${mergedRun.warnings[0]}`));
  // a merged report read again alone: the same verdicts, no new refusal, and its warning kept as it was
  const againFile = join(dir, 'again.json');
  const again = await runCli(['report', mergedFile, '--json', againFile]);
  assert.equal(again.code, 1, again.stderr);
  const againReport = JSON.parse(readFileSync(againFile, 'utf8')) as { run: AuditRun; summary: { notTrusted: number } };
  assert.equal(againReport.summary.notTrusted, 1);
  assert.deepEqual(againReport.run.warnings, mergedRun.warnings);
  const envelope = await runCli(['report', mergedFile, '--json']);
  assert.equal(envelope.code, 1, envelope.stdout);
  assert.equal(envelope.json?.result.warnings, undefined);
});
