// vtpm-verify report REPORT.json...: the JSON reports of one audit (the
// shards of `audit --shard I/N`, or one whole report) read back, checked
// against the report schema and each other, and merged into one fleet
// report: the summary and exit code of the whole fleet, and its JSON, JUnit
// and HTML reports. The checks and the merge are in src/report (reader,
// merge); this is the edge: files, the terminal.
//
// Memory stays flat: each report is read a line (one result) at a time, and
// the results go to the same spool the audit writes its reports from.

import { createReadStream, statSync, type Stats } from 'node:fs';
import { EXIT_CODES, ParseError, TransportError, UsageError, VtpmError, type ExitCode } from '../../errors.js';
import type { ReportFiles, ReportWriteFailure } from '../audit-reports.js';
import { failureOf, renderFailures, type AuditFailure } from '../../report/failures.js';
import { runWarnings, type AuditRun } from '../../report/json-report.js';
import { coverageGaps, mergedSources, unlabelledSpreadWarning, type MergedFrom } from '../../report/merge.js';
import { MAX_REPORT_LINE_BYTES } from '../../report/report-reader.js';
import { renderSummary, type AuditSummary } from '../../report/summary.js';
import { terminalSafe } from '../../report/format.js';
import type { CommandOutcome, Style } from '../output.js';
import { invalidDocumentOutcome } from '../policy-file.js';
import { VERSION } from '../version.js';
import { realFilePath } from '../../util/files.js';

export interface ReportOptions {
  /** the JSON reports to read, in this order */
  reports: string[];
  /** the inventory the reports audited: results in its order, and its VMs without a result named */
  inventory?: string | undefined;
  out: ReportFiles;
  unreachableOk: boolean;
  /** missing shards or VMs do not make the exit code 3 (they are still reported) */
  allowPartial: boolean;
  /** every report must have this run label (--run-label) */
  runLabel?: string | undefined;
  json: boolean;
  verbose: boolean;
}

export interface ReportCommandResult {
  run: AuditRun;
  summary: AuditSummary;
  exitCode: ExitCode;
  /** the reports read, and what of the fleet they do not cover */
  merged: MergedFrom;
  /** whether the reports cover the whole fleet (every shard, every inventory VM, no interrupted shard) */
  complete: boolean;
  reports: ReportFiles;
  /** every VM not trusted or unreachable, in the merged report's order */
  failures: AuditFailure[];
  /** reports that could not be written (the others were) */
  reportErrors?: ReportWriteFailure[];
  /** what the merge noticed without refusing it (shards without run labels started far apart) */
  warnings?: string[];
}

export async function runReportCommand(opts: ReportOptions): Promise<CommandOutcome> {
  if (opts.reports.length === 0) throw new UsageError('USAGE', 'report: name at least one JSON report (audit --json FILE)', { option: 'reports' });
  const [reportsMod, { checkRunLabel }] = await Promise.all([import('../audit-reports.js'), import('../../report/json-report.js')]);
  checkRunLabel(opts.runLabel);
  // one file named twice (as spelled, or through links) was refused as two reports of one shard ("X and X are
  // both shard 0/2"); said as what it is, with the same code
  const seen = new Map<string, string>();
  for (const file of opts.reports) {
    const real = realFilePath(file);
    const earlier = seen.get(real);
    if (earlier !== undefined) {
      const names = earlier === file ? file : `${earlier} and ${file}`;
      throw new ParseError('REPORT_MISMATCH', `report: ${names} ${earlier === file ? 'is given twice' : 'are one file, given twice'}: its VMs would be counted twice`, { file, check: 'reports' });
    }
    seen.set(real, file);
  }

  // an output that is an input (or the inventory) would be destroyed; a folder that is not there costs nothing yet
  reportsMod.checkReportPaths(opts.out, [...opts.reports.map((f) => ({ path: f, what: 'one of the reports to read' })), ...(opts.inventory !== undefined ? [{ path: opts.inventory, what: 'the inventory' }] : [])]);
  // from here on, a report file that exists at the end is this merge's (an error removes an earlier one, and says so in the envelope too), as in an audit
  return reportsMod.withReportGuard(opts.out, (written) => mergeReports(opts, reportsMod, written));
}

