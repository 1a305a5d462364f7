// The simulator's HTTP service as a client sees it: a fresh quote over
// exactly the nonce and PCR selection asked for, kept-alive connections,
// errors as protocol section 2 says (JSON error bodies, 400/404/405), and a
// close() that ends every connection, hostile ones included.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { parseTpmsAttest } from '../../src/tpm/attest.js';
import { startSimulator } from '../../src/simulator/start.js';
import { assertRejectsCode } from '../helpers/assert.js';

const client = new EvidenceClient({ timeoutMs: 10_000 });
after(() => client.close());

test('each request gets a fresh quote over exactly the nonce and selection asked for; PCR values are the TPM\'s', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  try {
    for (const layer of ['vm', 'vmm', 'host']) {
      const nonce = randomBytes(32);
      const pcrs = [
        { bank: 'sha1' as const, pcrs: [0, 7] },
        { bank: 'sha256' as const, pcrs: [0, 4, 7, 23] },
        { bank: 'sha384' as const, pcrs: [10] },
      ];
      const { evidence } = await client.fetch(`${sim.origin}/l/${layer}`, { nonce, pcrs });
      const attest = parseTpmsAttest(evidence.quote.message);
      assert.equal(attest.kind, 'quote');
      assert.deepEqual(Buffer.from(attest.extraData), nonce);
      if (attest.kind !== 'quote') return;
      assert.deepEqual(
        attest.quote.pcrSelect.banks.map((b) => [b.hash.name, [...b.pcrs]]),
        pcrs.map((p) => [p.bank, p.pcrs]),
      );
      const tpm = sim.platform.layer(layer).tpm;
      for (const p of pcrs) for (const i of p.pcrs) assert.deepEqual(evidence.unverifiedPcrs.get(p.bank)!.get(i), tpm.readPcr(p.bank, i), `${layer} ${p.bank}:${i}`);
      assert.ok(!evidence.unverifiedPcrs.get('sha256')!.has(1), 'only the PCRs asked for');
      assert.equal(evidence.vplatformLog === undefined, layer === 'vm', 'hosting layers send their vplatformLog');
      assert.equal(evidence.imaLog !== undefined, layer === 'vm', 'the VM sends its IMA list');
      assert.deepEqual(Buffer.from(evidence.eventLog!), sim.platform.layer(layer).firmware.bytes);
    }
  } finally {
    await sim.close();
  }
});

test('Clock advances with the time source between quotes; the instance parameter is optional', async () => {
  let now = 1_000;
  const sim = await startSimulator({ topology: { layers: 2 }, now: () => now, clock: 5_000 });
  try {
    const req = { nonce: randomBytes(32), pcrs: [{ bank: 'sha256' as const, pcrs: [0] }] };
    const a = parseTpmsAttest((await client.fetch(sim.topUrl, req)).evidence.quote.message);
    now += 2_500;
    const b = parseTpmsAttest((await client.fetch(`${sim.origin}/l/host`, { ...req, instance: Buffer.from(sim.layers[1]!.instanceId, 'hex') })).evidence.quote.message);
    assert.equal(a.clockInfo.clock, 5_000n);
    assert.equal(b.clockInfo.clock, 7_500n);
    assert.equal(b.clockInfo.safe, true);
  } finally {
    await sim.close();
  }
});

test('connections are kept alive across requests and layers', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  const own = new EvidenceClient({ timeoutMs: 10_000 });
  try {
    for (let i = 0; i < 20; i++) await own.fetch(`${sim.origin}/l/${['vm', 'vmm', 'host'][i % 3]}`, { nonce: randomBytes(32), pcrs: [{ bank: 'sha256', pcrs: [23] }] });
    assert.equal(sim.stats.evidence, 20);
    assert.equal(sim.stats.connections, 1);
  } finally {
    own.close();
    await sim.close();
  }
});

