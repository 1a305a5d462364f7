// IMA measurement lists: every corpus list's template hashes, the binary
// samples against evmctl, malformed lines, the replay rules (violations,
// per-bank template digests), incremental replay and replay against a quote.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseImaAscii, parseImaBinary, parseImaList } from '../../src/eventlog/ima/parse.js';
import { checkAndReplayIma, checkTemplateHashes, initialImaState, replayIma } from '../../src/eventlog/ima/replay.js';
import { replayImaAgainstQuote } from '../../src/eventlog/ima/quote-replay.js';
import { formatImaEntry } from '../../src/eventlog/ima/format.js';
import { checkBootAggregate } from '../../src/eventlog/ima/boot-aggregate.js';
import { extractImaFacts } from '../../src/eventlog/facts.js';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { replayEventLog } from '../../src/eventlog/replay.js';
import type { PcrValues } from '../../src/tpm/pcrs.js';
import fc from 'fast-check';
import { VtpmError } from '../../src/errors.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { corpusPath } from '../helpers/paths.js';

type Counts = { valid: number; mismatch: number; violation: number };

/** What SOURCES.md and evmctl say about each corpus list; an entry per file, so a new file fails until described. */
const EXPECTED: Record<string, Counts | { code: string; line?: number; why: string }> = {
  'imaevmutils_sample-ascii_runtime_measurements-pcrs-8-9': { valid: 1, mismatch: 0, violation: 0 },
  imaevmutils_test_ascii_runtime_measurements: { valid: 3, mismatch: 0, violation: 0 },
  keylime_archive_ascii_runtime_measurements: { valid: 826, mismatch: 0, violation: 0 },
  keylime_archive_ascii_runtime_measurements_ima: { valid: 858, mismatch: 0, violation: 9 },
  'keylime_ima-log-sha1': { valid: 1, mismatch: 0, violation: 1 },
  'keylime_ima-log-sha256': { valid: 2, mismatch: 0, violation: 0 },
  'keylime_ima-log-sha384': { valid: 1, mismatch: 0, violation: 1 },
  'keylime_ima-log-sha512': { valid: 1, mismatch: 0, violation: 1 },
  // a 64-hex template hash: SOURCES calls it synthetic; it is the SM3 template digest, so it verifies
  'keylime_ima-log-sm3_256': { valid: 1, mismatch: 0, violation: 1 },
  // synthetic: an "unknown" digest algorithm and a template hash copied from the sm3 sample
  'keylime_ima-log-unknown': { valid: 0, mismatch: 1, violation: 1 },
  'keylimetests_ascii_runtime_measurements-1': { valid: 4, mismatch: 0, violation: 0 },
  'keylimetests_ascii_runtime_measurements-2': { valid: 11, mismatch: 0, violation: 0 },
  'keylimetests_ima_log.txt': { valid: 5, mismatch: 0, violation: 0 },
  'rustkeylime_empty_ima_log.txt': { valid: 0, mismatch: 0, violation: 0 },
  'rustkeylime_ima_log.txt': { valid: 1, mismatch: 0, violation: 0 },
  'rustkeylime_invalid_ima_log.txt': { code: 'IMA_MALFORMED_LINE', line: 1, why: 'one line of garbage' },
  'tss_sml-ima-ng-sha1.bin': { valid: 6, mismatch: 0, violation: 0 },
  'tss_sml-ima-sha1.bin': { valid: 12, mismatch: 0, violation: 0 },
  'tss_sml-ima-sig-sha256.bin': { valid: 9, mismatch: 0, violation: 0 },
  // invalidated variants: zeroed template hashes are violations; one is cut inside its template data
  'tss_sml-ima-sha1-invalidated.bin': { valid: 0, mismatch: 0, violation: 1 },
  'tss_sml-ima-sig-sha256-invalidated.bin': { valid: 1, mismatch: 0, violation: 1 },
  'tss_sml-ima-ng-sha1-invalidated.bin': { code: 'IMA_TRUNCATED', why: 'its only entry declares 49 bytes of template data and has 48 (evmctl: "Unable to read template")' },
};

test('every corpus IMA list: template hashes verify on the valid lists; violations, synthetic and broken ones are reported as such', (t) => {
  const dir = corpusPath(t, 'ima');
  if (!dir) return;
  const files = readdirSync(dir).sort();
  assert.deepEqual(files.filter((f) => !(f in EXPECTED)), [], 'a corpus list without an expectation');
  for (const f of files) {
    const want = EXPECTED[f]!;
    if ('code' in want) {
      const err = assertThrowsCode(() => parseImaList(readFileSync(join(dir, f))), want.code);
      if (want.line !== undefined) assert.equal(err.details['line'], want.line);
      t.diagnostic(`${f}: ${want.code} (${want.why}): ${err.message}`);
      continue;
    }
    const list = parseImaList(readFileSync(join(dir, f)));
    const counts: Counts = { valid: 0, mismatch: 0, violation: 0 };
    for (const c of checkTemplateHashes(list)) counts[c.status]++;
    assert.deepEqual(counts, want, f);
    t.diagnostic(`${f}: ${list.format}, ${list.entries.length} entries: ${JSON.stringify(counts)}${list.notes.length ? `; ${list.notes.join('; ')}` : ''}`);
  }
});

