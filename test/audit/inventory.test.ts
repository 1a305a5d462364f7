// The audit inventory: settings cascade (VM over group over defaults), tags
// add up, paths resolve against the inventory's folder, and every problem is
// reported at once with file:line:column, the files it names included; the
// JSON Schema and README reference are generated from the one definition.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { parseInventory, type InventoryIssue } from '../../src/audit/inventory.js';
import { MAX_ISSUES } from '../../src/policy/load.js';
import { inventoryJsonSchema, inventoryReferenceMarkdown } from '../../src/audit/inventory-schema.js';
import { inventoryJson, inventoryYaml } from '../../src/simulator/fleet.js';
import { runCli } from '../helpers/cli.js';
import { makeCert } from '../helpers/pki.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const INVENTORY = `apiVersion: vtpm-verify/v1
defaults:
  trust: [trust/, ak-ca=extra/ak.pem]
  policy: policies/base.yaml
  timeoutMs: 10000
  tags: [prod]
groups:
  web:
    policy: policies/web.yaml
    tls: { ca: ca.pem }
    tags: [web, prod]
  db:
    trust: /etc/vtpm/db-trust
    maxDepth: 4
vms:
  - { name: web-1, url: "https://web-1.example:8443/attest", group: web, tags: [eu] }
  - { name: db-1, url: "https://db-1.example:8443/attest", group: db, timeoutMs: 2000 }
  - url: "http://10.0.0.7:8443/attest"
    policy: /abs/own.yaml
    connectTimeoutMs: 500
`;

test('settings cascade VM > group > defaults; tags add up; paths resolve against the inventory folder', () => {
  const { inventory, issues } = parseInventory(INVENTORY, '/srv/fleet/inventory.yaml');
  assert.deepEqual(issues, []);
  const [web, db, anon] = inventory!.vms;
  assert.deepEqual(inventory!.groups, ['web', 'db']);

  assert.equal(web!.key, 'web-1');
  assert.equal(web!.group, 'web');
  assert.deepEqual(web!.tags, ['prod', 'web', 'eu']);
  assert.deepEqual(web!.policy, { value: '/srv/fleet/policies/web.yaml', from: ['groups', 'web', 'policy'] });
  assert.deepEqual(web!.trust, { value: ['/srv/fleet/trust', 'ak-ca=/srv/fleet/extra/ak.pem'], from: ['defaults', 'trust'] });
  assert.deepEqual(web!.tls, { value: { ca: ['/srv/fleet/ca.pem'] }, from: ['groups', 'web', 'tls'] });
  assert.equal(web!.timeoutMs, 10000);

  assert.deepEqual(db!.trust?.value, ['/etc/vtpm/db-trust']);
  assert.equal(db!.policy?.value, '/srv/fleet/policies/base.yaml');
  assert.equal(db!.timeoutMs, 2000);
  assert.equal(db!.maxDepth, 4);
  assert.equal(db!.tls, undefined);

  // unnamed: known by its url
  assert.equal(anon!.name, undefined);
  assert.equal(anon!.key, 'http://10.0.0.7:8443/attest');
  assert.deepEqual(anon!.policy, { value: '/abs/own.yaml', from: ['vms', 2, 'policy'] });
  assert.equal(anon!.connectTimeoutMs, 500);
  assert.deepEqual(anon!.tags, ['prod']);
  // a setting inherited from one place is one shared object
  assert.equal(web!.trust, anon!.trust);
  assert.notEqual(web!.trust, db!.trust);
});

function issueAt(issues: readonly InventoryIssue[], line: number): InventoryIssue {
  const i = issues.find((x) => x.line === line);
  assert.ok(i, `an issue on line ${line}: ${JSON.stringify(issues, null, 1)}`);
  return i;
}

test('every problem at once, each with file:line:column and its own code', () => {
  const text = `apiVersion: vtpm-verify/v1
defaults:
  trusts: [trust/]
  timeoutMs: -5
groups:
  web: { tls: { cert: client.pem } }
vms:
  - { name: web-1, url: "ftp://web-1.example/attest" }
  - { name: web-1, url: "https://web-2.example/attest" }
  - { name: "has space", url: "https://web-3.example/attest", tags: "not-a-list-of-tags, x" }
  - { name: web-4 }
