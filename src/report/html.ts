// A self-contained HTML report of an audit, for people: the summary on top,
// then one tree per VM (its layers, checks and rules), failures first,
// filterable by status, failure code and text. Inline CSS and JS only; no
// external asset, font or link, so it opens offline and from an artifact store.
//
// Results carry attacker-controlled text (URIs, certificate subjects, server
// error messages). Every string goes through html(), which escapes markup and
// shows control and bidi characters as visible \uXXXX text. As a second
// line of defence the page's Content-Security-Policy allows only its own
// style and script (by hash) and no network access at all, so even a missed
// escape could neither run script nor fetch anything.

import { createHash } from 'node:crypto';
import type { AttestationResult, ErrorSummary, LayerResult, Verdict } from '../verify/result.js';
import {
  ROLE_LABELS,
  VERDICT_LABELS,
  checkOutcome,
  compareText,
  displayName,
  failureCodes,
  formatMs,
  formatValue,
  layerOutcomes,
  layerRole,
  passCountText,
  passCountTextOf,
  problems,
  resultDurationMs,
  resultWideOutcomes,
  ruleOutcome,
  terminalSafe,
  uncoveredError,
  type Outcome,
} from './format.js';
import type { AuditRun } from './json-report.js';
import { coverageGaps, mergedSources } from './merge.js';
import { changeCountParts, changeKind, changesByKind, type RunChanges } from '../state/run-changes.js';
import type { AuditSummary } from './summary.js';

