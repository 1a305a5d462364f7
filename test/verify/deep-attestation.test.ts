// End to end over real HTTP on 127.0.0.1: the walker attests the simulated
// platform layer by layer (issue: deep attestation). The clean platform is
// trusted at several depths; every fault fails with its own code on the right
// layer; a saved bundle verifies to the same result; hostile layers are
// bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertThrowsCode } from '../helpers/assert.js';
import { startSimulator, type RunningSimulator } from '../../src/simulator/start.js';
import { FAULTS, FAULT_NAMES, expectedCode, type FaultName } from '../../src/simulator/faults.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource, type WalkOptions } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { MAX_BUNDLE_JSON_VALUES, bundleFromWalk, bundleSource, bundleTopNonce, checkBundleChallenge, parseBundle } from '../../src/verify/bundle.js';
import { MAX_URL_LENGTH } from '../../src/transport/url.js';
import { baselinePolicy, loadPolicy, type Policy } from '../../src/policy/index.js';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { ValidationCache } from '../../src/x509/cache.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { runCli } from '../helpers/cli.js';
import { parseEventLog } from '../../src/eventlog/index.js';

const EVENTLOG_REQUIRED = loadPolicy(
  ['apiVersion: vtpm-verify/v1', 'name: logs-required', 'layers:', '  - name: every-layer', '    eventLog: { required: true }', ''].join('\n'),
  { path: '<test>' },
);

async function attestSim(sim: RunningSimulator, opts: { top?: string; maxDepth?: number; timeoutMs?: number; policy?: Policy; expectInstanceId?: string } = {}) {
  const cache = new ValidationCache();
  const trust = loadTrustStore([sim.trustDir], { cache });
  const client = new EvidenceClient({ timeoutMs: opts.timeoutMs ?? 5_000, maxResponseBytes: 4 * 1024 * 1024 });
  try {
    const now = new Date();
    const target = opts.top ? sim.layers.find((l) => l.name === opts.top)!.url : sim.topUrl;
    const top = drawTopNonce(now, target);
    const options: WalkOptions = {
      target,
      topNonce: top,
      trust: trust.store,
      cache,
      policy: opts.policy ?? baselinePolicy(),
      policySource: { source: 'built-in baseline', builtin: true },
      at: now,
      ...(opts.maxDepth ? { maxDepth: opts.maxDepth } : {}),
      ...(opts.expectInstanceId ? { expectInstanceId: Buffer.from(opts.expectInstanceId, 'hex') } : {}),
    };
    const outcome = await walk(options, liveSource(client) as EvidenceSource);
    return { outcome, top, options };
  } finally {
    client.close();
  }
}

function failingCodes(r: AttestationResult, position: number): string[] {
  const l = r.layers[position];
  return l ? [...l.checks, ...l.rules].filter((c) => c.status === 'fail').map((c) => c.code ?? '?') : [];
}

for (const depth of [2, 3, 5]) {
  test(`the clean simulated platform is trusted at depth ${depth}, every layer verified down to the physical TPM`, async () => {
    const sim = await startSimulator({ topology: { layers: depth } });
    try {
      const { outcome } = await attestSim(sim);
      const r = outcome.result;
      assert.equal(r.verdict, 'trusted', r.reason);
      assert.equal(r.layers.length, depth);
      assert.deepEqual(r.layers.map((l) => l.status), Array(depth).fill('trusted'));
      assert.deepEqual(r.layers.map((l) => l.kind), [...Array(depth - 1).fill('virtual'), 'physical']);
      // each lower layer hosts the instance above it, in its quoted vPlatform table
      for (let i = 1; i < depth; i++) {
        assert.ok(r.layers[i]!.hostedInstanceCount! >= 1, `layer ${i} hosts at least the layer above`);
        const ids = r.layers[i]!.checks.filter((c) => c.status === 'pass').map((c) => c.id);
        for (const id of ['binding.nonce-chain', 'binding.hosted-instance', 'binding.issuer', 'vplatform.replay']) assert.ok(ids.includes(id), `layer ${i}: ${id} passed`);
      }
      assert.equal(r.platformPath.length, depth - 1);
      assert.equal(new Set(r.layers.map((l) => l.nonce)).size, depth, 'every layer quoted its own chained nonce');
      assert.ok(r.chain.some((c) => c.id === 'chain.endAt' && c.status === 'pass'));
    } finally {
      await sim.close();
    }
  });
}

