// JUnit XML: validated by libxml2 (`xmllint --schema`) against a JUnit XSD,
// read back with XPath: one testcase per VM, failures and errors with the
// reason and code, classnames, times; hostile strings (markup, quotes,
// control characters XML 1.0 forbids, lone surrogates) keep the file
// well-formed and come back as the text they were.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLASSNAME, failureMessage, renderJunit, xmlAttr, xmlText } from '../../src/report/junit.js';
import { summarize } from '../../src/report/summary.js';
import { assertValidJunit, haveXmllint, xpath } from '../helpers/xmllint.js';
import { fleet } from './fleet.js';
import { SCRIPT, XSS, trustedResult } from './fixtures.js';

function withFile<T>(t: TestContext, text: string, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-junit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'junit.xml');
  writeFileSync(file, text);
  return fn(file);
}

test('the report is valid JUnit XML: one testcase per VM, failures, errors, counts and times', (t) => {
  if (!haveXmllint(t)) return;
  const f = fleet();
  const summary = summarize(f.results);
  const xml = renderJunit(f.run, summary, f.results);
  withFile(t, xml, (file) => {
    assertValidJunit(file);
    assert.equal(xpath(file, 'count(/testsuites/testsuite)'), '1');
    assert.equal(xpath(file, 'count(//testcase)'), String(f.results.length));
    assert.equal(xpath(file, 'count(//testcase[failure])'), String(f.notTrusted.length));
    assert.equal(xpath(file, 'count(//testcase[error])'), String(f.unreachable.length));
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@tests)'), String(f.results.length));
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@failures)'), String(f.notTrusted.length));
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@errors)'), String(f.unreachable.length));
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@time)'), '7.250');
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@timestamp)'), '2026-11-26T12:00:00');
    assert.equal(xpath(file, 'string(/testsuites/testsuite/@hostname)'), 'audit-runner-1');
    assert.equal(xpath(file, 'string(//property[@name="inventory"]/@value)'), 'inventories/prod.yaml');
    assert.equal(xpath(file, 'string(//property[@name="shard"]/@value)'), '0/2');
    assert.equal(xpath(file, 'count(//property[@name="label"])'), '0', 'no run label given, none shown');

    // a VM failing at the VMM: message = reason [code], type = code, body = the failing layer's details
    const name = f.notTrusted[0]!;
    const r = f.results.find((x) => x.name === name)!;
    assert.equal(xpath(file, `string(//testcase[@name="${name}"]/@classname)`), r.group);
    assert.equal(xpath(file, `string(//testcase[@name="${name}"]/@time)`), ((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000).toFixed(3));
    assert.equal(xpath(file, `string(//testcase[@name="${name}"]/failure/@message)`), 'VMM (layer 1): PCR 7 (sha256) is not one of the golden values [POLICY_PCR_VALUE]');
    assert.equal(xpath(file, `string(//testcase[@name="${name}"]/failure/@type)`), 'POLICY_PCR_VALUE');
    const body = xpath(file, `string(//testcase[@name="${name}"]/failure)`);
    assert.match(body, /✗ VMM\s+https:\/\/vmm-4\.prod\.example:8443\s+not trusted/);
    assert.match(body, /✗ POLICY_PCR_VALUE {2}PCR 7 \(sha256\) is not one of the golden values/);
    assert.match(body, /expected \["e3b0c442/);
    assert.match(body, /actual {3}7f83b165/);

    // unreachable: an error element with the transport code
    const down = f.unreachable[0]!;
    assert.equal(xpath(file, `string(//testcase[@name="${down}"]/error/@type)`), 'TRANSPORT_CONNECT_TIMEOUT');
    assert.match(xpath(file, `string(//testcase[@name="${down}"]/error/@message)`), /^host \(layer 2\): connecting .* \[TRANSPORT_CONNECT_TIMEOUT\]$/);
    // trusted: an empty testcase
    assert.equal(xpath(file, `count(//testcase[@name="${f.trusted[0]}"]/*)`), '0');
  });
});

test('hostile strings: the file stays well-formed and they read back as the text they were', (t) => {
  if (!haveXmllint(t)) return;
  const f = fleet(2);
  const evil = f.results.at(-1)!;
  evil.name = `vm "quoted" & 'single' ${XSS}\ttab\nnewline`;
  evil.group = `g${SCRIPT}`;
  evil.reason = `bad\u0000nul \u001b[31mred\u001b[0m \ud800lone ]]> \uffff end\r\nAll 2 VMs TRUSTED\t.`;
  const xml = renderJunit(f.run, summarize(f.results), f.results);
  assert.doesNotMatch(xml, /<script>|<img /, 'markup from results never appears unescaped');
  withFile(t, xml, (file) => {
    assertValidJunit(file);
    assert.equal(xpath(file, 'string(//testcase[failure][last()]/@name)'), evil.name);
    assert.equal(xpath(file, 'string(//testcase[failure][last()]/@classname)'), evil.group);
    assert.equal(
      xpath(file, 'string(//testcase[failure][last()]/failure/@message)'),
      // one line: a line break in the reason (an IMA path from the evidence) cannot add one to a CI page
      'bad\\u0000nul \\u001b[31mred\\u001b[0m \\ud800lone ]]> \\uffff end\\u000d\\u000aAll 2 VMs TRUSTED\\u0009. [QUOTE_BAD_SIGNATURE]',
    );
  });
});

