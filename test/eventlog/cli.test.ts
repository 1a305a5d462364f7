// The real `vtpm-verify eventlog` binary: JSON envelope, human output, exit codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { corpusPath } from '../helpers/paths.js';
import { eventlogSummary, yamlPcrs } from './corpus.js';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import { EV } from '../../src/eventlog/event-types.js';

test('eventlog --json: pcrs per bank (lowercase hex, no 0x) and decoded events', async (t) => {
  const log = corpusPath(t, 'eventlogs', 'gotpmtools_glinux-alex.bin');
  if (!log) return;
  const run = await runCli(['eventlog', log, '--json']);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.json?.ok, true);
  const r = run.json!.result;
  assert.deepEqual(r.pcrs, eventlogSummary()['eventlogs/gotpmtools_glinux-alex.bin']!.replay_pcrs_spec);
  assert.match(r.pcrs.sha256['0'], /^[0-9a-f]{64}$/);
  assert.equal(r.log.format, 'crypto-agile');
  assert.equal(r.log.startupLocality, 3);
  assert.deepEqual(r.log.banks, ['sha1', 'sha256']);
  assert.equal(r.events.length, 29);
  const locality = r.events.find((e: { content: { kind: string } }) => e.content.kind === 'startup-locality');
  assert.deepEqual([locality.type, locality.content.locality], ['EV_NO_ACTION', 3]);
  assert.equal(r.events[0].content.kind, 'spec-id');
  assert.deepEqual(r.events[0].content.algorithms.map((a: { name: string }) => a.name), ['sha1', 'sha256']);
  assert.match(r.trust, /^unverified/);
});

test('eventlog --ima --json adds the IMA list: template-hash counts and PCR 10 per bank', async (t) => {
  const log = corpusPath(t, 'eventlogs', 'imaevmutils_test_binary_bios_measurements.bin');
  const ima = corpusPath(t, 'ima', 'imaevmutils_test_ascii_runtime_measurements');
  if (!log || !ima) return;
  const run = await runCli(['eventlog', log, '--ima', ima, '--json']);
  assert.equal(run.code, 0, run.stderr);
  const r = run.json!.result;
  assert.deepEqual(r.pcrs, yamlPcrs(join(log, '..', '..', 'expected', 'imaevmutils_test_binary_bios_measurements.yaml')));
  assert.deepEqual(r.ima.templateHashes, { valid: 3, mismatch: 0, violation: 0 });
  assert.deepEqual(Object.keys(r.ima.pcrs), ['sha1', 'sha256']);
  assert.match(r.ima.pcrs.sha256['10'], /^[0-9a-f]{64}$/);
  assert.equal(r.ima.entries[1].name, '/init');
  assert.equal(r.ima.entries[1].line, 2);
});

test('eventlog: an IMA template hash that does not verify exits 1 with IMA_TEMPLATE_HASH_MISMATCH', async (t) => {
  const log = corpusPath(t, 'eventlogs', 'tpm2tools_event.bin');
  const ima = corpusPath(t, 'ima', 'keylime_ima-log-unknown');
  if (!log || !ima) return;
  const run = await runCli(['eventlog', log, '--ima', ima, '--json']);
  assert.equal(run.code, 1);
  assert.equal(run.json?.ok, false);
  assert.equal(run.json?.error?.code, 'IMA_TEMPLATE_HASH_MISMATCH');
  assert.equal(run.json?.error?.details.entries[0].line, 2);
  assert.ok(run.json?.result.pcrs, 'the result is still there');
});