// Every fault of the simulator, on a 3-layer platform, at the layer it applies to.
const CASES: { fault: FaultName; layer: number; mode?: string }[] = [
  { fault: 'pcr', layer: 0 },
  { fault: 'pcr', layer: 2 },
  { fault: 'log-event', layer: 1 },
  { fault: 'signature', layer: 2 },
  { fault: 'certificate', layer: 1 },
  { fault: 'nonce', layer: 1 },
  { fault: 'not-hosted', layer: 1 },
  { fault: 'relayed', layer: 1 },
  { fault: 'relayed-top', layer: 0 },
  { fault: 'stale-binding', layer: 2 },
  { fault: 'foreign-issuer', layer: 1 },
  { fault: 'unreachable', layer: 2 },
  { fault: 'unreachable', layer: 1, mode: 'reset' },
  { fault: 'slow', layer: 1 },
  { fault: 'slow', layer: 2, mode: 'delay' },
  { fault: 'huge', layer: 1 },
  { fault: 'huge', layer: 2, mode: 'declared' },
  { fault: 'eventlog-missing', layer: 0 },
  { fault: 'ima-tamper', layer: 0 },
];

test('the cases cover every fault the simulator knows', () => {
  assert.deepEqual([...new Set(CASES.map((c) => c.fault))].sort(), [...FAULT_NAMES].sort());
});

for (const c of CASES) {
  const name = `${c.fault}${c.mode ? `:${c.mode}` : ''}@${c.layer}`;
  test(`fault ${name}: ${expectedCode(c as never)} on layer ${c.layer}, layers above it clean`, async () => {
    const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ layer: c.layer, fault: c.fault, ...(c.mode ? { mode: c.mode as never } : {}) }] });
    try {
      // A missing log is only a failure where the policy requires one.
      // the challenger knows which VM it asks (as an audit inventory says)
      const expectInstanceId = sim.inventory()[0]!.instanceId!;
      const { outcome } = await attestSim(sim, { timeoutMs: 1_500, expectInstanceId, ...(c.fault === 'eventlog-missing' ? { policy: EVENTLOG_REQUIRED } : {}) });
      const r = outcome.result;
      const info = FAULTS[c.fault];
      const code = expectedCode(c as never);
      assert.equal(r.verdict, info.status === 'unreachable' ? 'incomplete' : 'not-trusted', r.reason);
      const layer = r.layers[c.layer]!;
      assert.equal(layer.status, info.status, `layer ${c.layer}: ${JSON.stringify(layer.error)}`);
      assert.ok(failingCodes(r, c.layer).includes(code), `layer ${c.layer} fails with ${code}: got ${failingCodes(r, c.layer).join(', ')}`);
      assert.equal(r.error?.code, code, 'the verdict names the fault');
      for (let i = 0; i < c.layer; i++) assert.deepEqual(failingCodes(r, i), [], `layer ${i} above the fault is clean`);
      // the simulator's own account of what should be found agrees
      const expected = sim.expected();
      assert.deepEqual(expected.faults.map((f) => [f.position, f.code]), [[c.layer, code]]);
    } finally {
      await sim.close();
    }
  });
}

test('a relay at the VM\'s URL (relayed-top): trusted as the VM it forwards to unless the instance expected there is known; then TARGET_INSTANCE_MISMATCH on layer 0, and the walk goes on below', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ layer: 0, fault: 'relayed-top' }] });
  try {
    const vm = sim.inventory()[0]!.instanceId!;
    // what a challenger that does not know the VM sees: the decoy's genuine evidence, every check passing
    const blind = (await attestSim(sim)).outcome.result;
    assert.equal(blind.verdict, 'trusted', blind.reason);
    assert.notEqual(blind.layers[0]!.instanceId, vm);
    assert.equal(blind.layers[0]!.checks.find((c) => c.id === 'target.instance'), undefined, 'no pin, no check');

    const r = (await attestSim(sim, { expectInstanceId: vm })).outcome.result;
    assert.equal(r.verdict, 'not-trusted');
    assert.equal(r.error?.code, 'TARGET_INSTANCE_MISMATCH');
    const check = r.layers[0]!.checks.find((c) => c.id === 'target.instance')!;
    assert.equal(check.status, 'fail');
    assert.equal(check.expected, vm);
    assert.equal(check.actual, blind.layers[0]!.instanceId);
    assert.deepEqual(r.layers.map((l) => l.status), ['not-trusted', 'trusted', 'trusted'], 'verified below: the relay target\'s own platform');
  } finally {
    await sim.close();
  }
});

