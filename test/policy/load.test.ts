// Loading: every problem reported at once with exact file:line:column, what
// was expected, includes resolved relative to the policy file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPolicy, loadPolicy, MAX_ISSUES, MAX_YAML_INCLUDE_TEXT, type PolicyIssue } from '../../src/policy/load.js';
import { MAX_YAML_STRUCTURE, yamlStructureCount } from '../../src/util/yaml-size.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { UsageError } from '../../src/errors.js';
import { sha256 } from './fixtures.js';

const where = (issues: PolicyIssue[]) => issues.map((i) => `${i.file}:${i.line}:${i.column} ${i.code}`);

function files(map: Record<string, string>) {
  const read: string[] = [];
  return {
    read,
    readFile: (p: string) => {
      read.push(p);
      if (!(p in map)) throw new UsageError('FILE_UNREADABLE', `cannot read ${p}: ENOENT`, { path: p });
      return map[p]!;
    },
  };
}

test('several errors in one file are all reported, each at its exact line:column', () => {
  const text = [
    'apiVersion: vtpm-verify/v1', //                       1
    'name: bad policy', //                                 2  name: bad value at 2:7
    'chain:', //                                           3
    '  maxDepht: 3', //                                    4  unknown key at 4:3
    '  endAt: phisical', //                                5  bad enum at 5:10
    'layers:', //                                          6
    '  - name: vm', //                                     7
    '    select: { position: 0, kind: virtual }', //       8
    '    pcrs:', //                                        9
    '      sha256:', //                                    10
    '        "7": ["abcd"]', //                            11 bad hex length at 11:15
    '        "24": replay', //                             12 PCR index out of range at 12:9
    '      sha255: {}', //                                 13 unknown bank at 13:7
    '    eventLog:', //                                    14
    '      kernelCmdlines:', //                            15
    '        patterns: ["(unclosed"]', //                  16 bad regex at 16:20
    '    tpm:', //                                         17
    '      minFirmwareVersion: -1', //                     18 out of range at 18:27
    '  - name: vm', //                                     19 duplicate rule-set name at 19:11
    '    trust: { anchors: [a, a] }', //                   20 duplicate item at 20:27
    '    pcrs: []', //                                     21 wrong type at 21:11
    '  - select: { position: 0 }', //                      22 missing name: points at the item, 22:5
    '',
  ].join('\n');
  const { policy, issues } = checkPolicy(text, { path: 'p.yaml' });
  assert.equal(policy, undefined);
  assert.deepEqual(where(issues), [
    'p.yaml:2:7 POLICY_VALUE',
    'p.yaml:4:3 POLICY_UNKNOWN_KEY',
    'p.yaml:5:10 POLICY_VALUE',
    'p.yaml:11:15 POLICY_VALUE',
    'p.yaml:12:9 POLICY_VALUE',
    'p.yaml:13:7 POLICY_UNKNOWN_KEY',
    'p.yaml:16:20 POLICY_REGEX',
    'p.yaml:18:27 POLICY_VALUE',
    'p.yaml:19:11 POLICY_DUPLICATE',
    'p.yaml:20:27 POLICY_DUPLICATE',
    'p.yaml:21:11 POLICY_TYPE',
    'p.yaml:22:5 POLICY_MISSING_KEY',
  ]);
  const byLine = new Map(issues.map((i) => [i.line, i]));
  assert.match(byLine.get(4)!.message, /unknown key "maxDepht" \(did you mean "maxDepth"\?\)/);
  assert.equal(byLine.get(4)!.path, 'chain.maxDepht');
  assert.match(byLine.get(5)!.message, /did you mean "physical"/);
  assert.equal(byLine.get(11)!.expected, 'sha256 digest (64 hex digits)');
  assert.match(byLine.get(11)!.message, /got 4 hex digits/);
  assert.match(byLine.get(12)!.message, /"24" is not a PCR index 0\.\.23/);
  assert.match(byLine.get(13)!.message, /unknown bank "sha255" \(did you mean "sha256"\?\)/);
  assert.match(byLine.get(22)!.message, /missing required key "name"/);
  assert.equal(byLine.get(21)!.expected?.startsWith('mapping of bank'), true);
});

