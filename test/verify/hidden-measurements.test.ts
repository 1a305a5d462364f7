// An attester with root on its machine hides what was really measured by
// sending logs that do not touch the PCR it went into, and showing instead
// what the policy allows, measured into a PCR it extended itself from the
// running OS: an IMA list whose entries claim PCR 14 (while the malware sits
// in PCR 10), and an event log without GRUB's PCR 8 events that brings a
// systemd-boot command line in PCR 12. Each is a real HTTP server on
// 127.0.0.1 serving genuine soft-TPM quotes; the honest logs are refused by
// the policy, and so must the doctored ones be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hash } from 'node:crypto';
import { SimCa } from '../../src/simulator/pki.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { ImaMeasurementList, imaNgTemplateData } from '../../src/simulator/ima.js';
import { FIRMWARE_PROFILES, firmwareLog, measureBoot, simFileContent } from '../../src/simulator/firmware.js';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import { EV } from '../../src/eventlog/event-types.js';
import { serializeEvidence, type PcrSelection } from '../../src/transport/evidence.js';
import { attestServedLayer } from '../helpers/served-layer.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

const ca = SimCa.root('Hidden measurements AK CA', freshKeyPair('ec', { namedCurve: 'P-256' }).privateKey);
const trust = buildTrustStore([{ origin: 'root.pem', bytes: Buffer.from(ca.certificate.pem), role: 'anchor', label: 'ak-ca' }]).store;

const EVIL_CMDLINE = 'root=/dev/vda2 ro init=/bin/sh';
const GOOD_CMDLINE = 'root=/dev/vda2 ro quiet';
const bashDigest = hash('sha256', simFileContent('/usr/bin/bash'), 'hex');
const evilDigest = hash('sha256', Buffer.from('malware'), 'hex');

/** One machine without a TrustedLayer extension (the walk ends there): booted with EVIL_CMDLINE, ran /tmp/evil. */
function machine(seed: string, opts: { imaMeasures?: boolean } = {}) {
  const tpm = SoftTpm.create({ seed });
  const cert = ca.issueAk({ commonName: `${seed} AK`, publicKey: tpm.akPublicKey, serialLabel: seed });
  const firmware = firmwareLog({ ...FIRMWARE_PROFILES.vm, kernelCmdline: `/boot/vmlinuz ${EVIL_CMDLINE}`, grubCommands: [] }, tpm.banks);
  measureBoot(tpm, firmware);
  // without IMA, the list is made on another TPM: this one's PCR 10 stays at its initial value
  const ima = new ImaMeasurementList(opts.imaMeasures === false ? SoftTpm.create({ seed: `${seed}-elsewhere` }) : tpm);
  ima.addBootAggregate();
  ima.measureFile('/usr/bin/bash', simFileContent('/usr/bin/bash'));
  ima.measureFile('/tmp/evil', Buffer.from('malware'));
  return { tpm, cert, firmware, ima, bootAggregate: ima.entries[0]!.fileDigest.toString('hex') };
}

function attest(m: ReturnType<typeof machine>, logs: { eventLog: Buffer; imaLog: string }, policyText: string, selection?: PcrSelection[]): Promise<AttestationResult> {
  return attestServedLayer(trust, policyText, (r) => {
    // the attester quotes what it likes (the walker then refuses a quote that leaves out PCRs asked for)
    const q = m.tpm.quote(r.nonce, selection ?? r.pcrs);
    return serializeEvidence({ version: 1, quote: { message: q.message, signature: q.signature }, unverifiedPcrs: q.pcrs, certificates: [{ pem: m.cert.pem, der: m.cert.der }], eventLog: logs.eventLog, imaLog: logs.imaLog });
  });
}

test('an IMA list whose entries claim another PCR than 10 does not hide what IMA measured into PCR 10', async () => {
  const m = machine('hidden-ima');
  const policy = `apiVersion: vtpm-verify/v1
name: ima-strict
chain: { endAt: any }
layers:
  - name: machine
    ima:
      required: true
      allowList: { "/usr/bin/bash": ["${bashDigest}"], "boot_aggregate": ["${m.bootAggregate}"] }
      denied: ["${evilDigest}"]
`;
  const honest = await attest(m, { eventLog: m.firmware.bytes, imaLog: m.ima.toText() }, policy);
  assert.equal(honest.verdict, 'not-trusted');
  assert.equal(honest.error?.code, 'POLICY_IMA_UNKNOWN_FILE');

  // the benign entry alone, claimed into PCR 14, which root extends with its template digest in every bank
  const data = imaNgTemplateData('sha256', Buffer.from(bashDigest, 'hex'), '/usr/bin/bash');
  for (const bank of m.tpm.banks) m.tpm.extend(bank, 14, hash(bank, data, 'buffer'));
  const doctored = await attest(m, { eventLog: m.firmware.bytes, imaLog: `14 ${hash('sha1', data, 'hex')} ima-ng sha256:${bashDigest} /usr/bin/bash\n` }, policy);
  assert.equal(doctored.verdict, 'not-trusted', doctored.reason);
  assert.equal(doctored.error?.code, 'IMA_REPLAY_MISMATCH');
  assert.match(doctored.reason, /PCR 10: the IMA list has no entry for it/);
  const rules = doctored.layers[0]!.rules ?? [];
  for (const id of ['layer[0].ima.required', 'layer[0].ima.allowList', 'layer[0].ima.denied']) assert.equal(rules.find((r) => r.id === id)?.status, 'fail', id);
});

