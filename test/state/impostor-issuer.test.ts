// An impostor vTPM certified by another host's per-host vPlatform CA under a
// victim's instance id, walked first through the victim's own (genuine) host:
// that host hosts the instance but does not record the impostor's CA, so the
// walk fails its issuer binding. It must not count as hosting evidence: counted,
// the impostor's key became the instance's own ("re-keyed in place"), and the
// same key then claimed the instance on its own host trusted, without
// CLONE_AK_CONFLICT. Real simulator over HTTP on 127.0.0.1, a real SQLite file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';

import { startSimulator } from '../../src/simulator/start.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { parseEvidenceQuery, serializeEvidence } from '../../src/transport/evidence.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import { liveSource } from '../../src/transport/layer-source.js';
import { walk, type EvidenceSource } from '../../src/verify/walker.js';
import { drawTopNonce } from '../../src/verify/nonce-chain.js';
import { baselinePolicy } from '../../src/policy/index.js';
import { loadTrustStore } from '../../src/cli/trust-files.js';
import { openState } from '../../src/state/index.js';
import { stateAssessor } from '../../src/state/assess.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { tempDir } from './tmp.js';

test('an impostor key walked through the victim\'s host with a foreign issuer (VPLATFORM_ISSUER_NOT_RECORDED) does not become the instance\'s own: on its own host it is CLONE_AK_CONFLICT, not trusted', { timeout: 60_000 }, async (t) => {
  const sim = await startSimulator({ topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 1 } });
  t.after(() => sim.close());
  const store = await openState(join(tempDir(t), 'state.db'));
  t.after(() => store.close());
  const { store: trust } = loadTrustStore([sim.trustDir]);
  const victim = sim.platform.layer('vm-0001');
  const vmmA = sim.platform.layer('vmm-001');
  const vmmB = sim.platform.layer('vmm-002');
  const caB = vmmB.issuingCa!;

  // the impostor: a vTPM of host 2, its AK certified by host 2's per-host CA under the victim's instance id
  const impostor = SoftTpm.create({ seed: 'impostor-vtpm' });
  let below = vmmA.url;
  const server: Server = createServer((req, res) => {
    const r = parseEvidenceQuery(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams);
    const cert = caB.issueAk({ commonName: 'impostor AK', publicKey: impostor.akPublicKey, serialLabel: `impostor-${below}`, layer: { kind: 'virtual', instanceId: victim.instanceId, deepAttestation: below } });
    const q = impostor.quote(r.nonce, r.pcrs);
    const certificates = [cert, ...caB.intermediates()].map((c) => ({ pem: c.pem, der: c.der }));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates })));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  const impostorUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/vm`;

  const client = new EvidenceClient({ timeoutMs: 5_000 });
  t.after(() => client.close());
  const attest = async (target: string): Promise<AttestationResult> => {
    const now = new Date();
    const assess = stateAssessor(store, { target, time: now.getTime() });
    return (await walk({ target, topNonce: drawTopNonce(now, target), trust, policy: baselinePolicy(), policySource: { source: 'baseline', builtin: true }, at: now, assess }, liveSource(client) as EvidenceSource)).result;
  };
  const stateCodes = (r: AttestationResult) => (r.findings ?? []).map((f) => f.code);

  // the genuine VM on host 1: its key is the instance's own
  const genuine = await attest(victim.url);
  assert.equal(genuine.verdict, 'trusted', genuine.reason);
  assert.deepEqual(store.instanceKeys(victim.instanceIdHex), [genuine.layers[0]!.akKeyId]);

  // the impostor sends the walk to host 1's VMM, which hosts the instance but records only host 1's CA
  const through = await attest(impostorUrl);
  assert.equal(through.verdict, 'not-trusted');
  assert.equal(through.layers[1]!.checks.find((c) => c.id === 'binding.issuer')?.code, 'VPLATFORM_ISSUER_NOT_RECORDED');
  assert.equal(through.layers[1]!.checks.find((c) => c.id === 'binding.hosted-instance')?.status, 'pass');
  assert.deepEqual(store.instanceKeys(victim.instanceIdHex), [genuine.layers[0]!.akKeyId], 'the impostor\'s key is not the instance\'s own');

  // then on host 2, whose VMM records host 2's CA and "hosts" the victim's instance: another vTPM claims it
  vmmB.record('create', victim.instanceId, 'impostor');
  below = vmmB.url;
  const elsewhere = await attest(impostorUrl);
  assert.deepEqual(stateCodes(elsewhere), ['CLONE_AK_CONFLICT']);
  assert.equal(elsewhere.verdict, 'not-trusted');
  assert.equal(elsewhere.layers[0]!.error?.code, 'POLICY_CLONE');

  // the genuine VM is not framed
  const again = await attest(victim.url);
  assert.equal(again.verdict, 'trusted', again.reason);
  assert.deepEqual(stateCodes(again), []);
});