test('the instance expected at the URL: a genuine VM passes the check; uppercase pins are the same id; a physical top names none (actual null)', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  try {
    const vm = sim.inventory()[0]!.instanceId!;
    const r = (await attestSim(sim, { expectInstanceId: vm.toUpperCase() })).outcome.result;
    assert.equal(r.verdict, 'trusted', r.reason);
    assert.equal(r.layers[0]!.checks.find((c) => c.id === 'target.instance')?.status, 'pass');
    // a lower layer's URL asked as the target: it is not the VM expected
    const host = sim.layers.find((l) => l.role === 'physical')!;
    const asHost = (await attestSim(sim, { top: host.name, expectInstanceId: vm })).outcome.result;
    assert.equal(asHost.error?.code, 'TARGET_INSTANCE_MISMATCH');
    const check = asHost.layers[0]!.checks.find((c) => c.id === 'target.instance')!;
    assert.equal(check.actual, null);
    assert.match(check.message, /names no vTPM instance/);
  } finally {
    await sim.close();
  }
});

test('a deepAttestation chain that never ends stops at --max-depth with WALK_TOO_DEEP', async () => {
  const sim = await startSimulator({ topology: { layers: 7 } });
  try {
    const { outcome } = await attestSim(sim, { maxDepth: 4 });
    const r = outcome.result;
    assert.equal(r.verdict, 'not-trusted');
    assert.equal(r.error?.code, 'WALK_TOO_DEEP');
    assert.equal(r.layers.length, 5, 'four layers attested, the fifth refused before any request');
    assert.equal(r.layers[4]!.status, 'not-trusted');
    assert.equal(sim.stats.evidence, 4);
    // the fifth was never asked: where the walk ends is unknown, not "its evidence did not verify"
    const endAt = r.chain.find((c) => c.id === 'chain.endAt')!;
    assert.equal(endAt.status, 'not-applicable');
    assert.match(endAt.message, /^not judged: the walk stopped at its depth limit before layer 4/);
  } finally {
    await sim.close();
  }
});

