// The human tree of `attest`/`verify`: one node per layer, failures with
// code, reason and expected vs actual, passes only with verbose, unreachable
// and not-reached layers, the verdict line and the baseline note; the same
// text with and without color; hostile text cannot drive the terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PLAIN, type Style } from '../../src/cli/output.js';
import { BASELINE_NOTE, renderTree } from '../../src/report/tree.js';
import { terminalSafe } from '../../src/report/format.js';
import { ANSI, baselineResult, hostileResult, pcrMismatchAtVmmResult, trustedResult, unreachablePhysicalResult } from './fixtures.js';
import { fail } from '../../src/verify/checks.js';

/** A style that marks what it colors, so tests can see which words are painted how. */
const TAGGED: Style = {
  ok: (t) => `<ok>${t}</ok>`,
  bad: (t) => `<bad>${t}</bad>`,
  warn: (t) => `<warn>${t}</warn>`,
  dim: (t) => `<dim>${t}</dim>`,
  bold: (t) => `<b>${t}</b>`,
  code: (t) => `<code>${t}</code>`,
};
const untag = (s: string) => s.replace(/<\/?(ok|bad|warn|dim|b|code)>/g, '');

function lines(text: string): string[] {
  return text.split('\n');
}

test('trusted 3-layer result: one branch per layer top-down, counts instead of passes, the verdict last', () => {
  const r = trustedResult();
  const out = renderTree(r, PLAIN);
  const ls = lines(out);
  assert.equal(ls[0], r.target);
  const layerLines = ls.filter((l) => /^[├└]── [✓✗?·] /.test(l));
  assert.deepEqual(
    layerLines.map((l) => l.split(/\s+/).slice(2, 4)),
    [
      ['VM', r.layers[0]!.uri],
      ['VMM', r.layers[1]!.uri],
      ['physical', r.layers[2]!.uri],
    ],
  );
  assert.ok(layerLines.every((l) => l.includes('trusted')));
  // identity line: kind, short instance id and AK name, anchor label
  assert.match(out, /│ virtual · instance 0f1b20f1… · AK 000b0d4e10d4… · anchor vplatform-ca/);
  assert.match(out, /│ physical · AK 000b2d4e12d4… · anchor ak-ca/);
  assert.match(out, /✓ 7 checks, 3 rules passed/);
  assert.doesNotMatch(out, /quote\.signature/, 'passed checks are listed only with verbose');
  assert.doesNotMatch(out, /✗/);
  assert.match(ls.at(-2)!, /^✓ TRUSTED {2}every layer verified and satisfied the policy {2}\(25 ms\)$/);
  assert.equal(ls.at(-1), '  policy prod-2026-11 (policies/prod.yaml)');
});

test('verbose lists every passed check and rule, ids in one column', () => {
  const out = renderTree(trustedResult(), PLAIN, { verbose: true });
  for (const id of ['quote.signature', 'certificates.path', 'binding.hosted-instance', 'layer[2].pcrs.sha256.7', 'chain.endAt']) assert.match(out, new RegExp(`✓ ${id.replace(/[.[\]]/g, '\\$&')}\\s`));
  assert.match(out, /– freshness\.maxAge\s+live evidence/);
  const vmBlock = lines(out).filter((l) => l.startsWith('│   ├── ✓') || l.startsWith('│   └── ✓')).slice(0, 10);
  const columns = new Set(vmBlock.map((l) => l.search(/(?<=\S {2,})\S/)));
  assert.equal(columns.size, 1, `messages start in one column:\n${vmBlock.join('\n')}`);
});

