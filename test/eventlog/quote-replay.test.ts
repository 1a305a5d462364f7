// Replay against verified quote PCRs: real corpus quotes (their signatures
// verify, expected/quote_checks.json), and what happens when the log lies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayAgainstQuote } from '../../src/eventlog/quote-replay.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import { extractBootFacts } from '../../src/eventlog/facts.js';
import { withInjectedActions } from '../../src/eventlog/workarounds.js';
import { EventLogWriter, encodeVariableData } from '../../src/eventlog/writer.js';
import { EV } from '../../src/eventlog/event-types.js';
import { GUID } from '../../src/eventlog/decode/guid.js';
import { EVENTLOG_CAPS } from '../../src/eventlog/caps.js';
import type { PcrValues } from '../../src/tpm/pcrs.js';
import type { UnverifiedEventLog } from '../../src/eventlog/types.js';
import { corpusPath } from '../helpers/paths.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import { parseImaList } from '../../src/eventlog/ima/parse.js';
import { replayIma } from '../../src/eventlog/ima/replay.js';
import { quotedPcrs, recordedPcrs } from './corpus.js';

function logFrom(t: Parameters<typeof corpusPath>[0], name: string): UnverifiedEventLog | undefined {
  const p = corpusPath(t, 'eventlogs', name);
  return p ? parseEventLog(readFileSync(p)) : undefined;
}

function only(values: PcrValues, bank: 'sha1' | 'sha256' | 'sha384', pcrs?: number[]): PcrValues {
  const b = values.get(bank)!;
  return new Map([[bank, new Map([...b].filter(([i]) => !pcrs || pcrs.includes(i)))]]);
}

for (const [set, file, banks] of [
  ['gotpmtools_gce-cos-85-no-nonce', 'gotpmtools_gce-cos-85-no-nonce.bin', 'sha1, sha256, sha384'],
  ['goattest_windows_gcp_shielded_vm', 'goattest_windows_gcp_shielded_vm.bin', 'sha1 (RSASSA-SHA1 AK)'],
  ['goattest_linux_tpm12', 'goattest_linux_tpm12.bin', 'sha1 (TPM 1.2 quote)'],
] as const) {
  test(`real quote ${set}: every PCR the log covers matches the quoted ${banks} values`, (t) => {
    const log = logFrom(t, file);
    if (!log) return;
    const r = replayAgainstQuote(log, quotedPcrs(set));
    assert.equal(r.ok, true, r.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('\n'));
    assert.equal(r.quirksApplied.length, 0);
    const compared = r.pcrs.filter((p) => p.status === 'match');
    assert.ok(compared.length >= 8, `only ${compared.length} PCRs compared`);
    assert.ok(r.checks.some((c) => c.id === 'eventlog.replay' && c.status === 'pass'));
    // every extended event of a matched PCR is verified
    const extending = log.events.filter((e) => e.eventType !== EV.NO_ACTION).length;
    assert.equal(r.verified.events.length, extending);
  });
}

