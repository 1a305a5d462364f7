// One EC key, three encodings: SEC 1 allows a point uncompressed (04 || X || Y),
// compressed (02/03 || X) and hybrid (06/07 || X || Y), and node imports each as
// the same key. What the walker, an audit's register of keys and the state store
// call "the same AK" must be the key, not the bytes a certificate chose: a
// compromised host whose per-host CA certifies a healthy VM's key again, compressed,
// under one of its own instance ids, relays that VM's quotes as its own VM, and the
// audit, which looks for two VMs answering with one key, saw two keys.
// Real HTTP servers on 127.0.0.1 serve every layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ECDH, hash, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { SimCa, encodeName, encodeTbs, extension, nodeSigner, serialFor, signTbs } from '../../src/simulator/pki.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { oid, sequence, tlv } from '../../src/simulator/der.js';
import { OID } from '../../src/x509/oids.js';
import { encodeTrustedLayerExtension } from '../../src/x509/trusted-layer-encode.js';
import type { TrustedLayerValue } from '../../src/x509/trusted-layer.js';
import { parseEvidenceQuery, serializeEvidence } from '../../src/transport/evidence.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource, type WalkOptions } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { vplatformEntryDigest } from '../../src/verify/vplatform.js';
import { attestationKeyId } from '../../src/verify/ak.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import { TopInstanceRegistry } from '../../src/audit/instances.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const ec = (): KeyObject => freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
const vplatformRoot = SimCa.root('Key encoding test vPlatform root', ec());
const physicalCa = SimCa.root('Key encoding test physical AK CA', ec());
const trust = buildTrustStore([
  { origin: 'vplatform.pem', bytes: Buffer.from(vplatformRoot.certificate.pem), role: 'anchor', label: 'vplatform-ca' },
  { origin: 'physical.pem', bytes: Buffer.from(physicalCa.certificate.pem), role: 'anchor', label: 'ak-ca' },
]).store;

const P256_HEADER = Buffer.from('301306072a8648ce3d020106082a8648ce3d030107', 'hex');

/** The P-256 SubjectPublicKeyInfo of `key` with its point written uncompressed, compressed or hybrid. */
function spkiIn(key: KeyObject, form: 'uncompressed' | 'compressed' | 'hybrid'): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
  const bits = Buffer.concat([Buffer.from([0x00]), ECDH.convertKey(point, 'prime256v1', undefined, undefined, form) as Buffer]);
  return sequence(P256_HEADER, tlv(0x03, bits));
}

interface Cert {
  pem: string;
  der: Buffer;
}

function akCertificate(ca: SimCa, spki: Buffer, layer: TrustedLayerValue, label: string): Cert {
  const tbs = encodeTbs({
    serial: serialFor(`key-encoding/${label}`),
    issuerName: ca.nameDer,
    subjectName: encodeName([['CN', `${label} AK`]]),
    spki,
    extensions: [
      extension(OID.basicConstraints, true, sequence()),
      extension(OID.extKeyUsage, false, sequence(oid(OID.tcgKpAikCertificate))),
      extension(OID.authorityKeyIdentifier, false, sequence(tlv(0x80, ca.keyId))),
      Buffer.from(encodeTrustedLayerExtension(layer)),
    ],
  });
  const der = signTbs(tbs, nodeSigner(ca.key));
  return { der, pem: `-----BEGIN CERTIFICATE-----\n${der.toString('base64')}\n-----END CERTIFICATE-----\n` };
}

/** A layer: quotes with `tpm` what it is asked, sends `certs` and (a hosting layer) its vPlatform table. */
interface Layer {
  tpm: SoftTpm;
  certs: Cert[];
  table?: Array<{ pcr: 23; op: string; instance?: string; certificate?: string }>;
}

/** The vPlatform table of a host recording `issuer` and creating `guests`, extended into its TPM's PCR 23. */
function hosting(tpm: SoftTpm, issuer: SimCa, guests: string[]): Layer['table'] {
  tpm.extend('sha256', 23, vplatformEntryDigest('issuer', issuer.certificate.sha256));
  for (const instance of guests) tpm.extend('sha256', 23, vplatformEntryDigest('create', instance));
  return [{ pcr: 23, op: 'issuer', certificate: issuer.certificate.sha256 }, ...guests.map((instance) => ({ pcr: 23 as const, op: 'create', instance }))];
}