test('loadPolicy throws POLICY_INVALID carrying every issue', () => {
  const err = assertThrowsCode(() => loadPolicy('apiVersion: vtpm-verify/v1\nname: x\nlayerz: []\nchain: 3\n', { path: 'q.yaml' }), 'POLICY_INVALID');
  assert.equal(err.kind, 'input');
  const issues = err.details['issues'] as PolicyIssue[];
  assert.deepEqual(where(issues), ['q.yaml:3:1 POLICY_UNKNOWN_KEY', 'q.yaml:4:8 POLICY_TYPE']);
  assert.match(issues[0]!.message, /did you mean "layers"/);
});

test('an apiVersion written as a number, a list or a self-referencing alias is POLICY_VERSION, not an internal error', () => {
  // YAML integers are read as bigints, which JSON.stringify refuses; an alias can make a list contain itself
  for (const [written, shown, column] of [
    ['4', '4', 13],
    ['1.5', '1.5', 13],
    ['&a [*a]', 'a list of 1', 16],
    ['{v: 1}', 'a mapping', 13],
  ] as const) {
    const issues = checkPolicy(`apiVersion: ${written}\nname: x\n`, { path: 'v.yaml' }).issues;
    assert.deepEqual(where(issues), [`v.yaml:1:${column} POLICY_VERSION`], written);
    assert.equal(issues[0]!.message, `unsupported apiVersion ${shown}: this vtpm-verify understands vtpm-verify/v1`);
    assert.equal(issues[0]!.actual, shown);
  }
  assertThrowsCode(() => loadPolicy('apiVersion: 4\n', { path: 'v.yaml' }), 'POLICY_INVALID');
});

test('duplicate keys, YAML syntax errors, and stray documents', () => {
  assert.deepEqual(where(checkPolicy('apiVersion: vtpm-verify/v1\nname: a\nname: b\n', { path: 'd.yaml' }).issues), ['d.yaml:3:1 POLICY_DUPLICATE_KEY']);
  assert.match(checkPolicy('apiVersion: vtpm-verify/v1\nname: a\nname: b\n').issues[0]!.message, /duplicate key "name"/);
  const syntax = checkPolicy('apiVersion: vtpm-verify/v1\nname: [unclosed\nlayers:\n', { path: 's.yaml' }).issues;
  assert.ok(syntax.length >= 1);
  assert.ok(syntax.every((i) => i.code === 'POLICY_YAML_SYNTAX' && i.file === 's.yaml'));
  assert.equal(checkPolicy('apiVersion: vtpm-verify/v1\nname: a\n---\nname: b\n').issues[0]!.code, 'POLICY_YAML_SYNTAX');
  // a stray document is located at its "---" and explained in the file's terms, not the parser's ("please use YAML.parseAllDocuments()")
  const stray = checkPolicy('apiVersion: vtpm-verify/v1\nname: a\n---\nname: b\n', { path: 'm.yaml' }).issues;
  assert.deepEqual(where(stray), ['m.yaml:3:1 POLICY_YAML_SYNTAX']);
  assert.match(stray[0]!.message, /^a second YAML document starts here: a file holds one document/);
  assert.doesNotMatch(stray[0]!.message, /parseAllDocuments/);
  assert.equal(checkPolicy('- a\n- b\n').issues[0]!.code, 'POLICY_TYPE');
  // unknown tags are not silently accepted
  assert.equal(checkPolicy('apiVersion: vtpm-verify/v1\nname: !!binary aGVsbG8=\n').issues[0]!.code, 'POLICY_TYPE');
});

test('a %YAML 1.1 directive is refused: it would make 010 PCR 8, 0:20 PCR 20 and << a merge', () => {
  const text = ['%YAML 1.1', '---', 'apiVersion: vtpm-verify/v1', 'name: n', 'layers:', '  - name: a', `    pcrs: { sha256: { 010: ["${sha256('a')}"] } }`, ''].join('\n');
  const { policy, issues } = checkPolicy(text, { path: 'v.yaml' });
  assert.equal(policy, undefined);
  assert.deepEqual(where(issues), ['v.yaml:1:1 POLICY_YAML_SYNTAX']);
  assert.match(issues[0]!.message, /only YAML 1\.2/);
  // an explicit 1.2 stays fine, and 010 is PCR 10 there
  const ok = checkPolicy(text.replace('%YAML 1.1', '%YAML 1.2'), { path: 'v.yaml' });
  assert.deepEqual([...ok.policy!.spec.layers[0]!.pcrs!.get('sha256')!.keys()], ['10']);
});