test('GCE COS 85: the verified facts a policy reads (Secure Boot, keys, boot application, command line, firmware)', (t) => {
  const log = logFrom(t, 'gotpmtools_gce-cos-85-no-nonce.bin');
  if (!log) return;
  const facts = extractBootFacts(replayAgainstQuote(log, quotedPcrs('gotpmtools_gce-cos-85-no-nonce')).verified);
  assert.equal(facts.secureBoot?.enabled, true);
  assert.deepEqual(facts.secureBoot?.source.banks, ['sha1', 'sha256', 'sha384']);
  assert.deepEqual(facts.crtmVersions.map((v) => v.version), ['GCE Virtual Firmware v1']);
  assert.deepEqual(facts.signatureDatabases.map((d) => d.name), ['PK', 'KEK', 'db', 'dbx']);
  assert.match(facts.signatureDatabases[0]!.certificates[0]!.subject!, /CN=UEFI Platform Key v10/);
  assert.equal(facts.dbx?.certificates.length, 4);
  const boot = facts.bootApplications[0]!;
  assert.equal(boot.filePath, '\\EFI\\BOOT\\BOOTX64.EFI');
  assert.equal(boot.pathAttested, false);
  assert.equal(boot.digests.sha256, 'dba8d69ffb244496ac8ab2950695d3da539d6ac5ec660fc6b4bdde245284cf23');
  assert.match(boot.devicePath!, /^PciRoot\(0x0\)\/Pci\(0x4,0x0\)\/NVMe\(0x1,00-00-00-00-00-00-00-00\)\/HD\(12,GPT,22849e7a-91c5-3049-85e7-78145a9107cd,0x3D000,0x10000\)\//);
  assert.equal(facts.kernelCommandLines.length, 1);
  assert.match(facts.kernelCommandLines[0]!.text, /^\/syslinux\/vmlinuz\.A init=\/usr\/lib\/systemd\/systemd .* module\.sig_enforce=1 /);
  assert.deepEqual(facts.efiActions.map((a) => a.text), ['Calling EFI Application from Boot Option', 'Exit Boot Services Invocation', 'Exit Boot Services Returned with Success']);
  assert.equal(facts.separators.length, 8);
  assert.ok(facts.separators.every((s) => !s.error));
  // shim's db authority events log a certificate their digest does not cover: listed, not interpreted
  assert.deepEqual(facts.unattested.map((u) => u.event), [24, 41]);
});

test('a StartupLocality log matches the PCR 0 read on the machine, and the verified view reports locality 3', (t) => {
  const log = logFrom(t, 'gotpmtools_glinux-alex.bin');
  if (!log) return;
  const rec = recordedPcrs()['gotpmtools_glinux-alex.bin']!.banks;
  const quoted: PcrValues = new Map(Object.entries(rec).map(([b, p]) => [b as 'sha1', new Map(Object.entries(p).map(([i, v]) => [Number(i), Buffer.from(v, 'hex')]))]));
  const r = replayAgainstQuote(log, quoted);
  assert.equal(r.ok, true);
  assert.equal(log.startupLocality, 3);
  assert.equal(r.verified.startupLocality, 3);
  assert.ok(r.pcrs.some((p) => p.pcr === 0 && p.status === 'match'));
});

test('an altered digest fails the replay, naming the bank and PCR; the other bank still verifies the event', (t) => {
  const path = corpusPath(t, 'eventlogs', 'gotpmtools_gce-cos-85-no-nonce.bin');
  if (!path) return;
  const bytes = Buffer.from(readFileSync(path));
  const log = parseEventLog(bytes);
  const target = log.events.find((e) => e.pcrIndex === 4 && e.eventType === EV.EFI_BOOT_SERVICES_APPLICATION)!;
  const sha256 = target.digests.find((d) => d.alg?.name === 'sha256')!;
  const at = bytes.indexOf(Buffer.from(sha256.digest), target.offset);
  bytes[at] = bytes[at]! ^ 0x01;
  const r = replayAgainstQuote(parseEventLog(bytes), quotedPcrs('gotpmtools_gce-cos-85-no-nonce'));
  assert.equal(r.ok, false);
  const bad = r.checks.filter((c) => c.status === 'fail' && c.id !== 'eventlog.replay');
  assert.deepEqual(bad.map((c) => c.id), ['eventlog.replay.sha256.4']);
  assert.equal(bad[0]!.code, 'EVENTLOG_REPLAY_MISMATCH');
  assert.match(bad[0]!.message, /^sha256 PCR 4: /);
  const outcome = r.pcrs.find((p) => p.bank === 'sha256' && p.pcr === 4)!;
  assert.equal(outcome.divergence!.matchingPrefix, null);
  assert.deepEqual(outcome.divergence!.steps.map((s) => s.event), log.events.filter((e) => e.pcrIndex === 4).map((e) => e.index));
  const v = r.verified.events.find((x) => x.event.index === target.index)!;
  assert.deepEqual(v.banks, ['sha1', 'sha384']);
});

test('altered event data keeps the PCR matching but loses its attestation: the fact disappears, the event is listed as unattested', (t) => {
  const path = corpusPath(t, 'eventlogs', 'gotpmtools_gce-cos-85-no-nonce.bin');
  if (!path) return;
  const bytes = Buffer.from(readFileSync(path));
  const cmd = parseEventLog(bytes).events.find((e) => e.content.kind === 'ipl' && e.content.role === 'kernel-cmdline')!;
  const at = bytes.indexOf(Buffer.from('module.sig_enforce=1'), cmd.offset);
  bytes.write('module.sig_enforce=0', at, 'latin1');
  const r = replayAgainstQuote(parseEventLog(bytes), quotedPcrs('gotpmtools_gce-cos-85-no-nonce'));
  assert.equal(r.ok, true);
  const facts = extractBootFacts(r.verified);
  assert.equal(facts.kernelCommandLines.length, 0);
  assert.ok(facts.unattested.some((u) => u.event === cmd.index && u.pcr === 8));
  const warn = r.checks.find((c) => c.id === 'eventlog.content-binding')!;
  assert.equal(warn.code, 'EVENTLOG_DIGEST_DATA_MISMATCH');
  assert.match(warn.message, new RegExp(`\\b${cmd.index}\\b`));
});

test('events after the quote: the divergence names how many events replay correctly and the last good one', (t) => {
  const log = logFrom(t, 'gotpmtools_gce-cos-85-no-nonce.bin');
  if (!log) return;
  const quoted = quotedPcrs('gotpmtools_gce-cos-85-no-nonce');
  const extra = withInjectedActions(log, 'test-extra', 9, ['measured after the quote']);
  const r = replayAgainstQuote(extra, quoted, { quirks: [] });
  const o = r.pcrs.find((p) => p.bank === 'sha256' && p.pcr === 9)!;
  assert.equal(o.status, 'mismatch');
  const pcr9 = log.events.filter((e) => e.pcrIndex === 9);
  assert.equal(o.divergence!.matchingPrefix, pcr9.length);
  assert.equal(o.divergence!.lastGoodEvent, pcr9[pcr9.length - 1]!.index);
  assert.match(r.checks.find((c) => c.id === 'eventlog.replay.sha256.9')!.message, /the first \d+ event\(s\) replay correctly \(up to event \d+\); the 1 after it are not in the quote/);
});

test('a firmware quirk is tried only after a mismatch, on a clone, and named in the result', (t) => {
  const log = logFrom(t, 'goattest_ebs_event_missing.bin');
  if (!log) return;
  // The machine's TPM saw the ExitBootServices actions the log lacks.
  const tpm = replayEventLog(withInjectedActions(log, 'machine', 5, ['Exit Boot Services Invocation', 'Exit Boot Services Returned with Success']));
  const eventsBefore = log.events.length;

  const strict = replayAgainstQuote(log, tpm, { quirks: [] });
  assert.equal(strict.ok, false);
  assert.deepEqual(strict.pcrs.filter((p) => p.status === 'mismatch').map((p) => `${p.bank}:${p.pcr}`), ['sha1:5']);

  const r = replayAgainstQuote(log, tpm);
  assert.equal(r.ok, true);
  assert.deepEqual(r.quirksApplied, [{ id: 'ebs-missing:invocation+success', bank: 'sha1', pcr: 5 }]);
  const warn = r.checks.find((c) => c.id === 'eventlog.replay.sha1.5')!;
  assert.equal(warn.status, 'warn');
  assert.equal(warn.code, 'EVENTLOG_QUIRK_APPLIED');
  assert.equal(log.events.length, eventsBefore, 'the parsed log is not modified');
  const synthetic = r.verified.events.filter((v) => v.event.syntheticQuirk);
  assert.deepEqual(synthetic.map((v) => v.event.data.toString()), ['Exit Boot Services Invocation', 'Exit Boot Services Returned with Success']);
  assert.deepEqual(r.verified.quirks, ['ebs-missing:invocation+success']);
  assert.deepEqual(extractBootFacts(r.verified).quirks, ['ebs-missing:invocation+success']);
});

test('no PCR in common (SHA-1 log, SHA-256 quote): nothing is verified', (t) => {
  const log = logFrom(t, 'goattest_linux_tpm12.bin');
  if (!log) return;
  const r = replayAgainstQuote(log, new Map([['sha256', new Map([[0, Buffer.alloc(32)]])]]));
  assert.equal(r.ok, false);
  assert.equal(r.checks.find((c) => c.id === 'eventlog.replay')!.code, 'EVENTLOG_REPLAY_NO_OVERLAP');
  assert.equal(r.verified.events.length, 0);
});

test('PCRs the quote does not cover stay unverified and are listed', (t) => {
  const log = logFrom(t, 'gotpmtools_gce-cos-85-no-nonce.bin');
  if (!log) return;
  const r = replayAgainstQuote(log, only(quotedPcrs('gotpmtools_gce-cos-85-no-nonce'), 'sha256', [0, 1, 2, 3, 4, 5, 6, 7]));
  assert.equal(r.ok, true);
  const skip = r.checks.find((c) => c.id === 'eventlog.replay.not-quoted')!;
  assert.equal(skip.status, 'skip');
  assert.match(skip.message, /sha256 PCR 8/);
  assert.ok(r.verified.events.every((v) => v.event.pcrIndex <= 7));
  assert.ok(r.verified.events.every((v) => v.banks.length === 1 && v.banks[0] === 'sha256'));
  assert.equal(extractBootFacts(r.verified).kernelCommandLines.length, 0, 'PCR 8 was not quoted');
});

test('an event without a digest for the quoted bank is never verified in that bank (a log cannot slip facts past the replay)', () => {
  // sha1+sha256 log; the forged SecureBoot=1 event carries only a sha1 digest,
  // so it does not change the sha256 replay that the quote checks.
  const w = new EventLogWriter({ banks: ['sha1', 'sha256'] });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([0]));
  w.addSeparator(7);
  const honest = parseEventLog(w.toBytes());
  const tpm = only(replayEventLog(honest), 'sha256');
  w.add({ pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1])), banks: ['sha1'] });
  const forgedBytes = w.toBytes();
  const forged = parseEventLog(forgedBytes);
  const last = forged.events[forged.events.length - 1]!;
  assert.equal(last.content.kind === 'efi-variable' && last.content.enabled, true);
  assert.equal(forged.events[forged.events.length - 1]!.digests.length, 1);
  const r = replayAgainstQuote(forged, tpm);
  assert.equal(r.ok, true);
  assert.ok(r.verified.events.every((v) => v.event.digests.some((d) => d.alg?.name === 'sha256')));
  assert.equal(r.verified.events.length, 2);
  assert.equal(extractBootFacts(r.verified).secureBoot?.enabled, false);
});