`;
  const { inventory, issues } = parseInventory(text, 'inv.yaml');
  assert.equal(inventory, undefined);
  assert.ok(issues.every((i) => i.file === 'inv.yaml'));
  const unknown = issueAt(issues, 3);
  assert.equal(unknown.code, 'INVENTORY_UNKNOWN_KEY');
  assert.equal(unknown.column, 3);
  assert.match(unknown.message, /did you mean "trust"/);
  assert.equal(issueAt(issues, 4).code, 'INVENTORY_VALUE');
  assert.equal(issueAt(issues, 6).code, 'INVENTORY_MISSING_KEY');
  assert.match(issueAt(issues, 6).message, /mutual TLS needs both/);
  const scheme = issueAt(issues, 8);
  assert.equal(scheme.code, 'INVENTORY_VALUE');
  assert.match(scheme.message, /only http and https/);
  assert.equal(scheme.column, 25, 'at the url value');
  assert.equal(issueAt(issues, 9).code, 'INVENTORY_DUPLICATE');
  const line10 = issues.filter((i) => i.line === 10).map((i) => i.code).sort();
  assert.deepEqual(line10, ['INVENTORY_TYPE', 'INVENTORY_VALUE']);
  assert.equal(issueAt(issues, 11).code, 'INVENTORY_MISSING_KEY');
  assert.equal(issues.length, 8);
  // sorted by position
  assert.deepEqual(
    issues.map((i) => i.line),
    [...issues.map((i) => i.line)].sort((a, b) => a - b),
  );
});

test('cross-checks: unknown groups and VMs sharing an endpoint, located', () => {
  const text = `groups:
  web: {}
vms:
  - { name: a, url: "https://a.example/attest", group: web }
  - { name: b, url: "https://b.example/attest", group: wbe }
  - { name: c, url: "https://A.EXAMPLE/attest/" }
