// A real TPM at the bottom of a deep attestation: the physical layer's
// evidence comes from swtpm + tpm2-tools (a real TPM2_Quote over the chained
// nonce, and a real vplatformLog extended into PCR 23 with tpm2_pcrextend),
// under a simulated VM layer whose vTPM AK certificate points at it. The
// walker attests both over HTTP on 127.0.0.1 and trusts the chain; a replayed
// (stale) physical quote fails the nonce chain on the physical layer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { SimCa } from '../../src/simulator/pki.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { vplatformEntryDigest } from '../../src/verify/vplatform.js';
import { parseEvidenceQuery, serializeEvidence, type LayerEvidence } from '../../src/transport/evidence.js';
import { parseSerializedPcrs } from '../../src/tpm/pcr-formats.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import { ValidationCache } from '../../src/x509/cache.js';
import { toHex } from '../../src/util/bytes.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

type Handler = (query: URLSearchParams) => LayerEvidence;

function serve(handlers: Map<string, Handler>): Promise<{ server: Server; origin: string }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const name = url.pathname.replace(/\/v1\/evidence$/, '');
      const handler = handlers.get(name);
      if (!handler || !url.pathname.endsWith('/v1/evidence')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such layer"}');
        return;
      }
      try {
        const body = JSON.stringify(serializeEvidence(handler(url.searchParams)));
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      } catch (err) {
        res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: String(err) }));
      }
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, origin: `http://127.0.0.1:${(server.address() as { port: number }).port}` }));
  });
}

