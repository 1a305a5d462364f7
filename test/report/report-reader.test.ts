// Reading audit JSON reports back (`vtpm-verify report`): a report as
// `audit` writes it reads back result for result; everything else a file can
// be (reformatted, truncated at any line, with data after its end, a result
// or run off the schema, a summary that does not count its results, a line
// over the cap, bytes that are not UTF-8) is REPORT_INVALID with its file and
// line, never a raw exception.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { VtpmError } from '../../src/errors.js';
import { renderAuditReportJson } from '../../src/report/json-report.js';
import { AuditReportReader, type ReportHeader } from '../../src/report/report-reader.js';
import { reportValidators } from '../../src/report/report-schema.js';
import { summarize } from '../../src/report/summary.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { fileLines } from '../../src/cli/actions/report.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { tempDir } from '../helpers/tmp.js';
import { fleet } from './fleet.js';

const validators = reportValidators();

/** Feeds every line; returns what the reader gave back. */
function read(text: string, file = 'audit.json'): ReportHeader & { results: AttestationResult[] } {
  const reader = new AuditReportReader(file, validators);
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop(); // the final newline ends the last line
  let header: ReportHeader | undefined;
  const results: AttestationResult[] = [];
  lines.forEach((line, i) => {
    const got = reader.line(line, i + 1);
    if (got && 'header' in got) header = got.header;
    if (got && 'result' in got) results.push(got.result);
  });
  const end = reader.end(lines.length);
  assert.equal(end.results, results.length);
  assert.ok(header);
  return { ...header, results };
}

const f = fleet();
const reportText = renderAuditReportJson(f.run, summarize(f.results), f.results);

test('a report as audit writes it reads back: run, summary and every result', () => {
  const r = read(reportText);
  assert.deepEqual(r.run, f.run);
  assert.deepEqual(r.summary, JSON.parse(JSON.stringify(summarize(f.results))));
  assert.deepEqual(r.results, JSON.parse(JSON.stringify(f.results)));
});

test('an empty report (a shard with no VMs) reads back', () => {
  const r = read(renderAuditReportJson(f.run, summarize([]), []));
  assert.equal(r.results.length, 0);
  assert.equal(r.summary.total, 0);
});

test('a reformatted report is refused with a hint, not misread', () => {
  const err = assertThrowsCode(() => read(JSON.stringify(JSON.parse(reportText), null, 2)), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:1: .*reformatted/);
  assertThrowsCode(() => read(JSON.stringify(JSON.parse(reportText))), 'REPORT_INVALID');
  assertThrowsCode(() => read('not json at all\n'), 'REPORT_INVALID');
});

test('a report cut at any line is truncated; anything after its end is refused', () => {
  const lines = reportText.split('\n').slice(0, -1);
  for (let keep = 0; keep < lines.length; keep++) {
    const err = assertThrowsCode(() => read(lines.slice(0, keep).join('\n')), 'REPORT_INVALID');
    assert.match(err.message, /truncated|expected|not valid JSON/, `cut after ${keep} lines: ${err.message}`);
  }
  for (const extra of ['', ' ', '{}', ']}']) {
    const err = assertThrowsCode(() => read(`${reportText}${extra}\n`), 'REPORT_INVALID');
    assert.match(err.message, new RegExp(`^audit\\.json:${lines.length + 1}: data after the end`));
  }
});

test('results joined wrongly are refused: a missing comma, a comma after the last one', () => {
  const lines = reportText.split('\n');
  const noComma = lines.map((l, i) => (i === 4 ? l.replace(/,$/, '') : l)).join('\n');
  assert.match(assertThrowsCode(() => read(noComma), 'REPORT_INVALID').message, /^audit\.json:6: expected \]\}/);
  const last = lines.length - 3; // the last result line (then "]}" and the final newline)
  const trailing = lines.map((l, i) => (i === last ? `${l},` : l)).join('\n');
  assertThrowsCode(() => read(trailing), 'REPORT_INVALID');
});