test('checkAndReplayIma (one pass, the SHA-1 template digest computed once) equals checkTemplateHashes and replayIma of each bank, on every corpus list', (t) => {
  const dir = corpusPath(t, 'ima');
  if (!dir) return;
  const banks = ['sha1', 'sha256', 'sha384'] as const;
  let lists = 0;
  for (const f of readdirSync(dir).sort()) {
    let list;
    try {
      list = parseImaList(readFileSync(join(dir, f)));
    } catch {
      continue; // the broken samples: the test above
    }
    lists++;
    const both = checkAndReplayIma(list, banks);
    // the same objects member for member, in the same order (the CLI prints them as JSON)
    assert.equal(JSON.stringify(both.checks), JSON.stringify(checkTemplateHashes(list)), f);
    assert.deepEqual([...both.states.keys()], banks, f);
    for (const bank of banks) assert.deepEqual(both.states.get(bank), replayIma(list, bank), `${f} ${bank}`);
  }
  assert.ok(lists >= 15, `${lists} lists`);
  // an incremental list cannot be replayed from the start: IMA_ENTRY_GAP, as replayIma says
  const p = join(dir, 'keylime_archive_ascii_runtime_measurements');
  const tail = parseImaAscii(readFileSync(p, 'utf8').split('\n').slice(10).join('\n'), { firstEntryIndex: 10 });
  assertThrowsCode(() => checkAndReplayIma(tail, ['sha1']), 'IMA_ENTRY_GAP');
});

test('binary lists decode to exactly the entries evmctl printed', (t) => {
  const dir = corpusPath(t, 'expected', 'evmctl');
  if (!dir) return;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.ascii'))) {
    const list = parseImaList(readFileSync(join(dir, '..', '..', 'ima', f.replace(/\.ascii$/, '.bin'))));
    const theirs: string[] = readFileSync(join(dir, f), 'utf8').trimEnd().split('\n');
    assert.deepEqual(list.entries.map(formatImaEntry), theirs, f);
  }
  // the one evmctl could not read
  assertThrowsCode(() => parseImaList(readFileSync(join(dir, '..', '..', 'ima', 'tss_sml-ima-ng-sha1-invalidated.bin'))), 'IMA_TRUNCATED');
});

test('a malformed line is a typed error carrying its line number', (t) => {
  const p = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements');
  if (!p) return;
  const lines = readFileSync(p, 'utf8').split('\n');
  const at = 500; // 1-based
  const good = lines[at - 1]!;
  const cases: [string, string, string][] = [
    [good.replace(/^10 /, 'ten '), 'IMA_MALFORMED_LINE', 'PCR'],
    [good.split(' ').slice(0, 3).join(' '), 'IMA_MALFORMED_LINE', 'fields'],
    [good.replace(/^10 [0-9a-f]{40}/, '10 xyz'), 'IMA_MALFORMED_LINE', 'template hash'],
    [good.replace(' ima-ng ', ' ima-modsig '), 'IMA_UNKNOWN_TEMPLATE', 'template'],
    [good.replace(/sha1:[0-9a-f]{4}/, 'sha1:zzzz'), 'IMA_FIELD_INVALID', 'hex'],
    [good.replace(/sha1:([0-9a-f]{40})/, 'sha1:$1aa'), 'IMA_FIELD_INVALID', 'size'],
    ['', 'IMA_MALFORMED_LINE', 'blank'],
  ];
  for (const [line, code, why] of cases) {
    const text = [...lines.slice(0, at - 1), line, ...lines.slice(at)].join('\n');
    const err = assertThrowsCode(() => parseImaAscii(text), code);
    assert.equal(err.details['line'], at, `${why}: ${err.message}`);
    assert.match(err.message, new RegExp(`line ${at}\\b`));
  }
});

test('binary entries that are cut or oversized are typed errors naming the entry', () => {
  const entry = Buffer.concat([Buffer.from('0a000000', 'hex'), Buffer.alloc(20, 7), Buffer.from('06000000', 'hex'), Buffer.from('ima-ng'), Buffer.from('ffffff7f', 'hex')]);
  assert.equal(assertThrowsCode(() => parseImaList(entry), 'IMA_TOO_LARGE').details['entry'], 0);
  const fields = Buffer.concat([Buffer.from('05000000', 'hex'), Buffer.from('abc')]);
  const cut = Buffer.concat([entry.subarray(0, entry.length - 4), Buffer.from([fields.length, 0, 0, 0]), fields]);
  assertThrowsCode(() => parseImaList(cut), 'IMA_TRUNCATED');
});

const sha = (alg: string, ...parts: Uint8Array[]): Buffer => Buffer.from(createHash(alg).update(Buffer.concat(parts)).digest());
const le32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