test("the facts' second reading of PCR 7 decodes no more signatures than the per-log cap: a database past it leaves the Secure Boot configuration unknown", () => {
  // EFI_SIGNATURE_LIST of `count` SHA-256 entries (owner GUID + 32 bytes), each `fill`
  const list = (count: number, fill: number): Buffer => {
    const b = Buffer.alloc(28 + count * 48, fill);
    Buffer.from('2616c4c14c509240aca941f936934328', 'hex').copy(b, 0); // EFI_CERT_SHA256
    b.writeUInt32LE(b.length, 16);
    b.writeUInt32LE(0, 20);
    b.writeUInt32LE(48, 24);
    return b;
  };
  const cap = EVENTLOG_CAPS.maxListEntriesPerLog;
  const w = new EventLogWriter({ banks: ['sha256'] });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'db', list(20_000, 0x11));
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'dbt', list(cap - 20_005, 0x22));
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'dbx', list(10, 0xdd));
  w.addSeparator(7);
  const bytes = w.toBytes();
  const r = verifyLogsAgainstQuote({ eventLog: bytes }, only(replayEventLog(parseEventLog(bytes)), 'sha256'));
  assert.equal(r.ok, true);
  const facts = r.bootFacts!;
  const decoded = facts.signatureDatabases.reduce((n, d) => n + d.hashes.length + d.certificates.length, 0);
  assert.ok(decoded <= cap, `${decoded} signatures decoded for the facts, over the cap of ${cap}`);
  assert.equal(facts.dbx, undefined, 'the dbx past the cap is not known');
  assert.equal(facts.secureBoot, undefined, 'nor is the rest of the configuration');
  assert.ok(facts.unattested.some((u) => u.pcr === 7 && /more signatures than the 25000 a log may decode in all: the Secure Boot configuration is unknown/.test(u.reason)));
});

