// The clean simulated platform over real HTTP on 127.0.0.1: at depth 2, 3
// and 5 every layer verifies with the project's own verification functions
// (certificate path to the exported trust anchors, quote over the chained
// nonce, event log and IMA replay, vPlatform table replay, hosting and
// issuer binding), and the platform is what the topology asked for.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { startSimulator } from '../../src/simulator/start.js';
import { parseCertificate } from '../../src/x509/certificate.js';
import { decodeTrustedLayer } from '../../src/x509/trusted-layer.js';
import { OID } from '../../src/x509/oids.js';
import { attestChain, failures } from './attest-chain.js';

const client = new EvidenceClient({ timeoutMs: 10_000 });
after(() => client.close());

for (const depth of [2, 3, 5]) {
  test(`depth ${depth}: every layer verifies, down to the physical TPM, with the chained nonces`, async () => {
    const sim = await startSimulator({ topology: { layers: depth } });
    try {
      const { store, problems } = loadTrustStore([sim.trustDir]);
      assert.deepEqual(problems, []);
      const walk = await attestChain(client, sim.topUrl, store);
      assert.deepEqual(failures(walk), []);
      assert.equal(walk.length, depth);
      assert.deepEqual(
        walk.map((l) => l.kind),
        [...Array(depth - 1).fill('virtual'), 'physical'],
      );
      // vTPM paths end at the vPlatform root, the physical one at the physical AK CA
      assert.deepEqual(
        walk.map((l) => l.anchorLabels),
        [...Array(depth - 1).fill(['vplatform-ca']), ['ak-ca']],
      );
      // every check ran and passed: quote signature and nonce, log replays, and below the top the table replay, hosting
      for (const l of walk) {
        const ids = new Set(l.checks.map((c) => c.id));
        for (const id of ['quote.signature', 'quote.nonce', 'quote.pcr-digest', 'eventlog.replay']) assert.ok(ids.has(id), `layer ${l.position} ran ${id}: ${[...ids].join(', ')}`);
        if (l.position > 0) for (const id of ['vplatform.replay', 'vplatform.lifecycle', 'vplatform.hosted']) assert.ok(ids.has(id), `layer ${l.position} ran ${id}`);
        assert.ok(l.checks.every((c) => c.status !== 'fail'));
      }
      assert.ok(walk[0]!.checks.some((c) => c.id === 'ima.replay' && c.status === 'pass'), 'the VM sends an IMA list that replays');
      assert.deepEqual(sim.expected(), { top: 'vm', verdict: 'trusted', faults: [], path: walk.map((l) => sim.layers.find((x) => x.url === l.url)!.name) });
    } finally {
      await sim.close();
    }
  });
}

test('names, URLs, certificates and tables follow the topology (depth 5)', async () => {
  const sim = await startSimulator({ topology: { layers: 5 } });
  try {
    const names = sim.platform.pathOf(sim.platform.layer('vm')).map((l) => l.name);
    assert.deepEqual(names, ['vm', 'vmm-3', 'vmm-2', 'vmm-1', 'host']);
    assert.equal(sim.topUrl, `${sim.origin}/l/vm`);
    assert.deepEqual(sim.urls, [sim.topUrl]);
    for (const l of sim.platform.layers.values()) {
      const ak = parseCertificate(l.akCertificate.der);
      const ext = ak.extensions.find((e) => e.oid === OID.trustedLayer)!;
      assert.equal(ext.critical, false);
      const value = decodeTrustedLayer(ext.value);
      assert.equal(value.kind, l.kind);
      if (l.host) {
        assert.equal(value.deepAttestation, l.host.url);
        assert.equal(Buffer.from(value.instanceId!).toString('hex'), l.instanceIdHex);
        // the host's own CA issued it, and the host's table records that CA and creates the instance
        assert.equal(ak.issuer.text, parseCertificate(l.host.issuingCa!.certificate.der).subject.text);
        const log = l.host.vplatformLog() as { op: string; instance?: string; certificate?: string; vm?: string }[];
        assert.deepEqual(log[0], { pcr: 23, op: 'issuer', certificate: l.host.issuingCa!.certificate.sha256 });
        assert.deepEqual(log[1], { pcr: 23, op: 'create', instance: l.instanceIdHex, vm: l.name });
        assert.deepEqual(l.host.hostedNow(), [l.instanceIdHex]);
      } else {
        assert.equal(value.instanceId, undefined);
        assert.equal(ak.issuer.text, parseCertificate(sim.platform.physicalAkCa.certificate.der).subject.text);
      }
      assert.ok(ak.ext.extKeyUsage?.includes(OID.tcgKpAikCertificate));
    }
  } finally {
    await sim.close();
  }
});

test('an RSA AK on the physical host and a provider-wide vPlatform CA also verify; without per-host CAs nothing records an issuer', async () => {
  const sim = await startSimulator({ topology: { layers: 3 }, ak: { physical: { type: 'rsa', scheme: 'rsassa' } }, vplatformCa: 'provider' });
  try {
    const { store } = loadTrustStore([sim.trustDir]);
    const walk = await attestChain(client, sim.topUrl, store);
    // the test walk checks issuer binding unconditionally: with one provider CA nothing is recorded
    assert.deepEqual(failures(walk), [
      [1, 'VPLATFORM_ISSUER_NOT_RECORDED'],
      [2, 'VPLATFORM_ISSUER_NOT_RECORDED'],
    ]);
    assert.equal(sim.platform.layer('host').tpm.akPublicKey.asymmetricKeyType, 'rsa');
    assert.equal(walk[2]!.evidence!.certificates.length, 1);
    assert.equal(walk[0]!.evidence!.certificates.length, 2, 'AK certificate and the provider issuing CA');
  } finally {
    await sim.close();
  }
});

test('the same seed gives the same identities and firmware; another seed other ones', async () => {
  const a = await startSimulator({ topology: { layers: 3 }, seed: 'same' });
  const b = await startSimulator({ topology: { layers: 3 }, seed: 'same' });
  const c = await startSimulator({ topology: { layers: 3 }, seed: 'other' });
  try {
    const ids = (s: typeof a) => s.layers.map((l) => l.instanceId);
    assert.deepEqual(ids(a), ids(b));
    assert.notDeepEqual(ids(a), ids(c));
    assert.equal(a.platform.vplatformRoot.spki.toString('hex'), b.platform.vplatformRoot.spki.toString('hex'));
    assert.deepEqual(a.platform.layer('vm').firmware.bytes, c.platform.layer('vm').firmware.bytes);
    assert.equal(a.platform.layer('vm').ima!.text, c.platform.layer('vm').ima!.text);
  } finally {
    await Promise.all([a.close(), b.close(), c.close()]);
  }
});