test('parts off the schema are refused with where and why', () => {
  const lines = reportText.split('\n');
  const edit = (i: number, fn: (v: Record<string, unknown>) => void, prefix = '', comma = true): string => {
    const copy = [...lines];
    const body = copy[i]!.slice(prefix.length, comma && copy[i]!.endsWith(',') ? -1 : undefined);
    const v = JSON.parse(body) as Record<string, unknown>;
    fn(v);
    copy[i] = `${prefix}${JSON.stringify(v)}${comma && lines[i]!.endsWith(',') ? ',' : ''}`;
    return copy.join('\n');
  };
  let err = assertThrowsCode(() => read(edit(4, (r) => (r['injected'] = '<script>'))), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:5: result 1 does not match the report schema: .*injected/);
  err = assertThrowsCode(() => read(edit(5, (r) => (r['verdict'] = 'fine'))), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:6: result 2 /);
  err = assertThrowsCode(() => read(edit(1, (r) => (r['exitCode'] = 7), '"run":')), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:2: the run does not match/);
  err = assertThrowsCode(() => read(edit(2, (s) => (s['total'] = 'all'), '"summary":')), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:3: the summary/);
  // a VM's attempts' time is a safe integer of ms: past it, the reports showed a JUnit time of "1e+305", "1.7e+303 min"
  for (const ms of [-1, 1.5, '5000', 2 ** 53, 1e308]) {
    err = assertThrowsCode(() => read(edit(4, (r) => ((r['attempts'] = 2), (r['attemptsMs'] = ms)))), 'REPORT_INVALID');
    assert.match(err.message, /^audit\.json:5: result 1 does not match the report schema: \/attemptsMs must be/);
  }
  assert.equal(read(edit(4, (r) => ((r['attempts'] = 2), (r['attemptsMs'] = 2 ** 53 - 1)))).results[0]!.attemptsMs, 2 ** 53 - 1);
  // times the schema's pattern lets through that name no real instant (the merge orders and shows them)
  for (const [field, time] of [['startedAt', '2026-02-30T01:00:00Z'], ['finishedAt', '2026-11-27T99:00:00Z'], ['startedAt', '2026-11-27T01:00:00+24:00']] as const) {
    err = assertThrowsCode(() => read(edit(1, (r) => (r[field] = time), '"run":')), 'REPORT_INVALID');
    assert.equal(err.details['check'], `run.${field}`);
    assert.match(err.message, /is not a real date and time/);
  }
  assert.equal(read(edit(1, (r) => (r['startedAt'] = '2024-02-29T23:59:59.999+05:30'), '"run":')).run.startedAt, '2024-02-29T23:59:59.999+05:30');
  // a result with two verdicts: JSON.parse would keep the last
  const twice = [...lines];
  twice[4] = twice[4]!.replace('"verdict":', '"verdict":"trusted","verdict":');
  assert.notEqual(twice[4], lines[4]);
  err = assertThrowsCode(() => read(twice.join('\n')), 'REPORT_INVALID');
  assert.match(err.message, /^audit\.json:5: a result repeats a key \(\$\.verdict\)/);
});

test("a summary that does not count the report's results is refused (a result taken out, or one added)", () => {
  const lines = reportText.split('\n');
  const dropped = [...lines.slice(0, 4), ...lines.slice(5)].join('\n');
  const err = assertThrowsCode(() => read(dropped), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'summary');
  assert.equal((err.details['actual'] as { total: number }).total, f.results.length);
  assert.equal((err.details['expected'] as { total: number }).total, f.results.length - 1);
  // the right total, but a summary that calls every VM trusted
  const s = summarize(f.results);
  const flattering = renderAuditReportJson(f.run, { ...s, trusted: s.total, notTrusted: 0, unreachable: 0, failureCodes: [] }, f.results);
  const lie = assertThrowsCode(() => read(flattering), 'REPORT_INVALID');
  assert.match(lie.message, new RegExp(`summary counts ${s.total} VM\\(s\\) \\(${s.total} trusted, 0 not trusted, 0 unreachable\\) but it holds ${s.total} result\\(s\\) \\(${s.trusted} trusted`));
});