// Compile-time guarantee: facts come only from a verified log.
export function typeCheckOnly(log: UnverifiedEventLog): void {
  // @ts-expect-error an UnverifiedEventLog is not a VerifiedEventLog
  extractBootFacts(log);
}

test('verifyLogsAgainstQuote: the one call quote verification makes, firmware log and IMA list together', (t) => {
  const logPath = corpusPath(t, 'eventlogs', 'gotpmtools_gce-cos-85-no-nonce.bin');
  const imaPath = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements');
  if (!logPath || !imaPath) return;
  const quoted = quotedPcrs('gotpmtools_gce-cos-85-no-nonce');
  const ima = readFileSync(imaPath);
  // the quote of a machine that ran this IMA list too
  const withIma: PcrValues = new Map(quoted);
  withIma.set('sha256', new Map([...quoted.get('sha256')!, [10, replayIma(parseImaList(ima), 'sha256').pcrs.get(10)!]]));
  const r = verifyLogsAgainstQuote({ eventLog: readFileSync(logPath), ima }, withIma);
  assert.equal(r.ok, true, r.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('\n'));
  assert.equal(r.bootFacts?.secureBoot?.enabled, true);
  assert.equal(r.imaFacts?.measurements.length, 826);
  assert.ok(r.checks.some((c) => c.id === 'eventlog.replay') && r.checks.some((c) => c.id === 'ima.replay'));
  // without PCR 10 in the quote the IMA list verifies nothing
  const noIma = verifyLogsAgainstQuote({ eventLog: readFileSync(logPath), ima }, quoted);
  assert.equal(noIma.ok, false);
  assert.equal(noIma.imaFacts, undefined);
  assert.throws(() => verifyLogsAgainstQuote({ eventLog: Buffer.from('garbage that is not a log') }, quoted), (e: unknown) => (e as { code?: string }).code === 'EVENTLOG_NOT_PC_CLIENT');
});

