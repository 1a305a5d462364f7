// A TPM quotes only the PCR banks it has allocated: asked for a bank it lacks,
// it leaves that bank out of the signed selection (TPM 2.0 Part 1, the PCR
// selection is filtered to the allocated banks). The walker asks every layer
// for sha256:0..23 plus the banks any rule set that could select the layer
// reads; a bank only a rule set for other layers reads (or a boot-application
// list of another bank) must not refuse a layer whose TPM lacks that bank,
// while a quote that leaves out PCRs of a bank it does carry is still refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SimCa } from '../../src/simulator/pki.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { FIRMWARE_PROFILES, firmwareLog, measureBoot } from '../../src/simulator/firmware.js';
import { serializeEvidence, type PcrSelection } from '../../src/transport/evidence.js';
import { attestServedLayer } from '../helpers/served-layer.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import type { AttestationResult } from '../../src/verify/result.js';
import type { HashName } from '../../src/tpm/constants.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const ca = SimCa.root('Unallocated banks AK CA', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
const trust = buildTrustStore([{ origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'ak-ca' }]).store;

function machine(seed: string, banks: HashName[]) {
  const tpm = SoftTpm.create({ seed, banks });
  const cert = ca.issueAk({ commonName: `${seed} AK`, publicKey: tpm.akPublicKey, serialLabel: seed });
  const firmware = firmwareLog(FIRMWARE_PROFILES.vm, tpm.banks);
  measureBoot(tpm, firmware);
  return { tpm, cert, firmware };
}

/** Attests one machine whose TPM, like a real one, quotes the banks asked for that it has (or `quoteOf` of what was asked). */
function attest(m: ReturnType<typeof machine>, policyText: string, quoteOf?: (asked: PcrSelection[]) => PcrSelection[]): Promise<AttestationResult> {
  return attestServedLayer(trust, policyText, (r) => {
    const allocated = r.pcrs.filter((s) => m.tpm.banks.includes(s.bank));
    const q = m.tpm.quote(r.nonce, quoteOf ? quoteOf(allocated) : allocated);
    return serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [{ pem: m.cert.pem, der: m.cert.der }], eventLog: m.firmware.bytes });
  });
}

const zeros = (n: number) => '00'.repeat(n);

test('a bank read only by a rule set for other machines does not refuse a TPM that lacks it', async () => {
  const m = machine('sha256-only', ['sha256']);
  const policy = `apiVersion: vtpm-verify/v1
name: two-generations
chain: { endAt: any }
layers:
  - name: current
    select: { certificate: { subject: "CN=sha256-only AK" } }
    eventLog: { required: true }
  - name: legacy
    select: { certificate: { subject: "CN=legacy-.*" } }
    pcrs: { sha1: { 0: ["${zeros(20)}"] } }
`;
  const r = await attest(m, policy);
  assert.equal(r.verdict, 'trusted', r.reason);
  assert.equal(r.layers[0]!.checks.find((c) => c.id === 'quote.pcr-request')?.status, 'pass');
});

test('a boot-application allow-list that also names a bank the TPM lacks still checks the bank it has', async () => {
  const m = machine('sha256-only-apps', ['sha256']);
  const apps = m.firmware.events.filter((e) => e.pcr === 4 && e.digests?.sha256).map((e) => Buffer.from(e.digests!.sha256!).toString('hex'));
  assert.ok(apps.length > 0);
  const policy = `apiVersion: vtpm-verify/v1
name: apps
chain: { endAt: any }
layers:
  - name: machine
    eventLog:
      required: true
      bootApplications: { allowed: { sha1: ["${zeros(20)}"], sha256: [${apps.map((a) => `"${a}"`).join(', ')}] } }
`;
  const r = await attest(m, policy);
  assert.equal(r.verdict, 'trusted', r.reason);
  // the rule that names the missing bank fails on its own when it cannot check: a forbidden list of SHA-1 digests
  const forbid = policy.replace('allowed:', 'forbidden:').replace(/sha256: \[[^\]]*\]/, `sha256: ["${zeros(32)}"]`);
  const f = await attest(m, forbid);
  assert.equal(f.verdict, 'not-trusted');
  assert.equal(f.error?.code, 'POLICY_BOOT_APP_FORBIDDEN');
});

test('a quote that carries a bank asked for but leaves some of its PCRs out is still refused', async () => {
  const m = machine('sha1-partial', ['sha1', 'sha256']);
  const policy = `apiVersion: vtpm-verify/v1
name: sha1-rule
chain: { endAt: any }
layers:
  - name: machine
    pcrs: { sha1: { 0: ["${zeros(20)}"], 8: ["${zeros(20)}"] } }
`;
  const r = await attest(m, policy, (asked) => asked.map((s) => (s.bank === 'sha1' ? { bank: 'sha1', pcrs: [0] } : s)));
  assert.equal(r.verdict, 'not-trusted');
  assert.equal(r.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH');
  assert.match(r.reason, /leaves out PCRs the challenger asked for: sha1:8\b/);
  // the sha256 bank every layer is asked for is never optional
  const s = await attest(m, policy, (asked) => asked.filter((x) => x.bank !== 'sha256'));
  assert.equal(s.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH');
});