test('not trusted at the VMM: the red node carries code, reason, rule id, expected and actual', () => {
  const r = pcrMismatchAtVmmResult();
  const out = renderTree(r, PLAIN);
  const ls = lines(out);
  const vmm = ls.findIndex((l) => l.includes(r.layers[1]!.uri));
  assert.match(ls[vmm]!, /^├── ✗ VMM\s+\S+\s+not trusted\s+7 ms$/);
  assert.equal(ls[vmm + 2], '│   ├── ✗ POLICY_PCR_VALUE  PCR 7 (sha256) is not one of the golden values');
  assert.equal(ls[vmm + 3], '│   │       rule     layer[1].pcrs.sha256.7');
  assert.equal(ls[vmm + 4], '│   │       expected ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]');
  assert.equal(ls[vmm + 5], '│   │       actual   7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069');
  assert.equal(ls[vmm + 6], '│   └── ✓ 8 checks, 2 rules passed');
  // the layer error repeats the failing rule's code, so it is not shown twice
  assert.equal(out.split('POLICY_PCR_VALUE').length - 1, 2, 'once on the rule, once on the verdict line');
  assert.match(ls.at(-2)!, /^✗ NOT TRUSTED {2}VMM \(layer 1\): PCR 7 \(sha256\) is not one of the golden values {2}\[POLICY_PCR_VALUE\]/);
});

test('status words line up in one column whatever the role and URI lengths', () => {
  const out = renderTree(pcrMismatchAtVmmResult(), PLAIN);
  const layerLines = lines(out).filter((l) => /^[├└]── [✓✗?·] /.test(l));
  const cols = layerLines.map((l) => l.search(/(?:not )?trusted/));
  assert.equal(new Set(cols).size, 1, layerLines.join('\n'));
});

test('an unreachable physical layer: shown as unreachable with the transport error; details only with verbose', () => {
  const r = unreachablePhysicalResult();
  const out = renderTree(r, PLAIN);
  assert.match(out, /├── \? host\s+https:\/\/host-7\.prod\.example:9443\s+unreachable\s+5\.0 s/);
  assert.match(out, /✗ TRANSPORT_CONNECT_TIMEOUT {2}connecting to host-7\.prod\.example:9443 timed out after 5000 ms/);
  assert.doesNotMatch(out, /timeoutMs/);
  assert.match(renderTree(r, PLAIN, { verbose: true }), /timeoutMs 5000/);
  // the chain rule that failed because the walk stopped
  assert.match(out, /✗ chain\n {4}└── ✗ POLICY_CHAIN_END {2}the walk did not reach a physical layer/);
  assert.match(lines(out).at(-2)!, /^\? INCOMPLETE {2}host \(layer 2\): .* {2}\[TRANSPORT_CONNECT_TIMEOUT\] {2}\(5\.0 s\)$/);
});

test('a layer that was not reached is listed, dim, with no children', () => {
  const r = pcrMismatchAtVmmResult();
  r.layers[2] = { position: 2, uri: 'https://host-4.prod.example:9443', status: 'not-reached', nonce: '', checks: [], rules: [] };
  const out = renderTree(r, TAGGED);
  const last = lines(out).find((l) => l.includes('host-4'))!;
  assert.match(last, /^<dim>├── <\/dim><dim>· host {2}https:\/\/host-4\.prod\.example:9443 {2}not reached<\/dim>$/);
});

test('baseline policy: the note says so; a real policy names itself instead', () => {
  const out = renderTree(baselineResult(), PLAIN);
  assert.ok(out.endsWith(`  note: ${BASELINE_NOTE}`));
  assert.match(out, /✓ 7 checks passed/);
  assert.doesNotMatch(renderTree(trustedResult(), PLAIN), /baseline/);
});

test('color only paints: stripping it gives the plain text, and failures are red, passes green', () => {
  for (const r of [trustedResult(), pcrMismatchAtVmmResult(), unreachablePhysicalResult(), baselineResult(), hostileResult()]) {
    const tagged = renderTree(r, TAGGED, { verbose: true });
    assert.equal(untag(tagged), renderTree(r, PLAIN, { verbose: true }));
  }
  const tagged = renderTree(pcrMismatchAtVmmResult(), TAGGED);
  assert.match(tagged, /<bad>✗<\/bad> <code>POLICY_PCR_VALUE<\/code>/);
  assert.match(tagged, /<bad>✗ NOT TRUSTED<\/bad>/);
  assert.match(renderTree(trustedResult(), TAGGED), /<ok>✓ TRUSTED<\/ok>/);
  assert.match(renderTree(unreachablePhysicalResult(), TAGGED), /<warn>\? INCOMPLETE<\/warn>/);
});