`;
  const { inventory, issues } = parseInventory(text, 'inv.yaml');
  assert.equal(inventory, undefined);
  assert.deepEqual(
    issues.map((i) => [i.line, i.code]),
    [
      [5, 'INVENTORY_UNKNOWN_GROUP'],
      [6, 'INVENTORY_DUPLICATE'],
    ],
  );
  assert.match(issues[0]!.message, /groups: web/);
});

test('a url that sets a query parameter the protocol reserves (nonce, pcrs, instance) is refused where it is written', () => {
  const { inventory, issues } = parseInventory('vms:\n  - { url: "https://a.example/attest?tenant=blue" }\n  - { url: "https://b.example/attest?instance=00" }\n', 'inv.yaml');
  assert.equal(inventory, undefined);
  assert.deepEqual(issues.map((i) => [i.line, i.column, i.code]), [[3, 12, 'INVENTORY_VALUE']]);
  assert.match(issues[0]!.message, /query parameter "instance", which the protocol reserves/);
  // port 0: no server listens there (asked, it was a connection refused, retried as a network error)
  const zero = parseInventory('vms:\n  - { url: "https://a.example:0/attest" }\n', 'inv.yaml');
  assert.deepEqual(zero.issues.map((i) => [i.line, i.code]), [[2, 'INVENTORY_VALUE']]);
  assert.match(zero.issues[0]!.message, /port 0 in the URL/);
});

test('an unnamed VM is known by its url: a name equal to it is refused, whichever comes first', () => {
  const url = 'https://a.example/attest';
  for (const [vms, line, field] of [
    [`  - { name: "${url}", url: "https://b.example/attest" }\n  - { url: "${url}" }\n`, 3, 'url'],
    [`  - { url: "${url}" }\n  - { name: "${url}", url: "https://b.example/attest" }\n`, 3, 'name'],
  ] as const) {
    const { inventory, issues } = parseInventory(`vms:\n${vms}`, 'inv.yaml');
    assert.equal(inventory, undefined);
    assert.deepEqual(issues.map((i) => [i.line, i.code, i.path]), [[line, 'INVENTORY_DUPLICATE', `vms[1].${field}`]]);
  }
});

test('endpoints alike after percent-decoding, and names alike after Unicode normalization, are duplicates', () => {
  const urls = parseInventory('vms:\n  - { url: "https://h.example/l/vm-0001" }\n  - { url: "https://h.example/l/%76m-0001" }\n', 'inv.yaml');
  assert.deepEqual(urls.issues.map((i) => [i.line, i.code]), [[3, 'INVENTORY_DUPLICATE']]);
  // an escape that is not an unreserved character stays distinct from the character
  assert.deepEqual(parseInventory('vms:\n  - { url: "https://h.example/a%2Fb" }\n  - { url: "https://h.example/a/b" }\n', 'inv.yaml').issues, []);
  // one machine however its host is written: a trailing root dot, an IPv4-mapped IPv6 address, a default port
  for (const [a, b] of [
    ['https://h.example/x', 'https://H.Example./x/'],
    ['https://127.0.0.1:8443/x', 'https://[::ffff:127.0.0.1]:8443/x'],
    ['https://10.1.2.3/x', 'https://[::ffff:a01:203]:443/x'],
  ]) {
    const dup = parseInventory(`vms:\n  - { url: "${a}" }\n  - { url: "${b}" }\n`, 'inv.yaml');
    assert.deepEqual(dup.issues.map((i) => [i.line, i.code]), [[3, 'INVENTORY_DUPLICATE']], `${a} ${b}`);
  }
  // other ports, other addresses, "//" in a path: distinct
  for (const [a, b] of [
    ['https://127.0.0.1:8443/x', 'https://[::ffff:127.0.0.1]:8444/x'],
    ['https://127.0.0.1/x', 'https://[::1]/x'],
    ['https://h.example/a/b', 'https://h.example/a//b'],
  ]) {
    assert.deepEqual(parseInventory(`vms:\n  - { url: "${a}" }\n  - { url: "${b}" }\n`, 'inv.yaml').issues, [], `${a} ${b}`);
  }
  const names = parseInventory(`vms:\n  - { name: "caf\u00e9", url: "https://a.example/" }\n  - { name: "cafe\u0301", url: "https://b.example/" }\n`, 'inv.yaml');
  assert.deepEqual(names.issues.map((i) => [i.line, i.code, i.path]), [[3, 'INVENTORY_DUPLICATE', 'vms[1].name']]);
});

test('names that every report shows alike (a bidi or invisible character shown as its \\uXXXX escape) are duplicates', () => {
  // reports show "vm-\u202ex" (a right-to-left override) as the text vm-\u202ex: the JUnit report would hold
  // two testcases of one name and classname, which CI systems take for one test
  const yaml = 'vms:\n  - { name: "vm-\\u202ex", url: "https://a.example/" }\n  - { name: \'vm-\\u202ex\', url: "https://b.example/" }\n';
  const shown = parseInventory(yaml, 'inv.yaml');
  assert.deepEqual(shown.issues.map((i) => [i.line, i.code, i.path]), [[3, 'INVENTORY_DUPLICATE', 'vms[1].name']]);
  assert.match(shown.issues[0]!.message, /vms\[1\]\.name: shown as vms\[0\]'s name in every report \(vm-\\u202ex\)/);
  // in either order, and with a zero-width character
  const zw = parseInventory('vms:\n  - { name: \'a\\u200bb\', url: "https://a.example/" }\n  - { name: "a\\u200bb", url: "https://b.example/" }\n', 'inv.yaml');
  assert.deepEqual(zw.issues.map((i) => [i.line, i.code, i.path]), [[3, 'INVENTORY_DUPLICATE', 'vms[1].name']]);
  // names that show differently stay distinct
  assert.deepEqual(parseInventory('vms:\n  - { name: "vm-\\u202ex", url: "https://a.example/" }\n  - { name: "vm-x", url: "https://b.example/" }\n', 'inv.yaml').issues, []);
});

test('a name or tag with an unpaired surrogate is refused: as UTF-8 it is U+FFFD, and "x\\ud800" and "x\\udfff" would show alike', () => {
  // YAML and JSON escapes both make one
  const yaml = parseInventory('vms:\n  - { name: "x\\ud800", url: "https://a.example/" }\n  - { name: "x\\udfff", url: "https://b.example/", tags: ["t\\udc00"] }\n', 'inv.yaml');
  assert.deepEqual(yaml.issues.map((i) => [i.line, i.code, i.path]), [
    [2, 'INVENTORY_VALUE', 'vms[0].name'],
    [3, 'INVENTORY_VALUE', 'vms[1].name'],
    [3, 'INVENTORY_VALUE', 'vms[1].tags[0]'],
  ]);
  const json = parseInventory('{"vms":[{"name":"x\\ud800","url":"https://a.example/"}]}', 'inv.json');
  assert.deepEqual(json.issues.map((i) => [i.code, i.path]), [['INVENTORY_VALUE', 'vms[0].name']]);
  // a pair is a character like any other
  assert.deepEqual(parseInventory('vms:\n  - { name: "x\\ud83d\\ude00", url: "https://a.example/", tags: ["\\ud83d\\ude00"] }\n', 'inv.yaml').issues, []);
});

test('a collection used as a key is an issue, with no warning of the YAML parser on stderr', async () => {
  const { issues } = parseInventory('vms:\n  - { [a, b]: 1, url: "https://a.example/" }\n', 'inv.yaml');
  assert.deepEqual(issues.map((i) => i.code), ['INVENTORY_UNKNOWN_KEY']);
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  parseInventory('vms:\n  - { [a, b]: 1, url: "https://a.example/" }\n', 'inv.yaml');
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  assert.deepEqual(warnings, []);
});

test('a JSON inventory may start with a byte order mark; a YAML inventory over 8 MiB is refused with the advice to use JSON', () => {
  const json = parseInventory('\ufeff{"vms":[{"name":"a","url":"https://a.example/"}]}', 'inv.json');
  assert.deepEqual(json.issues, []);
  assert.equal(json.inventory!.vms[0]!.name, 'a');
  const big = `vms:\n${'  - { url: "https://a.example/x" }\n'.repeat(Math.ceil((8 * 1024 * 1024) / 34) + 1)}`;
  const yaml = parseInventory(big, 'inv.yaml');
  assert.equal(yaml.inventory, undefined);
  assert.deepEqual(yaml.issues.map((i) => [i.line, i.code]), [[1, 'INVENTORY_VALUE']]);
  assert.match(yaml.issues[0]!.message, /a YAML inventory is limited to 8388608 characters .* as JSON/);
});

test('a YAML inventory under 8 MiB with too many nodes is refused before parsing, with the advice to use JSON', () => {
  // 1.5 million tags in 3 MB: parsed, their tree would take over a gigabyte
  const dense = `vms:\n  - { name: a, url: "https://a.example/", tags: [${'t,'.repeat(1_500_000)}t] }\n`;
  const yaml = parseInventory(dense, 'inv.yaml');
  assert.equal(yaml.inventory, undefined);
  assert.deepEqual(yaml.issues.map((i) => [i.line, i.code]), [[1, 'INVENTORY_VALUE']]);
  assert.match(yaml.issues[0]!.message, /the YAML inventory has more than 1000000 YAML separators.*as JSON/);
  // an ordinary YAML inventory still parses
  assert.deepEqual(parseInventory('vms:\n  - { name: a, url: "https://a.example/", tags: [t] }\n', 'inv.yaml').issues, []);
});

test('CLI: block mappings nested on one line past the YAML parser\'s stack are INVENTORY_YAML_SYNTAX (exit 2), not INTERNAL_ERROR', async (t) => {
  // the parser ran out of stack before it could record an error (a raw RangeError): refused where the depth cap is passed
  const dir = tempDir(t, 'vtpm-inventory-');
  writeFileSync(join(dir, 'inv.yaml'), `vms:\n  - name: a\n    instanceId: ${'634832ff74a9: '.repeat(20_000)}x\n  - name: c\n`);
  const run = await runCli(['audit', join(dir, 'inv.yaml'), '--json']);
  assert.equal(run.code, 2, run.stdout + run.stderr);
  const issues = run.json!.result.issues as InventoryIssue[];
  assert.deepEqual(issues.map((i) => [i.line, i.column, i.code]), [[3, 17 + 14 * 125, 'INVENTORY_YAML_SYNTAX']]);
  assert.match(issues[0]!.message, /nested too deeply/);
  assert.doesNotMatch(issues[0]!.message, /call stack/);
});

test('CLI: flow collections nested past the YAML parser\'s stack are refused before parsing (exit 2), not a V8 abort', async (t) => {
  // two lines of 2,000 "[" (4 KB): the parser ran out of stack while V8 compiled one of its regular expressions, and
  // V8 aborted the process ("RegExpCompiler Allocation failed", exit 134, no envelope)
  const dir = tempDir(t, 'vtpm-inventory-');
  writeFileSync(join(dir, 'inv.yaml'), `- ${'['.repeat(2000)}\n- ${'['.repeat(2000)}\n`);
  const run = await runCli(['audit', join(dir, 'inv.yaml'), '--json']);
  assert.equal(run.code, 2, run.stdout + run.stderr);
  const issues = run.json!.result.issues as InventoryIssue[];
  assert.deepEqual(issues.map((i) => [i.line, i.column, i.code]), [[1, 67, 'INVENTORY_YAML_SYNTAX']]);
  assert.match(issues[0]!.message, /nested too deeply to read \(flow collections .* more than 64 deep\)/);
  // brackets in quoted scalars, comments and block plain scalars are not nesting; 64 levels still parse
  const text = `vms:\n  - name: "${'['.repeat(100)}"\n    group: a ${'['.repeat(100)}\n    url: 'https://a.example/${'{'.repeat(100)}' # ${'['.repeat(100)}\n    tags: [a, ${'['.repeat(63)}${']'.repeat(63)}]\n`;
  // (read, then refused for what they hold: a group name with brackets, a tag that is a list)
  assert.deepEqual(parseInventory(text, 'inv.yaml').issues.map((i) => [i.line, i.code]), [[3, 'INVENTORY_VALUE'], [5, 'INVENTORY_TYPE']]);
});