test('replay rules: per-bank template digests over the length-prefixed fields, the legacy padded name, violations as all ones', () => {
  const digest = Buffer.alloc(32, 0xab);
  const dng = Buffer.concat([Buffer.from('sha256:\0', 'latin1'), digest]);
  const nng = Buffer.from('/usr/bin/true\0');
  const templateData = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
  const listed = sha('sha1', templateData).toString('hex');
  const text = [
    `10 ${listed} ima-ng sha256:${digest.toString('hex')} /usr/bin/true`,
    `10 ${'0'.repeat(40)} ima-ng sha256:${'0'.repeat(64)} /tmp/written-while-open`,
    `10 ${sha('sha1', Buffer.alloc(20, 1), Buffer.from('/init'), Buffer.alloc(251)).toString('hex')} ima ${'01'.repeat(20)} /init`,
  ].join('\n');
  const list = parseImaAscii(text);
  assert.deepEqual(checkTemplateHashes(list).map((c) => c.status), ['valid', 'violation', 'valid']);
  for (const bank of ['sha1', 'sha256'] as const) {
    const size = bank === 'sha1' ? 20 : 32;
    let pcr: Buffer = Buffer.alloc(size);
    pcr = sha(bank, pcr, sha(bank, templateData));
    pcr = sha(bank, pcr, Buffer.alloc(size, 0xff));
    pcr = sha(bank, pcr, sha(bank, Buffer.alloc(20, 1), Buffer.from('/init'), Buffer.alloc(251)));
    assert.deepEqual(replayIma(list, bank).pcrs.get(10), pcr, bank);
  }
});

test('the boot_aggregate entries hash the PCRs replayed from their firmware logs (0-9 on a new kernel, 0-7 on an old one)', (t) => {
  for (const [log, ima, range] of [
    ['imaevmutils_sample-binary_bios_measurements-pcrs-8-9.bin', 'imaevmutils_sample-ascii_runtime_measurements-pcrs-8-9', '0-9'],
    ['imaevmutils_test_binary_bios_measurements.bin', 'imaevmutils_test_ascii_runtime_measurements', '0-7'],
  ] as const) {
    const lp = corpusPath(t, 'eventlogs', log);
    const ip = corpusPath(t, 'ima', ima);
    if (!lp || !ip) return;
    const pcrs = replayEventLog(parseEventLog(readFileSync(lp)));
    const entry = parseImaList(readFileSync(ip)).entries[0]!;
    assert.deepEqual(checkBootAggregate(entry, pcrs), { status: 'match', pcrs: range });
    const other = new Map(pcrs);
    other.set('sha256', new Map([...pcrs.get('sha256')!].map(([i, v]) => [i, i === 4 ? Buffer.alloc(32) : v])));
    assert.equal(checkBootAggregate(entry, other).status, 'mismatch');
  }
});

function quoteOf(list: ReturnType<typeof parseImaAscii>, bank: 'sha1' | 'sha256', upTo?: number): PcrValues {
  const head = upTo === undefined ? list : { ...list, entries: list.entries.slice(0, upTo) };
  return new Map([[bank, replayIma(head, bank).pcrs]]);
}

test('incremental replay from a carried state equals a full replay; a gap is IMA_ENTRY_GAP', (t) => {
  const p = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements');
  if (!p) return;
  const text = readFileSync(p, 'utf8');
  const full = parseImaAscii(text);
  const k = 400;
  const first = parseImaAscii(text.split('\n').slice(0, k).join('\n'));
  const state = replayIma(first, 'sha256');
  assert.equal(state.nextEntry, k);
  const tail = parseImaAscii(text.split('\n').slice(k).join('\n'), { firstEntryIndex: k });
  assert.equal(tail.entries[0]!.index, k);
  assert.deepEqual(replayIma(tail, 'sha256', state).pcrs, replayIma(full, 'sha256').pcrs);
  // a carried state with a full list skips what it has seen
  assert.deepEqual(replayIma(full, 'sha256', state).pcrs, replayIma(full, 'sha256').pcrs);
  assertThrowsCode(() => replayIma(tail, 'sha256', initialImaState('sha256')), 'IMA_ENTRY_GAP');
});

test('against a quote: a list read after the quote verifies up to where the quote was taken; the state carries on', (t) => {
  const p = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements');
  if (!p) return;
  const list = parseImaAscii(readFileSync(p, 'utf8'));
  const n = list.entries.length;
  const r = replayImaAgainstQuote(list, quoteOf(list, 'sha256', n - 5));
  assert.equal(r.ok, true, r.checks.map((c) => c.message).join('\n'));
  assert.equal(r.bank, 'sha256');
  assert.deepEqual([r.pcrs[0]!.status, r.pcrs[0]!.coveredEntries, r.pcrs[0]!.lastCoveredEntry], ['match', n - 5, n - 6]);
  assert.match(r.checks.find((c) => c.id === 'ima.replay.sha256.10')!.message, /the 5 later entries were measured after the quote/);
  assert.equal(r.verified!.entries.length, n - 5);
  const facts = extractImaFacts(r.verified!);
  assert.equal(facts.byPath.get('/bin/sh')![0]!.digest, 'c90333979f56f38bbd41b81806015b0de502f3cc');
  assert.equal(facts.byPath.get('/bin/sh')![0]!.digestAlgorithm, 'sha1');
  // the next quote covers the rest; replay resumes from the carried state
  const next = replayImaAgainstQuote(list, quoteOf(list, 'sha256'), { from: r.state! });
  assert.equal(next.ok, true);
  assert.equal(next.verified!.entries.length, 5);
  assert.equal(next.state!.nextEntry, n);
});

