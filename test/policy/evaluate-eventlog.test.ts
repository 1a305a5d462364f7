// Event log rules, each passing and failing; and the rule that a log which
// did not replay to the quote is never used.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { chain, input, layerPolicy, sha1, sha256 } from './fixtures.js';
import { assertFail, assertNoResult, assertPass, rule } from './rule-helpers.js';
import { MAX_TEXTS_LISTED, MAX_TEXT_SHOWN } from '../../src/policy/rules/eventlog.js';

const vm = (body: string) => layerPolicy(`select: { position: 0 }\neventLog:\n${body.split('\n').map((l) => `  ${l}`).join('\n')}`);
const withoutLog = () => {
  const c = chain();
  delete c[0]!.eventLog;
  return c;
};
const notReplaying = () => {
  const c = chain();
  c[0]!.eventLog!.replayMatched = false;
  return c;
};

test('eventLog.required: present and replaying passes; missing or not replaying fails', () => {
  assertPass(evaluatePolicy(vm('required: true'), input()), 'layer[0].eventLog.required');
  assertFail(evaluatePolicy(vm('required: true'), input(withoutLog())), 'layer[0].eventLog.required', 'POLICY_EVENTLOG_MISSING');
  assertFail(evaluatePolicy(vm('required: true'), input(notReplaying())), 'layer[0].eventLog.required', 'POLICY_EVENTLOG_REPLAY');
});

test('eventLog.mustReplay: a sent log must replay; no log is acceptable', () => {
  assertPass(evaluatePolicy(vm('mustReplay: true'), input()), 'layer[0].eventLog.mustReplay');
  assert.equal(rule(evaluatePolicy(vm('mustReplay: true'), input(withoutLog())), 'layer[0].eventLog.mustReplay').status, 'not-applicable');
  assertFail(evaluatePolicy(vm('mustReplay: true'), input(notReplaying())), 'layer[0].eventLog.mustReplay', 'POLICY_EVENTLOG_REPLAY');
});

test('eventLog.requireSecureBoot: on passes; off, unmeasured, no log, or unusable log fail', () => {
  assertPass(evaluatePolicy(vm('requireSecureBoot: true'), input()), 'layer[0].eventLog.requireSecureBoot');
  const off = chain();
  off[0]!.eventLog!.secureBoot = false;
  assert.match(assertFail(evaluatePolicy(vm('requireSecureBoot: true'), input(off)), 'layer[0].eventLog.requireSecureBoot', 'POLICY_SECURE_BOOT').message, /off/);
  const unmeasured = chain();
  delete unmeasured[0]!.eventLog!.secureBoot;
  assert.match(assertFail(evaluatePolicy(vm('requireSecureBoot: true'), input(unmeasured)), 'layer[0].eventLog.requireSecureBoot', 'POLICY_SECURE_BOOT').message, /does not measure/);
  // a typo-proof policy: secure boot demanded without `required` still fails when there is no log
  assertFail(evaluatePolicy(vm('requireSecureBoot: true'), input(withoutLog())), 'layer[0].eventLog.requireSecureBoot', 'POLICY_EVENTLOG_MISSING');
  assertFail(evaluatePolicy(vm('requireSecureBoot: true'), input(notReplaying())), 'layer[0].eventLog.requireSecureBoot', 'POLICY_EVENTLOG_REPLAY');
});

const allowed = `bootApplications:\n  allowed:\n    sha256:\n      - "${sha256('shimx64.efi')}"\n      - "${sha256('grubx64.efi')}"\n      - "${sha256('vmlinuz-6.8.0')}"`;