test('YAML syntax errors, a wrong version and an empty list are located too', () => {
  const syntax = parseInventory('vms:\n  - { name: a, url: "x"\n', 'bad.yaml').issues;
  assert.ok(syntax.length > 0 && syntax.every((i) => i.code === 'INVENTORY_YAML_SYNTAX'));
  const dup = parseInventory('vms: []\nvms: []\n', 'dup.yaml').issues;
  assert.ok(dup.some((i) => i.code === 'INVENTORY_DUPLICATE_KEY' && i.line === 2));
  // 2024 and "2024" are one group name once read as text: the second would replace the first
  const sameName = parseInventory('groups:\n  2024:\n    policy: strict.yaml\n  "2024":\n    policy: lax.yaml\nvms:\n  - { url: "https://a.example/", group: "2024" }\n', 'dup.yaml').issues;
  assert.deepEqual(sameName.map((i) => [i.line, i.column, i.code]), [[4, 3, 'INVENTORY_DUPLICATE_KEY']]);
  assert.match(sameName[0]!.message, /duplicate key "2024": the same key as 2024 at line 2, column 3/);
  const version = parseInventory('apiVersion: vtpm-verify/v9\nvms: [{ url: "http://a/" }]\n', 'v.yaml').issues;
  assert.deepEqual(version.map((i) => [i.line, i.code]), [[1, 'INVENTORY_VERSION']]);
  const empty = parseInventory('vms: []\n', 'e.yaml').issues;
  assert.deepEqual(empty.map((i) => [i.line, i.code]), [[1, 'INVENTORY_VALUE']]);
  const notMapping = parseInventory('- a\n- b\n', 'l.yaml').issues;
  assert.deepEqual(notMapping.map((i) => i.code), ['INVENTORY_TYPE']);
});

