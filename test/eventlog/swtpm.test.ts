// Interop with a real TPM: a crypto-agile log written with EventLogWriter is
// extended event by event into a fresh swtpm with tpm2_pcrextend, quoted with
// tpm2_quote (tpm2_checkquote confirms the PCR file is what was quoted and
// signed), and replayed against the quoted values. An altered event fails,
// naming the PCR. The quote-signature check itself belongs to quote
// verification; here tpm2_checkquote vouches for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import { EV } from '../../src/eventlog/event-types.js';
import { GUID } from '../../src/eventlog/decode/guid.js';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import { replayAgainstQuote } from '../../src/eventlog/quote-replay.js';
import { extractBootFacts } from '../../src/eventlog/facts.js';
import { pcrValuesToJson } from '../../src/tpm/pcrs.js';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { readTpm2ToolsPcrFile } from './pcr-file.js';
import { runCli } from '../helpers/cli.js';

const BANKS = ['sha1', 'sha256'] as const;
const IMAGE = randomBytes(4096); // stands in for the PE image the firmware hashed

function bootLog(cmdline: string): EventLogWriter {
  const w = new EventLogWriter({ banks: BANKS });
  w.addText(0, EV.S_CRTM_VERSION, 'vtpm-verify test firmware 1.0\0', 'utf16le');
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]));
  for (let pcr = 0; pcr <= 7; pcr++) w.addSeparator(pcr);
  w.addText(4, EV.EFI_ACTION, 'Calling EFI Application from Boot Option');
  w.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha1: createHash('sha1').update(IMAGE).digest(), sha256: createHash('sha256').update(IMAGE).digest() }, '\\EFI\\BOOT\\BOOTX64.EFI');
  w.addText(8, EV.IPL, `kernel_cmdline: ${cmdline}\0`);
  w.addText(5, EV.EFI_ACTION, 'Exit Boot Services Invocation');
  return w;
}