test('escaping rules, character by character', () => {
  assert.equal(xmlText('a<b>&c'), 'a&lt;b&gt;&amp;c');
  assert.equal(xmlAttr(`"x" 'y'\t\n\r`), '&quot;x&quot; &apos;y&apos;&#9;&#10;&#13;');
  assert.equal(xmlText('\u0000\u0008\u000b\u000c\u001f\u007f\u0085\u009f'), '\\u0000\\u0008\\u000b\\u000c\\u001f\\u007f\\u0085\\u009f');
  assert.equal(xmlText('\ud800x\udfff'), '\\ud800x\\udfff');
  assert.equal(xmlText('\ufffe\uffff'), '\\ufffe\\uffff');
  // carried by XML, but would show a CI page text in another order than it holds
  assert.equal(xmlText('/usr/bin/\u202eexe.sh\u202c \u2066x\u2069 \u200f\u061c\ufeff\u2028'), '/usr/bin/\\u202eexe.sh\\u202c \\u2066x\\u2069 \\u200f\\u061c\\ufeff\\u2028');
  assert.equal(xmlText('tool\u{e0041}\u200b'), 'tool\\u{e0041}\\u200b', 'hidden TAG text and zero-width characters are shown');
  assert.equal(xmlText('/usr/bin/ba\u034fsh\ufe0f\u3164'), '/usr/bin/ba\\u034fsh\\ufe0f\\u3164', 'default-ignorable characters (drawn as nothing) are shown');
  // allowed characters pass unchanged, astral ones included
  assert.equal(xmlText('tab\tlf\ncr\r é ✓ 😀 \u00a0'), 'tab\tlf\ncr\r é ✓ 😀 \u00a0');
});

test('classname: group, else first tag, else the default; message: reason and code', () => {
  const f = fleet(0);
  const a = trustedResult({ name: 'a', group: 'g1', tags: ['t1'] });
  const b = trustedResult({ name: 'b', tags: ['t2', 't3'] });
  const c = trustedResult({ name: 'c' });
  const xml = renderJunit(f.run, summarize([a, b, c]), [a, b, c]);
  assert.match(xml, /<testcase name="a" classname="g1" time="0\.025"\/>/);
  assert.match(xml, /<testcase name="b" classname="t2" time="0\.025"\/>/);
  assert.match(xml, new RegExp(`<testcase name="c" classname="${DEFAULT_CLASSNAME}" time="0\\.025"/>`));
  assert.equal(failureMessage({ reason: 'why' }), 'why');
  assert.equal(failureMessage({ reason: 'why', error: { code: 'X_Y', message: 'm' } }), 'why [X_Y]');
  // a reason that names its code already (transport and evidence errors) is not followed by it again
  const named = 'layer 0 (http://vm): EVIDENCE_VERSION: evidence: version 2 is not supported';
  assert.equal(failureMessage({ reason: named, error: { code: 'EVIDENCE_VERSION', message: 'm' } }), named);
  assert.equal(failureMessage({ reason: 'EVIDENCE_VERSION_X went wrong', error: { code: 'EVIDENCE_VERSION', message: 'm' } }), 'EVIDENCE_VERSION_X went wrong [EVIDENCE_VERSION]');
});

test('a run label (audit --run-label) is a property of the suite', (t) => {
  if (!haveXmllint(t)) return;
  const f = fleet(3);
  withFile(t, renderJunit({ ...f.run, label: 'audit-29001234 <&>' }, summarize(f.results), f.results), (file) => {
    assertValidJunit(file);
    assert.equal(xpath(file, 'string(//property[@name="label"]/@value)'), 'audit-29001234 <&>');
  });
});

test("an interrupted audit's own report says the fleet is not covered, as `report` rendering it again does", (t) => {
  if (!haveXmllint(t)) return;
  const f = fleet(3);
  // audit --junit after SIGTERM: run.interrupted, no run.merged
  withFile(t, renderJunit({ ...f.run, interrupted: { signal: 'SIGTERM', notStarted: 65 } }, summarize(f.results), f.results), (file) => {
    assertValidJunit(file);
    assert.equal(xpath(file, 'string(//property[@name="incomplete"]/@value)'), 'interrupted (SIGTERM) with 65 VM(s) not started');
  });
  withFile(t, renderJunit(f.run, summarize(f.results), f.results), (file) => {
    assert.equal(xpath(file, 'count(//property[@name="incomplete"])'), '0');
  });
});

test("the run's warnings are the suite's <system-err>, one line each: a line break in one cannot add a line", (t) => {
  if (!haveXmllint(t)) return;
  const f = fleet(2);
  // a merged report is input: its warnings may hold anything
  const warnings = ['trust: a.pem: unreadable\nwarning: all 2 VMs TRUSTED', 'second\rwarning: overwritten\u2028x\ty'];
  withFile(t, renderJunit({ ...f.run, warnings }, summarize(f.results), f.results), (file) => {
    assertValidJunit(file);
    const lines = xpath(file, 'string(//system-err)').split(/\r\n|\r|\n/);
    assert.deepEqual(lines, [
      'warning: trust: a.pem: unreadable\\u000awarning: all 2 VMs TRUSTED',
      'warning: second\\u000dwarning: overwritten\\u2028x\\u0009y',
    ]);
  });
});