async function mergeReports(opts: ReportOptions, reportsMod: typeof import('../audit-reports.js'), written: Set<keyof ReportFiles>): Promise<CommandOutcome> {
  const [{ reportValidators }, { AuditReportReader }, { ReportMerger }, { SummaryBuilder }, outcome] = await Promise.all([
    import('../../report/report-schema.js'),
    import('../../report/report-reader.js'),
    import('../../report/merge.js'),
    import('../../report/summary.js'),
    import('../../audit/outcome.js'),
  ]);
  let inventoryVms: { key: string; index: number }[] | undefined;
  if (opts.inventory !== undefined) {
    const [{ readInputText }, inv] = await Promise.all([import('../../util/files.js'), import('../../audit/inventory.js')]);
    const parsed = inv.parseInventory(readInputText(opts.inventory, 'inventory', inv.MAX_INVENTORY_TEXT), opts.inventory);
    if (!parsed.inventory) return invalidDocumentOutcome(inv.inventoryInvalid(opts.inventory, parsed.issues));
    inventoryVms = parsed.inventory.vms.map((v) => ({ key: v.key, index: v.index }));
  }

  const validators = reportValidators();
  const merger = new ReportMerger(inventoryVms && { file: opts.inventory!, vms: inventoryVms }, opts.runLabel);
  const summary = new SummaryBuilder();
  // one vTPM at one address across the shards, which compared only their own VMs
  const keys = new (await import('../../audit/instances.js')).MergedKeyCheck();
  const failures: (AuditFailure & { index: number })[] = [];
  const wantsFiles = opts.out.json !== undefined || opts.out.junit !== undefined || opts.out.html !== undefined;
  const spool = wantsFiles ? new reportsMod.ResultSpool(undefined, opts.out.html !== undefined ? { htmlCards: reportsMod.AUDIT_HTML_CARDS } : {}) : undefined;
  try {
    for (const file of opts.reports) {
      const reader = new AuditReportReader(file, validators);
      let lines = 0;
      for await (const line of fileLines(file, MAX_REPORT_LINE_BYTES)) {
        lines++;
        const got = reader.line(line, lines);
        if (!got) continue;
        if ('header' in got) {
          merger.addReport(file, got.header.run);
          continue;
        }
        const result = keys.check(got.result, file);
        const index = merger.addResult(result);
        summary.add(result);
        if (result.verdict !== 'trusted') failures.push({ index, ...failureOf(result) });
        spool?.add(result, index);
      }
      reader.end(lines);
    }
    const { run, complete } = merger.finish({ name: 'vtpm-verify', version: VERSION });
    const sum = summary.summary();
    const byVerdicts = outcome.auditExitCode(sum, { unreachableOk: opts.unreachableOk });
    // 1 wins, as in an audit; a fleet the reports do not wholly cover is never "all trusted"
    let exitCode: ExitCode = byVerdicts === EXIT_CODES.NOT_TRUSTED || complete || opts.allowPartial ? byVerdicts : EXIT_CODES.INCOMPLETE;
    run.exitCode = exitCode;
    const merged = run.merged!;
    const spread = unlabelledSpreadWarning(merged);
    const contested = keys.contested();
    const pairWarnings = contested.pairs.map((p) => {
        const other = `VM ${p.later}${p.sameReport ? '' : ' of another report'}`;
        if (p.bothPinned) {
          return `VM ${p.first} (in ${p.firstReport}) answered with the attestation key ${other} answered with, and both VMs' inventory instanceIds verified (AUDIT_DUPLICATE_INSTANCE in the merged report): one of the two platforms certified the other VM's key under its own VM's instance id and relays it, or the vTPM was cloned, so ${p.first}'s own result is in doubt too`;
        }
        return p.firstIsRelay
          ? `VM ${p.first} (in ${p.firstReport}) answered with the attestation key of ${other}, whose inventory instanceId verified: ${p.first} most likely relays ${p.later}, and its own result is wrong (${p.later} is refused in the merged report, AUDIT_DUPLICATE_INSTANCE, so that the fleet does not pass)`
          : `VM ${p.first} (in ${p.firstReport}) answered with the attestation key ${other} answered with (AUDIT_DUPLICATE_INSTANCE in the merged report): one of the two URLs relays the other VM, or the vTPM was cloned, so ${p.first}'s own result is in doubt too; give every VM its instanceId in the inventory to tell which`;
    });
    const more = contested.more > 0 ? [`... and ${contested.more} more pairs of VMs answering with one key (the merged report's AUDIT_DUPLICATE_INSTANCE results name them)`] : [];
    const warnings = [...(spread ? [spread] : []), ...pairWarnings, ...more];
    for (const w of warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);
    // The merged report keeps the reports' own warnings, and adds what only the merge can see: shards
    // far apart, and pairs across reports (a pair within one report is in that report's warnings already;
    // a merged report read again has all of its own).
    const mergeOnly = merger.rereading ? [] : [...(spread ? [spread] : []), ...pairWarnings.filter((_, i) => !contested.pairs[i]!.sameReport), ...more];
    const kept = runWarnings([...new Set([...merger.carriedWarnings(), ...mergeOnly])]);
    if (kept) run.warnings = kept;
    // as in an audit: a report that cannot be written is said, the others are written, 1 still wins
    const writeErrors = spool ? reportsMod.writeReports(opts.out, run, sum, spool, written) : [];
    for (const f of writeErrors) process.stderr.write(`error: ${terminalSafe(f.message)}\n`);
    if (writeErrors.length && exitCode !== EXIT_CODES.NOT_TRUSTED) exitCode = EXIT_CODES.INCOMPLETE;

    failures.sort((a, b) => a.index - b.index);
    const result: ReportCommandResult = {
      run,
      summary: sum,
      exitCode,
      merged,
      complete,
      reports: opts.out,
      failures: failures.map(({ index: _index, ...f }) => f),
      ...(writeErrors.length ? { reportErrors: writeErrors } : {}),
      ...(warnings.length ? { warnings } : {}),
    };
    // exit 3 for a fleet not wholly covered says so first, with any unreachable VMs beside it
    const unreachable = sum.unreachable > 0 && !opts.unreachableOk ? `; and ${sum.unreachable} of ${sum.total} VM(s) could not be attested` : '';
    const error = writeErrors.length && exitCode !== EXIT_CODES.NOT_TRUSTED
      ? new TransportError('IO_ERROR', writeErrors.map((f) => f.message).join('; '), { reports: writeErrors })
      : exitCode === EXIT_CODES.INCOMPLETE && !complete && !opts.allowPartial
        ? new TransportError('REPORT_INCOMPLETE', `the reports do not cover the whole fleet: ${coverageGaps(run).join('; ')}${unreachable}`, {
            ...(merged.missingShards ? { missingShards: merged.missingShards } : {}),
            ...(merged.missingVms ? { missingVms: merged.missingVms } : {}),
            ...(run.interrupted ? { interrupted: run.interrupted } : {}),
            ...(unreachable ? { unreachable: sum.unreachable } : {}),
          })
        : outcome.auditError(sum, exitCode);
    return { ok: exitCode === EXIT_CODES.OK, exitCode, result, error, human: (style) => renderReport(result, style, opts.verbose) };
  } finally {
    spool?.close();
  }
}