/** A quote as a TPM would hold it after these extends (root can extend PCRs 0-15 and 23 at locality 0 after boot). */
function tpmAfter(w: EventLogWriter): PcrValues {
  return only(replayEventLog(parseEventLog(w.toBytes())), 'sha256');
}

/** The honest boot (SecureBoot off, a dbx with one hash, a boot application, a GRUB command line), into `w`. */
function honestBoot(w = new EventLogWriter({ banks: ['sha256'] }), skipPcr?: number): EventLogWriter {
  const pcr = (n: number): boolean => n !== skipPcr;
  if (pcr(0)) w.addText(0, EV.S_CRTM_VERSION, 'honest CRTM');
  if (pcr(7)) w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([0]));
  if (pcr(7)) w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'dbx', dbxWith('11'.repeat(32)));
  for (const n of [0, 1, 2, 3, 4, 5, 6, 7]) if (pcr(n)) w.addSeparator(n);
  if (pcr(4)) w.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha256: Buffer.alloc(32, 0x44) }, '\\EFI\\BOOT\\BOOTX64.EFI');
  grubLine(w, 'kernel_cmdline: ', '/boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh');
  return w;
}

/** An EFI_SIGNATURE_LIST of one EFI_CERT_SHA256 entry. */
function dbxWith(hashHex: string): Buffer {
  const guidBytes = (g: string): Buffer => {
    const h = g.replace(/-/g, '');
    const b = Buffer.from(h, 'hex');
    return Buffer.concat([Buffer.from(b.subarray(0, 4)).reverse(), Buffer.from(b.subarray(4, 6)).reverse(), Buffer.from(b.subarray(6, 8)).reverse(), b.subarray(8)]);
  };
  const entry = Buffer.concat([guidBytes('77fa9abd-0359-4d32-bd60-28f4e78f784b'), Buffer.from(hashHex, 'hex')]);
  const header = Buffer.alloc(28);
  guidBytes('c1c41626-504c-4092-aca9-41f936934328').copy(header, 0);
  header.writeUInt32LE(28 + entry.length, 16);
  header.writeUInt32LE(0, 20);
  header.writeUInt32LE(entry.length, 24);
  return Buffer.concat([header, entry]);
}

/** GRUB's way: the digest is of the text after the prefix. */
function grubLine(w: EventLogWriter, prefix: string, text: string, pcr = 8): void {
  w.add({ pcr, type: EV.IPL, data: Buffer.from(`${prefix}${text}\0`, 'latin1'), digests: { sha256: createHash('sha256').update(text).digest() } });
}

test('facts are read only from the PCRs the firmware and loaders measure them in, the Secure Boot configuration only before PCR 7\'s separator', () => {
  const honest = honestBoot();
  const facts = (w: EventLogWriter) => {
    const r = replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w));
    assert.equal(r.ok, true, r.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('\n'));
    return extractBootFacts(r.verified);
  };
  const before = facts(honest);
  assert.equal(before.secureBoot?.enabled, false);
  assert.deepEqual(before.dbx?.hashes, ['11'.repeat(32)]);
  assert.deepEqual(before.kernelCommandLines.map((k) => k.text), ['/boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh']);
  assert.deepEqual(before.crtmVersions.map((v) => v.version), ['honest CRTM']);

  // What root can add after boot, extending the TPM to match: claims in PCR 23 (placed first in the log, whose
  // order across PCRs nothing attests), and a "dbx" in PCR 7 after its separator.
  const forged = new EventLogWriter({ banks: ['sha256'] });
  forged.addVariable(23, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  forged.addText(23, EV.S_CRTM_VERSION, 'fake CRTM');
  forged.addImageLoad(23, EV.EFI_BOOT_SERVICES_APPLICATION, { sha256: Buffer.alloc(32, 0x55) }, '\\EFI\\fake.efi');
  honestBoot(forged);
  forged.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_IMAGE_SECURITY_DATABASE, 'dbx', dbxWith('22'.repeat(32)));
  grubLine(forged, 'kernel_cmdline: ', '/boot/vmlinuz-6.8 root=/dev/sda quiet', 23);
  const after = facts(forged);
  assert.equal(after.secureBoot?.enabled, false, 'SecureBoot comes from PCR 7');
  assert.deepEqual(after.dbx?.hashes, ['11'.repeat(32)], 'the dbx the firmware measured, not one measured after the separator');
  assert.deepEqual(after.kernelCommandLines.map((k) => k.text), ['/boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh']);
  assert.deepEqual(after.crtmVersions.map((v) => v.version), ['honest CRTM']);
  // an image load counts wherever it is measured: an extra application can only make the allow and forbid rules stricter
  assert.deepEqual(after.bootApplications.map((a) => [a.source.pcr, a.digests.sha256]), [[23, '55'.repeat(32)], [4, '44'.repeat(32)]]);
  const listed = after.unattested.map((u) => `${u.pcr}:${u.reason.slice(0, 30)}`);
  assert.equal(listed.filter((l) => l.startsWith('23:measured in PCR 23')).length, 2, listed.join('\n'));
  assert.ok(after.unattested.some((u) => u.pcr === 7 && /after PCR 7's separator/.test(u.reason)));
});