async function withLayers(make: (origin: string) => Record<string, Layer>, fn: (origin: string, hits: string[]) => Promise<void>): Promise<void> {
  const hits: string[] = [];
  let layers: Record<string, Layer> = {};
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    hits.push(url.pathname);
    const layer = layers[url.pathname.split('/')[1]!];
    if (!layer) return void res.writeHead(404).end('{}');
    const r = parseEvidenceQuery(url.searchParams);
    const q = layer.tpm.quote(r.nonce, r.pcrs);
    const body = { ...serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: layer.certs }), ...(layer.table ? { vplatformLog: layer.table } : {}) };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  layers = make(origin);
  try {
    await fn(origin, hits);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

async function attest(target: string, extra: Partial<WalkOptions> = {}): Promise<AttestationResult> {
  const client = new EvidenceClient({ timeoutMs: 3_000 });
  try {
    const now = new Date();
    return (await walk({ target, topNonce: drawTopNonce(now, target), trust, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now, ...extra }, liveSource(client) as EvidenceSource)).result;
  } finally {
    client.close();
  }
}

test('attestationKeyId: one EC key in any encoding is one id, the hash of its standard (uncompressed) SubjectPublicKeyInfo', async () => {
  const { createPublicKey } = await import('node:crypto');
  const key = createPublicKey(ec());
  const standard = hash('sha256', spkiIn(key, 'uncompressed'), 'hex');
  for (const form of ['uncompressed', 'compressed', 'hybrid'] as const) {
    const imported = createPublicKey({ key: spkiIn(key, form), format: 'der', type: 'spki' });
    assert.equal(attestationKeyId(imported), standard, form);
  }
  assert.notEqual(attestationKeyId(createPublicKey(ec())), standard);
  // P-384 too; an RSA key is its standard SPKI (rsaEncryption, NULL parameters), as node writes it
  const p384 = createPublicKey(freshKeyPair('ec', { namedCurve: 'P-384' }).privateKey);
  assert.equal(attestationKeyId(p384), hash('sha256', p384.export({ type: 'spki', format: 'der' }), 'hex'));
  const rsa = createPublicKey(freshKeyPair('rsa', { modulusLength: 2048 }).privateKey);
  assert.equal(attestationKeyId(rsa), hash('sha256', rsa.export({ type: 'spki', format: 'der' }), 'hex'));
});

test('a host certifying a healthy VM\'s key again, compressed or hybrid, under its own instance id and relaying that VM: the audit sees one key answer twice (AUDIT_DUPLICATE_INSTANCE)', async () => {
  const relayInstance = Buffer.alloc(32, 0x52);
  for (const form of ['compressed', 'hybrid', 'uncompressed'] as const) {
    // a healthy VM on an honest host; a compromised host (genuine TPM and AK certificate) hosting the relay's instance
    const vm = SoftTpm.create({ seed: `key-encoding-vm-${form}` });
    const host = SoftTpm.create({ seed: `key-encoding-host-${form}` });
    const evilHost = SoftTpm.create({ seed: `key-encoding-evil-host-${form}` });
    const hostCa = vplatformRoot.issueCa(`key-encoding host vPlatform CA ${form}`, ec());
    const evilCa = vplatformRoot.issueCa(`key-encoding evil host vPlatform CA ${form}`, ec());
    const hostTable = hosting(host, hostCa, [vm.instanceIdHex]);
    const evilTable = hosting(evilHost, evilCa, [relayInstance.toString('hex')]);
    await withLayers(
      (origin) => ({
        vm: { tpm: vm, certs: [akCertificate(hostCa, spkiIn(vm.akPublicKey, 'uncompressed'), { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/host` }, `vm-${form}`), hostCa.certificate] },
        host: { tpm: host, certs: [physicalCa.issueAk({ commonName: 'host', publicKey: host.akPublicKey, serialLabel: `key-encoding-host-${form}`, layer: { kind: 'physical' } })], table: hostTable },
        // the relay: the healthy VM's own quotes, under a certificate the compromised host made for its key
        relay: { tpm: vm, certs: [akCertificate(evilCa, spkiIn(vm.akPublicKey, form), { kind: 'virtual', instanceId: relayInstance, deepAttestation: `${origin}/evil-host` }, `relay-${form}`), evilCa.certificate] },
        'evil-host': { tpm: evilHost, certs: [physicalCa.issueAk({ commonName: 'evil host', publicKey: evilHost.akPublicKey, serialLabel: `key-encoding-evil-host-${form}`, layer: { kind: 'physical' } })], table: evilTable },
      }),
      async (origin, hits) => {
        const registry = new TopInstanceRegistry([
          { key: 'healthy', url: `${origin}/vm` },
          { key: 'relayed', url: `${origin}/relay` },
        ]);
        const healthy = await attest(`${origin}/vm`, { claimTopInstance: (c) => registry.claim(0, c) });
        assert.equal(healthy.verdict, 'trusted', `${form}: ${healthy.reason}`);
        const relayed = await attest(`${origin}/relay`, { claimTopInstance: (c) => registry.claim(1, c) });
        // every check of the relayed walk but the register's passes: genuine fresh quotes, a host that hosts the id
        assert.deepEqual(hits, ['/vm/v1/evidence', '/host/v1/evidence', '/relay/v1/evidence', '/evil-host/v1/evidence']);
        assert.equal(relayed.layers[1]!.status, 'trusted', form);
        assert.equal(relayed.layers[0]!.akKeyId, healthy.layers[0]!.akKeyId, `${form}: one key, one id`);
        assert.equal(relayed.verdict, 'not-trusted', form);
        assert.equal(relayed.layers[0]!.checks.find((c) => c.id === 'audit.unique-instance')?.code, 'AUDIT_DUPLICATE_INSTANCE', form);
      },
    );
  }
});

test('a lower layer quoting with the upper layer\'s key under a certificate that encodes it compressed: still WALK_LOOP', async () => {
  const vm = SoftTpm.create({ seed: 'key-encoding-loop-vm' });
  const ca = vplatformRoot.issueCa('key-encoding loop vPlatform CA', ec());
  await withLayers(
    (origin) => ({
      vm: { tpm: vm, certs: [akCertificate(ca, spkiIn(vm.akPublicKey, 'uncompressed'), { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: `${origin}/below` }, 'loop-vm'), ca.certificate] },
      below: { tpm: vm, certs: [akCertificate(ca, spkiIn(vm.akPublicKey, 'compressed'), { kind: 'virtual', instanceId: Buffer.alloc(32, 0x42), deepAttestation: `${origin}/further` }, 'loop-below'), ca.certificate], table: hosting(vm, ca, [vm.instanceIdHex]) },
    }),
    async (origin, hits) => {
      const r = await attest(`${origin}/vm`);
      assert.equal(r.verdict, 'not-trusted');
      assert.equal(r.error?.code, 'WALK_LOOP');
      assert.match(r.error?.message ?? '', /same AK as a layer above/);
      assert.deepEqual(hits, ['/vm/v1/evidence', '/below/v1/evidence']);
    },
  );
});

test('a VM certified under its own VMM\'s instance id, the VMM hosting it: WALK_LOOP at the VMM (no platform hosts itself); with distinct ids the same chain is trusted', async () => {
  const vm = SoftTpm.create({ seed: 'instance-loop-vm' });
  const vmm = SoftTpm.create({ seed: 'instance-loop-vmm' });
  const vmmCa = vplatformRoot.issueCa('instance-loop VMM vPlatform CA', ec());
  const hostCa = vplatformRoot.issueCa('instance-loop host vPlatform CA', ec());
  for (const sameId of [false, true]) {
    const vmInstance = sameId ? vmm.instanceId : vm.instanceId;
    const vmmTpm = SoftTpm.create({ seed: `instance-loop-vmm-tpm-${sameId}` });
    const hostTpm = SoftTpm.create({ seed: `instance-loop-host-tpm-${sameId}` });
    await withLayers(
      (origin) => ({
        vm: { tpm: vm, certs: [akCertificate(vmmCa, spkiIn(vm.akPublicKey, 'uncompressed'), { kind: 'virtual', instanceId: vmInstance, deepAttestation: `${origin}/vmm` }, `instance-loop-vm-${sameId}`), vmmCa.certificate] },
        vmm: {
          tpm: vmmTpm,
          certs: [akCertificate(hostCa, spkiIn(vmmTpm.akPublicKey, 'uncompressed'), { kind: 'virtual', instanceId: vmm.instanceId, deepAttestation: `${origin}/host` }, `instance-loop-vmm-${sameId}`), hostCa.certificate],
          table: hosting(vmmTpm, vmmCa, [Buffer.from(vmInstance).toString('hex')]),
        },
        host: { tpm: hostTpm, certs: [physicalCa.issueAk({ commonName: 'instance-loop host', publicKey: hostTpm.akPublicKey, serialLabel: `instance-loop-host-${sameId}`, layer: { kind: 'physical' } })], table: hosting(hostTpm, hostCa, [vmm.instanceIdHex]) },
      }),
      async (origin) => {
        const r = await attest(`${origin}/vm`);
        if (!sameId) {
          assert.equal(r.verdict, 'trusted', r.reason);
          return;
        }
        assert.equal(r.verdict, 'not-trusted');
        assert.equal(r.error?.code, 'WALK_LOOP');
        assert.match(r.error?.message ?? '', /layer 1 is certified as vTPM instance [0-9a-f]{16}…, as layer 0 above it is/);
      },
    );
  }
});