function renderReport(r: ReportCommandResult, style: Style, verbose: boolean): string {
  const lines: string[] = [renderSummary(r.summary, style)];
  lines.push(...renderFailures(r.failures, style, verbose));
  lines.push('');
  lines.push(`Read ${mergedSources(r.merged)}: audited ${terminalSafe(r.run.startedAt)} to ${terminalSafe(r.run.finishedAt)}${r.run.inventory !== undefined ? `, inventory ${terminalSafe(r.run.inventory)}` : ''}${r.run.label !== undefined ? `, run label ${terminalSafe(r.run.label)}` : ''}`);
  const gaps = coverageGaps(r.run);
  if (gaps.length) {
    lines.push(style.warn(`Not the whole fleet: ${terminalSafe(gaps.join('; '))}`));
    const names = r.merged.missingVms?.names ?? [];
    const shown = verbose ? names : names.slice(0, 20);
    for (const n of shown) lines.push(`  ${style.warn('-')} ${terminalSafe(n)}`);
    const more = (r.merged.missingVms?.count ?? 0) - shown.length;
    if (more > 0) lines.push(style.dim(`  ... and ${more} more${names.length > shown.length ? ' (--verbose lists the first 100)' : ''}`));
  }
  const labels: Record<string, string> = { json: 'JSON', junit: 'JUnit', html: 'HTML' };
  for (const [kind, file] of Object.entries(r.reports)) {
    if (file === undefined) continue;
    const failed = r.reportErrors?.find((f) => f.report === kind);
    lines.push(failed ? style.bad(`${labels[kind] ?? kind} report: not written: ${terminalSafe(failed.message)}`) : `${labels[kind] ?? kind} report: ${terminalSafe(String(file))}`);
  }
  return lines.join('\n');
}