test('verify on a saved bundle gives the same result as the live attestation; edits to it fail', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  try {
    const { outcome, top, options } = await attestSim(sim);
    assert.equal(outcome.result.verdict, 'trusted');
    const bundle = bundleFromWalk(options.target, top, outcome.collected, 'test');
    const text = JSON.stringify(bundle);
    const replay = async (b: ReturnType<typeof parseBundle>, signatures: WalkOptions['signatures'] = 'inline') =>
      // a fresh link cache, so the checks read exactly as they did live
      // the target from the bundle, as `verify BUNDLE` takes it
      (await walk({ ...options, target: b.target, signatures, cache: new ValidationCache(), topNonce: bundleTopNonce(b), at: new Date(b.time), evidenceTime: new Date(b.time) }, bundleSource(b))).result;
    const again = await replay(parseBundle(text));
    const strip = (r: AttestationResult) => JSON.parse(JSON.stringify({ ...r, startedAt: '', finishedAt: '', layers: r.layers.map((l) => ({ ...l, elapsedMs: 0 })) })) as unknown;
    assert.deepEqual(strip(again), strip(outcome.result));
    // signatures verified on libuv's thread pool (as fleet audits do): the very same result
    assert.deepEqual(strip(await replay(parseBundle(text), 'thread-pool')), strip(outcome.result));
    // saved again by an editor that writes a byte order mark: the same bundle
    assert.deepEqual(strip(await replay(parseBundle(`\ufeff${text}`))), strip(outcome.result));

    // Edits that matter: the time (bound into the top nonce), a PCR value, a certificate, a URI, a log.
    const edits: [string, (b: any) => void, string][] = [
      ['time', (b) => (b.time = new Date(Date.parse(b.time) - 3600_000).toISOString()), 'BUNDLE_MISMATCH'],
      [
        'the time and the saved top nonce to match it',
        (b) => {
          b.time = new Date(Date.parse(b.time) - 3600_000).toISOString();
          b.layers[0].nonce = bundleTopNonce(b).nonce.toString('hex');
        },
        'QUOTE_NONCE_MISMATCH',
      ],
      ['a PCR value', (b) => (b.layers[1].evidence.pcrs.sha256['0'] = '00'.repeat(32)), 'QUOTE_PCR_DIGEST_MISMATCH'],
      ['an event digest in the log', (b) => (b.layers[0].evidence.eventLog = flipEventDigest(b.layers[0].evidence.eventLog)), 'EVENTLOG_REPLAY_MISMATCH'],
      ['a layer URI', (b) => (b.layers[1].uri = b.layers[1].uri.replace('/l/', '/x/')), 'BUNDLE_MISMATCH'],
      [
        // another VM's bundle relabelled: the target (bound into the top nonce) and the URI it was saved under
        'the target and the top layer URI together',
        (b) => {
          b.target = b.target.replace('/l/vm', '/l/other-vm');
          b.layers[0].uri = b.target;
        },
        'BUNDLE_MISMATCH',
      ],
      [
        'the target, the top layer URI and its saved nonce to match them',
        (b) => {
          b.target = b.target.replace('/l/vm', '/l/other-vm');
          b.layers[0].uri = b.target;
          b.layers[0].nonce = bundleTopNonce(b).nonce.toString('hex');
        },
        'QUOTE_NONCE_MISMATCH',
      ],
      ['the quote', (b) => (b.layers[2].evidence.quote.message = flipBase64(b.layers[2].evidence.quote.message)), 'QUOTE_BAD_SIGNATURE'],
      ['a certificate', (b) => (b.layers[0].evidence.certificates = [b.layers[1].evidence.certificates[0]]), ''],
      // the instance recorded as asked of a lower layer is what the verified layer above names (it was not compared:
      // a bundle recording another instance, or none, verified as trusted)
      ['the instance asked of a lower layer', (b) => (b.layers[1].instance = '11'.repeat(32)), 'BUNDLE_MISMATCH'],
      ['the instance asked of a lower layer, removed', (b) => delete b.layers[2].instance, 'BUNDLE_MISMATCH'],
      ['an instance recorded for the top layer', (b) => (b.layers[0].instance = b.layers[1].instance), 'BUNDLE_MISMATCH'],
    ];
    // a bundle whose JSON repeats a key is refused, not read as whichever value JSON.parse keeps
    const repeated = text.replace(/"random":/, '"random":"00","random":');
    assert.notEqual(repeated, text);
    const dupErr = assertThrowsCode(() => parseBundle(repeated), 'BUNDLE_INVALID');
    assert.match(dupErr.message, /\$\.random: a key repeats/);
    // what JSON.parse would build is bounded before it builds it: values anywhere (an ignored field too) and nesting
    const padded = text.replace(/^\{/, `{"pad":[${'[],'.repeat(MAX_BUNDLE_JSON_VALUES)}[]],`);
    assert.match(assertThrowsCode(() => parseBundle(padded), 'BUNDLE_INVALID').message, /^evidence bundle: \$: holds about \d+ JSON values, more than 4000000$/);
    const deep = text.replace(/^\{/, `{"pad":${'['.repeat(65)}${']'.repeat(65)},`);
    assert.match(assertThrowsCode(() => parseBundle(deep), 'BUNDLE_INVALID').message, /nests arrays and objects 66 deep, more than 64/);
    assert.equal(parseBundle(text.replace(/^\{/, `{"pad":${'['.repeat(60)}${']'.repeat(60)},`)).layers.length, 3, 'deep but under the cap: read');
    // the selections asked are checked for shape: a known bank, PCRs 0-23 ascending, one per bank
    for (const pcrs of [['sha256:0,1,24'], ['md5:0'], ['sha256:1,0'], ['sha256:01'], ['sha256:0', 'sha256:1'], [7], 'sha256:0', ['sha256:0,,1']]) {
      const b = JSON.parse(text);
      b.layers[1].pcrs = pcrs;
      assert.match(assertThrowsCode(() => parseBundle(JSON.stringify(b)), 'BUNDLE_INVALID').message, /layers\[1\]\.pcrs/, JSON.stringify(pcrs));
    }
    // a target or URI longer than any URL the walk asks for is refused when the bundle is read: one of 60 MB was
    // copied into every message naming it, and verify ran out of string length (INTERNAL_ERROR) after gigabytes
    for (const [field, edit] of [
      ['target', (b: any) => (b.target = `http://x/${'a'.repeat(MAX_URL_LENGTH)}`)],
      ['layers[1].uri', (b: any) => (b.layers[1].uri = `http://x/${'a'.repeat(MAX_URL_LENGTH)}`)],
    ] as const) {
      const b = JSON.parse(text);
      edit(b);
      assert.match(assertThrowsCode(() => parseBundle(JSON.stringify(b)), 'BUNDLE_INVALID').message, new RegExp(`${field.replace(/[[\]]/g, '\\$&')}: more than ${MAX_URL_LENGTH} characters`), field);
    }
    // the random bytes, a nonce or an instance that is not 32 bytes of hex is the bundle's format error (it was a
    // bare HEX_INVALID naming no bundle, for a nonce or an instance with no layer either)
    for (const [field, edit] of [
      ['random', (b: any) => (b.random = 'zz'.repeat(32))],
      ['random', (b: any) => (b.random = `0x${b.random}`)],
      ['layers[1].nonce', (b: any) => (b.layers[1].nonce = 'x'.repeat(64))],
      ['layers[1].nonce', (b: any) => (b.layers[1].nonce = b.layers[1].nonce.slice(1))],
      ['layers[2].instance', (b: any) => (b.layers[2].instance = ` ${b.layers[2].instance}`)],
      ['layers[2].instance', (b: any) => (b.layers[2].instance = 7)],
    ] as const) {
      const b = JSON.parse(text);
      edit(b);
      assert.match(assertThrowsCode(() => parseBundle(JSON.stringify(b)), 'BUNDLE_INVALID').message, new RegExp(`^evidence bundle: ${field.replace(/[[\]]/g, '\\$&')}: expected 32 bytes of hex`), field);
    }
    for (const pcrs of [[], ['sha1:'], ['sha256:0,7,23', 'sha1:0']]) {
      const b = JSON.parse(text);
      b.layers[1].pcrs = pcrs;
      assert.doesNotThrow(() => parseBundle(JSON.stringify(b)), JSON.stringify(pcrs));
    }
    for (const [what, edit, code] of edits) {
      const b = JSON.parse(text);
      edit(b);
      const r = await replay(parseBundle(JSON.stringify(b)));
      assert.equal(r.verdict, 'not-trusted', `editing ${what} must fail verification`);
      if (code) assert.equal(r.error?.code, code, `editing ${what}`);
      assert.deepEqual(strip(await replay(parseBundle(JSON.stringify(b)), 'thread-pool')), strip(r), `editing ${what}: the same result with signatures on the thread pool`);
    }
  } finally {
    await sim.close();
  }
});

/** Flips a bit of the sha256 digest of the log's last measured event. */
function flipEventDigest(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  const events = parseEventLog(bytes).events.filter((e) => e.eventType !== 3 /* EV_NO_ACTION */);
  const last = events[events.length - 1]!;
  const d = last.digests.find((x) => x.alg?.name === 'sha256')!.digest;
  const at = bytes.indexOf(Buffer.from(d), last.offset);
  bytes[at]! ^= 0x01;
  return bytes.toString('base64');
}

function flipBase64(b64: string): string {
  const bytes = Buffer.from(b64, 'base64');
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  return bytes.toString('base64');
}

test('attest and verify through the CLI: exit codes, the JSON envelope, --save, and the same verdict offline', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-attest-'));
  try {
    const bundle = join(dir, 'vm.bundle.json');
    const live = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json']);
    assert.equal(live.code, 0, live.stdout + live.stderr);
    assert.equal(live.json?.ok, true);
    assert.equal(live.json?.result.verdict, 'trusted');
    assert.equal(live.json?.result.policy.builtin, true);
    const offline = await runCli(['verify', bundle, '--trust', sim.trustDir, '--json']);
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);
    assert.deepEqual(offline.json?.result.layers.map((l: any) => [l.status, l.nonce]), live.json?.result.layers.map((l: any) => [l.status, l.nonce]));
    // the verdict is of evidence collected then: the result and the human output say when, and that no rule bounds its age
    const saved = JSON.parse(readFileSync(bundle, 'utf8')) as { time: string };
    assert.equal(offline.json?.result.evidenceTime, new Date(saved.time).toISOString());
    const said = await runCli(['verify', bundle, '--trust', sim.trustDir, '--no-color']);
    assert.ok(said.stdout.includes(`evidence collected ${new Date(saved.time).toISOString()} (the bundle's time), judged as of then; no freshness rule bounds its age`), said.stdout);

    // a layer appended below the one the walk ends at (the physical host, again or anything) was asked for by
    // nothing and judged by nothing, yet verify said trusted of a bundle with a fourth layer
    const genuine = readFileSync(bundle, 'utf8');
    for (const [what, extra] of [
      ['the host again', (b: any) => ({ ...b.layers[2], position: 3 })],
      ['a layer of junk', () => ({ position: 3, uri: 'http://x/', nonce: '00'.repeat(32), pcrs: [], evidence: { junk: true } })],
    ] as const) {
      const b = JSON.parse(genuine);
      b.layers.push(extra(b));
      const appended = join(dir, 'appended.bundle.json');
      writeFileSync(appended, JSON.stringify(b));
      const r = await runCli(['verify', appended, '--trust', sim.trustDir, '--json']);
      assert.equal(r.code, 1, `${what}: ${r.stdout}`);
      assert.equal(r.json?.error?.code, 'BUNDLE_MISMATCH', what);
      assert.equal(r.json?.result.layers[2].status, 'not-trusted', what);
      assert.match(r.json?.result.layers[2].error.message, /holds 1 layer\(s\) below the last one the walk asked for \(layer 3/, what);
      const init = await runCli(['policy', 'init', '--from', appended, '--trust', sim.trustDir, '--json']);
      assert.equal(init.code, 1, `policy init --from, ${what}: ${init.stdout}`);
      assert.equal(init.json?.error?.code, 'BUNDLE_MISMATCH', what);
    }

    const human = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /TRUSTED/);
    assert.match(human.stdout, /built-in baseline/);

    const b = JSON.parse(readFileSync(bundle, 'utf8'));
    b.layers[1].evidence.pcrs.sha256['7'] = 'ff'.repeat(32);
    writeFileSync(bundle, JSON.stringify(b));
    const edited = await runCli(['verify', bundle, '--trust', sim.trustDir, '--json']);
    assert.equal(edited.code, 1);
    assert.equal(edited.json?.error?.code, 'QUOTE_PCR_DIGEST_MISMATCH');

    const usage = await runCli(['attest', 'ftp://127.0.0.1/x', '--trust', sim.trustDir, '--json']);
    assert.equal(usage.code, 2, 'a non-http target is bad usage');
    const noTrust = await runCli(['attest', sim.topUrl, '--json']);
    assert.equal(noTrust.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
});

test('attest --instance / verify --instance / demo --tamper relayed-top: the VM expected at the URL, through the CLI', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ layer: 0, fault: 'relayed-top' }] });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-instance-'));
  try {
    const vm = sim.inventory()[0]!.instanceId!;
    const bundle = join(dir, 'vm.bundle.json');
    // without the pin the relay is trusted as the VM it forwards to: what the option is for
    const blind = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json']);
    assert.equal(blind.code, 0, blind.stdout + blind.stderr);
    const live = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--instance', vm.toUpperCase(), '--json']);
    assert.equal(live.code, 1, live.stdout + live.stderr);
    assert.equal(live.json?.error?.code, 'TARGET_INSTANCE_MISMATCH');
    assert.equal(live.json?.error?.details?.expected, vm);
    const human = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--instance', vm]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /TARGET_INSTANCE_MISMATCH/);
    assert.match(human.stdout, /another VM answers there/);
    // the saved bundle, judged against the instance it should hold
    const offline = await runCli(['verify', bundle, '--trust', sim.trustDir, '--instance', vm, '--json']);
    assert.equal(offline.code, 1, offline.stdout + offline.stderr);
    assert.equal(offline.json?.error?.code, 'TARGET_INSTANCE_MISMATCH');
    const theirs = blind.json?.result.layers[0].instanceId as string;
    assert.equal((await runCli(['verify', bundle, '--trust', sim.trustDir, '--instance', theirs, '--json'])).code, 0);
    for (const bad of ['abc', vm.slice(2), `${vm}00`, 'zz'.repeat(32)]) {
      const usage = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--instance', bad, '--json']);
      assert.equal(usage.code, 2, bad);
      assert.equal(usage.json?.error?.code, 'USAGE');
      assert.match(usage.json?.error?.message, /--instance: expected 32 bytes as 64 hex digits/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
  // the demo knows which VM it asks
  const demo = await runCli(['demo', '--tamper', 'relayed-top', '--json']);
  assert.equal(demo.code, 1, demo.stdout + demo.stderr);
  assert.equal(demo.json?.result.attestation.layers[0].error.code, 'TARGET_INSTANCE_MISMATCH');
  assert.deepEqual(demo.json?.result.simulator.injected.map((f: any) => [f.fault, f.layer, f.expectedCode]), [['relayed-top', 0, 'TARGET_INSTANCE_MISMATCH']]);
  assert.equal((await runCli(['demo', '--tamper', 'relayed-top@1', '--json'])).code, 2, 'a VMM with a guest is no top');
});

test('an unreachable layer: exit 3 (could not complete), the layers above it still reported', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ layer: 2, fault: 'unreachable' }] });
  try {
    const r = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--json']);
    assert.equal(r.code, 3, r.stdout);
    assert.equal(r.json?.result.verdict, 'incomplete');
    assert.deepEqual(r.json?.result.layers.map((l: any) => l.status), ['trusted', 'trusted', 'unreachable']);
    assert.equal(r.json?.error?.code, 'TRANSPORT_REFUSED');
  } finally {
    await sim.close();
  }
});

