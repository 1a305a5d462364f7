// The audit as JUnit XML, for CI systems: one testsuite, one testcase per VM
// (named by its inventory name, classname its group or first tag), a
// <failure> for a VM that is not trusted and an <error> for one that could
// not be attested. The failure message is the reason and the code; the body
// is the VM's tree in plain text (the failing layer with its checks,
// expected vs actual).
//
// Every string is escaped, and characters XML 1.0 cannot carry at all
// (control characters, lone surrogates) become visible \uXXXX text, so a
// hostile server's error message can neither break the file nor vanish.

import { PLAIN } from '../cli/output.js';
import type { AttestationResult } from '../verify/result.js';
import { displayName, resultDurationMs, terminalSafe } from './format.js';
import { unseenPattern } from '../util/terminal-safe.js';
import type { AuditRun } from './json-report.js';
import { coverageGaps, mergedSources } from './merge.js';
import type { AuditSummary } from './summary.js';
import { renderTree } from './tree.js';

export const JUNIT_SUITE_NAME = 'vtpm-verify audit';
/** classname of a VM with neither group nor tags */
export const DEFAULT_CLASSNAME = 'vtpm-verify';

// Not in XML 1.0's Char production (everything below 0x20 but tab, LF, CR;
// lone surrogates; U+FFFE/U+FFFF), plus DEL and C1 controls, which XML
// allows but which would reach terminals that show CI logs.
const NOT_XML_CHAR = /[^\t\n\r\u0020-\u007e\u00a0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu;
// XML carries these, but a CI page or log showing a failure message would display text from the
// evidence (an IMA path) in another order than it holds, or hide some of it: format characters (bidi
// overrides, isolates and marks, zero-width ones, BOM, TAG characters), the other default-ignorable
// ones and the Unicode separators (unseenPattern).
const UNSEEN = new RegExp(unseenPattern(), 'gu');

function visible(text: string): string {
  const shown = (c: string): string => {
    const cp = c.codePointAt(0)!;
    return cp > 0xffff ? `\\u{${cp.toString(16)}}` : `\\u${cp.toString(16).padStart(4, '0')}`;
  };
  return text.replace(NOT_XML_CHAR, shown).replace(UNSEEN, shown);
}

/** Escapes text content. */
export function xmlText(text: string): string {
  return visible(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (quotes, and whitespace that attribute normalization would flatten). */
export function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

function seconds(ms: number | undefined): string {
  return ((ms ?? 0) / 1000).toFixed(3);
}

/** JUnit timestamps are ISO-8601 without a zone (UTC here). */
function junitTimestamp(iso: string): string | undefined {
  const t = Date.parse(iso);
  return Number.isFinite(t) ? new Date(t).toISOString().slice(0, 19) : undefined;
}

export function classnameOf(result: Pick<AttestationResult, 'group' | 'tags'>): string {
  return result.group ?? result.tags?.[0] ?? DEFAULT_CLASSNAME;
}

/** "VMM (layer 1): PCR 7 is not one of the golden values [POLICY_PCR_VALUE]"; a reason that names its code already (a transport or evidence error's) as it is */
export function failureMessage(result: Pick<AttestationResult, 'reason' | 'error'>): string {
  if (!result.error) return result.reason;
  const code = result.error.code;
  const named = /^[A-Z0-9_]+$/.test(code) && new RegExp(`(^|[^A-Z0-9_])${code}([^A-Z0-9_]|$)`).test(result.reason);
  return named ? result.reason : `${result.reason} [${code}]`;
}

/**
 * A trusted VM as much as its testcase needs: a fleet audit keeps only this
 * of a trusted result (it need not read the whole result back for JUnit).
 */
export interface PassedTestcase {
  passed: true;
  name: string;
  classname: string;
  ms: number | undefined;
}

export function passedTestcase(result: AttestationResult): PassedTestcase {
  return { passed: true, name: displayName(result), classname: classnameOf(result), ms: resultDurationMs(result) };
}

function testcase(result: AttestationResult | PassedTestcase): string {
  if ('passed' in result) return `    <testcase name="${xmlAttr(result.name)}" classname="${xmlAttr(result.classname)}" time="${seconds(result.ms)}"/>\n`;
  const open = `    <testcase name="${xmlAttr(displayName(result))}" classname="${xmlAttr(classnameOf(result))}" time="${seconds(resultDurationMs(result))}"`;
  if (result.verdict === 'trusted') return `${open}/>\n`;
  const element = result.verdict === 'not-trusted' ? 'failure' : 'error';
  const type = result.error?.code ?? (element === 'failure' ? 'NOT_TRUSTED' : 'INCOMPLETE');
  const body = renderTree(result, PLAIN);
  return (
    `${open}>\n` +
    // the reason is one line on a CI page: a line break, tab or CR from the evidence (an IMA path) is shown as
    // on the terminal, or it could add a line there ("all VMs trusted")
    `      <${element} message="${xmlAttr(terminalSafe(failureMessage(result)))}" type="${xmlAttr(type)}">${xmlText(body)}</${element}>\n` +
    '    </testcase>\n'
  );
}

/** The JUnit document as text chunks; trusted VMs may come as PassedTestcase. */
export function* junitChunks(run: AuditRun, summary: AuditSummary, results: Iterable<AttestationResult | PassedTestcase>): Generator<string> {
  const time = seconds(resultDurationMs(run));
  const counts = `tests="${summary.total}" failures="${summary.notTrusted}" errors="${summary.unreachable}"`;
  yield '<?xml version="1.0" encoding="UTF-8"?>\n';
  yield `<testsuites name="${JUNIT_SUITE_NAME}" ${counts} time="${time}">\n`;
  const stamp = junitTimestamp(run.startedAt);
  const host = run.hostname !== undefined ? ` hostname="${xmlAttr(run.hostname)}"` : '';
  yield `  <testsuite name="${JUNIT_SUITE_NAME}" ${counts} skipped="0" time="${time}"${stamp ? ` timestamp="${stamp}"` : ''}${host}>\n`;
  const props: [string, string][] = [['tool', `${run.tool.name} ${run.tool.version}`]];
  if (run.inventory !== undefined) props.push(['inventory', run.inventory]);
  if (run.shard) props.push(['shard', `${run.shard.index}/${run.shard.count}`]);
  if (run.label !== undefined) props.push(['label', run.label]);
  if (run.concurrency !== undefined) props.push(['concurrency', String(run.concurrency)]);
  if (run.merged) props.push(['merged', mergedSources(run.merged)]);
  const gaps = coverageGaps(run);
  if (gaps.length) props.push(['incomplete', gaps.join('; ')]);
  yield '    <properties>\n';
  for (const [name, value] of props) yield `      <property name="${xmlAttr(name)}" value="${xmlAttr(value)}"/>\n`;
  yield '    </properties>\n';
  for (const r of results) yield testcase(r);
  // the run's warnings, where CI systems show a suite's output: a line each, written as the terminal
  // writes them (a line break in one, from a merged report's input, shown as \u000a: no added line)
  if (run.warnings?.length) yield `    <system-err>${xmlText(run.warnings.map((w) => `warning: ${terminalSafe(w)}`).join('\n'))}</system-err>\n`;
  yield '  </testsuite>\n</testsuites>\n';
}

export function renderJunit(run: AuditRun, summary: AuditSummary, results: Iterable<AttestationResult>): string {
  return [...junitChunks(run, summary, results)].join('');
}
