// Hostile attesters the simulator's faults do not cover, each a real HTTP
// server on 127.0.0.1: a redirect (never followed), invalid JSON (the layer
// is not trusted, it does not make the run "incomplete"), a verified
// certificate that names a non-http layer below (never followed), and a
// chain of layers that loops back on itself. Bounded time, typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SimCa, encodeName, encodeTbs, extension, nodeSigner, serialFor, signTbs } from '../../src/simulator/pki.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { oid, sequence, tlv } from '../../src/simulator/der.js';
import { OID } from '../../src/x509/oids.js';
import { parseEvidenceQuery, serializeEvidence } from '../../src/transport/evidence.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { bundleFromWalk, bundleSource, bundleTopNonce, parseBundle } from '../../src/verify/bundle.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';
import { startSimulator } from '../../src/simulator/start.js';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { FIRMWARE_PROFILES, firmwareLog, measureBoot } from '../../src/simulator/firmware.js';
import { loadPolicy } from '../../src/policy/load.js';

type Route = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

async function withServer(route: Route, fn: (origin: string, hits: string[]) => Promise<void>): Promise<void> {
  const hits: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const layerParam = url.searchParams.get('layer');
    hits.push(layerParam === null ? url.pathname : `${url.pathname}?layer=${layerParam}`);
    route(req, res, url);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    await fn(`http://127.0.0.1:${(server.address() as { port: number }).port}`, hits);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const ca = SimCa.root('Hostile test vPlatform root', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
const trust = buildTrustStore([{ origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'vplatform-ca' }]).store;

async function attest(target: string): Promise<AttestationResult> {
  const client = new EvidenceClient({ timeoutMs: 3_000 });
  try {
    const now = new Date();
    return (await walk({ target, topNonce: drawTopNonce(now, target), trust, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource)).result;
  } finally {
    client.close();
  }
}

/** A VM layer with a genuine quote whose AK certificate carries the given extensions. */
function vmRoute(cert: { pem: string; der: Buffer }, vm: SoftTpm): Route {
  return (_req, res, url) => {
    const r = parseEvidenceQuery(url.searchParams);
    const q = vm.quote(r.nonce, r.pcrs);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [{ pem: cert.pem, der: cert.der }] })));
  };
}

test('a redirect is never followed: the layer is unreachable (TRANSPORT_REDIRECT), the target never asked', async () => {
  await withServer(
    (_req, res, url) => {
      if (url.pathname.startsWith('/elsewhere')) res.writeHead(200).end('{}');
      else res.writeHead(302, { location: '/elsewhere/v1/evidence' }).end();
    },
    async (origin, hits) => {
      const r = await attest(`${origin}/vm`);
      assert.equal(r.verdict, 'incomplete');
      assert.equal(r.layers[0]!.status, 'unreachable');
      assert.equal(r.error?.code, 'TRANSPORT_REDIRECT');
      assert.deepEqual(hits, ['/vm/v1/evidence']);
    },
  );
});