test('a lower layer whose evidence fails leaves where the walk ends unjudged (its kind is unknown): the chain-end rule is not-applicable, and the VM\'s own EAR vector stays clean', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ layer: 2, fault: 'pcr' }] });
  try {
    const r = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--json']);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.json?.error?.code, 'QUOTE_PCR_DIGEST_MISMATCH');
    const endAt = (r.json?.result.chain as { id: string; status: string; message: string; code?: string }[]).find((c) => c.id === 'chain.endAt')!;
    // before: fail, POLICY_CHAIN_END, "the walk ended at layer 1, which is virtual" (layer 2 had answered)
    assert.equal(endAt.status, 'not-applicable', JSON.stringify(endAt));
    assert.match(endAt.message, /not judged: layer 2's evidence did not verify/);
    const ear = JSON.parse((await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--ear'])).stdout);
    assert.equal(ear.submods['layer0-vm']['ear.trustworthiness-vector'].configuration, undefined);
    assert.equal(ear.submods['layer0-vm']['ear.status'], 'contraindicated', 'the VM is still no better than the host below it');
  } finally {
    await sim.close();
  }
});

test('policy facts name certificates as RFC 4514 strings: a rule set selected by the VM certificate subject, written as documented, applies', async (t) => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  t.after(() => sim.close());
  const { outcome } = await attestSim(sim);
  const vmSubject = outcome.facts[0]!.certificate.subject;
  assert.match(vmSubject, /^CN=[^,]+,O=vtpm-verify simulator$/, 'the last RDN (CN) first, no spaces');
  // a rule set for that subject requiring a wrong PCR 0: it must apply, and fail
  const strict = loadPolicy(
    ['apiVersion: vtpm-verify/v1', 'name: by-subject', 'layers:', '  - name: the-vm', `    select: { certificate: { subject: ${JSON.stringify(vmSubject.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))} } }`, `    pcrs: { sha256: { "0": ["${'00'.repeat(32)}"] } }`, ''].join('\n'),
    { path: '<test>' },
  );
  const { outcome: judged } = await attestSim(sim, { policy: strict });
  assert.equal(judged.result.verdict, 'not-trusted');
  assert.ok(failingCodes(judged.result, 0).includes('POLICY_PCR_VALUE'), failingCodes(judged.result, 0).join());
});