test('against a quote: an altered entry, or an edited template hash, fails', (t) => {
  const p = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements');
  if (!p) return;
  const text = readFileSync(p, 'utf8');
  const quoted = quoteOf(parseImaAscii(text), 'sha1');
  const altered = parseImaAscii(text.replace(' /bin/sh\n', ' /bin/zsh\n'));
  const r = replayImaAgainstQuote(altered, quoted);
  assert.equal(r.ok, false);
  const c = r.checks.find((x) => x.id === 'ima.replay.sha1.10')!;
  assert.equal(c.code, 'IMA_REPLAY_MISMATCH');
  assert.equal(r.verified, undefined);
  // the listed hash of an entry edited alone: the data still replays, the list is inconsistent
  const lines = text.split('\n');
  lines[9] = lines[9]!.replace(/^10 [0-9a-f]{8}/, '10 00000000');
  const edited = replayImaAgainstQuote(parseImaAscii(lines.join('\n')), quoted);
  assert.equal(edited.ok, false);
  assert.equal(edited.checks.find((x) => x.id === 'ima.template-hashes')!.code, 'IMA_TEMPLATE_HASH_MISMATCH');
  assert.match(edited.checks.find((x) => x.id === 'ima.template-hashes')!.message, /line 10/);
  // a quote without the IMA PCR
  const none = replayImaAgainstQuote(altered, new Map([['sha256', new Map([[0, Buffer.alloc(32)]])]]));
  assert.equal(none.checks[0]!.code, 'IMA_REPLAY_NO_OVERLAP');
});

test('against a quote: the list must account for PCR 10; entries claimed into another PCR, or a quote without PCR 10, verify nothing', () => {
  const ngEntry = (pcr: number, path: string, content: string) => {
    const digest = sha('sha256', Buffer.from(content));
    const dng = Buffer.concat([Buffer.from('sha256:\0', 'latin1'), digest]);
    const nng = Buffer.from(`${path}\0`);
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
    return { line: `${pcr} ${sha('sha1', data).toString('hex')} ima-ng sha256:${digest.toString('hex')} ${path}`, extend: sha('sha256', data) };
  };
  const zero = Buffer.alloc(32);
  // what IMA really measured into PCR 10; a benign entry someone with root extended into PCR 14 and lists alone
  const evil = ngEntry(10, '/tmp/evil', 'malware');
  const fake = ngEntry(14, '/usr/bin/bash', 'bash');
  const quoted: PcrValues = new Map([['sha256', new Map([[10, sha('sha256', zero, evil.extend)], [14, sha('sha256', zero, fake.extend)]])]]);
  const forged = replayImaAgainstQuote(parseImaAscii(`${fake.line}\n`), quoted);
  assert.equal(forged.ok, false);
  const c = forged.checks.find((x) => x.id === 'ima.replay.sha256.10')!;
  assert.equal(c.code, 'IMA_REPLAY_MISMATCH');
  assert.match(c.message, /no entry for it/);
  // the same list with the quote leaving PCR 10 out
  const without10: PcrValues = new Map([['sha256', new Map([[14, quoted.get('sha256')!.get(14)!]])]]);
  const noPcr10 = replayImaAgainstQuote(parseImaAscii(`${fake.line}\n`), without10);
  assert.equal(noPcr10.ok, false);
  assert.equal(noPcr10.checks.find((x) => x.id === 'ima.replay.sha256.10')!.code, 'IMA_REPLAY_NO_OVERLAP');
  assert.equal(noPcr10.checks.find((x) => x.id === 'ima.replay')!.code, 'IMA_REPLAY_NO_OVERLAP');
  // the honest list verifies
  assert.equal(replayImaAgainstQuote(parseImaAscii(`${evil.line}\n`), quoted).ok, true);
  // nothing in PCR 10 while the quoted PCR 10 is at its initial value: IMA did not measure, the list is not IMA's
  const idle: PcrValues = new Map([['sha256', new Map([[10, zero], [14, quoted.get('sha256')!.get(14)!]])]]);
  const r = replayImaAgainstQuote(parseImaAscii(`${fake.line}\n`), idle);
  assert.equal(r.ok, false);
  assert.match(r.checks.find((x) => x.id === 'ima.replay.sha256.10')!.message, /IMA measured nothing into it/);
  // a continued replay with no new entry for PCR 10 finds it at the carried value
  const first = replayImaAgainstQuote(parseImaAscii(`${evil.line}\n${fake.line}\n`), quoted);
  assert.equal(first.ok, true);
  const more = ngEntry(14, '/usr/bin/ls', 'ls');
  const later: PcrValues = new Map([['sha256', new Map([[10, quoted.get('sha256')!.get(10)!], [14, sha('sha256', quoted.get('sha256')!.get(14)!, more.extend)]])]]);
  const next = replayImaAgainstQuote(parseImaAscii(`${evil.line}\n${fake.line}\n${more.line}\n`), later, { from: first.state! });
  assert.equal(next.ok, true, next.checks.map((x) => x.message).join('\n'));
  assert.deepEqual(next.pcrs.map((p) => [p.pcr, p.status, p.entries]), [[10, 'match', 0], [14, 'match', 1]]);
});

