// IMA rules: allow-list path → digests, excludes, excluded templates, denied digests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePolicy } from '../../src/policy/evaluate.js';
import { checkPolicy } from '../../src/policy/load.js';
import { chain, input, layerPolicy, sha1, sha256 } from './fixtures.js';
import { allResults, assertFail, assertPass, rule } from './rule-helpers.js';
import { MAX_IMA_PATH_SHOWN } from '../../src/policy/rules/ima.js';

const vm = (body: string) => layerPolicy(`select: { position: 0 }\nima:\n${body.split('\n').map((l) => `  ${l}`).join('\n')}`);
const allowList = `allowList:
  boot_aggregate: ["${sha256('boot_aggregate')}"]
  /usr/bin/bash: ["${sha256('bash 5.1')}", "${sha256('bash 5.2')}"]
  /usr/lib/x86_64-linux-gnu/libc.so.6: ["${sha256('libc 2.39')}"]
  .ima: ["${sha256('keyring key')}"]`;

test('ima.required and ima.mustReplay', () => {
  assertPass(evaluatePolicy(vm('required: true'), input()), 'layer[0].ima.required');
  const none = chain();
  delete none[0]!.ima;
  assertFail(evaluatePolicy(vm('required: true'), input(none)), 'layer[0].ima.required', 'POLICY_IMA_MISSING');
  assert.equal(rule(evaluatePolicy(vm('mustReplay: true'), input(none)), 'layer[0].ima.mustReplay').status, 'not-applicable');
  const bad = chain();
  bad[0]!.ima!.replayMatched = false;
  assertFail(evaluatePolicy(vm('required: true'), input(bad)), 'layer[0].ima.required', 'POLICY_IMA_REPLAY');
  assertFail(evaluatePolicy(vm('mustReplay: true'), input(bad)), 'layer[0].ima.mustReplay', 'POLICY_IMA_REPLAY');
  assertPass(evaluatePolicy(vm('mustReplay: true'), input()), 'layer[0].ima.mustReplay');
});

test('ima.allowList: every measured file listed with one of its digests', () => {
  const r = assertPass(evaluatePolicy(vm(allowList), input()), 'layer[0].ima.allowList');
  assert.equal((r.actual as { checked: number }).checked, 5);
});

test('ima.allowList: one changed file fails with POLICY_IMA_DIGEST naming it', () => {
  const changed = chain();
  changed[0]!.ima!.entries[2]!.digest = sha256('libc with a backdoor');
  const r = assertFail(evaluatePolicy(vm(allowList), input(changed)), 'layer[0].ima.allowList', 'POLICY_IMA_DIGEST');
  const actual = r.actual as { wrongDigestCount: number; wrongDigest: { path: string; digest: string }[] };
  assert.equal(actual.wrongDigestCount, 1);
  assert.deepEqual(actual.wrongDigest[0], { path: '/usr/lib/x86_64-linux-gnu/libc.so.6', digest: `sha256:${sha256('libc with a backdoor')}`, template: 'ima-ng' });
});