test('keys that are one once read as text are duplicates: 7 and "7" (the plain value would keep only the last)', () => {
  const golden = sha256('pcr7');
  const policy = (pcr7: string, again: string) =>
    [
      'apiVersion: vtpm-verify/v1', //    1
      'name: n', //                        2
      'layers:', //                        3
      '  - name: vm', //                   4
      '    pcrs:', //                      5
      '      sha256:', //                  6
      `        ${pcr7}: [${golden}]`, //   7
      `        ${again}: replay`, //       8
      '',
    ].join('\n');
  // without the check the policy loaded with PCR 7 replayed, its golden value gone
  for (const [first, second] of [['7', '"7"'], ['"7"', '7'], ["'7'", '7'], ['7', '0x7'], ['7', '7.0']]) {
    const { policy: loaded, issues } = checkPolicy(policy(first!, second!), { path: 'k.yaml' });
    assert.equal(loaded, undefined, `${first} then ${second}`);
    assert.deepEqual(where(issues), ['k.yaml:8:9 POLICY_DUPLICATE_KEY'], `${first} then ${second}`);
    const shown = /^["']/.test(second!) ? second! : `"${second}"`; // a quoted key as written, not quoted again
    assert.match(issues[0]!.message, new RegExp(`duplicate key ${shown.replace('.', '\\.')}: the same key as ${first!.replace('.', '\\.')} at line 7, column 9`));
  }
  // a JSON policy's keys are all quoted: shown once, not as ""name""
  assert.equal(checkPolicy('{"apiVersion":"vtpm-verify/v1","name":"a","name":"b","layers":[]}', { path: 'p.json' }).issues[0]!.message, 'duplicate key "name": a key may appear only once in a mapping');
  // in a flow mapping ("7" after the 64 hex digits, at column 94), and for any key: true and "true", ~ and ""
  assert.deepEqual(where(checkPolicy(`apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { sha256: { 7: [${golden}], "7": replay } }\n`, { path: 'f.yaml' }).issues), ['f.yaml:5:94 POLICY_DUPLICATE_KEY']);
  assert.deepEqual(where(checkPolicy('apiVersion: vtpm-verify/v1\nname: n\ntrue: 1\n"true": 2\n~: 3\n"": 4\n', { path: 't.yaml' }).issues).filter((w) => w.includes('DUPLICATE')), ['t.yaml:4:1 POLICY_DUPLICATE_KEY', 't.yaml:6:1 POLICY_DUPLICATE_KEY']);
  // an alias key is the key it names
  assert.deepEqual(where(checkPolicy('apiVersion: vtpm-verify/v1\n&k name: n\n*k : m\n', { path: 'a.yaml' }).issues), ['a.yaml:3:1 POLICY_DUPLICATE_KEY']);
  // in an included file too; and distinct keys are not duplicates
  const fs = files({ 'p/pcrs.yaml': `sha256:\n  7: [${golden}]\n  "7": replay\n  "17": replay\n` });
  const included = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: pcrs.yaml }\n', { path: 'p/x.yaml', readFile: fs.readFile });
  assert.deepEqual(where(included.issues), ['p/pcrs.yaml:3:3 POLICY_DUPLICATE_KEY']);
  assert.deepEqual(checkPolicy(policy('7', '"17"')).issues, []);
});

test('a key written ~ or null is found where it stands, and the message says what it is read as', () => {
  // such a key is "" once parsed; it was located at the mapping's first key (line 7), and shown as ""
  const text = (key: string) => `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs:\n      sha256:\n        "1": replay\n        "2": replay\n        ${key}: replay\n`;
  for (const key of ['null', '~', 'Null']) {
    const { issues } = checkPolicy(text(key), { path: 'n.yaml' });
    assert.deepEqual(where(issues), ['n.yaml:9:9 POLICY_VALUE'], key);
    assert.equal(issues[0]!.message, 'layers[0].pcrs.sha256: "" (an empty key, written "", ~ or null) is not a PCR index 0..23');
  }
  // an unknown key, at the top level (a fixed set of keys) and in a bank mapping
  const top = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers: []\n? null\n: x\n', { path: 't.yaml' }).issues;
  assert.deepEqual(where(top), ['t.yaml:4:3 POLICY_UNKNOWN_KEY']);
  assert.match(top[0]!.message, /unknown key "" \(an empty key, written "", ~ or null\)/);
  const bank = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs:\n      sha256: { "1": replay }\n      ~: { "2": replay }\n', { path: 'b.yaml' }).issues;
  assert.deepEqual(where(bank), ['b.yaml:7:7 POLICY_UNKNOWN_KEY']);
});