test('a result whose verdict is more trusted than its own layers and rules is refused, even with a summary to match', () => {
  // what an edit that turns a failing VM trusted looks like: the verdict changed, the summary recounted to agree
  const edited = (i: number, fn: (r: AttestationResult) => void): string => {
    const results = structuredClone(f.results);
    fn(results[i]!);
    return renderAuditReportJson(f.run, summarize(results), results);
  };
  const failing = f.results.findIndex((r) => r.verdict === 'not-trusted' && r.layers.some((l) => l.status === 'not-trusted'));
  const unreachable = f.results.findIndex((r) => r.verdict === 'incomplete');
  assert.ok(failing >= 0 && unreachable >= 0);
  const lineOf = (i: number) => new RegExp(`^audit\\.json:${i + 5}: result ${i + 1} \\(${JSON.stringify(f.results[i]!.name)}\\) says `);

  // trusted beside a layer that is not
  let err = assertThrowsCode(() => read(edited(failing, (r) => (r.verdict = 'trusted'))), 'REPORT_INVALID');
  assert.match(err.message, lineOf(failing));
  assert.match(err.message, /says trusted, but its layer \d is not-trusted/);
  assert.equal(err.details['check'], 'result.verdict');
  // ... and with that layer's status edited too: its failing check still says no
  err = assertThrowsCode(
    () =>
      read(
        edited(failing, (r) => {
          r.verdict = 'trusted';
          delete r.error;
          for (const l of r.layers) l.status = 'trusted';
        }),
      ),
    'REPORT_INVALID',
  );
  assert.match(err.message, /says trusted, but its layer \d has the failing (check|rule) /);
  // unreachable instead of not trusted: with --unreachable-ok it would exit 0 (and 1 wins over 3)
  err = assertThrowsCode(() => read(edited(failing, (r) => (r.verdict = 'incomplete'))), 'REPORT_INVALID');
  assert.match(err.message, /says incomplete, but its layer \d is not-trusted/);
  // a failing chain rule makes a result not-trusted whatever its layers
  err = assertThrowsCode(() => read(edited(unreachable, (r) => r.chain.push({ id: 'chain.maxDepth', status: 'fail', code: 'POLICY_CHAIN_DEPTH', message: 'too deep' }))), 'REPORT_INVALID');
  assert.match(err.message, /says incomplete, but it has the failing chain rule chain\.maxDepth/);
  // an unreachable VM called trusted: its layer did not answer, and it carries its error
  err = assertThrowsCode(() => read(edited(unreachable, (r) => (r.verdict = 'trusted'))), 'REPORT_INVALID');
  assert.match(err.message, /says trusted, but its layer \d is unreachable/);
  err = assertThrowsCode(
    () =>
      read(
        edited(unreachable, (r) => {
          r.verdict = 'trusted';
          r.layers = r.layers.filter((l) => l.status === 'trusted');
        }),
      ),
    'REPORT_INVALID',
  );
  assert.match(err.message, /says trusted, but it records the error TRANSPORT_/);

  // an unreachable layer's failed fetch is what made it unreachable: such a result reads back, as does one
  // less trusted than its parts (it can only make the fleet look worse)
  assert.equal(read(reportText).results[unreachable]!.verdict, 'incomplete');
  const trusted = f.results.findIndex((r) => r.verdict === 'trusted');
  const worse = edited(trusted, (r) => (r.verdict = 'not-trusted'));
  assert.equal(read(worse).results[trusted]!.verdict, 'not-trusted');
});

test('a run that exited 1 holds a result that is not trusted: one taken out with the summary recounted is refused', () => {
  const kept = f.results.filter((r) => r.verdict !== 'not-trusted');
  assert.equal(f.run.exitCode, 3);
  const run = { ...f.run, exitCode: 1 as const };
  assert.equal(read(renderAuditReportJson(run, summarize(f.results), f.results)).results.length, f.results.length);
  const err = assertThrowsCode(() => read(renderAuditReportJson(run, summarize(kept), kept)), 'REPORT_INVALID');
  assert.equal(err.details['check'], 'run.exitCode');
  assert.match(err.message, /its run exited 1 \(a VM not trusted\), but none of its \d+ result\(s\) is not trusted/);
  // an audit that exited 3 or 0 may hold any verdicts but not-trusted ones
  assert.equal(read(renderAuditReportJson(f.run, summarize(kept), kept)).results.length, kept.length);
});

