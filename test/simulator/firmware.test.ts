// The simulated machines' measured boot, read back with the project's event
// log code: it replays to the TPM's PCRs and yields the facts policies use
// (Secure Boot on with PK/KEK/db/dbx, boot applications, kernel command
// line, CRTM version); the bytes are the same in every run; the altered log
// and IMA list of the log-event and ima-tamper faults fail exactly as
// documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import { parseImaList } from '../../src/eventlog/ima/parse.js';
import { checkTemplateHashes } from '../../src/eventlog/ima/replay.js';
import { alteredImaText, alteredLogBytes, FIRMWARE_PROFILES, imageDigest, firmwareLog, measureBoot, measureImaList, VM_IMA_FILES, type MachineRole } from '../../src/simulator/firmware.js';
import { SoftTpm } from '../../src/simulator/soft-tpm.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';

const ALL_PCRS = [{ bank: 'sha256' as const, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }, { bank: 'sha1' as const, pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }];

function booted(role: MachineRole) {
  const tpm = SoftTpm.create({ seed: `firmware test ${role}` });
  const log = firmwareLog(FIRMWARE_PROFILES[role], tpm.banks);
  measureBoot(tpm, log);
  const ima = role === 'vm' ? measureImaList(tpm) : null;
  return { tpm, log, ima, pcrs: tpm.quote(Buffer.alloc(32), ALL_PCRS).pcrs };
}

for (const role of ['physical', 'vmm', 'vm'] as const) {
  test(`${role}: the log replays to the TPM and yields Secure Boot, PK/KEK/db/dbx, boot applications, the kernel command line`, () => {
    const { log, ima, pcrs } = booted(role);
    const profile = FIRMWARE_PROFILES[role];
    const r = verifyLogsAgainstQuote({ eventLog: log.bytes, ...(ima ? { ima: Buffer.from(ima.text) } : {}) }, pcrs);
    assert.equal(r.ok, true, r.checks.filter((c) => c.status === 'fail').map((c) => c.message).join('; '));
    const f = r.bootFacts!;
    assert.equal(f.secureBoot?.enabled, true);
    assert.deepEqual(
      f.signatureDatabases.map((d) => [d.name, d.certificates.map((c) => c.subject), d.hashes.length]),
      [
        ['PK', ['O=vtpm-verify simulator firmware, CN=Sim Platform Key'], 0],
        ['KEK', ['O=vtpm-verify simulator firmware, CN=Sim KEK CA'], 0],
        ['db', ['O=vtpm-verify simulator firmware, CN=Sim UEFI CA'], 0],
        ['dbx', [], 24],
      ],
    );
    assert.equal(f.dbx?.hashes.length, 24);
    assert.deepEqual(f.authorities.map((a) => a.certificate?.subject), ['O=vtpm-verify simulator firmware, CN=Sim UEFI CA']);
    assert.deepEqual(
      f.bootApplications.map((a) => a.filePath),
      profile.bootApplications.map((a) => a.path),
    );
    assert.deepEqual(
      f.bootApplications.map((a) => a.digests.sha256),
      profile.bootApplications.map((a) => imageDigest('sha256', a.image).toString('hex')),
    );
    assert.deepEqual(f.kernelCommandLines.map((k) => [k.text, k.origin, k.source.pcr]), [[profile.kernelCmdline, 'grub', 8]]);
    assert.deepEqual(f.grubCommands.map((g) => g.text), profile.grubCommands);
    assert.deepEqual(f.crtmVersions.map((c) => c.version), [profile.crtmVersion]);
    assert.deepEqual(f.bootOrder, [1]);
    assert.deepEqual(f.bootOptions.map((o) => [o.variable, o.description, o.filePath]), [['Boot0001', profile.bootOption.description, profile.bootOption.path]]);
    assert.deepEqual(f.unattested, []);
    assert.deepEqual(f.quirks, []);
    if (ima) assert.deepEqual(r.imaFacts!.measurements.map((m) => m.path), ['boot_aggregate', ...VM_IMA_FILES]);
  });
}