test('ima.allowList: an unlisted file fails with POLICY_IMA_UNKNOWN_FILE', () => {
  const extra = chain();
  extra[0]!.ima!.entries.push({ path: '/tmp/dropper', digest: sha256('dropper'), algo: 'sha256', template: 'ima-ng' });
  const r = assertFail(evaluatePolicy(vm(allowList), input(extra)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assert.match(r.message, /\/tmp\/dropper/);
});

test('ima.excludes: whole-path patterns skip files; ima.excludeTemplates skips entries', () => {
  const extra = chain();
  extra[0]!.ima!.entries.push({ path: '/tmp/dropper', digest: sha256('dropper'), algo: 'sha256', template: 'ima-ng' });
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["/tmp/.*"]`), input(extra)), 'layer[0].ima.allowList');
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["/var/.*", "/tmp/.*"]`), input(extra)), 'layer[0].ima.allowList');
  // merged into one automaton, each pattern still matches the whole path on its own: "/va" and "r/.*" are not "/var/.*"
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["/(v)ar/.*", "/(t)mp/.*"]`), input(extra)), 'layer[0].ima.allowList');
  assertFail(evaluatePolicy(vm(`${allowList}\nexcludes: ["/var/.*", "/tm", "p/dropper"]`), input(extra)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["/var/.*", "/tm", "/tmp/d.*|/nothing"]`), input(extra)), 'layer[0].ima.allowList');
  // each pattern is parsed on its own: \Q quotes to the end of ITS pattern, a group name may recur
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["\\\\Q/tmp/dropper", "/var/.*"]`), input(extra)), 'layer[0].ima.allowList');
  assertPass(evaluatePolicy(vm(`${allowList}\nexcludes: ["(?P<d>/var)/.*", "(?P<d>/tmp)/.*"]`), input(extra)), 'layer[0].ima.allowList');
  const joined = chain();
  joined[0]!.ima!.entries.push({ path: '/etc/ld.so.cache)|(?:/tmp/\\Q.x', digest: sha256('dropper'), algo: 'sha256', template: 'ima-ng' });
  const quoted = vm(`${allowList}\nexcludes: ["\\\\Q/etc/ld.so.cache", "/tmp/\\\\Q.x\\\\E"]`);
  assertFail(evaluatePolicy(quoted, input(joined)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  const both = chain();
  both[0]!.ima!.entries.push({ path: '/etc/ld.so.cache', digest: sha256('cache'), algo: 'sha256', template: 'ima-ng' }, { path: '/tmp/.x', digest: sha256('x'), algo: 'sha256', template: 'ima-ng' });
  assert.equal((assertPass(evaluatePolicy(quoted, input(both)), 'layer[0].ima.allowList').actual as { excluded: number }).excluded, 2);
  // whole-path: "/tmp" alone does not exclude /tmp/dropper
  assertFail(evaluatePolicy(vm(`${allowList}\nexcludes: ["/tmp"]`), input(extra)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  const withoutBuf = allowList.split('\n').filter((l) => !l.includes('.ima')).join('\n');
  assertFail(evaluatePolicy(vm(withoutBuf), input()), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assertPass(evaluatePolicy(vm(`${withoutBuf}\nexcludeTemplates: [ima-buf]`), input()), 'layer[0].ima.allowList');
});

test('ima.allowList: an empty IMA log fails (IMA not measuring)', () => {
  const empty = chain();
  empty[0]!.ima!.entries = [];
  assertFail(evaluatePolicy(vm(allowList), input(empty)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
});

test('ima.excludes: large patterns load up to the policy\'s budget, each excluding its paths; past it, POLICY_REGEX where it is crossed', () => {
  const extra = chain();
  extra[0]!.ima!.entries.push({ path: `/tmp/10/${'a'.repeat(9000)}`, digest: sha256('dropper'), algo: 'sha256', template: 'ima-ng' });
  // 9,009 or 9,010 instructions each: 11 are 99,1xx, within MAX_POLICY_PROGRAM (100,000)
  const excludes = Array.from({ length: 12 }, (_, i) => `/tmp/${i}/${'[a-z]{1000}'.repeat(9)}`);
  const policy = vm(`${allowList}\nexcludes: ${JSON.stringify(excludes.slice(0, 11))}`);
  const r = assertPass(evaluatePolicy(policy, input(extra)), 'layer[0].ima.allowList');
  assert.equal((r.actual as { excluded: number }).excluded, 1);
  extra[0]!.ima!.entries.push({ path: `/tmp/11/${'a'.repeat(9000)}`, digest: sha256('dropper'), algo: 'sha256', template: 'ima-ng' });
  assertFail(evaluatePolicy(policy, input(extra)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  // 1,000 such patterns took a gigabyte and seconds to load (160 were INTERNAL_ERROR, "expression too large")
  const { issues } = checkPolicy(`apiVersion: vtpm-verify/v1\nname: t\nlayers:\n  - name: r\n    ima:\n      excludes: ${JSON.stringify(excludes)}\n`, { path: 'p.yaml' });
  assert.deepEqual(issues.map((i) => [i.code, i.path, i.line]), [['POLICY_REGEX', 'layers[0].ima.excludes[11]', 6]]);
  assert.match(issues[0]!.message, /the policy's patterns compile to more than 100000 instructions together with this one \(9010\)/);
});

test('ima.denied: a denied digest fails whatever the path, even an excluded one', () => {
  assertPass(evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]`), input()), 'layer[0].ima.denied');
  const miner = chain();
  miner[0]!.ima!.entries.push({ path: '/tmp/kworker', digest: sha256('xmrig'), algo: 'sha256', template: 'ima-ng' });
  const r = assertFail(evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]\n${allowList}\nexcludes: ["/tmp/.*"]`), input(miner)), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.equal((r.actual as { count: number }).count, 1);
});

test('ima.denied: files measured with another algorithm than the denied digests cannot be checked, and fail', () => {
  // the fixture's list is SHA-256; a list of denied SHA-1 hashes never matches it
  const r = assertFail(evaluatePolicy(vm(`denied: ["${sha1('xmrig')}"]`), input()), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.match(r.message, /5 measured file\(s\) have a sha256 digest, and the denied list has no digest of that algorithm \(only sha1\)/);
  // with digests of both algorithms, every file is checked against its own
  assertPass(evaluatePolicy(vm(`denied: ["${sha1('xmrig')}", "${sha256('xmrig')}"]`), input()), 'layer[0].ima.denied');
  const legacy = chain();
  legacy[0]!.ima!.entries.push({ path: '/usr/bin/xmrig', digest: sha1('xmrig'), algo: 'sha1', template: 'ima' });
  assertFail(evaluatePolicy(vm(`denied: ["${sha1('xmrig')}", "${sha256('xmrig')}"]`), input(legacy)), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
});

test('ima: a file measurement relabelled ima-buf (its digest is not the hash of its "buffer") is checked as a file, and denied whatever its template', () => {
  const relabelled = chain();
  relabelled[0]!.ima!.entries.push({ path: '/usr/local/bin/xmrig', digest: sha256('xmrig'), algo: 'sha256', template: 'ima-buf', templateAttested: false });
  const withoutBuf = allowList.split('\n').filter((l) => !l.includes('.ima')).join('\n');
  const policy = vm(`${withoutBuf}\nexcludeTemplates: [ima-buf]\ndenied: ["${sha256('xmrig')}"]`);
  const r = evaluatePolicy(policy, input(relabelled));
  assertFail(r, 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  const allow = assertFail(r, 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assert.match(allow.message, /xmrig/);
  // the fixture's genuine ima-buf entry (.ima) is still excluded
  assert.equal((allow.actual as { excluded: number }).excluded, 1);
  // a denied digest under a genuine excluded template is denied too
  const genuine = chain();
  genuine[0]!.ima!.entries.push({ path: '.builtin_trusted_keys', digest: sha256('xmrig'), algo: 'sha256', template: 'ima-buf' });
  assertFail(evaluatePolicy(vm(`excludeTemplates: [ima-buf]\ndenied: ["${sha256('xmrig')}"]`), input(genuine)), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
});

test('ima: a verified entry whose file name or digest cannot be read (an unknown template name, which anyone can give an entry) fails the allow-list and denied rules', () => {
  const hidden = chain();
  hidden[0]!.ima!.undecoded = [{ entry: 5, template: 'ima-xx' }];
  const policy = vm(`${allowList}\nexcludes: ["/tmp/.*"]\nexcludeTemplates: [ima-xx]\ndenied: ["${sha256('xmrig')}"]`);
  const r = evaluatePolicy(policy, input(hidden));
  const allow = assertFail(r, 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  assert.match(allow.message, /1 entry whose file name or digest cannot be read \(first: entry 5, template "ima-xx"\)/);
  assert.equal((allow.actual as { undecodedCount: number }).undecodedCount, 1);
  const denied = assertFail(r, 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  assert.match(denied.message, /cannot be checked against the denied digests/);
  // only undecoded entries: not "no entries"
  const only = chain();
  only[0]!.ima!.entries = [];
  only[0]!.ima!.undecoded = [{ entry: 0, template: 'ima-xx' }];
  assert.match(assertFail(evaluatePolicy(vm(allowList), input(only)), 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE').message, /cannot be read/);
  // none: as before
  assertPass(evaluatePolicy(vm(`${allowList}\ndenied: ["${sha256('xmrig')}"]`), input()), 'layer[0].ima.allowList');
  assertPass(evaluatePolicy(vm(`${allowList}\ndenied: ["${sha256('xmrig')}"]`), input()), 'layer[0].ima.denied');
});

test('ima digests of any supported size (sha1 legacy template)', () => {
  const legacy = chain();
  legacy[0]!.ima!.entries = [{ path: '/init', digest: sha1('init'), algo: 'sha1', template: 'ima' }];
  assertPass(evaluatePolicy(vm(`allowList: { /init: ["${sha1('init')}"] }`), input(legacy)), 'layer[0].ima.allowList');
});

test('ima rules on a missing or non-replaying IMA log fail', () => {
  const none = chain();
  delete none[0]!.ima;
  assertFail(evaluatePolicy(vm(allowList), input(none)), 'layer[0].ima.allowList', 'POLICY_IMA_MISSING');
  const bad = chain();
  bad[0]!.ima!.replayMatched = false;
  assertFail(evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]`), input(bad)), 'layer[0].ima.denied', 'POLICY_IMA_REPLAY');
});