test('an integer key past 2^53 is its exact text: found where it stands, and no duplicate of a neighbour that rounds alike', () => {
  // both keys are one double (12345678901234567000 once rounded), but two property names once parsed
  const text = 'apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs:\n      sha256:\n        "1": replay\n        12345678901234567890: replay\n        12345678901234567891: replay\n';
  const { issues } = checkPolicy(text, { path: 'k.yaml' });
  assert.deepEqual(where(issues), ['k.yaml:8:9 POLICY_VALUE', 'k.yaml:9:9 POLICY_VALUE']);
  assert.match(issues[1]!.message, /"12345678901234567891" is not a PCR index/);
});

test('apiVersion: missing is reported with the rest; an unknown version stops the check', () => {
  const missing = checkPolicy('name: a\nlayerz: []\n', { path: 'v.yaml' }).issues;
  assert.deepEqual(where(missing), ['v.yaml:1:1 POLICY_VERSION', 'v.yaml:2:1 POLICY_UNKNOWN_KEY']);
  const v2 = checkPolicy('apiVersion: vtpm-verify/v2\nname: a\nlayerz: []\n', { path: 'v.yaml' }).issues;
  assert.deepEqual(where(v2), ['v.yaml:1:13 POLICY_VERSION']);
});

test('defaults are filled from the schema; values are normalized', () => {
  const p = loadPolicy(`apiVersion: vtpm-verify/v1
name: n
layers:
  - name: host
    trust: { manufacturers: [IFX, "id:494e5443"] }
    pcrs: { sha256: { 7: ["${sha256('x').toUpperCase()}"] } }
`);
  assert.equal(p.spec.chain.endAt, 'not-virtual');
  assert.deepEqual(p.spec.chain.bindings, { nonceChain: 'required', hostedInstance: 'required', issuer: 'optional' });
  assert.deepEqual(p.spec.migration.findings, { clone: 'fail', rollback: 'fail' });
  assert.deepEqual(p.spec.layers[0]!.trust!.manufacturers, ['id:49465800', 'id:494E5443']);
  assert.deepEqual(p.spec.layers[0]!.pcrs!.get('sha256')!.get('7'), [sha256('x')]);
  assert.equal(p.ruleSets[0]!.at, '<policy>:4:5');
});

test('more value checks: durations, empty mappings, min > max, digits-only hex, bad manufacturer', () => {
  const issues = checkPolicy(
    [
      'apiVersion: vtpm-verify/v1',
      'name: n',
      'freshness: { maxAge: 10 minutes }',
      'chain: { minDepth: 3, maxDepth: 2 }',
      'layers:',
      '  - name: a',
      '    trust: {}',
      '    tpm: { firmwareVersions: [1, "0x1"] }',
      '  - name: b',
      '    pcrs: { sha256: { 0: [1234] } }',
      '    trust: { manufacturers: ["TOO LONG"] }',
      '',
    ].join('\n'),
    { path: 'm.yaml' },
  ).issues;
  assert.deepEqual(where(issues), [
    'm.yaml:3:22 POLICY_VALUE',
    'm.yaml:4:20 POLICY_VALUE',
    'm.yaml:7:12 POLICY_VALUE',
    'm.yaml:8:34 POLICY_DUPLICATE',
    'm.yaml:10:27 POLICY_TYPE',
    'm.yaml:11:30 POLICY_VALUE',
  ]);
  assert.match(issues[1]!.message, /3 is more than maxDepth 2/);
});

