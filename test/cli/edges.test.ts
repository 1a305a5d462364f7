// Bad usage found by a review of the single-VM commands, refused as such
// (exit 2) before any work: timeouts longer than a timer holds (they fired at
// once), credentials or a 100 KB path in the URL, a --save target that is a
// FIFO or in a missing folder (the write blocked for ever, or the walk was
// wasted), a demo deeper than attest follows, a policy pattern that no
// linear-time engine runs, and JSON data nested
// deep enough to overflow the stack of locating its issues.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const NOWHERE = 'http://127.0.0.1:9/vm';

test('attest: bad usage is exit 2 before anything is fetched', async (t) => {
  const dir = tempDir(t, 'vtpm-edges-');
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const cases: [string[], RegExp][] = [
    [[NOWHERE, '--timeout', String(2 ** 31)], /--timeout: expected a whole number from 1 to 2147483647/],
    [[NOWHERE, '--connect-timeout', '99999999999'], /--connect-timeout: expected a whole number from 1 to 2147483647/],
    [['http://user:pass@127.0.0.1:9/vm'], /credentials in the URL are not supported/],
    [['http://127.0.0.1:0/vm'], /port 0 in the URL: no server listens there/],
    [['http://127.0.0.1:9/vm?instance=00'], /query parameter "instance", which the protocol reserves for the challenger/],
    [['http://127.0.0.1:9/vm?a=1&nonce=00'], /query parameter "nonce", which the protocol reserves/],
    [[`http://127.0.0.1:9/${'a'.repeat(100_000)}`], /the URL is 100019 characters, more than 2048/],
    [[NOWHERE, '--save', fifo], /--save .*fifo: .* is not a regular file/],
    [[NOWHERE, '--save', join(dir, 'nodir', 'b.json')], /--save .*b\.json: the folder .*nodir does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = await runCli(['attest', ...args, '--json'], { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ').slice(0, 80)}: ${r.stdout.slice(0, 300)}`);
    assert.equal(r.json?.error?.code, 'USAGE');
    assert.match(String(r.json?.error?.message), message);
  }
});

test('demo follows 2 to 8 layers, as attest does by default, and says so whatever the bad value', async () => {
  for (const layers of ['9', '1', '0', 'three']) {
    const r = await runCli(['demo', '--layers', layers, '--json']);
    assert.equal(r.code, 2, layers);
    assert.equal(String(r.json?.error?.message), `--layers: expected a whole number from 2 to 8, got "${layers}"`);
  }
});

test('a policy pattern RE2 cannot run in linear time (a backreference, a lookahead) is refused at load; JSON facts nested past 64 are refused, not a stack overflow', async (t) => {
  const dir = tempDir(t, 'vtpm-edges-');
  const demo = readFileSync(join(REPO_ROOT, 'policies', 'demo.yaml'), 'utf8');
  for (const [pattern, why] of [
    ['(a)\\\\1', /invalid escape sequence/],
    ['(?=a)a', /unsupported Perl syntax/],
    ['(?<=a)b', /lookbehind `\(\?<=`/],
    ['x{1000}'.repeat(11), /too large once compiled/],
  ] as const) {
    const bad = demo.replace(/- "\/boot\/vmlinuz[^\n]*"/, `- "/boot/${pattern}"`);
    assert.notEqual(bad, demo);
    writeFileSync(join(dir, 'bad.yaml'), bad);
    const check = await runCli(['policy', 'check', join(dir, 'bad.yaml'), '--json']);
    assert.equal(check.code, 2, check.stdout.slice(0, 500));
    assert.match(check.stdout, /POLICY_REGEX/);
    assert.match(check.stdout, why);
  }
  // what a backtracking engine could not be trusted with loads: it is matched in linear time
  writeFileSync(join(dir, 'redos.yaml'), demo.replace(/- "\/boot\/vmlinuz[^\n]*"/, '- "\/boot\/(\\\\S+\\\\s?)+"'));
  const redos = await runCli(['policy', 'check', join(dir, 'redos.yaml'), '--json']);
  // (its one problem: the policy's include is not beside the copy)
  assert.deepEqual(redos.json?.result.files[0].issues.map((i: { code: string }) => i.code), ['POLICY_INCLUDE']);

  writeFileSync(join(dir, 'deep.json'), `{"x": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
  const deep = await runCli(['policy', 'evaluate', join(REPO_ROOT, 'policies', 'demo.yaml'), '--facts', join(dir, 'deep.json'), '--json']);
  assert.equal(deep.code, 2, deep.stdout.slice(0, 500));
  assert.doesNotMatch(deep.stdout, /INTERNAL_ERROR/);
  assert.match(deep.stdout, /nested more than 64 deep/);
});

test('an option taking one value, given twice, is said on stderr (the last counts); collecting options and flags are not', async (t) => {
  const dir = tempDir(t, 'vtpm-edges-');
  const state = join(dir, 'none.db');
  const r = await runCli(['history', '--state', state, '--limit', '5', '--limit=7', '--verbose', '--verbose', '--json']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.json?.error?.code, 'STATE_NOT_FOUND');
  assert.match(r.stderr, /^warning: --limit was given 2 times: only the last \("7"\) is used$/m);
  assert.doesNotMatch(r.stderr, /--verbose was given|--state was given/);
  // --trust collects every value
  const a = await runCli(['audit', join(dir, 'fleet.yaml'), '--trust', dir, '--trust', dir, '--concurrency', '4']);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /FILE_UNREADABLE/);
  assert.doesNotMatch(a.stderr, /was given/);
});

test('a repeated option is counted as parsed: short and attached forms count, a value that looks like an option does not', async (t) => {
  const dir = tempDir(t, 'vtpm-edges-');
  const missing = join(dir, 'missing.json');
  // -o b.yaml attached to its short name replaces --output a.yaml
  const short = await runCli(['policy', 'init', '--output', join(dir, 'a.yaml'), `-o${join(dir, 'b.yaml')}`, '--from', missing]);
  assert.equal(short.code, 2, short.stderr);
  assert.match(short.stderr, /^warning: --output was given 2 times: only the last \(".*b\.yaml"\) is used$/m);
  // "--name" is the value of --name here, given once
  const value = await runCli(['policy', 'init', '--name', '--name', '--from', missing]);
  assert.equal(value.code, 2, value.stderr);
  assert.match(value.stderr, /USAGE/);
  assert.doesNotMatch(value.stderr, /was given/);
  // --json's optional file left out the second time: said as such, not as "true"
  const alone = await runCli(['audit', join(dir, 'fleet.yaml'), '--json', join(dir, 'r.json'), '--json']);
  assert.equal(alone.code, 2, alone.stderr);
  assert.match(alone.stderr, /^warning: --json was given 2 times: only the last \(--json without a value\) is used$/m);
});

test('report: a report name that leads to no file (a symbolic link loop, a name too long) is FILE_UNREADABLE, exit 2, as for every input file', async (t) => {
  // from a review: `report` read these as I/O failures (IO_ERROR, exit 3: "try again") where every other
  // command's input file is FILE_UNREADABLE, exit 2
  const dir = tempDir(t, 'vtpm-edges-');
  symlinkSync('loop-b.json', join(dir, 'loop-a.json'));
  symlinkSync('loop-a.json', join(dir, 'loop-b.json'));
  for (const [file, why] of [
    [join(dir, 'loop-a.json'), /ELOOP/],
    [join(dir, `${'r'.repeat(300)}.json`), /ENAMETOOLONG/],
  ] as const) {
    const r = await runCli(['report', file, '--json']);
    assert.equal(r.code, 2, r.stdout.slice(0, 300));
    assert.equal(r.json?.error?.code, 'FILE_UNREADABLE');
    assert.match(String(r.json?.error?.message), why);
    // the same file for an input of another command, for comparison
    const other = await runCli(['verify', file, '--json']);
    assert.deepEqual([other.code, other.json?.error?.code], [2, 'FILE_UNREADABLE']);
  }
});

test('an output file name that is a symbolic link loop is refused for what it is, not as a folder that is not writable', async (t) => {
  // from a review: `--save loop` said "the folder /dir is not writable (ELOOP)" of a writable folder
  const dir = tempDir(t, 'vtpm-edges-');
  symlinkSync('loop-b.json', join(dir, 'loop-a.json'));
  symlinkSync('loop-a.json', join(dir, 'loop-b.json'));
  const r = await runCli(['attest', NOWHERE, '--save', join(dir, 'loop-a.json'), '--json'], { timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stdout.slice(0, 300));
  assert.equal(r.json?.error?.code, 'USAGE');
  assert.match(String(r.json?.error?.message), /^--save .*loop-a\.json: cannot write there: ELOOP$/);
  const init = await runCli(['policy', 'init', '--from', join(dir, 'none.json'), '-o', join(dir, 'loop-a.json'), '--json']);
  assert.equal(init.code, 2);
  assert.match(String(init.json?.error?.message), /^--output .*loop-a\.json: cannot write there: ELOOP$/);
});

test('a misspelt required option is reported as the unknown option it is, with a did-you-mean, not as the required one missing', async () => {
  const typo = await runCli(['quote', '--ak', 'a.pem', '--mesage', 'm.bin', '--signature', 's.bin', '--nonce', '', '--json']);
  assert.equal(typo.code, 2);
  assert.equal(typo.json!.error!.details.commanderCode, 'commander.unknownOption');
  assert.match(typo.json!.error!.message, /unknown option '--mesage'\n\(Did you mean --message\?\)/);
  // a subcommand's option, in the --name=value form
  const sub = await runCli(['policy', 'evaluate', 'p.yaml', '--fatcs=facts.json', '--json']);
  assert.equal(sub.code, 2);
  assert.match(sub.json!.error!.message, /unknown option '--fatcs'\n\(Did you mean --facts\?\)/);
  // only missing: still the required option's own message
  const missing = await runCli(['quote', '--ak', 'a.pem', '--signature', 's.bin', '--nonce', '', '--json']);
  assert.equal(missing.code, 2);
  assert.equal(missing.json!.error!.details.commanderCode, 'commander.missingMandatoryOptionValue');
  assert.match(missing.json!.error!.message, /required option '--message <file>' not specified/);
});

test('an operand that starts with - (after --, a negative number) is no unknown option: the missing required option is reported', async () => {
  for (const operand of [['--', '-p.yaml'], ['--', '--p.yaml'], ['-1']]) {
    const run = await runCli(['policy', 'evaluate', ...operand, '--json']);
    assert.equal(run.code, 2, run.stdout);
    assert.equal(run.json!.error!.details.commanderCode, 'commander.missingMandatoryOptionValue', `${operand.join(' ')}: ${run.json!.error!.message}`);
    assert.match(run.json!.error!.message, /required option '--facts <file>' not specified/);
  }
  // a typo after such an operand is still the unknown option it is
  const typo = await runCli(['policy', 'evaluate', '-1', '--fatcs', 'f.json', '--json']);
  assert.equal(typo.json!.error!.details.commanderCode, 'commander.unknownOption');
  assert.match(typo.json!.error!.message, /unknown option '--fatcs'\n\(Did you mean --facts\?\)/);
});

test('attest and demo show a policy\'s problems one per line, as policy check does, not as one line of JSON', async (t) => {
  const dir = tempDir(t, 'vtpm-edges-');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: vtpm-verify/v1\nname: bad\nchain:\n  maxDepht: 3\nlayers:\n  - name: vm\n    kinds: virtual\n');
  for (const args of [['attest', NOWHERE, '--trust', dir, '--policy', bad], ['demo', '--policy', bad]]) {
    const run = await runCli(args);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /^error POLICY_INVALID: /);
    const lines = run.stderr.split('\n');
    assert.ok(lines.includes(`    ${bad}:4:3 POLICY_UNKNOWN_KEY chain: unknown key "maxDepht" (did you mean "maxDepth"?); expected one of: minDepth, maxDepth, endAt, unmatchedLayers, bindings`), run.stderr);
    assert.ok(lines.some((l) => l.startsWith(`    ${bad}:7:12 POLICY_TYPE layers[0].kinds: expected list of`)), run.stderr);
    assert.doesNotMatch(run.stderr, /\[\{"file"/);
    // the envelope is unchanged: every issue in error.details.issues
    const json = await runCli([...args, '--json']);
    assert.equal(json.code, 2);
    assert.deepEqual(json.json?.error?.details.issues.map((i: { line: number; column: number; code: string }) => `${i.line}:${i.column} ${i.code}`), ['4:3 POLICY_UNKNOWN_KEY', '7:12 POLICY_TYPE']);
  }
});