test('the machines of a role differ where they should: kernel command lines and CRTM per role', () => {
  const lines = (['physical', 'vmm', 'vm'] as const).map((r) => FIRMWARE_PROFILES[r].kernelCmdline);
  assert.equal(new Set(lines).size, 3);
  assert.match(FIRMWARE_PROFILES.vm.kernelCmdline, /ima_policy=tcb/);
  assert.match(FIRMWARE_PROFILES.physical.kernelCmdline, /intel_iommu=on/);
});

test('the logs and IMA lists are the same bytes in every run (another process computes the same hashes)', () => {
  const here = (['physical', 'vmm', 'vm'] as const).map((r) => {
    const b = booted(r);
    return [createHash('sha256').update(b.log.bytes).digest('hex'), b.ima ? createHash('sha256').update(b.ima.text).digest('hex') : null];
  });
  const script = `
    import { SoftTpm } from './dist/src/simulator/soft-tpm.js';
    import { FIRMWARE_PROFILES, firmwareLog, measureBoot, measureImaList } from './dist/src/simulator/firmware.js';
    import { createHash } from 'node:crypto';
    const out = ['physical', 'vmm', 'vm'].map((r) => {
      const tpm = SoftTpm.create({ seed: 'another process ' + r });
      const log = firmwareLog(FIRMWARE_PROFILES[r], tpm.banks);
      measureBoot(tpm, log);
      const ima = r === 'vm' ? measureImaList(tpm) : null;
      return [createHash('sha256').update(log.bytes).digest('hex'), ima ? createHash('sha256').update(ima.text).digest('hex') : null];
    });
    console.log(JSON.stringify(out));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), here);
});

test('log-event: the altered event still matches its own digests, the log no longer replays to that PCR alone', () => {
  const { log, pcrs } = booted('vmm');
  for (const pcr of [7, 0, 4]) {
    const altered = alteredLogBytes(log, pcr);
    const r = verifyLogsAgainstQuote({ eventLog: altered }, pcrs);
    assert.equal(r.ok, false);
    const mismatched = r.eventLog!.pcrs.filter((p) => p.status === 'mismatch').map((p) => `${p.bank}:${p.pcr}`).sort();
    assert.deepEqual(mismatched, [`sha1:${pcr}`, `sha256:${pcr}`]);
    const parsed = parseEventLog(altered);
    const changed = parsed.events.findIndex((e, i) => i > 0 && Buffer.compare(Buffer.from(e.data), Buffer.from(parseEventLog(log.bytes).events[i]!.data)) !== 0);
    const ev = parsed.events[changed]!;
    assert.equal(ev.pcrIndex, pcr);
    if (ev.binding) assert.ok(Object.values(ev.binding.banks).every(Boolean), 'the edited event is self-consistent');
  }
});

test('ima-tamper: every template hash checks, the list no longer replays to PCR 10', () => {
  const { ima, pcrs } = booted('vm');
  const text = alteredImaText(ima!);
  assert.notEqual(text, ima!.text);
  const list = parseImaList(Buffer.from(text));
  assert.ok(checkTemplateHashes(list).every((c) => c.status === 'valid'));
  const r = verifyLogsAgainstQuote({ ima: Buffer.from(text) }, pcrs);
  assert.deepEqual(new Set(r.checks.filter((c) => c.status === 'fail').map((c) => c.code)), new Set(['IMA_REPLAY_MISMATCH']));
});

test('`vtpm-verify eventlog` decodes a simulated machine\'s log', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sim-fw-'));
  try {
    const file = join(dir, 'physical.bin');
    writeFileSync(file, booted('physical').log.bytes);
    const run = await runCli(['eventlog', file, '--json']);
    assert.equal(run.code, 0, run.stderr);
    const events = run.json!.result.events as { type: string; content: { role?: string; value?: string; name?: string; enabled?: boolean } }[];
    assert.ok(events.some((e) => e.type === 'EV_IPL' && e.content.role === 'kernel-cmdline' && e.content.value === FIRMWARE_PROFILES.physical.kernelCmdline));
    assert.ok(events.some((e) => e.type === 'EV_EFI_VARIABLE_DRIVER_CONFIG' && e.content.name === 'SecureBoot' && e.content.enabled === true));
    assert.equal(events.filter((e) => e.type === 'EV_EFI_BOOT_SERVICES_APPLICATION').length, 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