test('a select.position beyond chain.maxDepth is refused: the rule set would never apply, and the layer meant went unchecked', () => {
  const text = (positions: number[], max = '3') =>
    `apiVersion: vtpm-verify/v1\nname: n\nchain: { maxDepth: ${max} }\nlayers:\n${positions.map((p, i) => `  - name: r${i}\n    select: { position: ${p} }\n    kinds: [physical]\n`).join('')}`;
  const { policy, issues } = checkPolicy(text([0, 2, -1, -3, 3, -4]), { path: 'd.yaml' });
  assert.equal(policy, undefined);
  // each rule set takes 3 lines from line 5; position at column 25 of its second line
  assert.deepEqual(where(issues), ['d.yaml:18:25 POLICY_VALUE', 'd.yaml:21:25 POLICY_VALUE']);
  assert.equal(issues[0]!.message, 'layers[4].select.position: 3 selects no layer: chain.maxDepth is 3, so positions are 0..2, or -1..-3 from the bottom; rule set "r4" would never apply');
  assert.equal(issues[1]!.path, 'layers[5].select.position');
  // every position inside the depth, and any position without a maxDepth, is accepted
  assert.deepEqual(checkPolicy(text([0, 2, -1, -3])).issues, []);
  assert.deepEqual(checkPolicy(text([31, -32]).replace('chain: { maxDepth: 3 }\n', '')).issues, []);
});

test('empty PCR and boot-application mappings are refused: they demand nothing (an emptied golden file silently unpinned every PCR)', () => {
  const fs = files({ 'p/pcrs.yaml': '{}\n' });
  const { issues } = checkPolicy(
    [
      'apiVersion: vtpm-verify/v1',
      'name: n',
      'layers:',
      '  - name: a',
      '    pcrs: { sha256: {} }',
      '    eventLog: { bootApplications: { forbidden: {} } }',
      '  - name: b',
      '    pcrs: { include: pcrs.yaml }',
      '',
    ].join('\n'),
    { path: 'p/e.yaml', readFile: fs.readFile },
  );
  assert.deepEqual(where(issues), ['p/e.yaml:5:21 POLICY_VALUE', 'p/e.yaml:6:48 POLICY_VALUE', 'p/pcrs.yaml:1:1 POLICY_VALUE']);
  assert.match(issues[0]!.message, /at least 1 entry \(a PCR index 0\.\.23\): an empty mapping demands nothing/);
  assert.match(issues[1]!.message, /at least 1 bank/);
});

test('includes resolve relative to the policy file; YAML and JSON reference files', () => {
  const fs = files({
    'policies/golden/vm-pcrs.yaml': `sha256:\n  "7": ["${sha256('pcr7')}"]\n`,
    'policies/golden/vm-ima.json': JSON.stringify({ '/usr/bin/bash': [sha256('bash')] }),
  });
  const p = loadPolicy(
    `apiVersion: vtpm-verify/v1
name: n
layers:
  - name: vm
    pcrs: { include: golden/vm-pcrs.yaml }
    ima:
      allowList: { include: golden/vm-ima.json }
`,
    { path: 'policies/prod.yaml', readFile: fs.readFile },
  );
  assert.deepEqual(fs.read, ['policies/golden/vm-pcrs.yaml', 'policies/golden/vm-ima.json']);
  assert.deepEqual(p.includes, fs.read);
  assert.deepEqual(p.spec.layers[0]!.pcrs!.get('sha256')!.get('7'), [sha256('pcr7')]);
  assert.deepEqual(p.ruleSets[0]!.ima!.allow!.get('/usr/bin/bash'), [sha256('bash')]);
});

test('an included JSON file may start with a byte order mark, as a JSON inventory may; positions stay those of the file', () => {
  // it was POLICY_YAML_SYNTAX "not valid JSON: Unexpected token '\ufeff'" (a list saved by a Windows editor or PowerShell)
  const good = `\ufeff{"/usr/bin/bash": ["${sha256('bash').toUpperCase()}"]}\r\n`;
  const bad = `\ufeff{"/usr/bin/bash": ["${sha256('bash')}"],\r\n "/bin/x": ["zz"]}\r\n`;
  const fs = files({ 'p/good.json': good, 'p/bad.json': bad });
  const policy = (file: string) => `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    ima: { allowList: { include: ${file} } }\n`;
  const p = loadPolicy(policy('good.json'), { path: 'p/x.yaml', readFile: fs.readFile });
  assert.deepEqual(p.ruleSets[0]!.ima!.allow!.get('/usr/bin/bash'), [sha256('bash')]);
  assert.deepEqual(where(checkPolicy(policy('bad.json'), { path: 'p/x.yaml', readFile: fs.readFile }).issues), ['p/bad.json:2:13 POLICY_VALUE']);
});

