// The audit's HTML report is assembled from cards rendered as each result
// arrives and spooled as text (no result is parsed back at the end). It must
// be the very page rendered from the results in one go, and a trusted VM's
// folded card, counted straight from its checks and rules, must still list
// its warnings and count what passed and what was skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_HTML_CARDS, ResultSpool, writeReports } from '../../src/cli/audit-reports.js';
import { htmlVmCard, renderHtmlReport } from '../../src/report/html.js';
import { renderAuditReportJson } from '../../src/report/json-report.js';
import { renderJunit } from '../../src/report/junit.js';
import { summarize } from '../../src/report/summary.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { fleet } from './fleet.js';
import { runChanges, trustedResult } from './fixtures.js';
import { tempDir } from '../helpers/tmp.js';

/** A trusted VM with warnings and skips on its VMM layer: what a folded card must still show. */
function trustedWithWarnings(name: string): AttestationResult {
  const r = structuredClone(trustedResult({ name, at: 0, took: 30 }));
  const layer = r.layers[1]!;
  layer.checks[1] = { ...layer.checks[1]!, status: 'warn', code: 'EVENTLOG_QUIRK_APPLIED', message: 'a <quirk> was applied', expected: 'no quirk', actual: 'quirk' };
  layer.checks[2] = { ...layer.checks[2]!, status: 'skip', message: 'nothing to check' };
  layer.rules.push({ id: 'layer[1].ima', status: 'not-applicable', message: 'no IMA log' });
  layer.rules.push({ id: 'layer[1].eventlog.quirks', status: 'warn', code: 'POLICY_WARNING', message: 'quirks "allowed"' });
  return r;
}

test("a trusted VM's folded card lists its warnings, then counts passes and skips from its checks and rules", () => {
  const r = trustedWithWarnings('vm-warn');
  const folded = htmlVmCard(r, AUDIT_HTML_CARDS);
  const full = htmlVmCard(r);
  const layer = r.layers[1]!;
  const passedChecks = layer.checks.filter((c) => c.status === 'pass').length;
  const passedRules = layer.rules.filter((x) => x.status === 'pass').length;
  const skipped = layer.checks.filter((c) => c.status === 'skip').length + layer.rules.filter((x) => x.status === 'not-applicable').length;
  assert.equal(skipped, 2);
  const expectedCount = `✓ ${passedChecks} checks${passedRules ? `, ${passedRules} rule${passedRules === 1 ? '' : 's'}` : ''} passed, 2 skipped`;
  assert.ok(folded.includes(`<p class="passed">${expectedCount}</p>`), expectedCount);
  assert.ok(full.includes(`<summary>${expectedCount}</summary>`), 'the full card counts the same');
  // the warnings, check before rule, exactly as the full card lists them, and no passing check listed
  const warnings = (card: string) => [...card.matchAll(/<li class="o warn">.*?<\/li>/g)].map((m) => m[0]);
  assert.equal(warnings(folded).length, 2);
  assert.deepEqual(warnings(folded), warnings(full));
  assert.ok(warnings(folded)[0]!.includes('a &lt;quirk&gt; was applied') && warnings(folded)[1]!.includes('quirks &quot;allowed&quot;'));
  assert.doesNotMatch(folded, /<li class="o pass">/);
});

test("the audit's HTML report, from cards spooled as results arrive, is the page rendered from the results at once", (t) => {
  const f = fleet(40);
  f.results.splice(5, 0, trustedWithWarnings('vm-warn-1'), trustedWithWarnings('vm-warn-2'));
  const dir = tempDir(t, 'html-cards-');
  const spool = new ResultSpool(dir, { htmlCards: AUDIT_HTML_CARDS });
  try {
    f.results.forEach((r, i) => spool.add(r, i));
    const summary = summarize(f.results);
    const file = join(dir, 'audit.html');
    writeReports({ html: file }, f.run, summary, spool);
    const expected = renderHtmlReport(f.run, summary, f.results, AUDIT_HTML_CARDS);
    assert.equal(readFileSync(file, 'utf8'), expected);
    assert.ok(expected.includes('vm-warn-2') && expected.includes('class="o warn"'));
  } finally {
    spool.close();
  }
});

test('a spool made without HTML cards refuses to give them', (t) => {
  const spool = new ResultSpool(tempDir(t, 'html-cards-'));
  try {
    assert.throws(() => [...spool.htmlCards()], /without htmlCards/);
  } finally {
    spool.close();
  }
});

test("with --state the page says what changed since the previous run: worse first, every target escaped", () => {
  const f = fleet(4);
  const since = runChanges();

  const page = renderHtmlReport({ ...f.run, state: { runId: 42, since } }, summarize(f.results), f.results, AUDIT_HTML_CARDS);
  const section = /<section id="changes">[\s\S]*?<\/section>/.exec(page)?.[0] ?? '';
  assert.match(section, /Since the previous run \(41\)/);
  assert.match(section, /1 worse · 1 better · 1 changed between not trusted and unreachable · 2 no longer audited/);
  const rows = [...section.matchAll(/<tr><td class="chg (\w+)">.*?<\/td><td class="mono">(.*?)<\/td><td>(.*?)<\/td><td>(.*?)<\/td>/g)].map((m) => m.slice(1));
  assert.deepEqual(rows, [
    ['worse', 'https://&lt;evil&gt;.example', 'trusted', 'not trusted'],
    ['better', 'https://b.example', 'unreachable', 'trusted'],
    ['other', 'https://c.example', 'not trusted', 'unreachable'],
  ]);
  assert.doesNotMatch(page, /<evil>/);
  // no state, or no previous run: no section
  assert.doesNotMatch(renderHtmlReport(f.run, summarize(f.results), f.results), /id="changes"/);
  assert.doesNotMatch(renderHtmlReport({ ...f.run, state: { runId: 1, since: null } }, summarize(f.results), f.results), /id="changes"/);
});

test('reports read back from a spool of several MiB, its results added out of order and one of them longer than a read block, are the reports rendered from the results at once', (t) => {
  const f = fleet(600);
  // a VM whose result is past a read block (1 MiB) by itself, with multi-byte text across the block edges
  const long = structuredClone(f.results[7]!);
  long.reason = `${'détail ✓ '.repeat(150_000)}end`;
  f.results[7] = long;
  const dir = tempDir(t, 'spool-blocks-');
  const spool = new ResultSpool(dir, { htmlCards: AUDIT_HTML_CARDS });
  try {
    // results arrive in completion order, not inventory order
    const order = f.results.map((_, i) => i).sort((a, b) => ((a * 7919) % 601) - ((b * 7919) % 601));
    for (const i of order) spool.add(f.results[i]!, i);
    const summary = summarize(f.results);
    const files = { json: join(dir, 'audit.json'), junit: join(dir, 'audit.xml'), html: join(dir, 'audit.html') };
    assert.deepEqual(writeReports(files, f.run, summary, spool), []);
    // more blocks than are kept (4): their memory is read into again
    assert.ok(statSync(files.json).size > 5 * 2 ** 20, `the spool spans several read blocks (${statSync(files.json).size} bytes)`);
    assert.equal(readFileSync(files.json, 'utf8'), renderAuditReportJson(f.run, summary, f.results));
    assert.equal(readFileSync(files.junit, 'utf8'), renderJunit(f.run, summary, f.results));
    assert.equal(readFileSync(files.html, 'utf8'), renderHtmlReport(f.run, summary, f.results, AUDIT_HTML_CARDS));
  } finally {
    spool.close();
  }
});