/** Escapes text for HTML content and (double- or single-quoted) attribute values. */
export function html(text: string): string {
  return terminalSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const VERDICT_ORDER: Record<Verdict, number> = { 'not-trusted': 0, incomplete: 1, trusted: 2 };
const MARK = { pass: '✓', fail: '✗', warn: '!', skip: '–', unreachable: '?', notReached: '·' } as const;

const STYLE = `
:root{--fg:#1d232b;--muted:#5d6673;--bg:#fff;--panel:#f5f7f9;--line:#d5dbe1;--ok:#17803d;--bad:#c2261b;--warn:#a15c00;--code:#0b5c8a}
@media (prefers-color-scheme:dark){:root{--fg:#e3e7ec;--muted:#98a2ae;--bg:#14181d;--panel:#1d232a;--line:#36404b;--ok:#4cc47a;--bad:#ff6b5e;--warn:#f0a840;--code:#6cc0f0}}
*{box-sizing:border-box}
body{margin:0;padding:1.5rem 2rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.2rem 0 .5rem}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:12.5px}
.meta{color:var(--muted);margin:0}
.gap{color:var(--warn);font-weight:600;margin:.4rem 0 0}
#warnings{color:var(--warn);margin:.4rem 0 0}#warnings h2{font-size:1rem;margin:0}#warnings ul{margin:.2rem 0 0;padding-left:1.2rem}
[hidden]{display:none!important}
.cards{display:flex;gap:.75rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid var(--line);border-radius:8px;padding:.6rem 1rem;min-width:9rem;background:var(--panel);text-align:left;color:inherit;font:inherit;cursor:pointer}
.card b{display:block;font-size:1.6rem;line-height:1.2}.card span{color:var(--muted)}
.card.trusted b{color:var(--ok)}.card.not-trusted b{color:var(--bad)}.card.incomplete b{color:var(--warn)}
.cols{display:flex;gap:2rem;flex-wrap:wrap}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
button.link{background:none;border:0;padding:0;color:var(--code);cursor:pointer;font:inherit}
#filters{position:sticky;top:0;z-index:1;background:var(--bg);padding:.6rem 0;border-bottom:1px solid var(--line);display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
#filters input[type=search]{min-width:22rem;padding:.3rem .5rem;font:inherit;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:inherit}
#filters select{padding:.3rem;font:inherit;background:var(--bg);color:inherit;border:1px solid var(--line);border-radius:6px}
#shown{color:var(--muted)}
.vm{border:1px solid var(--line);border-radius:8px;margin:.6rem 0;background:var(--bg)}
.vm>summary{padding:.5rem .8rem;cursor:pointer;display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap;background:var(--panel);border-radius:8px}
.vm[open]>summary{border-bottom:1px solid var(--line);border-radius:8px 8px 0 0}
.badge{font-weight:600;white-space:nowrap}
.s-trusted>.badge,.s-trusted .mk,.o.pass .mk{color:var(--ok)}
.s-not-trusted>.badge,.s-not-trusted .mk,.o.fail .mk,.o.fail .code{color:var(--bad)}
.s-incomplete>.badge,.s-unreachable .mk,.o.warn .mk,.o.warn .code{color:var(--warn)}
.s-not-reached{color:var(--muted)}
.name{font-weight:600}.target,.ms,.oid{color:var(--muted)}.reason{flex:1 1 20rem}
.code{color:var(--code);font-weight:600}
.body{padding:.4rem .8rem .8rem}
ol.tree,ul.outcomes{list-style:none;margin:0;padding:0}
ol.tree>li{position:relative;padding:.35rem 0 .35rem 1.4rem;border-left:2px solid var(--line);margin-left:.4rem}
ol.tree>li:last-child{border-left-color:transparent}
ol.tree>li::before{content:"";position:absolute;left:-2px;top:0;height:1.15rem;width:1.1rem;border-left:2px solid var(--line);border-bottom:2px solid var(--line);border-bottom-left-radius:6px}
.lh{display:flex;gap:.6rem;align-items:baseline;flex-wrap:wrap}.role{font-weight:600;min-width:4.5rem}
.ident{color:var(--muted);margin:.1rem 0 .2rem}
.hex{display:inline-block;max-width:13ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;vertical-align:bottom}
ul.outcomes>li{padding:.15rem 0 .15rem 1rem}
.o .msg{overflow-wrap:anywhere}
.chg.worse{color:var(--bad)}.chg.better{color:var(--ok)}.chg.other{color:var(--warn)}
dl.ea{display:grid;grid-template-columns:max-content 1fr;gap:0 .6rem;margin:.1rem 0 .2rem 1.2rem}
dl.ea dt{color:var(--muted)}dl.ea dd{margin:0;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere;white-space:pre-wrap}
details.passed>summary{cursor:pointer;color:var(--muted);padding:.15rem 0 .15rem 1rem}
p.passed{color:var(--muted);margin:0;padding:.15rem 0 .15rem 1rem}
.verdict{margin-top:.5rem;font-weight:600}
#none{color:var(--muted);padding:1rem 0}
`;

// Filtering runs on data attributes and the text already on the page; it
// never builds markup from data, so it cannot inject any.
const SCRIPT = `
(function(){
  var vms=Array.prototype.slice.call(document.querySelectorAll('.vm'));
  var text=vms.map(function(v){return v.textContent.toLowerCase();});
  var boxes=Array.prototype.slice.call(document.querySelectorAll('input[name=status]'));
  var code=document.getElementById('code'),q=document.getElementById('q');
  var shown=document.getElementById('shown'),none=document.getElementById('none');
  function apply(){
    var on={};boxes.forEach(function(b){if(b.checked)on[b.value]=true;});
    var c=code.value,terms=q.value.toLowerCase().split(/\\s+/).filter(Boolean),n=0;
    vms.forEach(function(v,i){
      var ok=!!on[v.getAttribute('data-status')]&&(!c||v.getAttribute('data-codes').split(' ').indexOf(c)>=0)&&terms.every(function(t){return text[i].indexOf(t)>=0;});
      v.hidden=!ok;if(ok)n++;
    });
    shown.textContent='showing '+n+' of '+vms.length+' VM'+(vms.length===1?'':'s');
    none.hidden=n!==0;
  }
  boxes.forEach(function(b){b.addEventListener('change',apply);});
  code.addEventListener('change',apply);q.addEventListener('input',apply);
  Array.prototype.forEach.call(document.querySelectorAll('[data-code]'),function(el){el.addEventListener('click',function(){code.value=el.getAttribute('data-code');apply();document.getElementById('filters').scrollIntoView();});});
  Array.prototype.forEach.call(document.querySelectorAll('[data-only]'),function(el){el.addEventListener('click',function(){var s=el.getAttribute('data-only');boxes.forEach(function(b){b.checked=!s||b.value===s;});apply();});});
  apply();
})();
`;

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

const CSP = [
  "default-src 'none'",
  `style-src ${cspHash(STYLE)}`,
  `script-src ${cspHash(SCRIPT)}`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export interface HtmlReportOptions {
  /** page title; default "vtpm-verify audit" */
  title?: string;
  /**
   * What a card lists of the passing checks and rules: 'full' (default) each
   * one under a folded count; 'summary' the count alone. Failures, warnings
   * and their details (expected, actual, the error's) are listed on every
   * card either way. A fleet audit uses 'summary': a 10,000-VM page stays a
   * size a browser opens even when every VM fails (each failing card listed
   * ~120 passing checks in full: 332 MB for 10,000 failing VMs, minutes to open).
   */
  passedDetail?: 'full' | 'summary';
}

/** The page order: not trusted, then unreachable, then trusted; by name within each; then as given. */
export function htmlReportOrder(a: { verdict: Verdict; name: string; index: number }, b: { verdict: Verdict; name: string; index: number }): number {
  return VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || compareText(a.name, b.name) || a.index - b.index;
}

/** The report as text chunks (one VM per chunk after the head). */
export function* htmlReportChunks(run: AuditRun, summary: AuditSummary, results: readonly AttestationResult[], opts: HtmlReportOptions = {}): Generator<string> {
  const ordered = results
    .map((r, index) => ({ r, verdict: r.verdict, name: displayName(r), index }))
    .sort(htmlReportOrder)
    .map((x) => x.r);
  // every failure code on the page, with how many VMs have it (for the filter)
  const codeCounts = new Map<string, number>();
  for (const r of ordered) for (const c of failureCodes(r)) codeCounts.set(c, (codeCounts.get(c) ?? 0) + 1);
  yield* htmlReportChunksOrdered(run, summary, codeCounts, ordered, opts);
}

/**
 * The same report from results the caller already put in page order
 * (htmlReportOrder), read one at a time: a fleet audit streams them back from
 * disk instead of holding them all. `codeCounts`: every failure code of the
 * results (failureCodes) with the number of VMs that have it.
 */
export function* htmlReportChunksOrdered(
  run: AuditRun,
  summary: AuditSummary,
  codeCounts: ReadonlyMap<string, number>,
  ordered: Iterable<AttestationResult>,
  opts: HtmlReportOptions = {},
): Generator<string> {
  yield* htmlReportChunksFromCards(run, summary, codeCounts, cardsOf(ordered, opts), opts);
}

function* cardsOf(ordered: Iterable<AttestationResult>, opts: HtmlReportOptions): Generator<string> {
  for (const r of ordered) yield htmlVmCard(r, opts);
}

/**
 * One VM's card (a <details> tree), as the page lists it. A fleet audit
 * renders each card when its result arrives and spools the text, so the
 * report is assembled at the end without reading any result back.
 */
export function htmlVmCard(r: AttestationResult, opts: HtmlReportOptions = {}): string {
  return vmSection(r, failureCodes(r), opts.passedDetail === 'summary');
}

/** The page around cards already rendered (htmlVmCard) and in page order (htmlReportOrder). */
export function* htmlReportChunksFromCards<Card extends string | Uint8Array>(
  run: AuditRun,
  summary: AuditSummary,
  codeCounts: ReadonlyMap<string, number>,
  /** the cards as htmlVmCard made them (as text, or its UTF-8 bytes) */
  cards: Iterable<Card>,
  opts: Pick<HtmlReportOptions, 'title'> = {},
): Generator<string | Card> {
  const title = opts.title ?? 'vtpm-verify audit';
  yield '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n';
  yield `<meta http-equiv="Content-Security-Policy" content="${html(CSP)}">\n`;
  yield '<meta name="referrer" content="no-referrer">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n';
  yield `<title>${html(title)} · ${html(run.startedAt)}</title>\n<style>${STYLE}</style>\n</head>\n<body>\n`;
  yield header(title, run);
  yield summarySection(summary);
  if (run.state?.since) yield changesSection(run.state.since, run.state.runId);
  yield filters(summary, codeCounts);
  yield '<main id="vms">\n';
  yield* cards;
  yield '<p id="none" hidden>No VM matches these filters.</p>\n</main>\n';
  yield `<script>${SCRIPT}</script>\n</body>\n</html>\n`;
}

export function renderHtmlReport(run: AuditRun, summary: AuditSummary, results: readonly AttestationResult[], opts: HtmlReportOptions = {}): string {
  return [...htmlReportChunks(run, summary, results, opts)].join('');
}

function header(title: string, run: AuditRun): string {
  const parts: string[] = [];
  if (run.inventory !== undefined) parts.push(`inventory <span class="mono">${html(run.inventory)}</span>`);
  if (run.shard) parts.push(`shard ${run.shard.index}/${run.shard.count}`);
  if (run.label !== undefined) parts.push(`run label <span class="mono">${html(run.label)}</span>`);
  if (run.merged) parts.push(`merged from ${html(mergedSources(run.merged))}`);
  parts.push(`started ${html(run.startedAt)}`);
  const ms = resultDurationMs(run);
  if (ms !== undefined) parts.push(`took ${html(formatMs(ms))}`);
  if (run.concurrency !== undefined) parts.push(`concurrency ${run.concurrency}`);
  if (run.hostname !== undefined) parts.push(`on ${html(run.hostname)}`);
  parts.push(`${html(run.tool.name)} ${html(run.tool.version)}`);
  const gaps = coverageGaps(run);
  const missing = run.merged?.missingVms?.names ?? [];
  const gap = gaps.length
    ? `<p id="coverage" class="gap">Not the whole fleet: ${html(gaps.join('; '))}${missing.length ? ` (${missing.length < run.merged!.missingVms!.count ? `the first ${missing.length}: ` : ''}<span class="mono">${missing.map(html).join(', ')}</span>)` : ''}</p>\n`
    : '';
  const warnings = run.warnings?.length
    ? `<div id="warnings"><h2>Warnings</h2><ul>${run.warnings.map((w) => `<li>${html(w)}</li>`).join('')}</ul></div>\n`
    : '';
  return `<header>\n<h1>${html(title)}</h1>\n<p class="meta">${parts.join(' · ')}</p>\n${gap}${warnings}</header>\n`;
}

function summarySection(s: AuditSummary): string {
  const pct = (n: number) => (s.total ? `${((100 * n) / s.total).toFixed(1)}%` : '–');
  const card = (cls: string, only: string, n: number, label: string) =>
    `<button type="button" class="card ${cls}" data-only="${only}"><b>${n}</b><span>${label}${cls ? ` · ${pct(n)}` : ''}</span></button>`;
  let out = '<section id="summary">\n<div class="cards">';
  out += card('', '', s.total, `VM${s.total === 1 ? '' : 's'} audited`);
  out += card('not-trusted', 'not-trusted', s.notTrusted, 'not trusted');
  out += card('incomplete', 'incomplete', s.unreachable, 'unreachable');
  out += card('trusted', 'trusted', s.trusted, 'trusted');
  out += '</div>\n<div class="cols">\n';
  if (s.failureCodes.length) {
    out += '<div><h2>Failures by code</h2><table><thead><tr><th>code</th><th>VMs</th></tr></thead><tbody>';
    for (const c of s.failureCodes) {
      out += `<tr><td><button type="button" class="link code" data-code="${html(c.code)}">${html(c.code)}</button></td><td class="n">${c.count}</td></tr>`;
    }
    out += '</tbody></table></div>\n';
  }
  if (s.slowest.length) {
    out += '<div><h2>Slowest hosts</h2><table><thead><tr><th>time</th><th>VM</th><th>verdict</th></tr></thead><tbody>';
    for (const h of s.slowest) {
      out += `<tr><td class="n">${html(formatMs(h.ms))}</td><td>${html(h.name)}</td><td>${html(VERDICT_LABELS[h.verdict])}</td></tr>`;
    }
    out += '</tbody></table>';
    if (s.timing) out += `<p class="meta">median ${html(formatMs(s.timing.medianMs))} · p95 ${html(formatMs(s.timing.p95Ms))} · max ${html(formatMs(s.timing.maxMs))}</p>`;
    out += '</div>\n';
  }
  return `${out}</div>\n</section>\n`;
}

const CHANGE_MARKS = { worse: `${MARK.fail} worse`, better: `${MARK.pass} better`, other: `${MARK.warn} changed` } as const;

/** A verdict as people read it; a value from an older or foreign state file as it is. */
function verdictLabel(v: string): string {
  return Object.hasOwn(VERDICT_LABELS, v) ? VERDICT_LABELS[v as Verdict] : v;
}

/** What changed since the previous run of the same inventory (with --state): worse first, then better, then the rest. */
function changesSection(d: RunChanges, runId: number): string {
  const counts = changeCountParts(d);
  let out = `<section id="changes">\n<h2>Since the previous run (${d.runId})</h2>\n<p class="meta">${html(counts.length ? counts.join(' · ') : 'no verdict changed')}</p>\n`;
  const changes = changesByKind(d.changes);
  if (changes.length) {
    out += '<table><thead><tr><th></th><th>VM</th><th>before</th><th>now</th></tr></thead><tbody>';
    for (const c of changes) {
      const kind = changeKind(c);
      out += `<tr><td class="chg ${kind}">${CHANGE_MARKS[kind]}</td><td class="mono">${html(c.target)}</td><td>${html(verdictLabel(c.before))}</td><td>${html(verdictLabel(c.now))}</td></tr>`;
    }
    out += '</tbody></table>\n';
    const listed = d.worse + d.better + d.other;
    if (listed > changes.length) out += `<p class="meta">${listed - changes.length} more not listed: vtpm-verify history --run ${d.runId} and --run ${runId} have both runs' verdicts</p>\n`;
  }
  return `${out}</section>\n`;
}

function filters(s: AuditSummary, codeCounts: ReadonlyMap<string, number>): string {
  const box = (value: Verdict, label: string, n: number) =>
    `<label><input type="checkbox" name="status" value="${value}" checked> ${label} (${n})</label>`;
  let out = '<section id="filters" aria-label="filters">\n';
  out += box('not-trusted', 'not trusted', s.notTrusted) + box('incomplete', 'unreachable', s.unreachable) + box('trusted', 'trusted', s.trusted);
  out += '\n<select id="code" aria-label="failure code"><option value="">every failure code</option>';
  for (const [code, n] of [...codeCounts].sort((a, b) => compareText(a[0], b[0]))) out += `<option value="${html(code)}">${html(code)} (${n})</option>`;
  out += '</select>\n<input type="search" id="q" placeholder="search names, URIs, codes, messages" aria-label="search">\n';
  return `${out}<span id="shown"></span>\n</section>\n`;
}

function vmSection(r: AttestationResult, codes: readonly string[], countPassed = false): string {
  const ms = resultDurationMs(r);
  const mark = r.verdict === 'trusted' ? MARK.pass : r.verdict === 'not-trusted' ? MARK.fail : MARK.unreachable;
  const name = displayName(r);
  let out = `<details class="vm s-${r.verdict}" data-status="${r.verdict}" data-codes="${html(codes.join(' '))}"${r.verdict === 'trusted' ? '' : ' open'}>\n<summary class="s-${r.verdict}">`;
  out += `<span class="badge">${mark} ${html(VERDICT_LABELS[r.verdict])}</span><span class="name">${html(name)}</span>`;
  if (name !== r.target) out += `<span class="target mono">${html(r.target)}</span>`;
  if (r.group !== undefined) out += `<span class="target">group ${html(r.group)}</span>`;
  if (r.tags?.length) out += `<span class="target">tags ${html(r.tags.join(', '))}</span>`;
  if (r.verdict !== 'trusted') out += `<span class="reason">${html(r.reason)}</span>`;
  if (r.error) out += `<code class="code">${html(r.error.code)}</code>`;
  if (ms !== undefined) out += `<span class="ms">${html(formatMs(ms))}</span>`;
  out += '</summary>\n<div class="body">\n<ol class="tree">\n';
  for (const layer of r.layers) out += layerItem(layer, countPassed);
  const chain = resultWideOutcomes({ chain: r.chain });
  const findings = resultWideOutcomes({ chain: [], findings: r.findings });
  if (chain.length) out += wideItem('chain', chain, countPassed);
  if (findings.length) out += wideItem('state', findings, countPassed);
  out += '</ol>\n';
  const policy = r.policy.builtin ? 'built-in baseline policy (no reference values)' : `policy ${html(r.policy.id)} <span class="mono">${html(r.policy.source)}</span>`;
  out += `<p class="meta">${policy} · nonce <span class="mono hex">${html(r.nonce)}</span> · ${html(r.startedAt)}</p>\n`;
  return `${out}</div>\n</details>\n`;
}

function layerItem(layer: LayerResult, countPassed: boolean): string {
  const status = layer.status;
  const mark = status === 'trusted' ? MARK.pass : status === 'not-trusted' ? MARK.fail : status === 'unreachable' ? MARK.unreachable : MARK.notReached;
  let out = `<li class="layer s-${status}"><div class="lh"><span class="mk">${mark}</span><span class="role">${ROLE_LABELS[layerRole(layer)]}</span>`;
  out += `<span class="mono">${html(layer.uri)}</span><span>${html(status.replace('-', ' '))}</span>`;
  if (layer.elapsedMs !== undefined) out += `<span class="ms">${html(formatMs(layer.elapsedMs))}</span>`;
  out += '</div>\n';
  if (status === 'not-reached') return `${out}</li>\n`;
  const ident: string[] = [];
  if (layer.kind) ident.push(html(layer.kind));
  if (layer.instanceId) ident.push(`instance <span class="mono hex">${html(layer.instanceId)}</span>`);
  if (layer.akName) ident.push(`AK <span class="mono hex">${html(layer.akName)}</span>`);
  if (layer.anchor) ident.push(`anchor ${html(layer.anchor.label)}`);
  if (layer.certificatePath?.[0]) ident.push(`AK certificate <span class="mono">${html(layer.certificatePath[0].subject)}</span>`);
  if (ident.length) out += `<div class="ident">${ident.join(' · ')}</div>\n`;
  out += countPassed ? foldedOutcomesBlock(layer) : outcomesBlock(layerOutcomes(layer), layer.error);
  return `${out}</li>\n`;
}

function wideItem(name: string, outcomes: readonly Outcome[], countPassed: boolean): string {
  const failed = outcomes.some((o) => o.status === 'fail');
  return `<li class="layer s-${failed ? 'not-trusted' : 'trusted'}"><div class="lh"><span class="mk">${failed ? MARK.fail : MARK.pass}</span><span class="role">${name}</span></div>\n${outcomesBlock(outcomes, undefined, countPassed)}</li>\n`;
}

/** Failures and warnings listed; passes and skips folded under a count (or only counted). */
function outcomesBlock(outcomes: readonly Outcome[], error: ErrorSummary | undefined, countPassed = false): string {
  let out = '<ul class="outcomes">';
  const lone = uncoveredError(outcomes, error);
  if (lone) out += errorItem(lone);
  // the failing check that carries the layer's error (an unreachable layer's fetch) shows its details (cause, URL) too
  let carried = lone !== undefined || error === undefined;
  for (const o of problems(outcomes)) {
    const carrier = !carried && o.status === 'fail' && o.code === error!.code;
    if (carrier) carried = true;
    out += outcomeItem(o, carrier ? error : undefined);
  }
  out += '</ul>\n';
  const rest = outcomes.filter((o) => o.status === 'pass' || o.status === 'skip');
  if (rest.length && countPassed) {
    out += `<p class="passed">${MARK.pass} ${html(passCountText(outcomes))}</p>\n`;
  } else if (rest.length) {
    out += `<details class="passed"><summary>${MARK.pass} ${html(passCountText(outcomes))}</summary><ul class="outcomes">`;
    for (const o of rest) out += outcomeItem(o);
    out += '</ul></details>\n';
  }
  return out;
}

/**
 * outcomesBlock(layerOutcomes(layer), layer.error, true), counted straight
 * from the checks and rules: a fleet's page has a card per VM with its passes
 * counted, and building an Outcome per passing check cost more than the card.
 */
function foldedOutcomesBlock(layer: Pick<LayerResult, 'checks' | 'rules' | 'error'>): string {
  const failed: Outcome[] = [];
  const warned: Outcome[] = [];
  let passedChecks = 0;
  let passedRules = 0;
  let skipped = 0;
  for (const c of layer.checks) {
    if (c.status === 'pass') passedChecks++;
    else if (c.status === 'skip') skipped++;
    else (c.status === 'fail' ? failed : warned).push(checkOutcome(c));
  }
  for (const r of layer.rules) {
    if (r.status === 'pass') passedRules++;
    else if (r.status === 'not-applicable') skipped++;
    else (r.status === 'fail' ? failed : warned).push(ruleOutcome(r));
  }
  let out = '<ul class="outcomes">';
  const lone = uncoveredError(failed, layer.error);
  if (lone) out += errorItem(lone);
  // as outcomesBlock: the failing check that carries the layer's error shows the error's details too
  let carried = lone !== undefined || layer.error === undefined;
  for (const o of failed) {
    const carrier = !carried && o.code === layer.error!.code;
    if (carrier) carried = true;
    out += outcomeItem(o, carrier ? layer.error : undefined);
  }
  for (const o of warned) out += outcomeItem(o);
  out += '</ul>\n';
  if (passedChecks + passedRules + skipped > 0) out += `<p class="passed">${MARK.pass} ${html(passCountTextOf(passedChecks, passedRules, skipped))}</p>\n`;
  return out;
}

function outcomeItem(o: Outcome, error?: ErrorSummary): string {
  const mark = MARK[o.status];
  let out = `<li class="o ${o.status}"><span class="mk">${mark}</span> `;
  if (o.code) out += `<span class="code mono">${html(o.code)}</span> `;
  out += `<span class="msg">${html(o.message)}</span> <span class="oid mono">${o.source} ${html(o.id)}</span>`;
  const ea: [string, unknown][] = [];
  if (o.expected !== undefined) ea.push(['expected', o.expected]);
  if (o.actual !== undefined) ea.push(['actual', o.actual]);
  // the error's details too, but its expected and actual only where the check has none of its own (they were left out)
  if (error) for (const [k, v] of Object.entries(error.details ?? {})) if (v !== undefined && !(k === 'expected' && o.expected !== undefined) && !(k === 'actual' && o.actual !== undefined)) ea.push([k, v]);
  if (ea.length && o.status !== 'pass' && o.status !== 'skip') out += expectedActual(ea);
  return `${out}</li>`;
}

function errorItem(e: ErrorSummary): string {
  let out = `<li class="o fail"><span class="mk">${MARK.fail}</span> <span class="code mono">${html(e.code)}</span> <span class="msg">${html(e.message)}</span>`;
  const details = Object.entries(e.details ?? {}).filter(([, v]) => v !== undefined);
  if (details.length) out += expectedActual(details);
  return `${out}</li>`;
}

function expectedActual(pairs: readonly [string, unknown][]): string {
  return `<dl class="ea">${pairs.map(([k, v]) => `<dt>${html(k)}</dt><dd>${html(formatValue(v, 4000))}</dd>`).join('')}</dl>`;
}