test('a JSON inventory (the fast path for large fleets) gives the same VMs, and its problems are located too', () => {
  const yaml = parseInventory(INVENTORY, '/srv/fleet/inventory.yaml');
  const json = parseInventory(JSON.stringify(parseYaml(INVENTORY)), '/srv/fleet/inventory.json');
  assert.deepEqual(json.issues, []);
  assert.deepEqual(json.inventory!.vms, yaml.inventory!.vms);
  const text = '{\n  "vms": [\n    {"name": "a", "url": "https://a.example/"},\n    {"name": "b", "url": "https://b.example/", "group": "none", "tag": 1}\n  ]\n}\n';
  const bad = parseInventory(text, 'inv.json');
  assert.deepEqual(bad.issues.map((i) => [i.line, i.code]), [[4, 'INVENTORY_UNKNOWN_KEY']]);
  const later = parseInventory(text.replace(', "tag": 1', ''), 'inv.json');
  assert.deepEqual(later.issues.map((i) => [i.line, i.column, i.code]), [[4, 57, 'INVENTORY_UNKNOWN_GROUP']]);
});

test("the simulator's inventory (vtpm-verify simulate --inventory-out), YAML or JSON, is a valid inventory", () => {
  const entries = [
    { name: 'vm-0001', url: 'http://127.0.0.1:8400/l/vm-0001', instanceId: '5c'.repeat(32), tags: ['sim', 'host=host-001'] },
    // a physical top has no instance id to pin
    { name: 'bare-1', url: 'http://127.0.0.1:8400/l/bare-1', tags: [] },
  ];
  const { inventory, issues } = parseInventory(inventoryYaml(entries), 'sim.yaml');
  assert.deepEqual(issues, []);
  assert.deepEqual(
    inventory!.vms.map((v) => [v.name, v.url, v.instanceId, v.tags]),
    entries.map((e) => [e.name, e.url, e.instanceId, e.tags]),
  );
  // --inventory-out FILE.json: the same VMs, as JSON
  const json = parseInventory(inventoryJson(entries), 'sim.json');
  assert.deepEqual(json.issues, []);
  assert.deepEqual(json.inventory!.vms, inventory!.vms);
});