test('errors inside included files name the included file and its line:column', () => {
  const json = '{\n  "/bin/a": ["' + 'a'.repeat(64) + '"],\n  "/bin/b": ["zz"],\n  "/bin/a": ["' + 'b'.repeat(64) + '"]\n}\n';
  const fs = files({ 'p/ima.json': json, 'p/pcrs.yaml': 'sha256:\n  "7": [abc]\n  "99": replay\n' });
  const { issues } = checkPolicy(
    `apiVersion: vtpm-verify/v1
name: n
layers:
  - name: vm
    pcrs: { include: pcrs.yaml }
    ima:
      allowList: { include: ima.json }
      denied: { include: missing.json }
`,
    { path: 'p/policy.yaml', readFile: fs.readFile },
  );
  assert.deepEqual(where(issues), [
    'p/policy.yaml:8:26 POLICY_INCLUDE',
    'p/ima.json:3:14 POLICY_VALUE',
    'p/ima.json:4:3 POLICY_DUPLICATE_KEY',
    'p/pcrs.yaml:2:9 POLICY_VALUE',
    'p/pcrs.yaml:3:3 POLICY_VALUE',
  ]);
  assert.match(issues[0]!.message, /cannot include "missing\.json".*ENOENT/);
  assert.match(issues[2]!.message, /duplicate key "\/bin\/a"/);
});

test('a misspelt include key says "did you mean include", wherever a reference file may stand', () => {
  // it was "unknown bank", or "expected list of file digest" for an allow-list path named "inlcude"
  const text = [
    'apiVersion: vtpm-verify/v1', //                                    1
    'name: n', //                                                       2
    'layers:', //                                                       3
    '  - name: vm', //                                                  4
    '    pcrs: { Include: golden/pcrs.yaml }', //                       5
    '    ima:', //                                                      6
    '      allowList: { inlcude: golden/ima.json }', //                 7
    '      denied: { includes: golden/denied.json }', //                8
    '    eventLog:', //                                                 9
    '      kernelCmdlines: { inclde: golden/cmdlines.yaml }', //        10
    '      bootApplications: { forbidden: { incude: golden/x.yaml } }', // 11
    '',
  ].join('\n');
  const { issues } = checkPolicy(text, { path: 'i.yaml' });
  assert.deepEqual(where(issues), ['i.yaml:5:13 POLICY_UNKNOWN_KEY', 'i.yaml:7:20 POLICY_UNKNOWN_KEY', 'i.yaml:8:17 POLICY_UNKNOWN_KEY', 'i.yaml:10:25 POLICY_UNKNOWN_KEY', 'i.yaml:11:40 POLICY_UNKNOWN_KEY']);
  for (const i of issues) assert.match(i.message, /\(did you mean "include"\?\); a reference file is named by \{include: FILE\}$/);
  // a one-entry value that is not an include is read as before
  assert.deepEqual(checkPolicy(`apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    ima: { allowList: { "/init": ["${sha256('init')}"] } }\n`).issues, []);
});

test('included files hold data only: no nested includes; no includes without a file', () => {
  const fs = files({ 'p/a.yaml': 'include: b.yaml\n' });
  const nested = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: a.yaml }\n', { path: 'p/x.yaml', readFile: fs.readFile }).issues;
  assert.deepEqual(where(nested), ['p/a.yaml:1:10 POLICY_INCLUDE']);
  const noReader = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: a.yaml }\n').issues;
  assert.deepEqual(where(noReader), ['<policy>:5:22 POLICY_INCLUDE']);
});

test('a YAML include larger than its cap is refused before parsing (a 30 MiB one ran out of memory); JSON may be larger', () => {
  const pcrs = 'sha256:\n  "7": replay\n';
  const big = `${pcrs}#${'x'.repeat(MAX_YAML_INCLUDE_TEXT)}\n`;
  const fs = files({ 'p/pcrs.yaml': big, 'p/pcrs.json': `${JSON.stringify({ sha256: { 7: 'replay' } })}${' '.repeat(MAX_YAML_INCLUDE_TEXT)}` });
  const policy = (ref: string) => `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: ${ref} }\n`;
  const { issues } = checkPolicy(policy('pcrs.yaml'), { path: 'p/x.yaml', readFile: fs.readFile });
  assert.deepEqual(where(issues), ['p/x.yaml:5:22 POLICY_INCLUDE']);
  assert.match(issues[0]!.message, /limit for YAML.*as JSON/);
  assert.ok(checkPolicy(policy('pcrs.json'), { path: 'p/x.yaml', readFile: fs.readFile }).policy);
});