test('legacy ima template lists with violations replay in both banks, and verify against a quote', (t) => {
  const p = corpusPath(t, 'ima', 'keylime_archive_ascii_runtime_measurements_ima');
  if (!p) return;
  const list = parseImaList(readFileSync(p));
  const r = replayImaAgainstQuote(list, quoteOf(list, 'sha1'));
  assert.equal(r.ok, true);
  const facts = extractImaFacts(r.verified!);
  assert.equal(facts.violations.length, 9);
  assert.equal(facts.measurements.length, 858);
  assert.ok(facts.measurements.every((m) => m.template === 'ima' && m.digestAlgorithm === 'sha1'));
  assert.notDeepEqual(replayIma(list, 'sha256').pcrs.get(10), undefined);
});

test('IMA parse errors are always typed', () => {
  for (const bad of ['10', '10 abc', '\u0000\u0001garbage', '10 ' + 'a'.repeat(40) + ' ima-ng']) {
    try {
      parseImaList(Buffer.from(bad, 'latin1'));
      assert.fail(`parsed ${JSON.stringify(bad)}`);
    } catch (err) {
      assert.ok(err instanceof VtpmError && err.kind === 'input', String(err));
    }
  }
});

test('paths are bytes: UTF-8 and non-UTF-8 names rebuild exactly, so their template hashes verify', () => {
  for (const name of [Buffer.from('/tmp/ünïcode file with spaces'), Buffer.from([0x2f, 0x74, 0xff, 0xfe, 0x41])]) {
    const digest = Buffer.alloc(32, 1);
    const dng = Buffer.concat([Buffer.from('sha256:\0'), digest]);
    const nng = Buffer.concat([name, Buffer.from([0])]);
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
    const line = Buffer.concat([Buffer.from(`10 ${sha('sha1', data).toString('hex')} ima-ng sha256:${digest.toString('hex')} `), name, Buffer.from('\n')]);
    const list = parseImaList(line);
    assert.deepEqual(checkTemplateHashes(list).map((c) => c.status), ['valid']);
    assert.equal(list.entries[0]!.fields.name, name.toString('utf8'));
  }
  // text handed over as a JS string (e.g. from JSON) is taken as UTF-8
  const digest = Buffer.alloc(32, 2);
  const nng = Buffer.from('/srv/données\0');
  const dng = Buffer.concat([Buffer.from('sha256:\0'), digest]);
  const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
  const text = `10 ${sha('sha1', data).toString('hex')} ima-ng sha256:${digest.toString('hex')} /srv/données`;
  assert.deepEqual(checkTemplateHashes(parseImaAscii(text)).map((c) => c.status), ['valid']);
});

/**
 * An ASCII line as the kernel prints it (ima_ascii_measurements_show: " " before
 * every field, an empty field as nothing, the name raw), with its template hash;
 * `last` is the sig or buf field of the templates that have one.
 */
function kernelLine(template: string, prefix: string, name: string, last?: Buffer): { line: string; digest: Buffer } {
  const digest = sha('sha256', Buffer.from(name));
  const dng = Buffer.concat([Buffer.from(`${prefix}\0`), digest]);
  const nng = Buffer.from(`${name}\0`, 'latin1');
  const fields = [dng, nng, ...(last ? [last] : [])];
  const data = Buffer.concat(fields.flatMap((f) => [le32(f.length), f]));
  const tail = last ? ` ${last.toString('hex')}` : '';
  return { line: `10 ${sha('sha1', data).toString('hex')} ${template} ${prefix}${digest.toString('hex')} ${name}${tail}`, digest };
}