/**
 * The lines of a file, decoded as strict UTF-8, without their newline; a line
 * longer than `maxLineBytes` is refused before it is all in memory.
 */
export async function* fileLines(path: string, maxLineBytes: number): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const decode = (bytes: Buffer, lineNo: number): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new ParseError('REPORT_INVALID', `${path}:${lineNo}: not valid UTF-8`, { file: path, line: lineNo });
    }
  };
  // as every input file: a FIFO (which would wait for ever for a writer), a device or a folder is refused
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // a name that cannot lead to a file (a symbolic link loop, a name too long) is bad input, as for every input
    // file, not an I/O failure to retry
    if (code === 'ENOENT' || code === 'EACCES' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'ENAMETOOLONG') throw new UsageError('FILE_UNREADABLE', `report: cannot read ${path}: ${code}`, { path, what: 'report' }, { cause: err });
    throw new TransportError('IO_ERROR', `report: reading ${path} failed: ${code ?? String(err)}`, { path }, { cause: err });
  }
  if (!st.isFile()) throw new UsageError('FILE_UNREADABLE', `report: ${path} is not a regular file`, { path, what: 'report' });
  let parts: Buffer[] = [];
  let pending = 0;
  let lineNo = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let from = 0;
      for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, nl);
        if (pending + piece.length > maxLineBytes) throw tooLong(path, lineNo + 1, maxLineBytes);
        lineNo++;
        yield decode(parts.length ? Buffer.concat([...parts, piece]) : piece, lineNo);
        parts = [];
        pending = 0;
        from = nl + 1;
      }
      if (from < chunk.length) {
        const rest = chunk.subarray(from);
        pending += rest.length;
        if (pending > maxLineBytes) throw tooLong(path, lineNo + 1, maxLineBytes);
        parts.push(rest);
      }
    }
  } catch (err) {
    if (err instanceof VtpmError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') throw new UsageError('FILE_UNREADABLE', `report: cannot read ${path}: ${code}`, { path, what: 'report' }, { cause: err });
    throw new TransportError('IO_ERROR', `report: reading ${path} failed: ${code ?? String(err)}`, { path }, { cause: err });
  } finally {
    stream.destroy();
  }
  if (pending > 0) yield decode(Buffer.concat(parts), lineNo + 1);
}

function tooLong(path: string, lineNo: number, max: number): ParseError {
  return new ParseError('REPORT_INVALID', `${path}:${lineNo}: a line longer than ${max} bytes`, { file: path, line: lineNo, max });
}