test('invalid JSON from an attester: the layer is not trusted (EVIDENCE_JSON), not "could not complete"', async () => {
  await withServer(
    (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"version": 1, "quote": '),
    async (origin) => {
      const r = await attest(`${origin}/vm`);
      assert.equal(r.verdict, 'not-trusted');
      assert.equal(r.error?.code, 'EVIDENCE_JSON');
    },
  );
});

test('a verified certificate naming a non-http layer below: LAYER_EXT_BAD_URI, nothing followed', async () => {
  const vm = SoftTpm.create({ seed: 'hostile-vm' });
  // TrustedLayer { virtual, instanceId, deepAttestation "ftp://..." }: our encoder refuses to write it, so by hand.
  const value = sequence(Buffer.from([0x0a, 0x01, 0x01]), tlv(0x80, vm.instanceId), tlv(0x81, Buffer.from('ftp://127.0.0.1/host', 'latin1')));
  const cert = ca.issueAk({ commonName: 'hostile vm AK', publicKey: vm.akPublicKey, serialLabel: 'ftp', rawExtensions: [extension(OID.trustedLayer, false, value)] });
  await withServer(vmRoute(cert, vm), async (origin, hits) => {
    const r = await attest(`${origin}/vm`);
    assert.equal(r.verdict, 'not-trusted');
    assert.equal(r.layers.length, 1);
    assert.equal(r.error?.code, 'LAYER_EXT_BAD_URI');
    assert.deepEqual(hits, ['/vm/v1/evidence']);
  });
});

test('a forged certificate (its CA\'s name, another key) naming a layer below: that layer is never asked, and no passed check names its URL', async () => {
  const vm = SoftTpm.create({ seed: 'forged-vm' });
  const forger = SimCa.root('Hostile test vPlatform root', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
  await withServer(
    (_req, res) => res.writeHead(500).end(),
    async (below, belowHits) => {
      const cert = forger.issueAk({ commonName: 'forged vm AK', publicKey: vm.akPublicKey, serialLabel: 'forged', layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${below}/host` } });
      await withServer(vmRoute(cert, vm), async (origin) => {
        const r = await attest(`${origin}/vm`);
        assert.equal(r.verdict, 'not-trusted');
        assert.equal(r.error?.code, 'CHAIN_BAD_SIGNATURE');
        assert.equal(r.layers.length, 1);
        assert.equal(r.layers[0]!.deepAttestation, undefined);
        assert.deepEqual(belowHits, []);
        // the extension decoded, but nobody vouched for it: it was listed as a passed check
        // ("TrustedLayer: virtual, deep attestation at URL") in the forged layer's result
        const shown = r.layers[0]!.checks.filter((c) => c.message.includes(`${below}/host`));
        assert.equal(shown.length, 1);
        assert.equal(shown[0]!.id, 'layer.extension');
        assert.equal(shown[0]!.status, 'skip');
        assert.match(shown[0]!.message, /UNVERIFIED, not followed: the path does not validate/);
      });
    },
  );
});

test('a chain of layers that loops back to itself: WALK_LOOP, each URI asked once', async () => {
  const vm = SoftTpm.create({ seed: 'looping-vm' });
  await withServer(
    (req, res, url) => route!(req, res, url),
    async (origin, hits) => {
      const cert = ca.issueAk({ commonName: 'looping vm AK', publicKey: vm.akPublicKey, serialLabel: 'loop', layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/vm` } });
      route = vmRoute(cert, vm);
      const r = await attest(`${origin}/vm`);
      assert.equal(r.verdict, 'not-trusted');
      assert.equal(r.error?.code, 'WALK_LOOP');
      assert.deepEqual(hits, ['/vm/v1/evidence']);
      // layer 1 was refused before any request: its evidence never "did not verify"
      const endAt = r.chain.find((c) => c.id === 'chain.endAt')!;
      assert.equal(endAt.status, 'not-applicable');
      assert.match(endAt.message, /^not judged: layer 1 repeats a layer above it \(the chain loops\)/);
    },
  );
});
let route: Route | undefined;

test('a lower layer quoting with an upper layer\'s AK: WALK_LOOP, not trusted (it crashed the walk)', async () => {
  const vm = SoftTpm.create({ seed: 'ak-loop-vm' });
  await withServer(
    (req, res, url) => route!(req, res, url),
    async (origin, hits) => {
      // a valid certificate sends the walk to /below, which answers with the VM's own quotes
      const cert = ca.issueAk({ commonName: 'ak-loop vm AK', publicKey: vm.akPublicKey, serialLabel: 'akloop', layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/below` } });
      route = vmRoute(cert, vm);
      const r = await attest(`${origin}/vm`);
      assert.equal(r.verdict, 'not-trusted');
      assert.equal(r.error?.code, 'WALK_LOOP');
      assert.match(r.error?.message ?? '', /same AK as a layer above/);
      assert.equal(r.layers.length, 2);
      assert.equal(r.layers[1]!.status, 'not-trusted');
      assert.deepEqual(hits, ['/vm/v1/evidence', '/below/v1/evidence']);
    },
  );
});

test('layers told apart by the query of one gateway are different layers, not a loop', async () => {
  const vm = SoftTpm.create({ seed: 'gateway-vm' });
  const host = SoftTpm.create({ seed: 'gateway-host' });
  const physicalCa = SimCa.root('Hostile test physical AK CA', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
  const both = buildTrustStore([
    { origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'vplatform-ca' },
    { origin: 'physical.pem', bytes: Buffer.from(physicalCa.certificate.pem), role: 'anchor', label: 'ak-ca' },
  ]).store;
  await withServer(
    (req, res, url) => (url.searchParams.get('layer') === 'vm' ? routeVm! : routeHost!)(req, res, url),
    async (origin, hits) => {
      const vmCert = ca.issueAk({ commonName: 'gateway vm AK', publicKey: vm.akPublicKey, serialLabel: 'gw-vm', layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/gw?layer=host` } });
      const hostCert = physicalCa.issueAk({ commonName: 'gateway host AK', publicKey: host.akPublicKey, serialLabel: 'gw-host', layer: { kind: 'physical' } });
      routeVm = vmRoute(vmCert, vm);
      routeHost = vmRoute(hostCert, host);
      const client = new EvidenceClient({ timeoutMs: 3_000 });
      try {
        const now = new Date();
        const r = (await walk({ target: `${origin}/gw?layer=vm`, topNonce: drawTopNonce(now, `${origin}/gw?layer=vm`), trust: both, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource)).result;
        assert.notEqual(r.error?.code, 'WALK_LOOP', JSON.stringify(r.error));
        assert.equal(r.layers.length, 2);
        assert.deepEqual(hits, ['/gw/v1/evidence?layer=vm', '/gw/v1/evidence?layer=host']);
        // the host sends no vplatformLog, so the binding fails: the point here is only that it was asked
        assert.equal(r.layers[1]!.checks.find((c) => c.id === 'binding.hosted-instance')?.code, 'BINDING_NO_VPLATFORM_LOG');
      } finally {
        client.close();
      }
    },
  );
});
let routeVm: Route | undefined;
let routeHost: Route | undefined;

test('a layer that ends the walk (physical, or no TrustedLayer extension) under a vplatform-ca anchor is not trusted, whatever other labels the anchor has (a host could certify its own hardware)', async () => {
  const vm = SoftTpm.create({ seed: 'fake-physical-vm' });
  const fake = SoftTpm.create({ seed: 'fake-physical-host' });
  const attestWith = async (target: string, labels: string[]): Promise<AttestationResult> => {
    const store = buildTrustStore(labels.map((label) => ({ origin: `root-${label}.pem`, bytes: Buffer.from(ca.certificate.pem), role: 'anchor' as const, label }))).store;
    const client = new EvidenceClient({ timeoutMs: 3_000 });
    try {
      const now = new Date();
      return (await walk({ target, topNonce: drawTopNonce(now, target), trust: store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource)).result;
    } finally {
      client.close();
    }
  };
  for (const kind of ['physical', 'none'] as const) {
    await withServer(
      (req, res, url) => (url.pathname.startsWith('/vm') ? routeVm! : routeHost!)(req, res, url),
      async (origin) => {
        const vmCert = ca.issueAk({ commonName: 'vm AK', publicKey: vm.akPublicKey, serialLabel: `fp-vm-${kind}`, layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/host` } });
        // the same vPlatform hierarchy certifies a key as a physical TPM's, or with no extension at all
        const fakeCert = ca.issueAk({ commonName: 'fake physical AK', publicKey: fake.akPublicKey, serialLabel: `fp-host-${kind}`, ...(kind === 'physical' ? { layer: { kind: 'physical' as const } } : {}) });
        routeVm = vmRoute(vmCert, vm);
        routeHost = vmRoute(fakeCert, fake);
        for (const labels of [['vplatform-ca'], ['vplatform-ca', 'acme-vplatform-ca'], ['acme-root', 'vplatform-ca']]) {
          const r = await attestWith(`${origin}/vm`, labels);
          assert.equal(r.verdict, 'not-trusted', `${kind} ${labels}`);
          const check = r.layers[1]!.checks.find((c) => c.id === 'layer.anchor');
          assert.equal(check?.code, 'WALK_ENDS_UNDER_VPLATFORM_CA', `${kind} ${labels}`);
          assert.equal(r.layers[1]!.status, 'not-trusted');
        }
        // an anchor the operator says also vouches for hardware TPMs may end the walk
        const both = await attestWith(`${origin}/vm`, ['vplatform-ca', 'ak-ca']);
        assert.equal(both.layers[1]!.checks.find((c) => c.id === 'layer.anchor'), undefined);
        // a single layer without the extension under a vPlatform CA (a VM's certificate that names nothing below) too
        const alone = await attestWith(`${origin}/host`, ['vplatform-ca']);
        assert.equal(alone.layers[0]!.checks.find((c) => c.id === 'layer.anchor')?.code, 'WALK_ENDS_UNDER_VPLATFORM_CA');
        // an anchor with no role label cannot be told from a vPlatform CA: a warning, not a verdict (the same
        // statuses and verdict as under an anchor labelled for hardware TPMs)
        const hardware = await attestWith(`${origin}/vm`, ['ak-ca']);
        for (const labels of [['unlabelled'], ['acme-root']]) {
          const unlabelled = await attestWith(`${origin}/vm`, labels);
          const warning = unlabelled.layers[1]!.checks.find((c) => c.id === 'layer.anchor');
          assert.equal(warning?.status, 'warn', `${kind} ${labels}`);
          assert.equal(warning?.code, 'WALK_ENDS_UNDER_UNLABELLED_ANCHOR');
          assert.deepEqual([unlabelled.verdict, ...unlabelled.layers.map((l) => l.status)], [hardware.verdict, ...hardware.layers.map((l) => l.status)]);
          assert.equal(unlabelled.layers[0]!.checks.find((c) => c.id === 'layer.anchor'), undefined, 'only the layer ending the walk');
        }
      },
    );
  }
});

test('a certificate whose deepAttestation sets a reserved query parameter: LAYER_EXT_BAD_URI (not trusted, exit 1), never asked', async () => {
  const vm = SoftTpm.create({ seed: 'reserved-param-vm' });
  for (const uri of ['/below?nonce=00', '/below?x=1&pcrs=sha1:0', '/below?instance=ab']) {
    await withServer(
      (req, res, url) => route!(req, res, url),
      async (origin, hits) => {
        const cert = ca.issueAk({ commonName: 'reserved vm AK', publicKey: vm.akPublicKey, serialLabel: 'reserved', rawExtensions: [extension(OID.trustedLayer, false, sequence(Buffer.from([0x0a, 0x01, 0x01]), tlv(0x80, vm.instanceId), tlv(0x81, Buffer.from(`${origin}${uri}`, 'latin1'))))] });
        route = vmRoute(cert, vm);
        const r = await attest(`${origin}/vm`);
        assert.equal(r.verdict, 'not-trusted', uri);
        assert.equal(r.error?.code, 'LAYER_EXT_BAD_URI', uri);
        assert.match(JSON.stringify(r.layers[0]!.checks), /sets the query parameter \\"(nonce|pcrs|instance)\\", which the protocol reserves for the challenger/);
        assert.deepEqual(hits, ['/vm/v1/evidence']);
      },
    );
  }
});

test('an AK certificate whose keyUsage forbids signing (keyEncipherment only): CHAIN_KEY_USAGE, its quote is not taken; the same certificate with digitalSignature is trusted', async () => {
  const tpm = SoftTpm.create({ seed: 'key-usage-host' });
  const spki = tpm.akPublicKey.export({ type: 'spki', format: 'der' });
  const certWith = (keyUsage: Buffer, label: string): { pem: string; der: Buffer } => {
    const tbs = encodeTbs({
      serial: serialFor(`key-usage/${label}`),
      issuerName: ca.nameDer,
      subjectName: encodeName([['CN', `key-usage ${label} AK`]]),
      spki,
      extensions: [
        extension(OID.basicConstraints, true, sequence()),
        extension(OID.keyUsage, true, keyUsage),
        extension(OID.extKeyUsage, false, sequence(oid(OID.tcgKpAikCertificate))),
        extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, ca.keyId))),
        extension(OID.trustedLayer, false, sequence(Buffer.from([0x0a, 0x01, 0x00]))),
      ],
    });
    const der = signTbs(tbs, nodeSigner(ca.key));
    return { der, pem: `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n` };
  };
  // KeyUsage BIT STRINGs: keyEncipherment (bit 2) only; digitalSignature (bit 0)
  const cases = [
    { ku: Buffer.from([0x03, 0x02, 0x05, 0x20]), verdict: 'not-trusted', code: 'CHAIN_KEY_USAGE' },
    { ku: Buffer.from([0x03, 0x02, 0x07, 0x80]), verdict: 'trusted', code: undefined },
  ];
  const store = buildTrustStore([{ origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'ak-ca' }]).store;
  for (const c of cases) {
    await withServer(vmRoute(certWith(c.ku, c.verdict), tpm), async (origin, hits) => {
      const client = new EvidenceClient({ timeoutMs: 3_000 });
      try {
        const now = new Date();
        const target = `${origin}/host`;
        const r = (await walk({ target, topNonce: drawTopNonce(now, target), trust: store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource)).result;
        assert.equal(r.verdict, c.verdict, r.reason);
        assert.equal(r.error?.code, c.code);
        if (c.code) assert.equal(r.layers[0]!.checks.find((k) => k.id === 'chain.key-usage.0')?.expected, 'digitalSignature');
        assert.deepEqual(hits, ['/host/v1/evidence']);
      } finally {
        client.close();
      }
    });
  }
});

test('a quote that leaves out PCRs the challenger asked for: QUOTE_PCR_SELECTION_MISMATCH (quote.pcr-request), not trusted; the same attester quoting what it is asked is trusted', async () => {
  const tpm = SoftTpm.create({ seed: 'pcr-request-host' });
  const spki = tpm.akPublicKey.export({ type: 'spki', format: 'der' });
  const tbs = encodeTbs({
    serial: serialFor('pcr-request'),
    issuerName: ca.nameDer,
    subjectName: encodeName([['CN', 'pcr-request AK']]),
    spki,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.extKeyUsage, false, sequence(oid(OID.tcgKpAikCertificate))),
      extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, ca.keyId))),
      extension(OID.trustedLayer, false, sequence(Buffer.from([0x0a, 0x01, 0x00]))),
    ],
  });
  const der = signTbs(tbs, nodeSigner(ca.key));
  const cert = { der, pem: `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n` };
  const store = buildTrustStore([{ origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'ak-ca' }]).store;
  // honest: what it is asked; hostile: PCRs 0-7 only (a log's later events would stay unverified)
  const route = (hostile: boolean): Route => (_req, res, url) => {
    const r = parseEvidenceQuery(url.searchParams);
    const q = tpm.quote(r.nonce, hostile ? [{ bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7] }] : r.pcrs);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [cert] })));
  };
  for (const hostile of [false, true]) {
    await withServer(route(hostile), async (origin) => {
      const client = new EvidenceClient({ timeoutMs: 3_000 });
      try {
        const now = new Date();
        const target = `${origin}/host`;
        const top = drawTopNonce(now, target);
        const live = await walk({ target, topNonce: top, trust: store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource);
        const r = live.result;
        const check = r.layers[0]!.checks.find((k) => k.id === 'quote.pcr-request');
        if (!hostile) {
          assert.equal(r.verdict, 'trusted', r.reason);
          assert.equal(check?.status, 'pass');
          return;
        }
        assert.equal(r.verdict, 'not-trusted', r.reason);
        assert.equal(r.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH');
        assert.equal(check?.status, 'fail');
        assert.match(check!.message, /leaves out PCRs the challenger asked for: sha256:8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23/);
        // saved, with the bundle's record of the request edited down to what was quoted: a bundle's word
        // never takes the walk below all of sha256
        const bundle = bundleFromWalk(target, top, live.collected, 'test');
        const edited = parseBundle(JSON.stringify({ ...bundle, layers: bundle.layers.map((l) => ({ ...l, pcrs: ['sha256:0,1,2,3,4,5,6,7'] })) }));
        const offline = (await walk({ target, topNonce: bundleTopNonce(edited), trust: store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now, evidenceTime: new Date(edited.time) }, bundleSource(edited))).result;
        assert.equal(offline.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH', offline.reason);
      } finally {
        client.close();
      }
    });
  }
});

test('a VMM recording thousands of issuers, none the VM\'s: the result lists ten, not every one (it was three copies of all)', async () => {
  // A genuine quote: the simulator's VMM extends PCR 23 with every issuer it records, so its log replays.
  const sim = await startSimulator({ topology: { layers: 3 }, faults: [{ fault: 'foreign-issuer', layer: 1 }] });
  try {
    const vmm = sim.platform.layer('vmm');
    for (let i = 0; i < 3_000; i++) vmm.recordIssuer(Buffer.from(`hostile CA ${i}`));
    const { store } = loadTrustStore([sim.trustDir]);
    const client = new EvidenceClient({ timeoutMs: 10_000 });
    try {
      const now = new Date();
      const r = (await walk({ target: sim.topUrl, topNonce: drawTopNonce(now, sim.topUrl), trust: store, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now }, liveSource(client) as EvidenceSource)).result;
      assert.equal(r.verdict, 'not-trusted');
      const c = r.layers[1]!.checks.find((x) => x.id === 'binding.issuer')!;
      assert.equal(c.code, 'VPLATFORM_ISSUER_NOT_RECORDED');
      assert.equal((c.actual as unknown[]).length, 10);
      assert.match(c.message, /300[0-9] issuers recorded; the first 10 listed/);
      assert.ok(JSON.stringify(r).length < 100_000, `result of ${JSON.stringify(r).length} bytes`);
    } finally {
      client.close();
    }
  } finally {
    await sim.close();
  }
});

test('a layer whose replaying event log measures 2,000 kernel command lines: the result lists 20 (it carried every line three times)', async () => {
  const akCa = SimCa.root('Hostile test AK root', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
  const akTrust = buildTrustStore([{ origin: 'ak.pem', bytes: Buffer.from(akCa.certificate.pem), role: 'anchor', label: 'ak-ca' }]).store;
  const tpm = SoftTpm.create({ seed: 'many-cmdlines' });
  const cert = akCa.issueAk({ commonName: 'many cmdlines AK', publicKey: tpm.akPublicKey, serialLabel: 'cmdlines', layer: { kind: 'physical' } });
  // GRUB texts starting with a kernel path are command lines; the TPM is extended with each, so the log replays
  const log = firmwareLog({ ...FIRMWARE_PROFILES.physical, grubCommands: Array.from({ length: 2_000 }, (_, i) => `/boot/vmlinuz-${i} ${'x'.repeat(300)}`) }, ['sha256']);
  measureBoot(tpm, log);
  const policy = loadPolicy('apiVersion: vtpm-verify/v1\nname: cmdlines\nlayers:\n  - name: all\n    eventLog: { kernelCmdlines: { exact: ["/boot/vmlinuz root=/dev/sda1"] } }\n');
  await withServer(
    (_req, res, url) => {
      const r = parseEvidenceQuery(url.searchParams);
      const q = tpm.quote(r.nonce, r.pcrs);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [{ pem: cert.pem, der: cert.der }], eventLog: log.bytes })));
    },
    async (origin) => {
      const client = new EvidenceClient({ timeoutMs: 10_000 });
      try {
        const now = new Date();
        const target = `${origin}/host`;
        const r = (await walk({ target, topNonce: drawTopNonce(now, target), trust: akTrust, policy, policySource: { source: 'test', builtin: false }, at: now }, liveSource(client) as EvidenceSource)).result;
        assert.equal(r.verdict, 'not-trusted');
        assert.equal(r.error?.code, 'POLICY_KERNEL_CMDLINE');
        assert.equal((r.error?.details?.['actual'] as unknown[]).length, 20);
        assert.ok(JSON.stringify(r).length < 100_000, `result of ${JSON.stringify(r).length} bytes from a ${log.bytes.length}-byte log`);
      } finally {
        client.close();
      }
    },
  );
});
