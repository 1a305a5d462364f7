// The flow-collection depth cap read before the YAML parser: it counts the
// brackets the parser will nest, no more (honest YAML with brackets in text is
// read) and no fewer (nesting it hid ran the parser out of stack, and V8
// aborted the process).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { yamlFlowDepthOver } from '../../src/util/yaml-flow-depth.js';
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
  assert.match(issues[0]!.message, /nested too deeply to read \(flow collections .* more than 64 deep\)/);
});

test('nesting the parser reads is found wherever the text puts it', () => {
  const cases = {
    'a quote inside a plain key': `- x, 'y: ${deep}\n`,
    'a quote after a colon in a flow mapping': `- {a:'${deep}\n`,
    'a byte order mark first': `\uFEFF${deep}\n`,
    'a comment in a multi-line quoted scalar': `- ['x\n  # ', ${deep}\n`,
  };
  for (const [what, text] of Object.entries(cases)) assert.ok(yamlFlowDepthOver(text, 64) >= 0, what);
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
    assert.equal(yamlFlowDepthOver(text, 64), -1, what);
  }
  // and a policy whose description holds 100 such lines is read
  const policy = `apiVersion: vtpm-verify/v1\nname: p\ndescription: |\n${'  [\\[(]\n'.repeat(100)}`;
  assert.deepEqual(checkPolicy(policy, { path: 'p.yaml' }).issues.filter((i) => /nested/.test(i.message)), []);
});

test('the cap is exact: 64 levels are read, 65 are refused at the bracket that passes it', () => {
  assert.equal(yamlFlowDepthOver(`a: ${'['.repeat(64)}${']'.repeat(64)}\n`, 64), -1);
  assert.equal(yamlFlowDepthOver(`a: ${'['.repeat(65)}${']'.repeat(65)}\n`, 64), 3 + 64);
  assert.equal(yamlFlowDepthOver(`a: "${'['.repeat(100)}"\nb: '${'{'.repeat(100)}' # ${'['.repeat(100)}\n`, 64), -1);
});