test('ima.denied: the kernel\'s boot_aggregate in another algorithm than the files (a SHA-1 bank aggregate, as the TSS sample list has) is no file left unchecked', () => {
  // tss_sml-ima-sig-sha256.bin: entry 0 "boot_aggregate" is sha1 (a hash of PCRs 0-7), every file sha256
  const real = chain();
  real[0]!.ima!.entries[0] = { path: 'boot_aggregate', digest: sha1('pcrs 0-7'), algo: 'sha1', template: 'ima-sig', bootAggregate: true };
  assertPass(evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]`), input(real)), 'layer[0].ima.denied');
  // a file of that name later in the list is a file: measured with SHA-1 (its security.ima says so), it is not checked, and fails
  const named = chain();
  named[0]!.ima!.entries.push({ path: 'boot_aggregate', digest: sha1('xmrig'), algo: 'sha1', template: 'ima-ng' });
  assertFail(evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]`), input(named)), 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
});

test('ima violations (a file open for write while measured): each fails, whatever path it claims (not attested, so excludes do not apply); `violations: allow` lets them pass; only with an allow-list', () => {
  const violated = chain();
  violated[0]!.ima!.violations = [{ entry: 7, path: '/usr/bin/bash' }];
  const r = assertFail(evaluatePolicy(vm(allowList), input(violated)), 'layer[0].ima.allowList', 'POLICY_IMA_VIOLATION');
  assert.match(r.message, /1 violation\(s\): a file open for write while measured, its content unknown \(first: entry 7, claiming \/usr\/bin\/bash\)/);
  assert.deepEqual((r.actual as { violations: unknown[] }).violations, [{ entry: 7, path: '/usr/bin/bash' }]);
  // the file's own entry listed with its digest does not make the violation pass: what was read is unknown
  assertPass(evaluatePolicy(vm(`${allowList}\nviolations: allow`), input(violated)), 'layer[0].ima.allowList');
  // IMA extends all ones for a violation whatever its template data names: a compromised attester could name an
  // excluded path for any violation, so excludes do not apply to them
  violated[0]!.ima!.violations = [{ entry: 7, path: '/tmp/sh-thd-1' }];
  assertFail(evaluatePolicy(vm(`${allowList}\nexcludes: ["/tmp/.*"]`), input(violated)), 'layer[0].ima.allowList', 'POLICY_IMA_VIOLATION');
  violated[0]!.ima!.violations = [{ entry: 3 }];
  assert.match(assertFail(evaluatePolicy(vm(allowList), input(violated)), 'layer[0].ima.allowList', 'POLICY_IMA_VIOLATION').message, /first: entry 3\)/);
  // a changed file is still named by its own code first
  violated[0]!.ima!.entries[2]!.digest = sha256('libc with a backdoor');
  assertFail(evaluatePolicy(vm(allowList), input(violated)), 'layer[0].ima.allowList', 'POLICY_IMA_DIGEST');
  // without an allow-list nothing checks files: no rule, no failure
  assert.equal(allResults(evaluatePolicy(vm('required: true'), input(violated))).some((x) => x.id === 'layer[0].ima.allowList'), false);
  const bad = checkPolicy(`apiVersion: vtpm-verify/v1\nname: t\nlayers:\n  - name: r\n    ima:\n      violations: ignore\n`, { path: 'p.yaml' });
  assert.equal(bad.issues[0]?.code, 'POLICY_VALUE');
});