test('bad requests: 400 for a malformed query or a bank the TPM lacks, 404 for unknown layers and paths, 405 for other methods; JSON error bodies', async () => {
  const sim = await startSimulator({ topology: { layers: 2 } });
  try {
    const nonce = 'ab'.repeat(32);
    const cases: [string, RequestInit | undefined, number, RegExp][] = [
      [`/l/vm/v1/evidence?nonce=zz&pcrs=sha256:0`, undefined, 400, /nonce/],
      [`/l/vm/v1/evidence?nonce=${nonce}`, undefined, 400, /pcrs/],
      [`/l/vm/v1/evidence?nonce=${nonce}&pcrs=sha256:0,24`, undefined, 400, /PCR index 24/],
      [`/l/vm/v1/evidence?nonce=${nonce}&pcrs=sha512:0`, undefined, 400, /sha512/],
      [`/l/vm/v1/evidence?nonce=${nonce}&pcrs=sha256:0&instance=12`, undefined, 400, /instance/],
      [`/l/nobody/v1/evidence?nonce=${nonce}&pcrs=sha256:0`, undefined, 404, /no layer named nobody/],
      [`/l/vm/v2/evidence`, undefined, 404, /serves \/v1\/evidence only/],
      [`/l/%E0%A4%A/v1/evidence`, undefined, 404, /malformed/],
      [`/elsewhere`, undefined, 404, /no such resource/],
      [`/l/vm/v1/evidence?nonce=${nonce}&pcrs=sha256:0`, { method: 'POST' }, 405, /POST/],
    ];
    for (const [path, init, status, message] of cases) {
      const res = await fetch(`${sim.origin}${path}`, init);
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get('content-type'), 'application/json');
      const body = (await res.json()) as { error: string };
      assert.match(body.error, message, path);
    }
    // the evidence client reports the server's error text with the status
    const err = await assertRejectsCode(() => client.fetch(`${sim.origin}/l/ghost`, { nonce: randomBytes(32), pcrs: [{ bank: 'sha256', pcrs: [0] }] }), 'TRANSPORT_HTTP_STATUS');
    assert.equal(err.details['status'], 404);
    assert.equal(sim.stats.evidence, 0);
  } finally {
    await sim.close();
  }
});

test('the index lists the service and, at /v1/layers, every layer with its URL and instance', async () => {
  const sim = await startSimulator({ topology: { layers: 3 } });
  try {
    assert.deepEqual(await (await fetch(`${sim.origin}/`)).json(), { service: 'vtpm-verify simulator', protocol: 1, layers: 3, tops: 1, index: '/v1/layers' });
    const { layers } = (await (await fetch(`${sim.origin}/v1/layers`)).json()) as { layers: { name: string; url: string; host: string | null; instance: string }[] };
    assert.deepEqual(
      layers.map((l) => [l.name, l.url, l.host, l.instance]),
      sim.layers.map((l) => [l.name, l.url, l.host, l.instanceId]),
    );
  } finally {
    await sim.close();
  }
});

test('close() ends dripping and endless responses and the pending delays at once', async () => {
  const sim = await startSimulator({
    topology: { layers: 3 },
    faults: [
      { fault: 'slow', layer: 0 },
      { fault: 'huge', layer: 1 },
      { fault: 'slow', mode: 'delay', layer: 2 },
    ],
  });
  const own = new EvidenceClient({ timeoutMs: 600_000, maxResponseBytes: 1024 ** 4 });
  const req = { nonce: randomBytes(32), pcrs: [{ bank: 'sha256' as const, pcrs: [0] }] };
  const pending = ['vm', 'vmm', 'host'].map((l) => own.fetch(`${sim.origin}/l/${l}`, req).then(() => 'answered', (e: { code: string }) => e.code));
  // wait until the three requests are in (the service counts them), then close while they are open
  while (sim.stats.faulted < 3) await new Promise((r) => setImmediate(r));
  await sim.close();
  assert.deepEqual(await Promise.all(pending), ['TRANSPORT_RESET', 'TRANSPORT_RESET', 'TRANSPORT_RESET']);
  own.close();
});
