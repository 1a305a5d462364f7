// The self-contained HTML report, opened in a real headless Chromium (Debian's
// `chromium`, driven by playwright-core; never a downloaded browser): the
// failing VMs are on the page, failures first; filtering by status, code and
// text works by clicking and typing; hostile text stays inert; the page makes
// no request beyond its own file and trips no Content-Security-Policy rule.
// Without chromium these tests skip with a message; the static checks run anyway.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { html, renderHtmlReport } from '../../src/report/html.js';
import { renderJunit } from '../../src/report/junit.js';
import { summarize } from '../../src/report/summary.js';
import { fleet, type Fleet } from './fleet.js';
import { SCRIPT, XSS, trustedResult } from './fixtures.js';
import { fail } from '../../src/verify/checks.js';
import { openInChromium, visibleNames } from '../helpers/browser.js';
import { tempDir } from '../helpers/tmp.js';

function page(f: Fleet): string {
  return renderHtmlReport(f.run, summarize(f.results), f.results);
}

test('static: every hostile string is escaped; the only script, style and links are our own', () => {
  const f = fleet();
  const text = page(f);
  assert.ok(!text.includes(XSS) && !text.includes(SCRIPT), 'payloads never appear raw');
  assert.ok(text.includes(html(XSS)));
  assert.equal(text.match(/<script/g)?.length, 1);
  assert.equal(text.match(/<style/g)?.length, 1);
  // escaped text has no '<', so these see only real tags
  assert.doesNotMatch(text, /<[a-z][^>]*\s(src|href|srcset|action|formaction|poster|background)\s*=/i, 'no attribute that loads anything');
  assert.doesNotMatch(text, /<[a-z][^>]*\son[a-z]+\s*=/i, 'no inline event handlers');
  assert.doesNotMatch(text, /url\(/, 'no CSS url()');
  // eslint-disable-next-line no-control-regex
  assert.doesNotMatch(text, /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202a-\u202e]/, 'control and bidi characters shown as escapes');
  assert.match(text, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-[A-Za-z0-9+/]+=*&#39;; script-src &#39;sha256-/);
  assert.equal(html(`<a href='x'>&"</a>`), '&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;');
});

test('in Chromium: failing VMs first, filters by status, code and text, nothing external, XSS inert', async (t) => {
  const f = fleet();
  const file = join(tempDir(t, 'vtpm-html-'), 'report.html');
  writeFileSync(file, page(f));
  const b = await openInChromium(t, file);
  if (!b) return;
  const p = b.page;
  const all = f.results.map((r) => r.name!);
  const failing = [...f.notTrusted, ...f.unreachable];

  // everything shown, failures first (not trusted, then unreachable, then trusted)
  assert.equal(await p.locator('details.vm').count(), all.length);
  assert.deepEqual((await visibleNames(p)).sort(), [...all].sort());
  const statuses = await p.locator('details.vm').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
  const firstTrusted = statuses.indexOf('trusted');
  assert.equal(firstTrusted, failing.length);
  assert.ok(statuses.slice(0, f.notTrusted.length).every((s) => s === 'not-trusted'));
  assert.equal(await p.locator('#shown').textContent(), `showing ${all.length} of ${all.length} VMs`);
  // failing VMs are open, with their failure visible; trusted ones folded
  const vm = f.notTrusted[0]!;
  const section = p.locator('details.vm', { has: p.locator('.name', { hasText: new RegExp(`^${vm}$`) }) });
  await assert.doesNotReject(section.getByText('PCR 7 (sha256) is not one of the golden values').first().waitFor({ state: 'visible' }));
  assert.equal(await p.locator('details.vm[data-status=trusted][open]').count(), 0);

  // status filter: untick "trusted" → only failing VMs
  await p.locator('input[name=status][value=trusted]').uncheck();
  assert.deepEqual((await visibleNames(p)).sort(), [...failing].sort());
  // code filter: only the unreachable ones have TRANSPORT_CONNECT_TIMEOUT
  await p.selectOption('#code', 'TRANSPORT_CONNECT_TIMEOUT');
  assert.deepEqual((await visibleNames(p)).sort(), [...f.unreachable].sort());
  // reset, then text search
  await p.selectOption('#code', '');
  await p.locator('input[name=status][value=trusted]').check();
  await p.fill('#q', f.trusted[3]!);
  assert.deepEqual(await visibleNames(p), [f.trusted[3]]);
  await p.fill('#q', 'policy_pcr_value vmm-4');
  assert.deepEqual((await visibleNames(p)).sort(), f.notTrusted.filter((n) => n.startsWith('vm-')).sort());
  await p.fill('#q', 'no such thing anywhere');
  assert.deepEqual(await visibleNames(p), []);
  assert.equal(await p.locator('#none').isVisible(), true);
  assert.equal(await p.locator('#shown').textContent(), `showing 0 of ${all.length} VMs`);
  await p.fill('#q', '');
  // clicking a code in the summary table filters to it
  await p.locator('#summary button[data-code="QUOTE_BAD_SIGNATURE"]').click();
  assert.deepEqual(await visibleNames(p), [f.results.at(-1)!.name]);
  await p.selectOption('#code', '');
  // clicking a summary card shows that status only
  await p.locator('#summary .card.incomplete').click();
  assert.deepEqual((await visibleNames(p)).sort(), [...f.unreachable].sort());
  await p.locator('#summary .card').first().click();
  assert.equal((await visibleNames(p)).length, all.length);

  // the hostile VM: its payloads are text on the page, and nothing ran
  const evil = p.locator('details.vm', { hasText: 'evil-' });
  assert.ok((await evil.locator('summary .name').textContent())!.includes(XSS));
  assert.ok((await evil.textContent())!.includes(SCRIPT));
  assert.equal(await p.evaluate('window.__xss'), undefined);
  assert.equal(await p.locator('img, iframe, object, embed').count(), 0);

  // no request but the report itself; no CSP violation (our script and style hashes hold)
  assert.deepEqual(b.requests, [pathToFileURL(file).href]);
  assert.deepEqual(await p.evaluate('window.__csp'), []);
  assert.deepEqual(b.console.filter((l) => /Content Security Policy|Refused/.test(l)), []);
});

test('in Chromium: the CSP is a second wall — a markup injection that slipped through neither runs nor loads', async (t) => {
  // a real server on loopback: if the browser fetched anything, it would be counted here
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const f = fleet(3);
  // simulate a missed escape: raw markup spliced into the page after rendering
  const injected = page(f).replace(
    '<main id="vms">',
    `<main id="vms"><script>window.__xss=3</script><img src="http://127.0.0.1:${port}/pixel.png"><link rel="stylesheet" href="http://127.0.0.1:${port}/x.css"><iframe src="http://127.0.0.1:${port}/frame"></iframe>`,
  );
  const file = join(tempDir(t, 'vtpm-html-'), 'injected.html');
  writeFileSync(file, injected);
  const b = await openInChromium(t, file);
  if (!b) return;
  assert.equal(await b.page.evaluate('window.__xss'), undefined);
  const others = b.requests.filter((u) => u !== pathToFileURL(file).href);
  assert.ok(others.length >= 2, `the injected loads were attempted: ${others.join(', ')}`);
  for (const u of others) assert.equal(b.failed.get(u), 'csp', `${u} was blocked by the page's CSP`);
  assert.equal(hits, 0, 'nothing reached the server');
  const violations = (await b.page.evaluate('window.__csp')) as string[];
  for (const directive of ['script-src', 'img-src', 'style-src']) assert.ok(violations.some((v) => v.startsWith(directive)), `${directive} in: ${violations.join(', ')}`);
  // and our own script still works
  assert.equal(await b.page.locator('#shown').textContent(), `showing ${f.results.length} of ${f.results.length} VMs`);
});

test("passedDetail 'summary': every card counts its passing checks instead of listing them; failures, warnings and their details stay; the page is smaller", () => {
  const f = fleet();
  const full = page(f);
  const brief = renderHtmlReport(f.run, summarize(f.results), f.results, { passedDetail: 'summary' });
  assert.ok(brief.length < full.length * 0.7, `${brief.length} vs ${full.length}`);
  const cards = (text: string, status: string) => text.split('<details class="vm ').filter((c) => c.startsWith(`s-${status}"`));
  for (const status of ['trusted', 'not-trusted', 'incomplete']) {
    const briefCards = cards(brief, status);
    const fullCards = cards(full, status);
    assert.equal(briefCards.length, fullCards.length, status);
    for (const [i, card] of briefCards.entries()) {
      assert.doesNotMatch(card, /class="passed"><summary>/, 'no folded list of passing checks');
      // every failure and warning, with its expected/actual and the error's details, as on the full card
      const problems = (c: string) => c.match(/<li class="o (?:fail|warn)">.*?<\/li>/gs) ?? [];
      assert.deepEqual(problems(card), problems(fullCards[i]!), `${status} card ${i}`);
    }
  }
  assert.ok(cards(brief, 'not-trusted').every((c) => /<p class="passed">✓ \d+ checks?/.test(c)), 'a failing card counts its passes');
  // a failing card is a fraction of its full size: the passes were most of it
  const sum = (list: string[]) => list.reduce((n, c) => n + c.length, 0);
  assert.ok(sum(cards(brief, 'not-trusted')) < sum(cards(full, 'not-trusted')) * 0.8);
});

test('an unreachable layer shows its transport error\'s details (host, timeout) under the failing fetch, once', () => {
  const f = fleet();
  const text = page(f);
  // the fixture's unreachable hosts: the fetch check carries TRANSPORT_CONNECT_TIMEOUT, the layer's error its details
  const item = /<li class="o fail"><span class="mk">[^<]*<\/span> <span class="code mono">TRANSPORT_CONNECT_TIMEOUT<\/span>.*?<\/li>/s.exec(text)?.[0] ?? '';
  assert.match(item, /<dt>timeoutMs<\/dt><dd>5000<\/dd>/);
  assert.match(item, /<dt>host<\/dt><dd>host-7\.prod\.example<\/dd>/);
  assert.equal(item.match(/TRANSPORT_CONNECT_TIMEOUT/g)?.length, 1, 'the error is not listed a second time');
});

test('the header shows the run label (audit --run-label), escaped', () => {
  const f = fleet(3);
  const page = renderHtmlReport({ ...f.run, label: 'audit-29001234 <b>' }, summarize(f.results), f.results);
  assert.match(page, /run label <span class="mono">audit-29001234 &lt;b&gt;<\/span>/);
  assert.doesNotMatch(renderHtmlReport(f.run, summarize(f.results), f.results), /run label/);
});

test("an interrupted audit's own page says the fleet is not covered, as `report` rendering it again does", () => {
  const f = fleet(3);
  const page = renderHtmlReport({ ...f.run, interrupted: { signal: 'SIGTERM', notStarted: 65 } }, summarize(f.results), f.results);
  assert.match(page, /<p id="coverage" class="gap">Not the whole fleet: interrupted \(SIGTERM\) with 65 VM\(s\) not started<\/p>/);
  assert.doesNotMatch(renderHtmlReport(f.run, summarize(f.results), f.results), /id="coverage"/);
  // an audit stopped after it had started every VM left none out
  assert.doesNotMatch(renderHtmlReport({ ...f.run, interrupted: { signal: 'SIGINT', notStarted: 0 } }, summarize(f.results), f.results), /id="coverage"/);
});

test('an expected or actual value nested too deep for JSON.stringify (an array) is named, not a RangeError from the page', () => {
  // the readers cap nesting at 64; the renderers, also a library API, must not throw past that either
  let deep: unknown[] = [];
  for (let i = 0; i < 100_000; i++) deep = [deep];
  const f = fleet(3);
  const r = f.results.find((x) => x.verdict === 'not-trusted')!;
  r.layers[1]!.checks.push({ id: 'deep', status: 'fail', code: 'POLICY_PCR_VALUE', message: 'deep', expected: deep, actual: [[1]] });
  const text = renderHtmlReport(f.run, summarize(f.results), f.results);
  assert.match(text, /<dt>expected<\/dt><dd>\(a value nested too deep to show\)<\/dd><dt>actual<\/dt><dd>\[\[1\]\]<\/dd>/);
  assert.match(renderJunit(f.run, summarize(f.results), f.results), /\(a value nested too deep to show\)/);
});

test("the failing check that carries its layer's error shows the error's expected and actual when it has none of its own, and its own otherwise, once", () => {
  for (const passedDetail of ['full', 'summary'] as const) {
    const r = trustedResult();
    r.verdict = 'not-trusted';
    const host = r.layers[2]!;
    host.status = 'not-trusted';
    host.checks.unshift(fail('quote.pcr-digest', 'QUOTE_PCR_DIGEST_MISMATCH', 'the PCR values do not hash to the signed pcrDigest'));
    host.error = { code: 'QUOTE_PCR_DIGEST_MISMATCH', message: 'the PCR values do not hash to the signed pcrDigest', details: { expected: 'b2d1'.repeat(16), actual: '261d'.repeat(16), bank: 'sha256' } };
    const text = renderHtmlReport({ tool: { name: 'vtpm-verify', version: '0' }, startedAt: r.startedAt, finishedAt: r.finishedAt }, summarize([r]), [r], { passedDetail });
    assert.equal(text.match(/<dt>expected<\/dt><dd>(b2d1){16}<\/dd>/g)?.length, 1, passedDetail);
    assert.equal(text.match(/<dt>actual<\/dt><dd>(261d){16}<\/dd>/g)?.length, 1, passedDetail);
    assert.equal(text.match(/<dt>bank<\/dt><dd>sha256<\/dd>/g)?.length, 1, passedDetail);
    // a check with its own expected and actual shows those, not the error's a second time
    host.checks[0] = fail('quote.pcr-digest', 'QUOTE_PCR_DIGEST_MISMATCH', 'the PCR values do not hash to the signed pcrDigest', { expected: 'b2d1'.repeat(16), actual: '261d'.repeat(16) });
    const again = renderHtmlReport({ tool: { name: 'vtpm-verify', version: '0' }, startedAt: r.startedAt, finishedAt: r.finishedAt }, summarize([r]), [r], { passedDetail });
    assert.equal(again.match(/<dt>expected<\/dt>/g)?.length, 1, passedDetail);
  }
});