test('ima: paths of up to 1 MiB (the attester\'s) are shown cut at MAX_IMA_PATH_SHOWN in failures, which stay bounded', () => {
  const long = (tag: string, i: number) => `/usr/bin/${tag}${i}-${'p'.repeat(200_000)}`;
  const hostile = chain();
  for (let i = 0; i < 30; i++) {
    hostile[0]!.ima!.entries.push({ path: long('unlisted', i), digest: sha256(`u${i}`), algo: 'sha256', template: 'ima-ng' });
    hostile[0]!.ima!.entries.push({ path: long('denied', i), digest: sha256('xmrig'), algo: 'sha256', template: 'ima-ng' });
  }
  hostile[0]!.ima!.violations = Array.from({ length: 30 }, (_, i) => ({ entry: 100 + i, path: long('violated', i) }));
  const e = evaluatePolicy(vm(`denied: ["${sha256('xmrig')}"]\n${allowList}`), input(hostile));
  const allow = assertFail(e, 'layer[0].ima.allowList', 'POLICY_IMA_UNKNOWN_FILE');
  const denied = assertFail(e, 'layer[0].ima.denied', 'POLICY_IMA_DENIED');
  const a = allow.actual as { notListedCount: number; notListed: { path: string }[]; violations: { path: string }[] };
  assert.equal(a.notListedCount, 60);
  assert.equal(a.notListed.length, 20);
  assert.equal(a.notListed[0]!.path, `${long('unlisted', 0).slice(0, MAX_IMA_PATH_SHOWN)}… (${long('unlisted', 0).length} characters)`);
  assert.ok(a.violations.every((v) => v.path.length < MAX_IMA_PATH_SHOWN + 30));
  assert.ok(allow.message.length < 3 * (MAX_IMA_PATH_SHOWN + 200));
  assert.ok(JSON.stringify([allow, denied]).length < 70 * (MAX_IMA_PATH_SHOWN + 200), `${JSON.stringify([allow, denied]).length} characters`);
});