test('docs/inventory.schema.json and the README reference are what the schema generates; the schema accepts the example', () => {
  const committed = readFileSync(join(REPO_ROOT, 'docs', 'inventory.schema.json'), 'utf8');
  const fix = 'run: npm run build && node scripts/gen-policy-docs.mjs';
  assert.equal(committed, `${JSON.stringify(inventoryJsonSchema(), null, 2)}\n`, `docs/inventory.schema.json is out of date: ${fix}`);
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(inventoryReferenceMarkdown()), `the README inventory reference is out of date: ${fix}`);
  const validate = new Ajv2020({ strict: false }).compile(inventoryJsonSchema());
  assert.equal(validate(parseYaml(INVENTORY)), true, JSON.stringify(validate.errors));
  assert.equal(validate({ vms: [{ url: 'https://a/', colour: 'red' }] }), false);
});

test('CLI: an unreadable TLS file of an inventory is named by its inventory key (tls.key), not by the CLI option', async (t) => {
  const dir = tempDir(t, 'vtpm-inventory-');
  writeFileSync(join(dir, 'client.pem'), 'not a certificate');
  writeFileSync(join(dir, 'ca.pem'), (await makeCert({ subject: 'CN=Inventory Root', ca: true })).pem);
  writeFileSync(join(dir, 'inv.yaml'), 'defaults: { trust: [ca.pem] }\nvms:\n  - { url: "https://127.0.0.1:9/a", tls: { cert: client.pem, key: missing-key.pem } }\n');
  const run = await runCli(['audit', join(dir, 'inv.yaml'), '--json']);
  assert.equal(run.code, 2);
  const messages = (run.json!.result.issues as InventoryIssue[]).map((i) => i.message);
  assert.ok(messages.some((m) => /client key \(tls\.key\): cannot read .*missing-key\.pem/.test(m)), messages.join('\n'));
  assert.ok(!messages.some((m) => m.includes('--key')), messages.join('\n'));
});