test('hostile text cannot reach the terminal as control sequences', () => {
  const out = renderTree(hostileResult(), PLAIN, { verbose: true });
  // no ESC, BEL, NUL, other C0/C1 controls (except newline) or bidi overrides survive
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  assert.ok(out.includes(terminalSafe(ANSI)), 'shown as visible escapes');
  assert.match(out, /\\u001b\[2J\\u001b\]0;pwned\\u0007\\u202eevil/);
  assert.match(out, /actual {3}\\u0000\\u0001/);
  // every line break in the output is one of ours: the hostile message stays on its line
  assert.ok(lines(out).every((l) => !l.includes('\r')));
});

test('long expected/actual values are cut unless verbose', () => {
  const r = pcrMismatchAtVmmResult();
  const rule = r.layers[1]!.rules.find((x) => x.status === 'fail')!;
  rule.expected = Array.from({ length: 50 }, (_, i) => i.toString(16).padStart(64, '0'));
  const short = renderTree(r, PLAIN);
  assert.match(short, /expected \["0{64}",.*… \(\d+ more characters\)/);
  assert.ok(renderTree(r, PLAIN, { verbose: true }).includes(`"${'0'.repeat(62)}31"`));
});

test('a result with no layer at all still renders', () => {
  const r = unreachablePhysicalResult();
  r.layers = [];
  r.chain = [];
  const out = renderTree(r, PLAIN);
  assert.match(out, /└── \(no layer was reached\)/);
  assert.match(out, /\? INCOMPLETE/);
});

test('warnings and state findings: "!" in yellow, a trusted verdict still; findings under "state"', () => {
  const r = trustedResult();
  r.layers[0]!.checks.push({ id: 'quote.clock', status: 'warn', code: 'CLOCK_NOT_SAFE', message: 'clockInfo.safe is 0', actual: false });
  r.findings = [{ id: 'state.clock', status: 'fail', code: 'CLOCK_WENT_BACK', message: 'the clock went back', expected: '>= 1000', actual: '900' }];
  const out = renderTree(r, PLAIN);
  assert.match(out, /│   ├── ! CLOCK_NOT_SAFE {2}clockInfo\.safe is 0\n│   │       check {4}quote\.clock\n│   │       actual {3}false/);
  assert.match(out, /├── chain {2}✓ 2 rules passed, 1 skipped\n└── ✗ state\n {4}└── ✗ CLOCK_WENT_BACK {2}the clock went back/);
  assert.match(renderTree(r, TAGGED), /<warn>!<\/warn> <code>CLOCK_NOT_SAFE<\/code>/);
});

test('verbose: the failing check that carries the layer\'s error shows its check, expected and actual once', () => {
  // as a host whose PCR values do not hash to the quoted digest came out: check, expected, actual, then all three again
  const r = trustedResult();
  const host = r.layers[2]!;
  host.status = 'not-trusted';
  host.checks.unshift(fail('quote.pcr-digest', 'QUOTE_PCR_DIGEST_MISMATCH', 'the PCR values do not hash (sha256) to the signed pcrDigest', { expected: 'b2d1'.repeat(16), actual: '261d'.repeat(16) }));
  host.error = { code: 'QUOTE_PCR_DIGEST_MISMATCH', message: 'the PCR values do not hash (sha256) to the signed pcrDigest', details: { check: 'quote.pcr-digest', expected: 'b2d1'.repeat(16), actual: '261d'.repeat(16), bank: 'sha256' } };
  const out = renderTree(r, PLAIN, { verbose: true });
  const lines = out.split('\n');
  assert.equal(lines.filter((l) => /^\W*check +quote\.pcr-digest$/.test(l)).length, 1, out);
  assert.equal(lines.filter((l) => /^\W*expected +(b2d1){16}$/.test(l)).length, 1, out);
  assert.equal(lines.filter((l) => /^\W*actual +(261d){16}$/.test(l)).length, 1, out);
  // the error's other details still come with it
  assert.equal(lines.filter((l) => /^\W*bank +sha256$/.test(l)).length, 1, out);
});