test('a YAML include under the byte cap but with too many nodes is refused before parsing (8 MiB of [a,a,...] took 4.5 GB)', () => {
  // a flow list of a million and one short items: 2 MB, far under the byte cap
  const dense = `sha256: [${'a,'.repeat(MAX_YAML_STRUCTURE)}a]\n`;
  assert.ok(dense.length < MAX_YAML_INCLUDE_TEXT);
  const fs = files({ 'p/pcrs.yaml': dense, 'p/ok.yaml': 'sha256:\n  "7": replay\n' });
  const policy = (ref: string) => `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: ${ref} }\n`;
  const { issues } = checkPolicy(policy('pcrs.yaml'), { path: 'p/x.yaml', readFile: fs.readFile });
  assert.deepEqual(where(issues), ['p/x.yaml:5:22 POLICY_INCLUDE']);
  assert.match(issues[0]!.message, /more than 1000000 YAML separators.*as JSON/);
  assert.ok(checkPolicy(policy('ok.yaml'), { path: 'p/x.yaml', readFile: fs.readFile }).policy);
});

test('yamlStructureCount counts what can start a YAML node, and stops past its limit', () => {
  assert.equal(yamlStructureCount('a: [b, {c: d}]\n- e\n? f\n'), 12);
  assert.equal(yamlStructureCount('plain text, no more'), 1);
  assert.equal(yamlStructureCount(',,,,,,,,,,', 3), 4);
});

test('JSON syntax errors in an included file are located', () => {
  const fs = files({ 'ima.json': '{\n  "/a": ["x"\n}' });
  const { issues } = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    ima: { allowList: { include: ima.json } }\n', { path: 'x.yaml', readFile: fs.readFile });
  assert.equal(issues.length, 1);
  assert.equal(issues[0]!.code, 'POLICY_YAML_SYNTAX');
  assert.equal(issues[0]!.file, 'ima.json');
  assert.deepEqual([issues[0]!.line, issues[0]!.column], [3, 1]);
});

test('a generated file gone wrong: issues are capped, the rest counted', () => {
  const bad: Record<string, string[]> = {};
  for (let i = 0; i < MAX_ISSUES + 50; i++) bad[`/f${i}`] = ['nothex'];
  const fs = files({ 'ima.json': JSON.stringify(bad) });
  const { issues } = checkPolicy('apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    ima: { allowList: { include: ima.json } }\n', { path: 'x.yaml', readFile: fs.readFile });
  assert.equal(issues.length, MAX_ISSUES + 1);
  assert.match(issues[MAX_ISSUES]!.message, /and 50 more issue/);
});

test('YAML aliases cannot blow up (billion laughs)', () => {
  const lol = ['apiVersion: vtpm-verify/v1', 'name: n', 'description: &a x'];
  let prev = 'a';
  for (let i = 0; i < 12; i++) {
    lol.push(`x${i}: &b${i} [${Array(10).fill(`*${prev}`).join(', ')}]`);
    prev = `b${i}`;
  }
  const { issues } = checkPolicy(lol.join('\n'));
  assert.equal(issues.length, 1);
  // located at the first alias (line 4, after "x0: &b0 ["), not at the top of the file
  assert.deepEqual([issues[0]!.code, issues[0]!.line, issues[0]!.column], ['POLICY_YAML_SYNTAX', 4, 10]);
  assert.match(issues[0]!.message, /alias/i);
});

test('yamlStructureCount counts what the parser makes an error or a node of wherever it stands: 1 MB of "]" took 2 GB of heap, uncounted', () => {
  // each of these, repeated, is one parser error (or alias, tag, anchor node) per one or two characters
  for (const unit of [']', '}', '"', "' ", '! ', '& ', '* ']) {
    const text = unit.repeat(Math.ceil((MAX_YAML_STRUCTURE + 1) / unit.trim().length) + 1);
    assert.ok(yamlStructureCount(text) > MAX_YAML_STRUCTURE, JSON.stringify(unit));
  }
  // and so a YAML include of them is refused before parsing
  const closers = ']'.repeat(MAX_YAML_STRUCTURE + 1);
  assert.ok(closers.length < MAX_YAML_INCLUDE_TEXT);
  const fs = files({ 'p/pcrs.yaml': closers });
  const policy = `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: vm\n    pcrs: { include: pcrs.yaml }\n`;
  const { issues } = checkPolicy(policy, { path: 'p/x.yaml', readFile: fs.readFile });
  assert.deepEqual(where(issues), ['p/x.yaml:5:22 POLICY_INCLUDE']);
  assert.match(issues[0]!.message, /more than 1000000 YAML separators.*as JSON/);
});