test('CLI: the files defaults and groups name are checked even when no VM inherits them', async (t) => {
  // they were loaded only for the VMs that inherit them: an inventory naming a missing or broken policy in a group
  // no VM used yet, or in defaults every VM overrides, was audited (exit 0) and failed once a VM was added
  const dir = tempDir(t, 'vtpm-inventory-');
  mkdirSync(join(dir, 'trust'));
  writeFileSync(join(dir, 'trust', 'ca.pem'), (await makeCert({ subject: 'CN=Inventory Root', ca: true })).pem);
  writeFileSync(join(dir, 'ok.yaml'), 'apiVersion: vtpm-verify/v1\nname: ok\n');
  writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: vtpm-verify/v1\nname: broken\nchain: { maxDepht: 3 }\n');
  writeFileSync(
    join(dir, 'inv.yaml'),
    `defaults:
  trust: [trust/]
  policy: missing-default.yaml
groups:
  spare: { policy: broken.yaml }
  later: { trust: [no-such-trust/], tls: { ca: [no-such-ca.pem] } }
  used: { policy: ok.yaml }
vms:
  - { name: a, url: "http://127.0.0.1:9/a", group: used }
`,
  );
  const run = await runCli(['audit', join(dir, 'inv.yaml'), '--json']);
  assert.equal(run.code, 2, run.stderr + run.stdout);
  assert.equal(run.json?.error?.code, 'INVENTORY_INVALID');
  assert.deepEqual(
    (run.json!.result.issues as InventoryIssue[]).map((i) => `${i.file === join(dir, 'inv.yaml') ? 'inv' : i.file.replace(dir, '')}:${i.line}:${i.column} ${i.code} ${i.path}`),
    [
      'inv:3:11 INVENTORY_FILE defaults.policy',
      'inv:5:20 INVENTORY_FILE groups.spare.policy',
      'inv:6:19 INVENTORY_FILE groups.later.trust',
      'inv:6:42 INVENTORY_FILE groups.later.tls',
      '/broken.yaml:3:10 POLICY_UNKNOWN_KEY chain.maxDepht',
    ],
  );
  // a group that is used, or unused and sound, is no problem
  writeFileSync(join(dir, 'fine.yaml'), 'defaults: { trust: [trust/], policy: ok.yaml }\ngroups:\n  spare: { policy: ok.yaml, tags: [x] }\nvms:\n  - { url: "http://127.0.0.1:9/a" }\n');
  const fine = await runCli(['audit', join(dir, 'fine.yaml'), '--json', '--retries', '0', '--connect-timeout', '500']);
  assert.notEqual(fine.json?.error?.code, 'INVENTORY_INVALID', fine.stdout);
});

test('CLI: intermediates and CRLs a group names over --trust are checked when no VM is in the group', async (t) => {
  // the group's trust anchors come from the command line: its own files were left unchecked until a VM named it
  const dir = tempDir(t, 'vtpm-inventory-');
  mkdirSync(join(dir, 'trust'));
  writeFileSync(join(dir, 'trust', 'ca.pem'), (await makeCert({ subject: 'CN=Inventory Root', ca: true })).pem);
  writeFileSync(join(dir, 'inv.yaml'), 'groups:\n  spare: { intermediates: [missing-int.pem] }\n  other: { crls: [missing.crl] }\nvms:\n  - { url: "http://127.0.0.1:9/a" }\n');
  const run = await runCli(['audit', join(dir, 'inv.yaml'), '--trust', join(dir, 'trust'), '--json']);
  assert.equal(run.code, 2, run.stderr + run.stdout);
  assert.equal(run.json?.error?.code, 'INVENTORY_INVALID');
  assert.deepEqual(
    (run.json!.result.issues as InventoryIssue[]).map((i) => `${i.line}:${i.column} ${i.code} ${i.path}`),
    ['2:27 INVENTORY_FILE groups.spare.intermediates', '3:18 INVENTORY_FILE groups.other.crls'],
  );
});