test('an IMA list claimed into another PCR on a machine whose IMA measured nothing (PCR 10 at its initial value) does not pass ima.required', async () => {
  const m = machine('no-ima', { imaMeasures: false });
  const policy = `apiVersion: vtpm-verify/v1
name: ima-required
chain: { endAt: any }
layers:
  - name: machine
    ima:
      required: true
      allowList: { "/usr/bin/bash": ["${bashDigest}"] }
`;
  const data = imaNgTemplateData('sha256', Buffer.from(bashDigest, 'hex'), '/usr/bin/bash');
  for (const bank of m.tpm.banks) m.tpm.extend(bank, 14, hash(bank, data, 'buffer'));
  const r = await attest(m, { eventLog: m.firmware.bytes, imaLog: `14 ${hash('sha1', data, 'hex')} ima-ng sha256:${bashDigest} /usr/bin/bash\n` }, policy);
  assert.equal(r.verdict, 'not-trusted', r.reason);
  assert.equal(r.error?.code, 'IMA_REPLAY_MISMATCH');
  assert.match(r.reason, /IMA measured nothing into it/);
  assert.equal(r.layers[0]!.rules?.find((x) => x.id === 'layer[0].ima.required')?.status, 'fail');
});

test('an event log without GRUB\'s PCR 8 events and with a PCR 12 command line extended from the OS does not pass a command-line rule', async () => {
  const m = machine('hidden-cmdline');
  const policy = `apiVersion: vtpm-verify/v1
name: cmdline-strict
chain: { endAt: any }
layers:
  - name: machine
    eventLog:
      required: true
      kernelCmdlines: { exact: ["${GOOD_CMDLINE}"] }
`;
  const honest = await attest(m, { eventLog: m.firmware.bytes, imaLog: m.ima.toText() }, policy);
  assert.equal(honest.verdict, 'not-trusted');
  assert.match(honest.reason, /kernel command line not allowed: .*init=\/bin\/sh/);

  const w = new EventLogWriter({ banks: m.tpm.banks });
  for (const e of m.firmware.events) if (e.pcr !== 8) w.add(e);
  const text = Buffer.from(`${GOOD_CMDLINE}\0`, 'utf16le');
  const digests = Object.fromEntries(m.tpm.banks.map((bank) => [bank, hash(bank, text, 'buffer')]));
  for (const bank of m.tpm.banks) m.tpm.extend(bank, 12, digests[bank]!);
  w.add({ pcr: 12, type: EV.IPL, data: text, digests });
  const doctored = await attest(m, { eventLog: w.toBytes(), imaLog: m.ima.toText() }, policy);
  assert.equal(doctored.verdict, 'not-trusted', doctored.reason);
  assert.equal(doctored.error?.code, 'POLICY_KERNEL_CMDLINE');
  assert.match(doctored.reason, /does not account for PCR 8/);
  assert.equal(doctored.layers[0]!.rules?.find((r) => r.id === 'layer[0].eventLog.required')?.status, 'pass');
});

test('a quote covering PCR 4 only in a bank the event log does not carry does not let a forbidden boot application pass', async () => {
  const m = machine('hidden-boot-app');
  const shim = Buffer.from(m.firmware.events.find((e) => e.pcr === 4 && e.digests !== undefined)!.digests!.sha256!).toString('hex');
  const policy = `apiVersion: vtpm-verify/v1
name: forbid
chain: { endAt: any }
layers:
  - name: machine
    eventLog:
      required: true
      bootApplications: { forbidden: { sha256: ["${shim}"] } }
`;
  const honest = await attest(m, { eventLog: m.firmware.bytes, imaLog: m.ima.toText() }, policy);
  assert.equal(honest.error?.code, 'POLICY_BOOT_APP_FORBIDDEN');
  assert.match(honest.reason, /1 forbidden boot application/);

  // the same events with their SHA-256 digests only, and a quote of SHA-1 PCR 4 and every SHA-256 PCR but 4
  const w = new EventLogWriter({ banks: ['sha256'] });
  for (const e of m.firmware.events) w.add(e.digests ? { ...e, digests: { sha256: e.digests.sha256! } } : e);
  const sha256Pcrs = Array.from({ length: 24 }, (_, i) => i).filter((i) => i !== 4);
  const doctored = await attest(m, { eventLog: w.toBytes(), imaLog: m.ima.toText() }, policy, [{ bank: 'sha1', pcrs: [4] }, { bank: 'sha256', pcrs: sha256Pcrs }]);
  assert.equal(doctored.verdict, 'not-trusted', doctored.reason);
  // the walker asked for every SHA-256 PCR: a quote leaving one out is not taken, before any rule
  // (the rule's own defence, for evidence checked against another request, is in test/policy/evaluate-eventlog.test.ts)
  assert.equal(doctored.error?.code, 'QUOTE_PCR_SELECTION_MISMATCH');
  assert.match(doctored.reason, /leaves out PCRs the challenger asked for: sha256:4\b/);
});