test('block mappings nested on one line past the parser\'s stack are POLICY_YAML_SYNTAX, not a raw RangeError', () => {
  const limit = Error.stackTraceLimit;
  // the parser would run out of stack closing them before it records an error of its own: refused where the
  // mapping that passes the depth cap starts (the 129th collection: the 126th of the line's mappings, 14 characters each)
  const deep = `apiVersion: vtpm-verify/v1\nname: n\nlayers:\n  - name: a\n    description: ${'634832ff74a9: '.repeat(20_000)}x\n  - name: c\n`;
  const { issues } = checkPolicy(deep, { path: 'deep.yaml' });
  assert.deepEqual(where(issues), [`deep.yaml:5:${18 + 14 * 125} POLICY_YAML_SYNTAX`]);
  assert.match(issues[0]!.message, /nested too deeply to read \(collections, block or flow, inside one another more than 128 deep\)/);
  assert.doesNotMatch(issues[0]!.message, /call stack/);
  // the parser runs without stack traces (one per problem it records cost most of a hostile file's time): the
  // process's own limit is back afterwards, on this path and on a plain one
  assert.equal(Error.stackTraceLimit, limit);
  checkPolicy('apiVersion: vtpm-verify/v1\nname: [\n');
  assert.equal(Error.stackTraceLimit, limit);
});

test('flow collections nested past the parser\'s stack say so, at their place, not in V8\'s words', () => {
  const deep = `apiVersion: vtpm-verify/v1\nname: n\ndescription: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`;
  const { issues } = checkPolicy(deep);
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.equal(issues[0]!.code, 'POLICY_YAML_SYNTAX');
  assert.equal(issues[0]!.line, 3);
  assert.match(issues[0]!.message, /nested too deeply/);
  assert.doesNotMatch(issues[0]!.message, /call stack/);
});

test('manufacturers by letters: only a TCG-registered vendor\'s (a typo selected or allowed no TPM at all, unseen under select); any vendor by id', () => {
  const policy = (m: string) => `apiVersion: vtpm-verify/v1\nname: m\nlayers:\n  - name: host\n    select: { certificate: { manufacturer: ${m} } }\n    trust: { manufacturers: [${m}] }\n`;
  // SEAL: Wisekey, in the registry since version 1.07
  for (const ok of ['IFX', 'STM', 'NTC', 'INTC', 'GOOG', 'SEAL', '"id:12345678"', '"id:53540000"']) assert.deepEqual(checkPolicy(policy(ok)).issues, [], ok);
  const cases: [string, RegExp][] = [
    ['IFK', /"IFK" is not the letters of a TCG-registered TPM vendor \(did you mean "IFX" \(Infineon\)\?\); a vendor not listed is written "id:" \+ its 8 hex digits/],
    ['ifx', /did you mean "IFX" \(Infineon\)\?/],
    ['ST', /did you mean "STM" \(STMicroelectronics\)\?/],
    ['QQQQ', /"QQQQ" is not the letters of a TCG-registered TPM vendor \(registered: AMD, .*IFX, INTC, .*STM, .*\)/],
    // 4 printable letters, but an id cut short, which no TPM has
    ['"id:1"', /"id:1" is not "id:" \+ 8 hex digits$/],
    ['"id:"', /"id:" is not "id:" \+ 8 hex digits$/],
  ];
  for (const [m, message] of cases) {
    const issues = checkPolicy(policy(m)).issues;
    assert.deepEqual(issues.map((i) => [i.code, i.path]), [['POLICY_VALUE', 'layers[0].select.certificate.manufacturer'], ['POLICY_VALUE', 'layers[0].trust.manufacturers[0]']], m);
    for (const i of issues) assert.match(i.message, message, m);
  }
});