test('names with spaces: the kernel prints them raw, so the fields after the name are split from the end of the line', () => {
  const sig = Buffer.from('030204aabbccdd0002' + '11'.repeat(8), 'hex');
  const cases: [template: string, prefix: string, name: string, last?: Buffer][] = [
    ['ima-ng', 'sha256:', '/home/u/my file'],
    ['ima-ng', 'sha256:', '/tmp/two  spaces and a trailing one '],
    ['ima-ngv2', 'ima:sha256:', '/opt/My App/run'],
    ['ima-sig', 'sha256:', '/opt/My App/run', sig],
    ['ima-sig', 'sha256:', '/home/u/my file', Buffer.alloc(0)], // empty signature: the line ends with its separator
    // words that look like a signature, and trailing spaces, stay in the name
    ['ima-sig', 'sha256:', '/tmp/cafe babe', Buffer.alloc(0)],
    ['ima-sig', 'sha256:', '/tmp/cafe babe', sig],
    ['ima-sig', 'sha256:', '/tmp/ends with spaces  ', Buffer.alloc(0)],
    ['ima-sig', 'sha256:', '/tmp/ends with spaces  ', sig],
    ['ima-sigv2', 'ima:sha256:', '/usr/lib/a b.so', sig],
    ['ima-buf', 'sha256:', 'kexec-cmdline with spaces', Buffer.from('root=/dev/sda1 ro quiet')],
    ['ima-buf', 'sha256:', 'dm_table_load 00 aa', Buffer.from('00aa')],
  ];
  const built = cases.map(([template, prefix, name, last]) => ({ template, name, last, ...kernelLine(template, prefix, name, last) }));
  const list = parseImaAscii(built.map((b) => b.line).join('\n') + '\n');
  assert.deepEqual(
    checkTemplateHashes(list).map((c) => c.status),
    built.map(() => 'valid'),
  );
  list.entries.forEach((e, i) => {
    const b = built[i]!;
    assert.equal(e.templateName, b.template);
    assert.equal(e.fields.name, b.name, b.line);
    assert.deepEqual(Buffer.from(e.fields.digest!), b.digest);
    if (b.template === 'ima-buf') assert.deepEqual(Buffer.from(e.fields.buffer!), b.last);
    else if (b.last) assert.deepEqual(Buffer.from(e.fields.signature!), b.last);
  });
  // an empty signature whose separator an editor trimmed: a name without spaces is still read
  const trimmed = kernelLine('ima-sig', 'sha256:', '/usr/bin/cat', Buffer.alloc(0)).line.trimEnd();
  assert.deepEqual(checkTemplateHashes(parseImaAscii(trimmed)).map((c) => c.status), ['valid']);
  // with spaces in the name it cannot be told apart: an error or a mismatch, never a valid entry
  for (const name of ['/home/u/my file', '/tmp/cafe babe']) {
    const text = kernelLine('ima-sig', 'sha256:', name, Buffer.alloc(0)).line.trimEnd();
    let outcome: string;
    try {
      outcome = checkTemplateHashes(parseImaAscii(text)).map((c) => c.status).join();
    } catch (err) {
      outcome = err instanceof VtpmError ? err.code : String(err);
    }
    assert.ok(['mismatch', 'IMA_FIELD_INVALID'].includes(outcome), `${name}: ${outcome}`);
  }
});

test('an ASCII list saved with a UTF-8 BOM is read as ASCII (with a note); the BOM is not part of any entry', () => {
  const digest = Buffer.alloc(32, 3);
  const dng = Buffer.concat([Buffer.from('sha256:\0'), digest]);
  const nng = Buffer.from('/usr/bin/bash\0');
  const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
  const line = `10 ${sha('sha1', data).toString('hex')} ima-ng sha256:${digest.toString('hex')} /usr/bin/bash\n`;
  const plain = parseImaList(Buffer.from(line));
  assert.deepEqual(plain.notes, []);
  for (const list of [parseImaList(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(line)])), parseImaAscii(`\ufeff${line}`)]) {
    assert.equal(list.format, 'ascii');
    assert.equal(list.entries.length, 1);
    assert.deepEqual(checkTemplateHashes(list).map((c) => c.status), ['valid']);
    assert.equal(list.entries[0]!.pcr, 10);
    assert.match(list.notes.join(), /byte order mark .* skipped/);
  }
  // only at the very start: a BOM on a later line is that line's error
  assertThrowsCode(() => parseImaList(Buffer.from(`${line}\ufeff${line}`)), 'IMA_MALFORMED_LINE');
});

test('an ima-buf entry whose digest is not the hash of its buffer is marked: its template name is not borne out (ima-sig data looks the same)', () => {
  const make = (template: string, digest: Buffer, third: Buffer): string => {
    const dng = Buffer.concat([Buffer.from('sha256:\0'), digest]);
    const nng = Buffer.from('/usr/local/bin/xmrig\0');
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng, le32(third.length), third]);
    return `10 ${sha('sha1', data).toString('hex')} ${template} sha256:${digest.toString('hex')} /usr/local/bin/xmrig ${third.toString('hex')}\n`;
  };
  const buffer = Buffer.from('a real keyring buffer');
  const genuine = make('ima-buf', sha('sha256', buffer), buffer);
  const relabelled = make('ima-buf', Buffer.alloc(32, 7), Buffer.from('0302aabb', 'hex')); // a file digest and an ima-sig signature
  const list = parseImaList(Buffer.from(genuine + relabelled));
  assert.deepEqual(checkTemplateHashes(list).map((c) => c.status), ['valid', 'valid'], 'both template hashes verify: the name is not in them');
  const r = replayImaAgainstQuote(list, quoteOf(list, 'sha256'));
  assert.equal(r.ok, true);
  const facts = extractImaFacts(r.verified!);
  assert.deepEqual(facts.measurements.map((m) => m.templateAttested), [undefined, false]);
});