test('CLI: an invalid inventory exits 2 listing every problem, those of the files it names included', async (t) => {
  const dir = tempDir(t, 'vtpm-inventory-');
  mkdirSync(join(dir, 'policies'));
  writeFileSync(join(dir, 'policies', 'broken.yaml'), 'apiVersion: vtpm-verify/v1\nname: broken\nchain: { maxDepth: many }\n');
  writeFileSync(
    join(dir, 'inv.yaml'),
    `defaults:
  trust: [no-such-trust/]
groups:
  g: { policy: policies/broken.yaml }
vms:
  - { name: a, url: "http://127.0.0.1:9/a", group: g }
  - { name: b, url: "http://127.0.0.1:9/b", policy: policies/missing.yaml }
`,
  );
  const human = await runCli(['audit', join(dir, 'inv.yaml')]);
  assert.equal(human.code, 2, human.stderr + human.stdout);
  assert.match(human.stdout, /inv\.yaml:2:10 INVENTORY_FILE trust: .*no-such-trust/);
  assert.match(human.stdout, /inv\.yaml:4:16 INVENTORY_FILE policy .*broken\.yaml: 1 problem/);
  assert.match(human.stdout, /inv\.yaml:7:53 INVENTORY_FILE policy .*missing\.yaml/);
  assert.match(human.stdout, /broken\.yaml:3:20 POLICY_TYPE/);

  const json = await runCli(['audit', join(dir, 'inv.yaml'), '--json']);
  assert.equal(json.code, 2);
  assert.equal(json.json?.error?.code, 'INVENTORY_INVALID');
  const issues = json.json!.result.issues as InventoryIssue[];
  assert.deepEqual(
    issues.map((i) => i.code),
    ['INVENTORY_FILE', 'INVENTORY_FILE', 'INVENTORY_FILE', 'POLICY_TYPE'],
  );

  // without trust anywhere: each VM is named
  writeFileSync(join(dir, 'none.yaml'), 'vms:\n  - { name: a, url: "http://127.0.0.1:9/a" }\n');
  const none = await runCli(['audit', join(dir, 'none.yaml'), '--json']);
  assert.equal(none.code, 2);
  assert.deepEqual(
    (none.json!.result.issues as InventoryIssue[]).map((i) => [i.line, i.code]),
    [[2, 'INVENTORY_NO_TRUST']],
  );
  // a missing inventory file is FILE_UNREADABLE, a bad shard is USAGE
  assert.equal((await runCli(['audit', join(dir, 'nope.yaml'), '--json'])).json?.error?.code, 'FILE_UNREADABLE');
  const shard = await runCli(['audit', join(dir, 'none.yaml'), '--shard', '3/3', '--json']);
  assert.equal(shard.code, 2);
  assert.equal(shard.json?.error?.code, 'USAGE');
});

test('instanceId: the vTPM instance expected at a VM\'s url, 64 hex digits (uppercase read as lowercase), one VM each', () => {
  const id = 'ab'.repeat(32);
  const ok = parseInventory(`vms:\n  - { name: a, url: "https://a.example/", instanceId: "${id.toUpperCase()}" }\n  - { name: b, url: "https://b.example/" }\n`, 'inv.yaml');
  assert.deepEqual(ok.issues, []);
  assert.equal(ok.inventory!.vms[0]!.instanceId, id);
  assert.equal(ok.inventory!.vms[1]!.instanceId, undefined);

  const bad = parseInventory(`vms:\n  - { url: "https://a.example/", instanceId: "${id.slice(2)}" }\n  - { url: "https://b.example/", instanceId: "xyz" }\n`, 'inv.yaml');
  assert.deepEqual(bad.issues.map((i) => [i.line, i.code, i.path]), [
    [2, 'INVENTORY_VALUE', 'vms[0].instanceId'],
    [3, 'INVENTORY_VALUE', 'vms[1].instanceId'],
  ]);
  assert.match(bad.issues[0]!.message, /62 hex digits/);

  // two addresses for one instance: one of them is not that VM
  const twice = parseInventory(`vms:\n  - { url: "https://a.example/", instanceId: "${id}" }\n  - { url: "https://b.example/", instanceId: "${id.toUpperCase()}" }\n`, 'inv.yaml');
  assert.deepEqual(twice.issues.map((i) => [i.line, i.code, i.path]), [[3, 'INVENTORY_DUPLICATE', 'vms[1].instanceId']]);
  assert.match(twice.issues[0]!.message, /same vTPM instance as vms\[0\]/);
});

test('cross-check issues are capped as schema issues are: 5,000 VMs naming a missing group list 1,000 and count the rest', () => {
  const n = 5000;
  const groups = Array.from({ length: 2000 }, (_, i) => `"g${i}":{}`).join(',');
  const text = `{"vms":[${Array.from({ length: n }, (_, i) => `{"url":"https://a${i}.example","group":"nope"}`).join(',')}],"groups":{${groups}}}`;
  const r = parseInventory(text, 'fleet.json');
  assert.equal(r.inventory, undefined);
  assert.equal(r.issues.length, MAX_ISSUES + 1);
  assert.ok(r.issues.slice(0, MAX_ISSUES).every((i) => i.code === 'INVENTORY_UNKNOWN_GROUP'));
  assert.equal(r.issues[0]!.path, 'vms[0].group');
  const last = r.issues[MAX_ISSUES]!;
  assert.equal(last.code, 'INVENTORY_INVALID');
  assert.match(last.message, new RegExp(`${n - MAX_ISSUES} more issue`));
});