test('eventlog: malformed input exits 2 with the typed code; human output says why', async (t) => {
  const cel = corpusPath(t, 'eventlogs', 'cel', 'gotpmtools_agent_cel.bin');
  if (!cel) return;
  const json = await runCli(['eventlog', cel, '--json']);
  assert.equal(json.code, 2);
  assert.equal(json.json?.error?.code, 'EVENTLOG_NOT_PC_CLIENT');
  assert.equal(json.json?.error?.details.format, 'cel-tlv');
  const human = await runCli(['eventlog', cel]);
  assert.equal(human.code, 2);
  assert.match(human.stderr, /EVENTLOG_NOT_PC_CLIENT: this is a TCG Canonical Event Log/);
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-eventlog-'));
  try {
    writeFileSync(join(dir, 'bad.txt'), '10 abc\n');
    const bad = await runCli(['eventlog', cel.replace(/cel\/gotpmtools_agent_cel\.bin$/, 'tpm2tools_event.bin'), '--ima', join(dir, 'bad.txt'), '--json']);
    assert.equal(bad.code, 2);
    assert.equal(bad.json?.error?.code, 'IMA_MALFORMED_LINE');
    assert.equal(bad.json?.error?.details.line, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const missing = await runCli(['eventlog', '/nonexistent/log.bin', '--json']);
  assert.equal(missing.code, 2);
  assert.equal(missing.json?.error?.code, 'FILE_UNREADABLE');
});

test('eventlog human output lists events with decoded content and the PCRs of every bank', async (t) => {
  const log = corpusPath(t, 'eventlogs', 'tpm2tools_event-sd-boot-fedora37.bin');
  if (!log) return;
  const run = await runCli(['eventlog', log]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /crypto-agile, banks sha256, 28 events/);
  assert.match(run.stdout, /nothing here is verified against a quote/);
  assert.match(run.stdout, /EV_EFI_VARIABLE_DRIVER_CONFIG\s+\S+\s+SecureBoot = off/);
  assert.match(run.stdout, /kernel-cmdline: " console=ttyS0 console=tty0 efi=debug "/);
  assert.match(run.stdout, /Boot0001 = Linux Boot Manager HD\(1,GPT,3cb9643c-6c08-4fe5-852d-17e1ae701158,0x800,0x100000\)\/\\EFI\\systemd\\systemd-bootx64\.efi/);
  assert.match(run.stdout, /PCRs \(sha256\)\n\s+0 {2}464a812afa3f88d8a5f1fe7e71df41951435ebd05edb742db8c2c0d67d62c0d1/);
  const help = await runCli(['eventlog', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--ima <file>/);
  assert.match(help.stdout, /Example:/);
});

test('eventlog --json: bytes inside decoded content are lowercase hex, never a Buffer object', async () => {
  // JSON.stringify calls Buffer#toJSON before the replacer: without care every variable value,
  // vendorInfo and event-tag payload came out as {"type":"Buffer","data":[...]}.
  const log = new EventLogWriter({ banks: ['sha256'], vendorInfo: Buffer.from([0xde, 0xad]) })
    .addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, '8be4df61-93ca-11d2-aa0d-00e098032b8c', 'SecureBoot', Buffer.from([1]))
    .toBytes();
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-eventlog-'));
  try {
    writeFileSync(join(dir, 'log.bin'), log);
    const run = await runCli(['eventlog', join(dir, 'log.bin'), '--json']);
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stdout, /"Buffer"/);
    const events = run.json!.result.events;
    assert.equal(events[0].content.vendorInfo, 'dead');
    assert.equal(events[1].content.name, 'SecureBoot');
    assert.equal(events[1].content.value, '01');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eventlog --ima: an empty IMA list parses (0 entries, exit 0) but says why that is suspicious', async () => {
  // a copy of a securityfs file made by a tool that trusts its reported size (0) is empty
  const log = new EventLogWriter({ banks: ['sha256'] }).addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, '8be4df61-93ca-11d2-aa0d-00e098032b8c', 'SecureBoot', Buffer.from([1])).toBytes();
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-eventlog-'));
  try {
    writeFileSync(join(dir, 'log.bin'), log);
    writeFileSync(join(dir, 'empty.ima'), '');
    const json = await runCli(['eventlog', join(dir, 'log.bin'), '--ima', join(dir, 'empty.ima'), '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.json!.result.ima.entryCount, 0);
    assert.ok(json.json!.result.ima.notes.some((n: string) => /boot_aggregate/.test(n) && /securityfs/.test(n)), JSON.stringify(json.json!.result.ima.notes));
    const human = await runCli(['eventlog', join(dir, 'log.bin'), '--ima', join(dir, 'empty.ima')]);
    assert.match(human.stdout, /0 entries[^\n]*\n\s+note: the list has no entries, but a kernel's list always begins with boot_aggregate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('eventlog --ima: a list the heap cannot hold is IMA_TOO_LARGE (exit 2, the heap and how to raise it), not V8 ending the process out of memory', async () => {
  // 300,000 binary entries of 33 bytes (a one-letter template with no data: the most entries per byte) in a
  // 10 MB file: node with a 128 MB heap ran out parsing them with --json (exit 134, no envelope)
  const entry = Buffer.alloc(33);
  entry.writeUInt32LE(10, 0);
  createHash('sha1').update(Buffer.alloc(0)).digest().copy(entry, 4);
  entry.writeUInt32LE(1, 24);
  entry[28] = 0x78;
  entry.writeUInt32LE(0, 29);
  const log = new EventLogWriter({ banks: ['sha256'] }).addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, '8be4df61-93ca-11d2-aa0d-00e098032b8c', 'SecureBoot', Buffer.from([1])).toBytes();
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-eventlog-'));
  try {
    writeFileSync(join(dir, 'log.bin'), log);
    writeFileSync(join(dir, 'big.ima'), Buffer.concat(Array<Buffer>(300_000).fill(entry)));
    const small = { env: { NODE_OPTIONS: '--max-old-space-size=128' } };
    for (const json of [true, false]) {
      const run = await runCli(['eventlog', join(dir, 'log.bin'), '--ima', join(dir, 'big.ima'), ...(json ? ['--json'] : [])], small);
      assert.equal(run.code, 2, `--json ${json}: ${run.stderr.slice(0, 300)}`);
      const message = json ? run.json!.error!.message : run.stderr;
      assert.match(message, /IMA list does not fit the memory node may use here: after \d+ entries the heap holds \d+ MB of its \d+ MB limit.*--max-old-space-size=/);
      if (json) assert.deepEqual([run.json!.error!.code, run.json!.error!.details.cap], ['IMA_TOO_LARGE', 'memory']);
    }
    // an edited list whose every template hash is wrong: its checks held two hex digests each, more heap than the
    // parse leaves room for (a review ran 128 MB out with lists like it); past the first 10,000 they hold none
    const wrong = 'ab'.repeat(20);
    const lines = Array.from({ length: 250_000 }, (_, i) => `10 ${wrong} ima-ng sha256:${createHash('sha256').update(String(i)).digest('hex')} /usr/bin/file-${i}`);
    writeFileSync(join(dir, 'edited.ima'), `${lines.join('\n')}\n`);
    const edited = await runCli(['eventlog', join(dir, 'log.bin'), '--ima', join(dir, 'edited.ima')], small);
    assert.equal(edited.code, 1, edited.stderr.slice(0, 300));
    assert.match(edited.stdout, /250000 mismatch\(es\)/);
    assert.match(edited.stdout, /240000 more mismatches and violations past the first 10000 are counted, without their hashes/);
    // node's default heap holds it
    const run = await runCli(['eventlog', join(dir, 'log.bin'), '--ima', join(dir, 'big.ima'), '--json']);
    assert.equal(run.code, 0, run.stderr.slice(0, 300));
    assert.equal(run.json!.result.ima.entryCount, 300_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