test('CRLF line ends read as LF; values nested past the cap, long names and absurd shard counts are refused', () => {
  assert.equal(read(reportText.replace(/\n/g, '\r\n')).results.length, f.results.length);
  const lines = reportText.split('\n');
  const withResult = (i: number, fn: (r: Record<string, unknown>) => void): string => {
    const copy = [...lines];
    const comma = copy[i]!.endsWith(',');
    const r = JSON.parse(comma ? copy[i]!.slice(0, -1) : copy[i]!) as Record<string, unknown>;
    fn(r);
    copy[i] = JSON.stringify(r) + (comma ? ',' : '');
    return copy.join('\n');
  };
  // 100,000 deep (as text: JSON.stringify itself cannot write it)
  const nested = withResult(4, (r) => {
    (r['layers'] as { checks?: { expected?: unknown }[] }[])[0]!.checks![0]!.expected = 'DEEP';
  }).replace('"DEEP"', `${'['.repeat(100_000)}0${']'.repeat(100_000)}`);
  assert.match(assertThrowsCode(() => read(nested), 'REPORT_INVALID').message, /^audit\.json:5: a result nests arrays and objects more than 64 deep/);
  // brackets inside strings do not count
  const bracketed = withResult(4, (r) => (r['reason'] = '['.repeat(500) + '{'.repeat(500)));
  assert.equal(read(bracketed).results.length, f.results.length);
  assertThrowsCode(() => read(withResult(4, (r) => (r['name'] = 'n'.repeat(257)))), 'REPORT_INVALID');
  const huge = [...lines];
  huge[1] = huge[1]!.replace('"shard":{"index":0,"count":2}', '"shard":{"index":0,"count":4294967296}');
  assert.notEqual(huge[1], lines[1]);
  assertThrowsCode(() => read(huge.join('\n')), 'REPORT_INVALID');
});

test('any mutation of a report is read or refused with a typed error, never a raw exception', () => {
  fc.assert(
    fc.property(fc.nat({ max: reportText.length - 1 }), fc.integer({ min: 0, max: 127 }), fc.nat({ max: 64 }), (at, char, cut) => {
      const mutated = reportText.slice(0, at) + String.fromCharCode(char) + reportText.slice(at + 1, reportText.length - cut);
      try {
        read(mutated);
      } catch (err) {
        if (!(err instanceof VtpmError)) throw err;
        assert.equal(err.code, 'REPORT_INVALID');
      }
    }),
    { numRuns: 400 },
  );
});

test('report files are read as lines of strict UTF-8, a line over the cap refused before it is all read', async (t) => {
  const dir = tempDir(t, 'vtpm-report-lines-');
  const file = (name: string, data: string | Buffer): string => {
    writeFileSync(join(dir, name), data);
    return join(dir, name);
  };
  const collect = async (path: string, cap = 1 << 20): Promise<string[]> => {
    const out: string[] = [];
    for await (const l of fileLines(path, cap)) out.push(l);
    return out;
  };
  assert.deepEqual(await collect(file('a', 'one\ntwo\n')), ['one', 'two']);
  assert.deepEqual(await collect(file('b', 'one\ntwo')), ['one', 'two']);
  assert.deepEqual(await collect(file('c', '\n\n')), ['', '']);
  assert.deepEqual(await collect(file('d', 'é€😀\n')), ['é€😀']);
  // a long line across many read chunks
  const long = 'x'.repeat(3 << 20);
  assert.deepEqual((await collect(file('e', `${long}\nend\n`), 4 << 20)).map((l) => l.length), [long.length, 3]);
  let err = await assertRejectsCode(collect(file('f', `ok\n${long}\n`), 1 << 20), 'REPORT_INVALID');
  assert.match(err.message, /:2: a line longer than 1048576 bytes/);
  err = await assertRejectsCode(collect(file('g', Buffer.from([0x6f, 0x6b, 0x0a, 0xc3, 0x28, 0x0a]))), 'REPORT_INVALID');
  assert.match(err.message, /:2: not valid UTF-8/);
  await assertRejectsCode(collect(join(dir, 'missing.json')), 'FILE_UNREADABLE');
  await assertRejectsCode(collect(dir), 'FILE_UNREADABLE');
  // as every other input: a device is not a report, and a FIFO would wait for ever for a writer
  if (process.platform !== 'win32') {
    err = await assertRejectsCode(collect('/dev/null'), 'FILE_UNREADABLE');
    assert.match(err.message, /is not a regular file/);
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    // a writer, so that reading it (the old behaviour) ends instead of hanging the test
    const writer = spawn('sh', ['-c', 'printf "{}\\n" > "$0"', fifo], { stdio: 'ignore' });
    try {
      err = await assertRejectsCode(collect(fifo), 'FILE_UNREADABLE');
      assert.match(err.message, /is not a regular file/);
    } finally {
      writer.kill('SIGKILL');
    }
  }
});
