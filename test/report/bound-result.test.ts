// The net under every check's listing: a result past RESULT_JSON_CAP is cut
// down before the state file and the reports take it (a 57 MB result once
// stopped an audit's state file, and every other VM's result with it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { boundResult, RESULT_JSON_CAP } from '../../src/report/bound-result.js';
import { toJsonText } from '../../src/cli/output.js';
import { openState } from '../../src/state/index.js';
import { recordResult } from '../../src/state/assess.js';
import { MAX_RESULT_BYTES } from '../../src/state/store.js';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AUDIT_REPORT_SCHEMA_PATH, renderAuditReportJson } from '../../src/report/json-report.js';
import { summarize } from '../../src/report/summary.js';
import { reportValidators } from '../../src/report/report-schema.js';
import { htmlVmCard } from '../../src/report/html.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { fleet } from './fleet.js';
import { tempDir } from '../state/tmp.js';
import { pcrMismatchAtVmmResult } from './fixtures.js';

/** A failing result whose rule lists `items` entries of `chars` characters each, as a hostile layer's evidence could. */
function hugeResult(items: number, chars: number) {
  const r = pcrMismatchAtVmmResult();
  const listed = Array.from({ length: items }, (_, i) => `${i}:${'x'.repeat(chars)}`);
  const vmm = r.layers[1]!;
  vmm.rules = vmm.rules.map((x) => (x.status === 'fail' ? { ...x, actual: { entries: listed } } : x));
  r.error = { ...r.error!, details: { ...r.error!.details, actual: { entries: listed } } };
  return r;
}

test('a result under the cap is left as it is; past it, strings are cut and free-form lists shortened, the verdict, reason and codes kept', () => {
  const small = pcrMismatchAtVmmResult();
  const same = boundResult(small);
  assert.equal(same.cut, false);
  assert.equal(same.result, small);
  assert.equal(same.json, toJsonText(small, 0));

  const big = hugeResult(400, 20_000); // 8 MB, twice
  const cut = boundResult(big);
  assert.equal(cut.cut, true);
  assert.ok(cut.json.length <= RESULT_JSON_CAP, `${cut.json.length}`);
  assert.deepEqual(JSON.parse(cut.json), cut.result);
  assert.equal(cut.result.verdict, big.verdict);
  assert.equal(cut.result.reason, big.reason);
  assert.equal(cut.result.error!.code, 'POLICY_PCR_VALUE');
  const entries = (cut.result.layers[1]!.rules.find((x) => x.status === 'fail')!.actual as { entries: string[] }).entries;
  assert.equal(entries.length, 21);
  assert.match(entries[0]!, /^0:x{4094}… \(20002 characters; the result was \d+ characters, over the 4194304 kept\)$/);
  assert.match(entries[20]!, /^… and 380 more \(the result was/);
  // the layers and checks keep their shape: the JSON report's schema still holds
  const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO_ROOT, AUDIT_REPORT_SCHEMA_PATH), 'utf8')) as object);
  const run = fleet(0).run;
  assert.ok(validate(JSON.parse(renderAuditReportJson(run, summarize([cut.result]), [cut.result]))), JSON.stringify(validate.errors));
});

test('a result that stays over the cap once cut: its free-form values are replaced by a note', () => {
  // entries just under the length kept: twenty of them, twice, are still over a cap this small
  const big = hugeResult(100, 4_000);
  const cut = boundResult(big, undefined, 20_000);
  assert.equal(cut.cut, true);
  assert.ok(cut.json.length < 40_000, `${cut.json.length}`);
  assert.match(String(cut.result.layers[1]!.rules.find((x) => x.status === 'fail')!.actual), /^\(not kept: the result was \d+ characters, over the 20000 kept\)$/);
  assert.equal(cut.result.error!.code, 'POLICY_PCR_VALUE');
  // an error's details stay an object (the schema's, which `report` checks merged reports against): its
  // scalars kept, its lists and objects replaced
  const details = cut.result.error!.details!;
  assert.deepEqual(Object.keys(details), ['layer', 'expected', 'actual']);
  assert.equal(details['layer'], 1);
  assert.match(String(details['expected']), /^\(not kept: /);
  assert.match(String(details['actual']), /^\(not kept: /);
  assert.deepEqual(reportValidators().result(JSON.parse(cut.json)), []);
  // and the HTML report lists its members, not the note's characters one by one
  const card = htmlVmCard(cut.result, {});
  assert.doesNotMatch(card, /<dt>0<\/dt>/);
});

test("the state file takes a result past its own size cap, cut down, instead of failing (and stopping an audit's every other result)", async (t) => {
  const s = await openState(join(tempDir(t), 'state.db'));
  t.after(() => s.close());
  const big = hugeResult(2_000, 20_000); // 80 MB of JSON, over the state's 32 MB cap
  assert.ok(toJsonText(big, 0).length > MAX_RESULT_BYTES);
  recordResult(s, big);
  const [stored] = s.history({ limit: 1 });
  assert.equal(stored!.verdict, 'not-trusted');
  assert.ok(JSON.stringify(stored!.result).length <= RESULT_JSON_CAP);
});

test('a cut result keeps bytes, big numbers and dates as the JSON of the whole result has them (hex, decimal, ISO), not their insides', () => {
  const big = hugeResult(400, 20_000);
  const vmm = big.layers[1]!;
  vmm.rules = vmm.rules.map((x) => (x.status === 'fail' ? { ...x, actual: { ...(x.actual as object), nonce: Buffer.from('abcd', 'hex'), clock: 5n, at: new Date(0) } } : x));
  const cut = boundResult(big);
  assert.equal(cut.cut, true);
  assert.deepEqual(JSON.parse(cut.json), cut.result);
  const actual = cut.result.layers[1]!.rules.find((x) => x.status === 'fail')!.actual as Record<string, unknown>;
  assert.deepEqual([actual['nonce'], actual['clock'], actual['at']], ['abcd', '5', '1970-01-01T00:00:00.000Z']);
});