test('GRUB texts are read by what they are: a command line relabelled (its prefix is not hashed) is still one; a PCR 8 event whose text is not attested fails the command-line rule', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  grubLine(w, 'grub_cmd: ', 'set root=(hd0,gpt2)');
  grubLine(w, 'grub_cmd: ', 'linux /boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh');
  grubLine(w, 'grub_cmd: ', '/boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh'); // the kernel_cmdline, relabelled
  grubLine(w, 'module_cmdline: ', '(hd0,gpt2)/boot/vmlinuz-6.8 ro'); // another spelling of a kernel path
  // the type relabelled too: an EV_POST_CODE holding GRUB's text, its digest still the text's hash
  w.add({ pcr: 8, type: EV.POST_CODE, data: Buffer.from('kernel_cmdline: /boot/vmlinuz-6.8 single\0', 'latin1'), digests: { sha256: createHash('sha256').update('/boot/vmlinuz-6.8 single').digest() } });
  const r = replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w));
  const f = extractBootFacts(r.verified);
  assert.deepEqual(f.kernelCommandLines.map((k) => k.text), ['/boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh', '(hd0,gpt2)/boot/vmlinuz-6.8 ro', '/boot/vmlinuz-6.8 single']);
  assert.deepEqual(f.grubCommands.map((k) => k.text), ['set root=(hd0,gpt2)', 'linux /boot/vmlinuz-6.8 root=/dev/sda init=/bin/sh']);
  assert.deepEqual(f.kernelCommandLinesUnattested, []);
  // a PCR 8 event whose data was rewritten (its digest no longer the hash of any reading of it) could be the command line that booted
  w.add({ pcr: 8, type: EV.IPL, data: Buffer.from('grub_cmd: echo hello\0', 'latin1'), digests: { sha256: createHash('sha256').update('/boot/vmlinuz-6.8 init=/bin/sh').digest() } });
  const hidden = extractBootFacts(replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w)).verified);
  assert.equal(hidden.kernelCommandLinesUnattested.length, 1);
});

test('systemd command lines in PCR 12 are read by what they are: relabelled, still one; one whose text is not attested (root extending the allowed line after boot) fails the command-line rule', () => {
  const u16 = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf16le');
  const facts = (w: EventLogWriter) => {
    const r = replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w));
    assert.equal(r.ok, true, r.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('\n'));
    return extractBootFacts(r.verified);
  };
  // the line systemd-boot measured, relabelled as an EFI action: its digest still covers its data
  const relabelled = new EventLogWriter({ banks: ['sha256'] });
  relabelled.add({ pcr: 12, type: EV.EFI_ACTION, data: u16('console=ttyS0 init=/bin/sh') });
  relabelled.add({ pcr: 12, type: EV.IPL, data: u16('console=ttyS0 quiet') });
  const r = facts(relabelled);
  assert.deepEqual(r.kernelCommandLines.map((k) => [k.text, k.origin]), [['console=ttyS0 init=/bin/sh', 'systemd-boot'], ['console=ttyS0 quiet', 'systemd-boot']]);
  assert.deepEqual(r.kernelCommandLinesUnattested, []);
  // the line that booted rewritten in the log (its digest kept), the allowed one extended by root after boot
  const hidden = new EventLogWriter({ banks: ['sha256'] });
  hidden.add({ pcr: 12, type: EV.IPL, data: u16('console=ttyS0 quiet'), digests: { sha256: createHash('sha256').update(u16('console=ttyS0 init=/bin/sh')).digest() } });
  hidden.add({ pcr: 12, type: EV.IPL, data: u16('console=ttyS0 quiet') });
  const h = facts(hidden);
  assert.deepEqual(h.kernelCommandLines.map((k) => k.text), ['console=ttyS0 quiet']);
  assert.deepEqual(h.kernelCommandLinesUnattested, [1], "the event after the Spec ID event");
  assert.match(h.unattested.map((u) => u.reason).join(), /PCR 12 event whose text its digest does not cover/);
});