test('a bundle dated ahead by whoever saved it passes freshness at that later time; verify --challenge refuses one not made for the challenge', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-challenge-'));
  try {
    // A runner that saves its own bundle chooses the random bytes and the time of the top nonce: one saved
    // now, dated an hour ahead, carries quotes of now and is "fresh" in an hour (a bundle of an earlier run).
    const fresh = loadPolicy(['apiVersion: vtpm-verify/v1', 'name: fresh', 'freshness: { maxAge: 15m }', 'layers:', '  - name: every-layer', '    eventLog: { mustReplay: true }', ''].join('\n'), { path: '<test>' });
    const cache = new ValidationCache();
    const trust = loadTrustStore([sim.trustDir], { cache }).store;
    const client = new EvidenceClient({ timeoutMs: 5_000 });
    const now = new Date();
    const later = new Date(now.getTime() + 3600_000);
    let bundle;
    try {
      const top = drawTopNonce(later, sim.topUrl);
      const options: WalkOptions = { target: sim.topUrl, topNonce: top, trust, cache, policy: fresh, policySource: { source: 'test', builtin: false }, at: now };
      const outcome = await walk(options, liveSource(client) as EvidenceSource);
      bundle = parseBundle(JSON.stringify(bundleFromWalk(sim.topUrl, top, outcome.collected, 'test')));
    } finally {
      client.close();
    }
    const offline = async (at: Date) =>
      (await walk({ target: bundle.target, topNonce: bundleTopNonce(bundle), trust, cache, policy: fresh, policySource: { source: 'test', builtin: false }, at: new Date(bundle.time), now: at, evidenceTime: new Date(bundle.time) }, bundleSource(bundle))).result;
    assert.equal((await offline(new Date(later.getTime() + 60_000))).verdict, 'trusted', 'freshness alone cannot tell: the time is the saver\'s word');

    // The relying party's challenge, used as the top nonce's random bytes, is what makes a bundle fresh.
    const challenge = Buffer.alloc(32, 0xa5);
    assertThrowsCode(() => checkBundleChallenge(bundle, challenge), 'BUNDLE_CHALLENGE_MISMATCH');
    const answered = drawTopNonce(now, sim.topUrl, challenge);
    assert.deepEqual(answered.random, challenge);
    assert.doesNotThrow(() => checkBundleChallenge({ ...bundle, random: challenge.toString('hex').toUpperCase() }, challenge));

    // through the CLI: attest --challenge saves a bundle that verify --challenge accepts, and only for that challenge
    const file = join(dir, 'vm.bundle.json');
    const hex = challenge.toString('hex');
    const saved = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--challenge', hex, '--save', file, '--json']);
    assert.equal(saved.code, 0, saved.stdout + saved.stderr);
    assert.equal(JSON.parse(readFileSync(file, 'utf8')).random, hex);
    const ok = await runCli(['verify', file, '--trust', sim.trustDir, '--challenge', hex, '--json']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // the EAR says which challenge the result answers: eat_nonce is the challenge itself, which the relying party
    // can compare (without it, the top nonce: a hash of random bytes, time and target it cannot recompute)
    const ear = await runCli(['verify', file, '--trust', sim.trustDir, '--challenge', hex, '--ear']);
    assert.equal(ear.code, 0, ear.stdout + ear.stderr);
    assert.equal(JSON.parse(ear.stdout).eat_nonce, challenge.toString('base64url'));
    // when the evidence was collected (iat is when it was verified): the bundle's time
    assert.equal(JSON.parse(ear.stdout)['vtpm-verify.result'].evidenceTime, new Date(JSON.parse(readFileSync(file, 'utf8')).time).toISOString());
    const earLive = await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--challenge', hex, '--ear']);
    assert.equal(JSON.parse(earLive.stdout).eat_nonce, challenge.toString('base64url'));
    const plain = await runCli(['verify', file, '--trust', sim.trustDir, '--ear']);
    assert.equal(JSON.parse(plain.stdout).eat_nonce, bundleTopNonce(parseBundle(readFileSync(file, 'utf8'))).nonce.toString('base64url'));
    const other = await runCli(['verify', file, '--trust', sim.trustDir, '--challenge', 'b6'.repeat(32), '--json']);
    assert.equal(other.code, 1, other.stdout + other.stderr);
    assert.equal(other.json?.error?.code, 'BUNDLE_CHALLENGE_MISMATCH');
    for (const bad of ['ab', 'zz'.repeat(32)]) {
      assert.equal((await runCli(['verify', file, '--trust', sim.trustDir, '--challenge', bad, '--json'])).code, 2, bad);
      assert.equal((await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--challenge', bad, '--json'])).code, 2, bad);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await sim.close();
  }
});