test('deep attestation with swtpm at the bottom: a real quote over the chained nonce and a real PCR 23 vPlatform table', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  let http: { server: Server; origin: string } | undefined;
  try {
    // The physical TPM's AK: a restricted ECDSA P-256 signing key under the endorsement hierarchy.
    tpm.must('tpm2_createprimary', ['-C', 'e', '-g', 'sha256', '-G', 'ecc256', '-c', tpm.path('primary.ctx')]);
    tpm.must('tpm2_create', ['-C', tpm.path('primary.ctx'), '-g', 'sha256', '-G', 'ecc256:ecdsa-sha256:null', '-u', tpm.path('ak.pub'), '-r', tpm.path('ak.priv'), '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign']);
    tpm.must('tpm2_load', ['-C', tpm.path('primary.ctx'), '-u', tpm.path('ak.pub'), '-r', tpm.path('ak.priv'), '-c', tpm.path('ak.ctx')]);
    tpm.must('tpm2_readpublic', ['-c', tpm.path('ak.ctx'), '-f', 'pem', '-o', tpm.path('ak.pem')]);
    const akKey = createPublicKey(readFileSync(tpm.path('ak.pem')));

    // PKI: a physical AK CA certifies the swtpm AK (kind physical); a vPlatform root with a per-host CA certifies the VM's vTPM AK.
    const caKey = () => freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey;
    const physicalCa = SimCa.root('Test physical TPM AK CA', caKey());
    const vplatformRoot = SimCa.root('Test vPlatform root', caKey());
    const hostCa = vplatformRoot.issueCa('swtpm host vPlatform CA', caKey());
    const hostCert = physicalCa.issueAk({ commonName: 'swtpm host AK', publicKey: akKey, layer: { kind: 'physical' }, serialLabel: 'host' });

    const vm = SoftTpm.create({ seed: 'vm-on-swtpm' });
    const handlers = new Map<string, Handler>();
    http = await serve(handlers);
    const hostUrl = `${http.origin}/host`;
    const vmCert = hostCa.issueAk({
      commonName: 'vm AK',
      publicKey: vm.akPublicKey,
      layer: { kind: 'virtual', instanceId: vm.instanceId, deepAttestation: hostUrl },
      serialLabel: 'vm',
    });

    // The host's vPlatform table, extended into the real TPM's PCR 23 entry by entry.
    const vplatformLog = [
      { pcr: 23 as const, op: 'issuer' as const, certificate: hostCa.certificate.sha256 },
      { pcr: 23 as const, op: 'create' as const, instance: Buffer.from(vm.instanceId).toString('hex'), vm: 'vm-on-swtpm' },
    ];
    for (const e of vplatformLog) {
      const id = Buffer.from(e.op === 'issuer' ? e.certificate : e.instance, 'hex');
      tpm.must('tpm2_pcrextend', [`23:sha256=${vplatformEntryDigest(e.op, id).toString('hex')}`]);
    }

    let staleNonce: string | undefined;
    for (const [name, handler] of [
      [
        '/vm',
        (query) => {
          const req = parseEvidenceQuery(query);
          const q = vm.quote(req.nonce, req.pcrs);
          return { version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [vmCert, ...hostCa.intermediates()].map((c) => ({ pem: c.pem, der: c.der })) };
        },
      ],
      [
        '/host',
        (query) => {
          const req = parseEvidenceQuery(query);
          const selection = req.pcrs.map((p) => `${p.bank}:${p.pcrs.join(',')}`).join('+');
          const nonce = staleNonce ?? toHex(req.nonce);
          tpm.must('tpm2_quote', ['-c', tpm.path('ak.ctx'), '-l', selection, '-q', nonce, '-g', 'sha256', '-m', tpm.path('q.msg'), '-s', tpm.path('q.sig'), '-o', tpm.path('q.pcrs')], { flush: false });
          return {
            version: 1,
            quote: { message: readFileSync(tpm.path('q.msg')), signature: readFileSync(tpm.path('q.sig')) },
            unverifiedPcrs: parseSerializedPcrs(readFileSync(tpm.path('q.pcrs'))).values,
            certificates: [{ pem: hostCert.pem, der: hostCert.der }],
            vplatformLog,
          };
        },
      ],
    ] as [string, Handler][]) handlers.set(name, handler);

    const cache = new ValidationCache();
    const built = buildTrustStore(
      [
        { origin: 'physical-ak-ca.pem', bytes: Buffer.from(physicalCa.certificate.pem), role: 'anchor', label: 'ak-ca' },
        { origin: 'vplatform-root.pem', bytes: Buffer.from(vplatformRoot.certificate.pem), role: 'anchor', label: 'vplatform-ca' },
      ],
      cache,
    );
    const attest = async () => {
      const client = new EvidenceClient({ timeoutMs: 20_000 });
      try {
        const now = new Date();
        return (
          await walk(
            { target: `${http!.origin}/vm`, topNonce: drawTopNonce(now, `${http!.origin}/vm`), trust: built.store, cache, policy: baselinePolicy(), policySource: { source: 'built-in baseline', builtin: true }, at: now },
            liveSource(client) as EvidenceSource,
          )
        ).result;
      } finally {
        client.close();
      }
    };

    const r = await attest();
    assert.equal(r.verdict, 'trusted', r.reason);
    assert.deepEqual(r.layers.map((l) => [l.kind, l.status]), [['virtual', 'trusted'], ['physical', 'trusted']]);
    const host = r.layers[1]!;
    assert.equal(host.akKeyId, hash('sha256', akKey.export({ type: 'spki', format: 'der' }), 'hex'), 'the physical layer quoted with the swtpm AK');
    assert.equal(host.hostedInstanceCount, 1, 'the physical table hosts the one VM');
    assert.match(host.checks.find((c) => c.id === 'binding.hosted-instance')?.message ?? '', new RegExp(toHex(vm.instanceId).slice(0, 16)), 'the binding check names the hosted VM');
    for (const id of ['quote.signature', 'quote.nonce', 'quote.pcr-digest', 'vplatform.replay', 'binding.nonce-chain', 'binding.hosted-instance', 'binding.issuer']) {
      assert.equal(host.checks.find((c) => c.id === id)?.status, 'pass', id);
    }

    // A replayed physical quote (its nonce fixed, not chained from this VM quote) fails the nonce chain there.
    staleNonce = '00'.repeat(32);
    const replayed = await attest();
    assert.equal(replayed.verdict, 'not-trusted');
    assert.equal(replayed.layers[0]!.status, 'trusted');
    assert.equal(replayed.layers[1]!.status, 'not-trusted');
    assert.equal(replayed.error?.code, 'QUOTE_NONCE_MISMATCH');
  } finally {
    http?.server.close();
    await tpm.stop();
  }
});