test('a binary entry relabelled with a template name the verifier does not know still replays, and is listed as undecoded, not dropped from the facts', () => {
  // The template name is not in the template hash: renaming the ima-ng entry of a miner keeps the replay, and
  // used to leave the entry out of the facts altogether (no name, no digest), so no allow-list or denied rule saw it.
  const entry = (template: string, path: string, content: string): { data: Buffer; bin: Buffer } => {
    const dng = Buffer.concat([Buffer.from('sha256:\0'), sha('sha256', Buffer.from(content))]);
    const nng = Buffer.from(`${path}\0`);
    const data = Buffer.concat([le32(dng.length), dng, le32(nng.length), nng]);
    return { data, bin: Buffer.concat([le32(10), sha('sha1', data), le32(template.length), Buffer.from(template, 'latin1'), le32(data.length), data]) };
  };
  const bash = entry('ima-ng', '/usr/bin/bash', 'bash');
  for (const name of ['ima-xx', 'd-ng|n-ng', 'constructor']) {
    const miner = entry(name, '/tmp/xmrig', 'xmrig');
    const list = parseImaList(Buffer.concat([bash.bin, miner.bin]));
    const r = replayImaAgainstQuote(list, quoteOf(list, 'sha256'));
    assert.equal(r.ok, true, name);
    assert.equal(r.verified!.entries.length, 2, name);
    const facts = extractImaFacts(r.verified!);
    assert.deepEqual(facts.measurements.map((m) => m.path), ['/usr/bin/bash'], name);
    assert.deepEqual(facts.undecoded, [{ entry: 1, pcr: 10, template: name }], name);
  }
});

test('random bytes and mutated lists never escape IMA parsing as raw exceptions', (t) => {
  const p = corpusPath(t, 'ima', 'tss_sml-ima-sig-sha256.bin');
  const a = corpusPath(t, 'ima', 'keylimetests_ascii_runtime_measurements-2');
  if (!p || !a) return;
  const typedOnly = (fn: () => unknown): void => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof VtpmError) || err.kind !== 'input') throw err;
    }
  };
  for (const base of [readFileSync(p), readFileSync(a)]) {
    fc.assert(
      fc.property(fc.nat({ max: base.length - 1 }), fc.uint8Array({ minLength: 1, maxLength: 6 }), fc.nat({ max: base.length }), (at, bytes, cut) => {
        const b = Buffer.from(base);
        b.set(bytes.subarray(0, b.length - at), at);
        typedOnly(() => {
          const list = parseImaList(b.subarray(0, cut));
          checkTemplateHashes(list);
          replayIma(list, 'sha256');
          for (const e of list.entries) void e.fields;
        });
      }),
      { numRuns: 1500, seed: 11 },
    );
  }
});

test('binary entries named after Object.prototype members ("constructor", "toString", "__proto__") are unknown templates, not a TypeError', () => {
  const entryNamed = (name: string, fields: Buffer[]): Buffer => {
    const data = Buffer.concat(fields.flatMap((f) => [le32(f.length), f]));
    return Buffer.concat([le32(10), Buffer.alloc(20, 1), le32(name.length), Buffer.from(name, 'latin1'), le32(data.length), data]);
  };
  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
    for (const count of [0, 1, 2]) {
      const list = parseImaList(entryNamed(name, Array.from({ length: count }, () => Buffer.from('ab'))));
      assert.equal(list.entries.length, 1, name);
      assert.equal(list.entries[0]!.templateName, name);
      assert.deepEqual({ ...list.entries[0]!.fields }, {}, `${name}: an unknown template's fields are not decoded`);
      checkTemplateHashes(list);
    }
  }
  // a d-ng digest prefix named after one is an unknown algorithm, not a size mismatch against a function
  const dng = Buffer.concat([Buffer.from('constructor:\0', 'latin1'), Buffer.alloc(32, 9)]);
  const list = parseImaList(entryNamed('ima-ng', [dng, Buffer.from('/bin/x\0')]));
  assert.equal(list.entries[0]!.fields.digestAlgorithm, 'constructor');
});

/** A minimal binary entry of an unknown template with no fields (its template hash is not checked here). */
function bareEntry(pcr: number): Buffer {
  return Buffer.concat([le32(pcr), Buffer.alloc(20, 1), le32(1), Buffer.from('x'), le32(0)]);
}