test('a written log, extended into swtpm and quoted, replays to the quoted PCRs; an altered event fails naming the PCR', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  try {
    const writer = bootLog('root=/dev/vda1 ro quiet');
    for (const x of writer.extends()) {
      tpm.must('tpm2_pcrextend', [`${x.pcr}:${BANKS.map((b) => `${b}=${x.digests[b]!.toString('hex')}`).join(',')}`]);
    }
    // PCR 12 too (where systemd-boot measures command lines, here untouched): a policy's command-line rule needs both PCRs quoted
    const selection = BANKS.map((b) => `${b}:0,1,2,3,4,5,6,7,8,12`).join('+');
    tpm.must('tpm2_createprimary', ['-C', 'e', '-g', 'sha256', '-G', 'ecc256', '-c', tpm.path('primary.ctx')]);
    tpm.must('tpm2_create', ['-C', tpm.path('primary.ctx'), '-g', 'sha256', '-G', 'ecc256:ecdsa-sha256:null', '-u', tpm.path('ak.pub'), '-r', tpm.path('ak.priv'), '-a', 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign']);
    tpm.must('tpm2_load', ['-C', tpm.path('primary.ctx'), '-u', tpm.path('ak.pub'), '-r', tpm.path('ak.priv'), '-c', tpm.path('ak.ctx')]);
    const nonce = randomBytes(16).toString('hex');
    tpm.must('tpm2_quote', ['-c', tpm.path('ak.ctx'), '-l', selection, '-q', nonce, '-g', 'sha256', '-m', tpm.path('quote.msg'), '-s', tpm.path('quote.sig'), '-o', tpm.path('quote.pcrs')]);
    // tpm2_checkquote: the signature verifies and quote.pcrs hashes to the quoted pcrDigest
    tpm.must('tpm2_checkquote', ['-u', tpm.path('ak.pub'), '-m', tpm.path('quote.msg'), '-s', tpm.path('quote.sig'), '-f', tpm.path('quote.pcrs'), '-g', 'sha256', '-q', nonce]);
    const quoted = readTpm2ToolsPcrFile(readFileSync(tpm.path('quote.pcrs')));

    // the same values tpm2_pcrread reports
    const read = tpm.must('tpm2_pcrread', [selection]);
    for (const [bank, pcrs] of Object.entries(pcrValuesToJson(quoted))) {
      for (const [i, v] of Object.entries(pcrs)) assert.match(read, new RegExp(`${bank}:[\\s\\S]*?\\n\\s+${i}\\s*: 0x${v.toUpperCase()}`), `${bank} PCR ${i}`);
    }

    const log = parseEventLog(writer.toBytes());
    const r = replayAgainstQuote(log, quoted);
    assert.equal(r.ok, true, r.checks.map((c) => c.message).join('\n'));
    assert.equal(r.pcrs.filter((p) => p.status === 'match').length, 2 * 9);
    const facts = extractBootFacts(r.verified);
    assert.equal(facts.secureBoot?.enabled, true);
    assert.deepEqual(facts.kernelCommandLines.map((k) => k.text), ['root=/dev/vda1 ro quiet']);
    assert.equal(facts.bootApplications[0]!.filePath, '\\EFI\\BOOT\\BOOTX64.EFI');
    assert.equal(facts.bootApplications[0]!.digests.sha256, createHash('sha256').update(IMAGE).digest('hex'));
    assert.deepEqual(facts.crtmVersions.map((v) => v.version), ['vtpm-verify test firmware 1.0']);
    assert.deepEqual(facts.unattested, []);
    const quotedWithoutPcr12 = Object.fromEntries(Object.entries(pcrValuesToJson(quoted)).map(([bank, pcrs]) => [bank, Object.fromEntries(Object.entries(pcrs).filter(([i]) => i !== '12'))]));
    assert.deepEqual(pcrValuesToJson(replayEventLog(log)), quotedWithoutPcr12);

    // A log that claims another kernel command line: PCR 8 fails in both banks, nothing else.
    const forged = replayAgainstQuote(parseEventLog(bootLog('root=/dev/vda1 ro quiet init=/bin/sh').toBytes()), quoted);
    assert.equal(forged.ok, false);
    const failed = forged.checks.filter((c) => c.status === 'fail' && c.id !== 'eventlog.replay');
    assert.deepEqual(failed.map((c) => c.id), ['eventlog.replay.sha1.8', 'eventlog.replay.sha256.8']);
    assert.ok(failed.every((c) => c.code === 'EVENTLOG_REPLAY_MISMATCH' && /PCR 8/.test(c.message)));
    assert.equal(extractBootFacts(forged.verified).kernelCommandLines.length, 0);
    assert.equal(extractBootFacts(forged.verified).secureBoot?.enabled, true, 'PCR 7 still matched');

    // The same through the CLI: quote + log verified together (issue: quote --eventlog).
    writeFileSync(tpm.path('good.log'), writer.toBytes());
    writeFileSync(tpm.path('forged.log'), bootLog('root=/dev/vda1 ro quiet init=/bin/sh').toBytes());
    const base = ['quote', '--ak', tpm.path('ak.pub'), '--message', tpm.path('quote.msg'), '--signature', tpm.path('quote.sig'), '--nonce', nonce, '--pcrs', tpm.path('quote.pcrs')];
    const good = await runCli([...base, '--eventlog', tpm.path('good.log'), '--json']);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.equal(good.json?.result.logs.valid, true);
    const bad = await runCli([...base, '--eventlog', tpm.path('forged.log'), '--json']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.equal(bad.json?.error?.code, 'EVENTLOG_REPLAY_MISMATCH');
    assert.match(bad.json?.error?.message ?? '', /PCR 8/);
    const human = await runCli([...base, '--eventlog', tpm.path('forged.log')]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /quote VALID.*logs INVALID.*EVENTLOG_REPLAY_MISMATCH/);
    const noPcrs = await runCli(['quote', '--ak', tpm.path('ak.pub'), '--message', tpm.path('quote.msg'), '--signature', tpm.path('quote.sig'), '--nonce', nonce, '--eventlog', tpm.path('good.log'), '--json']);
    assert.equal(noPcrs.code, 2);

    // policy init from the same quote and log files: a golden policy that accepts them (policy evaluate), refusing the forged log.
    const q = ['--ak', tpm.path('ak.pub'), '--message', tpm.path('quote.msg'), '--signature', tpm.path('quote.sig'), '--nonce', nonce, '--pcrs', tpm.path('quote.pcrs')];
    const init = await runCli(['policy', 'init', ...q, '--eventlog', tpm.path('good.log'), '-o', tpm.path('golden.yaml'), '--json']);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    const golden = readFileSync(tpm.path('golden.yaml'), 'utf8');
    assert.match(golden, /root=\/dev\/vda1 ro quiet/);
    assert.match(golden, new RegExp(createHash('sha256').update(IMAGE).digest('hex')));
    assert.equal((await runCli(['policy', 'check', tpm.path('golden.yaml')])).code, 0);
    const refused = await runCli(['policy', 'init', ...q, '--eventlog', tpm.path('forged.log'), '--json']);
    assert.equal(refused.code, 1);
    assert.equal(refused.json?.error?.code, 'EVENTLOG_REPLAY_MISMATCH');
  } finally {
    await tpm.stop();
  }
});