test('a variable event whose digest covers only its value says nothing about which variable it is', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  // TCG EFI 1.2-era hashing: H(value). The name could be relabelled to any variable with the same value.
  w.add({ pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1])), digests: { sha256: createHash('sha256').update(Buffer.from([1])).digest() } });
  w.addSeparator(7);
  const r = replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w));
  assert.equal(r.ok, true);
  const f = extractBootFacts(r.verified);
  assert.equal(f.secureBoot, undefined);
  assert.match(f.unattested.map((u) => u.reason).join(), /not a UEFI variable whose whole data its digest covers: the Secure Boot configuration is unknown/);
});

test('a quoted firmware PCR (0-7) the log has no event for must be at its initial value: removing its events, or their digests, fails', () => {
  const honest = honestBoot();
  const tpm = tpmAfter(honest);
  // every PCR 4 event removed from the log; the TPM still holds the boot application's extend
  const cut = honestBoot(undefined, 4);
  const r = replayAgainstQuote(parseEventLog(cut.toBytes()), tpm);
  assert.equal(r.ok, false);
  const pcr4 = r.checks.find((c) => c.id === 'eventlog.replay.sha256.4')!;
  assert.equal(pcr4.code, 'EVENTLOG_REPLAY_MISMATCH');
  assert.match(pcr4.message, /no event for it in this bank/);
  // a PCR with no events that is at its initial value is fine (and compared)
  const quiet = new Map(tpm);
  quiet.set('sha256', new Map([...tpm.get('sha256')!, [4, Buffer.alloc(32)]]));
  const ok = replayAgainstQuote(parseEventLog(cut.toBytes()), quiet);
  assert.equal(ok.ok, true, ok.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('\n'));
  assert.equal(ok.pcrs.find((p) => p.pcr === 4)?.status, 'match');

  // the PCR 4 events kept, but without their sha256 digest, in a sha1+sha256 log
  const both = new EventLogWriter({ banks: ['sha1', 'sha256'] });
  both.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha1: Buffer.alloc(20, 0x44), sha256: Buffer.alloc(32, 0x44) }, '\\EFI\\BOOT\\BOOTX64.EFI');
  both.addSeparator(4);
  const bothTpm = only(replayEventLog(parseEventLog(both.toBytes())), 'sha256');
  const stripped = new EventLogWriter({ banks: ['sha1', 'sha256'] });
  stripped.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha1: Buffer.alloc(20, 0x44) }, '\\EFI\\BOOT\\BOOTX64.EFI');
  stripped.add({ pcr: 4, type: EV.SEPARATOR, data: Buffer.alloc(4), banks: ['sha1'] });
  const s = replayAgainstQuote(parseEventLog(stripped.toBytes()), bothTpm);
  assert.equal(s.ok, false);
  assert.equal(s.checks.find((c) => c.id === 'eventlog.replay.sha256.4')?.code, 'EVENTLOG_REPLAY_MISMATCH');
});

test('event types are not in the digest: relabelling the SecureBoot event, PCR 7\'s separator or a boot application hides none of them', () => {
  // honest boot: SecureBoot=0, then the separator; root appends SecureBoot=1 to PCR 7 after boot
  const forged = new EventLogWriter({ banks: ['sha256'] });
  forged.add({ pcr: 7, type: EV.POST_CODE, data: encodeVariableData(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([0])) });
  forged.add({ pcr: 7, type: EV.POST_CODE, data: Buffer.alloc(4) }); // the separator, relabelled
  forged.add({ pcr: 4, type: EV.POST_CODE, data: Buffer.from('not an image'), digests: { sha256: Buffer.alloc(32, 0x66) } }); // an application, relabelled
  forged.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  const f = extractBootFacts(replayAgainstQuote(parseEventLog(forged.toBytes()), tpmAfter(forged)).verified);
  assert.equal(f.secureBoot?.enabled, false, 'the first SecureBoot before the separator, read as a variable whatever its type');
  assert.deepEqual(f.bootApplications.map((a) => [a.type, a.digests.sha256]), [['EV_POST_CODE', '66'.repeat(32)]]);

  // a PCR 7 event before the separator whose content is not attested: the configuration is unknown, not "whatever is left"
  const cut = new EventLogWriter({ banks: ['sha256'] });
  cut.add({ pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data: encodeVariableData(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1])), digests: { sha256: Buffer.alloc(32, 0x77) } });
  cut.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  cut.addSeparator(7);
  const unknown = extractBootFacts(replayAgainstQuote(parseEventLog(cut.toBytes()), tpmAfter(cut)).verified);
  assert.equal(unknown.secureBoot, undefined);
  assert.match(unknown.unattested.map((u) => u.reason).join(), /Secure Boot configuration is unknown/);
  // and with no separator in PCR 7 at all
  const open = new EventLogWriter({ banks: ['sha256'] });
  open.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  assert.equal(extractBootFacts(replayAgainstQuote(parseEventLog(open.toBytes()), tpmAfter(open)).verified).secureBoot, undefined);
});