test('eventLog.bootApplications.allowed: every boot application must be allowed', () => {
  assertPass(evaluatePolicy(vm(allowed), input()), 'layer[0].eventLog.bootApplications.allowed');
  const changed = chain();
  changed[0]!.eventLog!.bootApplications[1]!.digests.sha256 = sha256('grub with a backdoor');
  const r = assertFail(evaluatePolicy(vm(allowed), input(changed)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED');
  assert.match(r.message, /grubx64/);
  assert.deepEqual((r.actual as { digests: unknown }[])[0]!.digests, { sha256: sha256('grub with a backdoor') });
  // an application with no digest in the banks the policy lists is not allowed either
  const sha1Only = chain();
  sha1Only[0]!.eventLog!.bootApplications[0]!.digests = { sha1: 'aa'.repeat(20) };
  assertFail(evaluatePolicy(vm(allowed), input(sha1Only)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED');
});

test('eventLog.bootApplications.allowed: no application measured, or PCR 4 not quoted, fails', () => {
  const none = chain();
  none[0]!.eventLog!.bootApplications = [];
  assertFail(evaluatePolicy(vm(allowed), input(none)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED');
  const unquoted = chain();
  unquoted[0]!.quote.pcrs.get('sha256')!.delete(4);
  assert.match(assertFail(evaluatePolicy(vm(allowed), input(unquoted)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED').message, /PCR 4/);
});

test('eventLog.bootApplications.forbidden: no boot application may be forbidden', () => {
  assertPass(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha256: ["${sha256('old shim')}"]`), input()), 'layer[0].eventLog.bootApplications.forbidden');
  assertFail(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha256: ["${sha256('shimx64.efi')}"]`), input()), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
});

test('eventLog.bootApplications.forbidden in a bank a boot application has no verified digest in fails: it cannot be checked', () => {
  // the fixture's applications carry SHA-256 digests only (the bank the quote verified)
  const r = assertFail(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha1: ["${sha1('some revoked shim')}"]`), input()), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
  assert.match(r.message, /3 boot application\(s\) have no verified sha1 digest/);
  // with the digest verified in that bank, the list is checked as usual
  const both = chain();
  for (const a of both[0]!.eventLog!.bootApplications) a.digests.sha1 = sha1(`sha1 of ${a.digests.sha256}`);
  assertPass(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha1: ["${sha1('some revoked shim')}"]`), input(both)), 'layer[0].eventLog.bootApplications.forbidden');
  const shim = both[0]!.eventLog!.bootApplications[0]!.digests.sha1!;
  assertFail(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha1: ["${shim}"]`), input(both)), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
});

test('eventLog.bootApplications: PCR 4 quoted only in a bank the log does not carry proves nothing: forbidden fails too', () => {
  // the log's PCR 4 events (SHA-256) stay unverified, so it lists no boot application at all
  const otherBank = chain();
  otherBank[0]!.quote.pcrs.get('sha256')!.delete(4);
  otherBank[0]!.quote.pcrs.set('sha1', new Map([[4, Buffer.alloc(20, 4)]]));
  otherBank[0]!.eventLog!.bootApplications = [];
  const r = assertFail(evaluatePolicy(vm(`bootApplications:\n  forbidden:\n    sha256: ["${sha256('shimx64.efi')}"]`), input(otherBank)), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
  assert.match(r.message, /does not cover PCR 4 in a bank the event log carries/);
  assertFail(evaluatePolicy(vm(allowed), input(otherBank)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED');
});

test('eventLog.bootApplications.forbidden also looks at unbound event digests (an image relabelled as a blob); allowed does not', () => {
  const relabelled = chain();
  relabelled[0]!.eventLog!.unboundDigests = [{ pcr: 2, digests: { sha256: sha256('forbidden driver') } }];
  assertFail(evaluatePolicy(vm(`bootApplications: { forbidden: { sha256: ["${sha256('forbidden driver')}"] } }`), input(relabelled)), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
});

test('eventLog.kernelCmdlines: exact lines and whole-line patterns', () => {
  const line = 'BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=0b1c ro console=ttyS0';
  assertPass(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input()), 'layer[0].eventLog.kernelCmdlines');
  assertPass(evaluatePolicy(vm('kernelCmdlines: { patterns: ["BOOT_IMAGE=/vmlinuz-[0-9.]+ root=UUID=[0-9a-f]+ ro console=ttyS0"] }'), input()), 'layer[0].eventLog.kernelCmdlines');
  assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line} init=/bin/sh"] }`), input()), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  // patterns match the whole line: a prefix pattern does not let "init=/bin/sh" through
  const appended = chain();
  appended[0]!.eventLog!.kernelCmdlines = [`${line} init=/bin/sh`];
  assertFail(evaluatePolicy(vm('kernelCmdlines: { patterns: ["BOOT_IMAGE=/vmlinuz-[0-9.]+ root=UUID=[0-9a-f]+ ro console=ttyS0"] }'), input(appended)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  const none = chain();
  none[0]!.eventLog!.kernelCmdlines = [];
  assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(none)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  // a PCR 8 event whose text is not attested could be the line that booted: the allowed one beside it is not enough
  const hidden = chain();
  hidden[0]!.eventLog!.kernelCmdlinesUnattested = 1;
  const r = assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(hidden)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.match(r.message, /text their digest does not cover/);
});

test('eventLog.kernelCmdlines: a replaying log of thousands of lines, or of one 1 MiB line, fails with a bounded list (CRTM versions too)', () => {
  const line = 'BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=0b1c ro console=ttyS0';
  const many = chain();
  many[0]!.eventLog!.kernelCmdlines = Array.from({ length: 5_000 }, (_, i) => `/boot/vmlinuz-${i} ${'x'.repeat(300)}`);
  const r = assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(many)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.equal((r.actual as string[]).length, MAX_TEXTS_LISTED);
  assert.equal((r.actual as string[])[0], many[0]!.eventLog!.kernelCmdlines[0]);
  assert.match(r.message, /5000 of 5000 not allowed; the first 20 of them listed/);
  const long = chain();
  long[0]!.eventLog!.kernelCmdlines = [`/boot/vmlinuz ${'y'.repeat(1024 * 1024)}`];
  const l = assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(long)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.match((l.actual as string[])[0]!, /… \(1048590 characters\)$/);
  assert.ok(l.message.length < MAX_TEXT_SHOWN + 200);
  assert.ok(JSON.stringify([r, l]).length < 2 * (MAX_TEXTS_LISTED + 1) * (MAX_TEXT_SHOWN + 100));
  // CRTM versions (PCR 0 before its separator) are the attester's texts too
  const crtm = chain();
  crtm[0]!.eventLog!.crtmVersions = Array.from({ length: 5_000 }, (_, i) => `OVMF ${i} ${'z'.repeat(5_000)}`);
  const c = assertFail(evaluatePolicy(vm('crtmVersions: ["OVMF 2024.02"]'), input(crtm)), 'layer[0].eventLog.crtmVersions', 'POLICY_CRTM_VERSION');
  assert.equal((c.actual as string[]).length, MAX_TEXTS_LISTED);
  assert.match(c.message, /5000 of 5000 not allowed/);
  assert.ok(JSON.stringify(c).length < (MAX_TEXTS_LISTED + 1) * (MAX_TEXT_SHOWN + 100));
});

test('eventLog.kernelCmdlines: past the listing cap, actual lists the lines not allowed, not the first measured (which may all be allowed); CRTM versions too', () => {
  const line = 'BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=0b1c ro console=ttyS0';
  // 30 measured lines (a log that boots the allowed kernel again and again), the two not allowed after the first 20
  const late = chain();
  late[0]!.eventLog!.kernelCmdlines = Array.from({ length: 30 }, (_, i) => (i === 23 ? `${line} init=/bin/sh` : i === 27 ? `${line} rd.break` : line));
  const r = assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(late)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.deepEqual(r.actual, [`${line} init=/bin/sh`, `${line} rd.break`]);
  assert.match(r.message, /^kernel command line not allowed: ".* init=\/bin\/sh" \(2 of 30 not allowed, listed\)$/);
  // more not allowed than the cap: the first 20 of them, and the count
  const many = chain();
  many[0]!.eventLog!.kernelCmdlines = Array.from({ length: 60 }, (_, i) => (i % 2 ? `${line} bad=${i}` : line));
  const m = assertFail(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(many)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.deepEqual(m.actual, Array.from({ length: MAX_TEXTS_LISTED }, (_, i) => `${line} bad=${2 * i + 1}`));
  assert.match(m.message, /\(30 of 60 not allowed; the first 20 of them listed\)$/);
  // a passing rule over many lines still lists the first measured
  const fine = chain();
  fine[0]!.eventLog!.kernelCmdlines = Array.from({ length: 30 }, () => line);
  assert.equal((assertPass(evaluatePolicy(vm(`kernelCmdlines: { exact: ["${line}"] }`), input(fine)), 'layer[0].eventLog.kernelCmdlines').actual as string[]).length, MAX_TEXTS_LISTED);
  const crtm = chain();
  crtm[0]!.eventLog!.crtmVersions = Array.from({ length: 25 }, (_, i) => (i === 24 ? 'OVMF evil' : 'OVMF 2024.02'));
  const c = assertFail(evaluatePolicy(vm('crtmVersions: ["OVMF 2024.02"]'), input(crtm)), 'layer[0].eventLog.crtmVersions', 'POLICY_CRTM_VERSION');
  assert.deepEqual(c.actual, ['OVMF evil']);
  assert.match(c.message, /^CRTM version "OVMF evil" is not allowed \(1 of 25 not allowed, listed\)$/);
});

test('eventLog.kernelCmdlines: patterns run in linear time, so a crafted line cannot stall the verifier', () => {
  // each of these backtracks for ages in JavaScript's RegExp on the value beside it (ro(.|\s)*quiet: 12 s on 30
  // spaces, doubling with each more; the others are polynomial: minutes on a megabyte); an automaton decides at once
  for (const [pattern, line] of [
    ['ro(.|\\\\s)*quiet', `ro${' '.repeat(100_000)}`],
    ['(\\\\S+\\\\s?)+', `${'a'.repeat(100_000)}  `],
    ['ro .* root=.* quiet', `ro ${' root='.repeat(200_000)}`],
    ['(a|aa)*b', 'a'.repeat(100_000)],
  ] as const) {
    const crafted = chain();
    crafted[0]!.eventLog!.kernelCmdlines = [line];
    assertFail(evaluatePolicy(vm(`kernelCmdlines: { patterns: ["${pattern}"] }`), input(crafted)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  }
  const honest = chain();
  honest[0]!.eventLog!.kernelCmdlines = ['ro  root=/dev/vda1   quiet'];
  assertPass(evaluatePolicy(vm('kernelCmdlines: { patterns: ["ro(.|\\\\s)*quiet"] }'), input(honest)), 'layer[0].eventLog.kernelCmdlines');
});

test('eventLog.kernelCmdlines: a command-line PCR (8, 12) the log does not account for fails, whatever lines the log shows', () => {
  const line = 'BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=0b1c ro console=ttyS0';
  const policy = vm(`kernelCmdlines: { exact: ["${line}"] }`);
  // GRUB's PCR 8 events left out of the log, the allowed line shown from PCR 12 (extended from the running OS)
  const grubHidden = chain();
  grubHidden[0]!.eventLog!.replayedPcrs.get('sha256')!.delete(8);
  grubHidden[0]!.eventLog!.replayedPcrs.get('sha256')!.set(12, Buffer.alloc(32, 0x12));
  grubHidden[0]!.quote.pcrs.get('sha256')!.set(12, Buffer.alloc(32, 0x12));
  const r = assertFail(evaluatePolicy(policy, input(grubHidden)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE');
  assert.match(r.message, /does not account for PCR 8/);
  assert.deepEqual(r.actual, { unaccountedPcrs: [8] });
  // PCR 12 extended with no event in the log: a systemd-boot line could be there
  const sdHidden = chain();
  sdHidden[0]!.quote.pcrs.get('sha256')!.set(12, Buffer.alloc(32, 0x12));
  assert.deepEqual(assertFail(evaluatePolicy(policy, input(sdHidden)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE').actual, { unaccountedPcrs: [12] });
  // not quoted: nothing says what was measured there
  const unquoted = chain();
  unquoted[0]!.quote.pcrs.get('sha256')!.delete(12);
  assert.deepEqual(assertFail(evaluatePolicy(policy, input(unquoted)), 'layer[0].eventLog.kernelCmdlines', 'POLICY_KERNEL_CMDLINE').actual, { unaccountedPcrs: [12] });
  // an unused PCR at its initial value with no event is accounted for (the fixture's PCR 12)
  assertPass(evaluatePolicy(policy, input()), 'layer[0].eventLog.kernelCmdlines');
});

test('eventLog.dbx: the measured dbx must hold the required hashes', () => {
  assertPass(evaluatePolicy(vm(`dbx: { sha256: ["${sha256('revoked shim 15')}"], certSha256: ["${sha256('revoked cert')}"] }`), input()), 'layer[0].eventLog.dbx.sha256');
  const r = assertFail(evaluatePolicy(vm(`dbx: { sha256: ["${sha256('revoked shim 15')}", "${sha256('BlackLotus')}"] }`), input()), 'layer[0].eventLog.dbx.sha256', 'POLICY_DBX_MISSING');
  assert.deepEqual((r.actual as { missing: string[] }).missing, [sha256('BlackLotus')]);
  assertFail(evaluatePolicy(vm(`dbx: { certSha256: ["${sha256('another cert')}"] }`), input()), 'layer[0].eventLog.dbx.certSha256', 'POLICY_DBX_MISSING');
  assertPass(evaluatePolicy(vm(`dbx: { certSha256: ["${sha256('revoked cert')}"] }`), input()), 'layer[0].eventLog.dbx.certSha256');
});

test('eventLog.crtmVersions: every measured CRTM version must be allowed, and one must be measured', () => {
  assertPass(evaluatePolicy(vm('crtmVersions: ["OVMF 2024.02", "OVMF 2024.05"]'), input()), 'layer[0].eventLog.crtmVersions');
  assertFail(evaluatePolicy(vm('crtmVersions: ["OVMF 2024.05"]'), input()), 'layer[0].eventLog.crtmVersions', 'POLICY_CRTM_VERSION');
  const none = chain();
  none[0]!.eventLog!.crtmVersions = [];
  assertFail(evaluatePolicy(vm('crtmVersions: ["OVMF 2024.02"]'), input(none)), 'layer[0].eventLog.crtmVersions', 'POLICY_CRTM_VERSION');
});

test('eventLog.allowedQuirks: workarounds the replay used must be allowed', () => {
  assertPass(evaluatePolicy(vm('allowedQuirks: []'), input()), 'layer[0].eventLog.allowedQuirks');
  const quirky = chain();
  quirky[0]!.eventLog!.quirksApplied = ['startup-locality-3'];
  assertFail(evaluatePolicy(vm('allowedQuirks: []'), input(quirky)), 'layer[0].eventLog.allowedQuirks', 'POLICY_QUIRK');
  assertPass(evaluatePolicy(vm('allowedQuirks: [startup-locality-3]'), input(quirky)), 'layer[0].eventLog.allowedQuirks');
  assert.equal(rule(evaluatePolicy(vm('allowedQuirks: []'), input(withoutLog())), 'layer[0].eventLog.allowedQuirks').status, 'not-applicable');
});

test('content rules on a log that did not replay fail with POLICY_EVENTLOG_REPLAY, never read it', () => {
  const bad = notReplaying();
  const e = evaluatePolicy(vm(`${allowed}\nkernelCmdlines: { patterns: [".*"] }\ncrtmVersions: ["OVMF 2024.02"]\ndbx: { sha256: ["${sha256('revoked shim 15')}"] }`), input(bad));
  for (const id of ['bootApplications.allowed', 'kernelCmdlines', 'crtmVersions', 'dbx.sha256']) {
    assertFail(e, `layer[0].eventLog.${id}`, 'POLICY_EVENTLOG_REPLAY');
  }
  assertNoResult(e, 'layer[0].eventLog.required');
});

test('eventLog.bootApplications: a failure shows each boot application path cut at 4,096 characters, as command lines are', () => {
  // a device path's file nodes come from the attester: one image-load event of 1 MiB names a path of ~500,000 characters
  const long = chain();
  const apps = long[0]!.eventLog!.bootApplications;
  for (let i = 0; i < apps.length; i++) apps[i]!.path = `\\EFI\\${i}\\${'p'.repeat(500_000)}.efi`;
  apps[1]!.digests.sha256 = sha256('grub with a backdoor');
  const r = assertFail(evaluatePolicy(vm(allowed), input(long)), 'layer[0].eventLog.bootApplications.allowed', 'POLICY_BOOT_APP_NOT_ALLOWED');
  assert.match((r.actual as { path: string }[])[0]!.path, /^\\EFI\\1\\p+… \(500011 characters\)$/);
  assert.ok(r.message.length < MAX_TEXT_SHOWN + 200, `${r.message.length}`);
  const forbidden = `bootApplications:\n  forbidden:\n    sha256:\n      - "${sha256('grub with a backdoor')}"`;
  const f = assertFail(evaluatePolicy(vm(forbidden), input(long)), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
  assert.ok(JSON.stringify(f).length < 3 * (MAX_TEXT_SHOWN + 200), `${JSON.stringify(f).length}`);
  const sha1Only = `bootApplications:\n  forbidden:\n    sha1:\n      - "${sha1('grub with a backdoor')}"`;
  const u = chain();
  for (const a of u[0]!.eventLog!.bootApplications) {
    a.path = `\\EFI\\${'q'.repeat(500_000)}.efi`;
    delete a.digests.sha1;
  }
  const n = assertFail(evaluatePolicy(vm(sha1Only), input(u)), 'layer[0].eventLog.bootApplications.forbidden', 'POLICY_BOOT_APP_FORBIDDEN');
  assert.ok(JSON.stringify(n).length < 4 * (MAX_TEXT_SHOWN + 200), `${JSON.stringify(n).length}`);
});
