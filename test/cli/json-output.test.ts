// The --json envelope printer: the same text as one JSON.stringify, written in pieces so that a
// result longer than V8's longest string (about 512 MiB) is still printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { jsonChunks, toJsonText } from '../../src/cli/output.js';

test('jsonChunks joins to exactly what toJsonText writes, indented or on one line', () => {
  const values: unknown[] = [
    null,
    'text',
    42,
    12n,
    Buffer.from([0xde, 0xad]),
    [],
    {},
    [[], {}, [[[[1, [2, { a: [3] }]]]]]],
    { a: undefined, b: () => 1, c: [undefined, () => 1, Symbol('s')], d: null, 'quote"key': '\n\t"' },
    { when: new Date(0), bytes: new Uint8Array([1, 2]), nested: { buf: Buffer.from('hi'), big: [1n, 2n], deep: { deeper: { deepest: { x: ['y\nz'] } } } } },
    { ok: false, result: null, error: { code: 'X', message: 'm', details: { list: [{ line: 1 }, { line: 2 }] } } },
    new Map([[1, 2]]),
  ];
  for (const value of values) {
    for (const indent of [0, 2]) assert.equal([...jsonChunks(value, indent)].join(''), toJsonText(value, indent), `${String(toJsonText(value, 0))} / ${indent}`);
  }
});

test('a --json envelope longer than the longest string V8 can hold is printed whole, not an internal error', () => {
  // 600 references to one 1 MiB string: little memory, but 600 MiB of JSON (a 64 MiB IMA list of two
  // million tiny entries gives as much). One JSON.stringify of it throws "Invalid string length".
  const output = new URL('../../src/cli/output.js', import.meta.url).href;
  const script = `
    const { printOutcome } = await import(${JSON.stringify(output)});
    const piece = 'x'.repeat(1 << 20);
    await printOutcome({ ok: true, exitCode: 0, result: { entries: Array(600).fill(piece) } }, { json: true, color: false });
    process.stderr.write('printed');
  `;
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr.slice(0, 500));
  assert.equal(run.stderr, 'printed');
});

test('watch and simulate, whose --json output is JSON lines, print every envelope on one line: errors before they start and usage errors too', async () => {
  const { runCli } = await import('../helpers/cli.js');
  const cases: [string[], string][] = [
    [['watch', 'http://127.0.0.1:1/', '--trust', '/nonexistent/trust', '--json'], 'FILE_UNREADABLE'],
    [['watch', 'http://127.0.0.1:1/', '--bogus', '--json'], 'USAGE'],
    [['simulate', '--port', '99999999', '--json'], 'USAGE'],
  ];
  for (const [args, code] of cases) {
    const run = await runCli(args);
    assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
    const lines = run.stdout.split('\n');
    assert.equal(lines.length, 2, `${args.join(' ')}: one line and its newline, got ${JSON.stringify(run.stdout)}`);
    assert.equal(lines[1], '');
    assert.equal(JSON.parse(lines[0]!).error.code, code);
  }
  // other commands keep their indented envelope
  const attest = await runCli(['attest', 'http://127.0.0.1:1/', '--trust', '/nonexistent/trust', '--json']);
  assert.equal(attest.json?.error?.code, 'FILE_UNREADABLE');
  assert.ok(attest.stdout.split('\n').length > 2, attest.stdout);
});
