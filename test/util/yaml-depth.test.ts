// The cap on how deep YAML collections nest, checked before the YAML library
// composes them: it counts the collections the parser builds, no more (honest
// YAML with brackets in text is read) and no fewer (nesting a pre-scan hid, or
// block nesting, ran the composer out of stack, and V8 aborted the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { flowDepthOver, parseDocumentCapped } from '../../src/util/yaml-depth.js';
import { checkPolicy } from '../../src/policy/load.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const deep = '['.repeat(2000);

test('CLI: nesting behind a quoted scalar that goes on to a line with a "#" is refused (exit 2), not a V8 abort', async (t) => {
  // the "#" on the quoted scalar's second line is text, not a comment: the brackets after it are flow collections
  const dir = tempDir(t, 'vtpm-yaml-depth-');
  const file = join(dir, 'p.yaml');
  writeFileSync(file, `- ["x\n  # ", ${deep}\n`.repeat(2));
  const run = await runCli(['policy', 'check', file, '--json']);
  assert.equal(run.code, 2, run.stdout + run.stderr);
  const issues = run.json!.result.files[0].issues as { line: number; column: number; message: string }[];
  assert.deepEqual([issues[0]!.line, issues[0]!.column], [2, 71]);
  assert.match(issues[0]!.message, /nested too deeply to read \(flow collections \[ \] \{ \} inside one another, more than 64 deep\)/);
});

test('nesting the parser reads is found wherever the text puts it', () => {
  const cases = {
    'a quote inside a plain key': `- x, 'y: ${deep}\n`,
    'a quote after a colon in a flow mapping': `- {a:'${deep}\n`,
    'a byte order mark first': `\uFEFF${deep}\n`,
    'a comment in a multi-line quoted scalar': `- ['x\n  # ', ${deep}\n`,
  };
  for (const [what, text] of Object.entries(cases)) assert.ok(flowDepthOver(text, 64) >= 0, what);
});

test('brackets the parser reads as text are not nesting: block scalars, tagged and multi-line quoted scalars', () => {
  const cases = {
    'a regular expression in a block scalar': `  - note: |\n      [\\[(]\n`,
    'code in a block scalar': `  - note: |\n      {\n        const s = '[';\n      }\n`,
    'a comment-like line in a block scalar': `  - note: |\n      [see # 3]\n`,
    'a quoted line in a block scalar': `  - note: |\n      - "a\n      [b\n`,
    'a tagged quoted scalar': `  - note: !!str "x - [y"\n`,
    'an anchored quoted scalar': `  - note: &a "x: {y"\n`,
    'a "#" in a multi-line quoted scalar': `  - tags: ["a long\n      # tag [", "b"]\n`,
    'an escaped line break in a quoted scalar': `  - note: "a \\\n      [b"\n`,
  };
  for (const [what, one] of Object.entries(cases)) {
    const text = `vms:\n${one.replace(/&a/, '&a0')}${Array.from({ length: 99 }, (_, i) => one.replace(/&a/, `&a${i + 1}`)).join('')}`;
    assert.equal(parseDocument(text).errors.length, 0, what);
    assert.equal(flowDepthOver(text, 64), -1, what);
  }
  // and a policy whose description holds 100 such lines is read
  const policy = `apiVersion: vtpm-verify/v1\nname: p\ndescription: |\n${'  [\\[(]\n'.repeat(100)}`;
  assert.deepEqual(checkPolicy(policy, { path: 'p.yaml' }).issues.filter((i) => /nested/.test(i.message)), []);
});

test('the cap is exact: 64 levels are read, 65 are refused at the bracket that passes it', () => {
  assert.equal(flowDepthOver(`a: ${'['.repeat(64)}${']'.repeat(64)}\n`, 64), -1);
  assert.equal(flowDepthOver(`a: ${'['.repeat(65)}${']'.repeat(65)}\n`, 64), 3 + 64);
  assert.equal(flowDepthOver(`a: "${'['.repeat(100)}"\nb: '${'{'.repeat(100)}' # ${'['.repeat(100)}\n`, 64), -1);
});

test('CLI: block collections nested on one line past the parser\'s stack are refused (exit 2), not a V8 abort', async (t) => {
  // two lines of 2,000 "- " (8 KB): the composer ran out of stack while V8 compiled a regular expression (exit 134)
  const dir = tempDir(t, 'vtpm-yaml-depth-');
  const file = join(dir, 'deep.yaml');
  writeFileSync(file, `${'- '.repeat(2000)}x\n`.repeat(2));
  const check = await runCli(['policy', 'check', file, '--json']);
  assert.equal(check.code, 2, check.stdout + check.stderr);
  const issues = check.json!.result.files[0].issues as { line: number; column: number; message: string }[];
  assert.deepEqual(issues.map((i) => [i.line, i.column]), [[1, 257]]);
  assert.match(issues[0]!.message, /nested too deeply to read \(collections, block or flow, inside one another more than 128 deep\)/);
  const audit = await runCli(['audit', file, '--json']);
  assert.equal(audit.code, 2, audit.stdout + audit.stderr);
  assert.equal(audit.json!.result.issues[0].code, 'INVENTORY_YAML_SYNTAX');
  const fleet = await runCli(['simulate', '--fleet', file, '--json']);
  assert.equal(fleet.code, 2, fleet.stdout + fleet.stderr);
  assert.match(fleet.json!.error!.message, /nested too deeply to read .* at line 1$/);
});

test('collections are counted as the parser nests them, block and flow together, to 128; flow ones to 64', () => {
  const opts = { prettyErrors: false } as const;
  const depthOf = (text: string) => {
    const r = parseDocumentCapped(text, opts);
    return 'tooDeepAt' in r ? r.tooDeepAt : -1;
  };
  assert.equal(depthOf(`${'- '.repeat(128)}x\n`), -1);
  assert.equal(depthOf(`${'- '.repeat(129)}x\n`), 256);
  assert.equal(depthOf(`${'- '.repeat(64)}${'['.repeat(64)}${']'.repeat(64)}\n`), -1);
  assert.equal(depthOf(`${'- '.repeat(64)}${'['.repeat(65)}${']'.repeat(65)}\n`), 128 + 64);
  assert.equal(depthOf(`${'- '.repeat(65)}${'['.repeat(64)}${']'.repeat(64)}\n`), 130 + 63);
  // by indentation, a mapping in each
  const indented = Array.from({ length: 130 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' x\n';
  assert.equal(depthOf(indented), indented.indexOf('k128'));
  // a second document is still MULTIPLE_DOCS, a syntax error still an error of the document
  const two = parseDocumentCapped('a: 1\n---\nb: 2\n', opts);
  assert.ok(!('tooDeepAt' in two) && two.errors.map((e) => e.code).includes('MULTIPLE_DOCS'));
  const bad = parseDocumentCapped('a: [1\n', opts);
  assert.ok(!('tooDeepAt' in bad) && bad.errors.length > 0);
});

test('a flow collection the lexer ends at a line less indented or a document marker (unclosed) no longer counts toward the cap', () => {
  // 70 unclosed "[": each one ends where the next line starts, as the parser reads them; none is inside another
  const unclosed = Array.from({ length: 70 }, (_, i) => `k${i}: [${i}\n`).join('');
  assert.equal(flowDepthOver(unclosed, 64), -1);
  assert.equal(flowDepthOver(Array.from({ length: 70 }, (_, i) => `[${i}\n---\n`).join(''), 64), -1);
  // the policy's real problem is reported where it is, as the parser reports it
  const policy = `apiVersion: vtpm-verify/v1\nname: p\n${unclosed}`;
  const issues = checkPolicy(policy, { path: 'p.yaml' }).issues;
  assert.deepEqual(issues.filter((i) => /nested/.test(i.message)), []);
  const first = parseDocument(policy).errors[0]!.linePos![0];
  assert.deepEqual([issues[0]!.line, issues[0]!.column], [first.line, first.col]);
  assert.deepEqual([first.line, first.col], [4, 1]);
  assert.match(issues[0]!.message, /Flow sequence in block collection must be sufficiently indented and end with a \]/);
  // while brackets really nested after such an end still count from there
  assert.equal(flowDepthOver(`a: [1\n${'['.repeat(65)}\n`, 64), 6 + 64);
});

test('collections the parser itself would recurse through, as it closes them, are refused where they pass the cap, not a stack overflow', () => {
  // "- ? - ? ...": the parser closes 2,000 collections at the next line by recursing once per level (a RangeError
  // the loaders could only report at line 1, column 1, as "mappings inside one another")
  const text = `${'- ? '.repeat(1000)}x\n`.repeat(2);
  const r = parseDocumentCapped(text, { prettyErrors: false });
  assert.ok('tooDeepAt' in r);
  assert.equal(r.tooDeepAt, 256);
  const issues = checkPolicy(text, { path: 'p.yaml' }).issues;
  assert.deepEqual(issues.map((i) => [i.line, i.column]), [[1, 257]]);
  assert.match(issues[0]!.message, /nested too deeply to read \(collections, block or flow, inside one another more than 128 deep\)/);
});