test('against a quote: long lists, in one PCR or naming thousands, replay to their quote', () => {
  // Each entry's position used to be looked up with indexOf, and the whole list filtered once per PCR named:
  // 60,000 entries took ~4 s, 20,000 entries in distinct PCRs ~7 s. The time is measured by `npm run bench
  // -- eventlog` (a test does not time), this checks the outcome on such lists.
  const quoteFor = (list: ReturnType<typeof parseImaBinary>): PcrValues => new Map([['sha256', new Map([[10, replayIma(list, 'sha256').pcrs.get(10)!]])]]);
  const samePcr = parseImaBinary(Buffer.concat(Array.from({ length: 60_000 }, () => bareEntry(10))));
  const manyPcrs = parseImaBinary(Buffer.concat(Array.from({ length: 20_000 }, (_, i) => bareEntry(i === 0 ? 10 : 1000 + i))));
  for (const [what, list] of [['one PCR', samePcr], ['distinct PCRs', manyPcrs]] as const) {
    const r = replayImaAgainstQuote(list, quoteFor(list));
    assert.equal(r.pcrs.find((p) => p.pcr === 10)!.status, 'match', what);
    assert.equal(r.pcrs.find((p) => p.pcr === 10)!.coveredEntries, list.entries.filter((e) => e.pcr === 10).length, what);
  }
});

test('against a quote, continued from a carried state: a PCR only earlier entries extended, and not carried, is no TypeError', () => {
  // entry 0 in PCR 11 (not quoted), entries 1 and 2 in PCR 10; the first quote is taken after entry 1
  const list = parseImaBinary(Buffer.concat([bareEntry(11), bareEntry(10), bareEntry(10)]));
  const first = replayImaAgainstQuote(list, new Map([['sha256', new Map([[10, replayIma({ ...list, entries: list.entries.slice(0, 2) }, 'sha256').pcrs.get(10)!]])]]));
  assert.deepEqual([first.state!.nextEntry, [...first.state!.pcrs.keys()]], [2, [10]]);
  const next = replayImaAgainstQuote(list, new Map([['sha256', new Map([[10, replayIma(list, 'sha256').pcrs.get(10)!]])]]), { from: first.state! });
  assert.deepEqual(
    next.pcrs.map((p) => [p.pcr, p.status, p.coveredEntries]),
    [[10, 'match', 1]],
  );
  assert.equal(next.verified!.entries.length, 1);
  assert.equal(next.verified!.entries[0]!.index, 2);
});

test('a firmware event log given as the IMA list is named as one, not an IMA list with a "too large" template name', (t) => {
  for (const name of ['goattest_crypto_agile.bin', 'tpm2tools_event-uefi-sha1-log.bin', 'gotpmtools_debian-10.bin', 'goattest_short_no_action.bin']) {
    const p = corpusPath(t, 'eventlogs', name);
    if (!p) return;
    const err = assertThrowsCode(() => parseImaList(readFileSync(p)), 'IMA_FIELD_INVALID');
    assert.equal(err.details['format'], 'tcg-pc-client', name);
    assert.match(err.message, /firmware event log/, name);
  }
  // an entry with an empty template name is malformed framing, not above a cap
  const empty = Buffer.concat([le32(10), Buffer.alloc(20, 1), le32(0), le32(0)]);
  const err = assertThrowsCode(() => parseImaList(empty), 'IMA_FIELD_INVALID');
  assert.equal(err.details['format'], undefined);
  assert.match(err.message, /template name is empty/);
});

test('template-hash checks carry hex for the first MAX_DETAILED_CHECKS mismatches and violations only: an edited list of bad entries costs no more heap than an honest one', async () => {
  const { MAX_DETAILED_CHECKS } = await import('../../src/eventlog/ima/replay.js');
  const wrong = 'ab'.repeat(20);
  const lines = Array.from({ length: MAX_DETAILED_CHECKS + 5 }, (_, i) => `10 ${wrong} ima-ng sha256:${createHash('sha256').update(String(i)).digest('hex')} /usr/bin/file-${i}`);
  // one violation past the budget, and a valid entry, at the end
  lines.push(`10 ${'00'.repeat(20)} ima-ng sha256:${'00'.repeat(32)} /tmp/violation`);
  const list = parseImaAscii(`${lines.join('\n')}\n`);
  for (const checks of [checkTemplateHashes(list), checkAndReplayIma(list, ['sha1', 'sha256']).checks]) {
    assert.equal(checks.length, MAX_DETAILED_CHECKS + 6);
    assert.deepEqual(Object.keys(checks[0]!).sort(), ['computed', 'entry', 'line', 'listed', 'status']);
    assert.equal(checks[0]!.listed, wrong);
    assert.equal(checks[MAX_DETAILED_CHECKS - 1]!.listed, wrong);
    assert.deepEqual(checks[MAX_DETAILED_CHECKS], { entry: MAX_DETAILED_CHECKS, line: MAX_DETAILED_CHECKS + 1, status: 'mismatch' });
    assert.deepEqual(checks.at(-1), { entry: MAX_DETAILED_CHECKS + 5, line: MAX_DETAILED_CHECKS + 6, status: 'violation' });
    assert.equal(checks.filter((c) => c.status === 'mismatch').length, MAX_DETAILED_CHECKS + 5);
  }
});