test('explain: excludes and excludeTemplates are said to exempt from the allow-list only, and to do nothing without one', async () => {
  const { explainPolicy } = await import('../../src/policy/explain.js');
  const demands = (body: string) => explainPolicy(layerPolicy(body)).ruleSets[0]!.demands;
  // without an allow-list the bare "except paths matching ..." read as if the paths were exempt from something
  const alone = demands(`ima:\n  excludes: ['/tmp/.*']\n  excludeTemplates: [ima-buf]\n  denied: ["${sha256('bad')}"]`);
  assert.deepEqual(alone, [
    'excludes "/tmp/.*" have no effect: there is no allow-list to exempt paths from',
    'excludeTemplates ima-buf have no effect: there is no allow-list to exempt entries from',
    'no measured file may have one of 1 denied digest(s)',
  ]);
  const withList = demands(`ima:\n  allowList: { "/bin/sh": ["${sha256('sh')}"] }\n  excludes: ['/tmp/.*']\n  excludeTemplates: [ima-buf]\n  denied: ["${sha256('bad')}"]`);
  assert.ok(withList.includes('except paths matching "/tmp/.*"'), withList.join('\n'));
  assert.ok(withList.includes('entries of template ima-buf are not checked against the allow-list (denied digests still are)'), withList.join('\n'));
});