test('a firmware event that only shares a separator\'s digest (a POST code) is not the separator: facts before the real one stand', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  // as some firmware logs it: text data, the digest of 0x00000000
  w.add({ pcr: 0, type: EV.POST_CODE, data: Buffer.from('FIT Type 0x01'), digests: { sha256: createHash('sha256').update(Buffer.alloc(4)).digest() } });
  w.addText(0, EV.S_CRTM_VERSION, 'real CRTM');
  w.addSeparator(0);
  w.addText(0, EV.S_CRTM_VERSION, 'appended after boot');
  const f = extractBootFacts(replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w)).verified);
  assert.deepEqual(f.crtmVersions.map((v) => v.version), ['real CRTM']);
});

test('a log that says it is a CCEL log (its Spec ID event not in PCR 0) verifies nothing against a TPM quote: the flag is a byte anyone can change', () => {
  const honest = honestBoot();
  const bytes = honest.toBytes();
  bytes.writeUInt32LE(1, 0); // the Spec ID event's register
  const log = parseEventLog(bytes);
  assert.equal(log.registers, 'cc-mr');
  const r = replayAgainstQuote(log, tpmAfter(honestBoot()));
  assert.equal(r.ok, false);
  assert.equal(r.checks[0]!.code, 'EVENTLOG_REPLAY_NO_OVERLAP');
  assert.equal(r.verified.events.length, 0);
});

test('what a digest covers is judged in the banks the quote verified: an unquoted bank hashing the whole data proves nothing', () => {
  const w = new EventLogWriter({ banks: ['sha1', 'sha256'] });
  const data = encodeVariableData(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  // firmware hashed the value only (sha256, quoted); the unquoted sha1 digest was set to the hash of the whole, edited, data
  w.add({ pcr: 7, type: EV.EFI_VARIABLE_DRIVER_CONFIG, data, digests: { sha1: createHash('sha1').update(data).digest(), sha256: createHash('sha256').update(Buffer.from([1])).digest() } });
  w.addSeparator(7);
  const quote = only(replayEventLog(parseEventLog(w.toBytes())), 'sha256');
  const f = extractBootFacts(replayAgainstQuote(parseEventLog(w.toBytes()), quote).verified);
  assert.equal(f.secureBoot, undefined);
  assert.match(f.unattested.map((u) => u.reason).join(), /Secure Boot configuration is unknown/);
});

test('an image relabelled as a firmware blob (outside PCR 4) is still looked for by a forbid rule', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  // a driver in PCR 2, logged as EV_EFI_PLATFORM_FIRMWARE_BLOB: its digest is the image's, not its data's hash
  w.add({ pcr: 2, type: EV.EFI_PLATFORM_FIRMWARE_BLOB, data: Buffer.alloc(16), digests: { sha256: Buffer.alloc(32, 0x99) } });
  w.addSeparator(2);
  const f = extractBootFacts(replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w)).verified);
  assert.deepEqual(f.bootApplications, []);
  assert.deepEqual(f.unboundDigests.map((u) => [u.pcr, u.digests.sha256]), [[2, '99'.repeat(32)]]);
});

test('an attested EFI action before PCR 7\'s separator is kept as an action, and the configuration around it stands', () => {
  const w = new EventLogWriter({ banks: ['sha256'] });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  w.addText(7, EV.EFI_ACTION, 'DMA Protection Disabled');
  w.addSeparator(7);
  const f = extractBootFacts(replayAgainstQuote(parseEventLog(w.toBytes()), tpmAfter(w)).verified);
  assert.equal(f.secureBoot?.enabled, true);
  assert.deepEqual(f.efiActions.map((a) => [a.source.pcr, a.text]), [[7, 'DMA Protection Disabled']]);
});
