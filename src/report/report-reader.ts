// Reads an audit JSON report back (`vtpm-verify report`), one line at a
// time, so that a 10,000-VM report (~260 MB) is never held whole: the report
// is read in the layout `audit --json FILE` writes (json-report.ts), a
// header line each for the format, run and summary, then one result per
// line. A report is input like any other (it may come from another machine,
// or have been edited), so every part is checked against the report's schema
// before anything uses it, and the layout is strict: a truncated report, one
// with lines added after its end, or with a summary that does not count its
// results, is refused.
//
// Pure: the caller feeds lines and supplies the schema checks.

import { utcTime } from '../util/utc-time.js';
import { ParseError } from '../errors.js';
import { jsonNestingOver as nestingOver } from '../util/json-nesting.js';
import type { AttestationResult } from '../verify/result.js';
import { AUDIT_REPORT_FORMAT, AUDIT_REPORT_VERSION, type AuditRun } from './json-report.js';
import type { AuditSummary } from './summary.js';
import { duplicateJsonKey, formatJsonPath } from '../util/json-scan.js';

/** Schema checks for the parts of a report; each returns the problems found (none: valid). */
export interface ReportValidators {
  run(value: unknown): string[];
  summary(value: unknown): string[];
  result(value: unknown): string[];
}

/** One result line's cap, as the state file's (a result is ~27 KB; a dense host's a few hundred KB). */
export const MAX_REPORT_LINE_BYTES = 32 * 1024 * 1024;
/** Results per report: ten times the largest fleet we benchmark, per shard. */
export const MAX_REPORT_RESULTS = 1_000_000;
/**
 * Nesting of arrays and objects in one line. A result is about 10 deep; the
 * schema lets check values (expected, actual, details) be any JSON, and a
 * value nested 100,000 deep parses but overflows the stack of everything that
 * walks it afterwards (serializing, rendering).
 */
export const MAX_REPORT_NESTING = 64;

const FIRST_LINE = `{"format":${JSON.stringify(AUDIT_REPORT_FORMAT)},"version":${AUDIT_REPORT_VERSION},`;

// result-or-close: right after "results":[ (an empty report closes at once);
// result: after a result and its comma; close: after the last result
type Stage = 'format' | 'run' | 'summary' | 'results-open' | 'result-or-close' | 'result' | 'close' | 'end';

export interface ReportHeader {
  run: AuditRun;
  summary: AuditSummary;
}

export class AuditReportReader {
  private stage: Stage = 'format';
  private run: AuditRun | undefined;
  private summary: AuditSummary | undefined;
  private count = 0;
  private readonly verdicts = { trusted: 0, 'not-trusted': 0, incomplete: 0 };

  constructor(
    private readonly file: string,
    private readonly validators: ReportValidators,
  ) {}

  /**
   * Feeds the next line (without its newline; `lineNo` from 1). Returns the
   * header once the run and summary are read, a result for each result line,
   * and undefined otherwise.
   */
  line(raw: string, lineNo: number): { header: ReportHeader } | { result: AttestationResult } | undefined {
    // a report that went through a CRLF tool reads the same
    const text = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    switch (this.stage) {
      case 'format':
        if (text !== FIRST_LINE) {
          const hint = text.trimStart().startsWith('{') ? ` (not ${JSON.stringify(FIRST_LINE)}: not an audit report of version ${AUDIT_REPORT_VERSION} as \`audit --json FILE\` writes it, one result per line; a reformatted report, by jq for example, is not read)` : '';
          throw this.invalid(lineNo, `does not start as an audit JSON report${hint}`);
        }
        this.stage = 'run';
        return undefined;
      case 'run': {
        const run = this.member(text, lineNo, 'run', this.validators.run) as AuditRun;
        // the schema's pattern lets 2026-02-30T99:00:00Z through: the merge orders and shows these times
        const times: [string, string][] = [
          ['run.startedAt', run.startedAt],
          ['run.finishedAt', run.finishedAt],
          ...(run.merged?.reports ?? []).flatMap((r, i): [string, string][] => [
            [`run.merged.reports[${i}].startedAt`, r.startedAt],
            [`run.merged.reports[${i}].finishedAt`, r.finishedAt],
          ]),
        ];
        for (const [field, time] of times) {
          if (!isRealTime(time)) throw this.invalid(lineNo, `its ${field} ${JSON.stringify(time)} is not a real date and time`, { check: field });
        }
        this.run = run;
        this.stage = 'summary';
        return undefined;
      }
      case 'summary':
        this.summary = this.member(text, lineNo, 'summary', this.validators.summary) as AuditSummary;
        this.stage = 'results-open';
        return { header: { run: this.run!, summary: this.summary } };
      case 'results-open':
        if (text !== '"results":[') throw this.invalid(lineNo, 'expected "results":[ after the summary');
        this.stage = 'result-or-close';
        return undefined;
      case 'result-or-close':
        if (text === ']}') {
          this.stage = 'end';
          return undefined;
        }
        return this.resultLine(text, lineNo);
      case 'result':
        return this.resultLine(text, lineNo);
      case 'close':
        if (text !== ']}') throw this.invalid(lineNo, 'expected ]} after the last result (a result line not followed by a comma)');
        this.stage = 'end';
        return undefined;
      case 'end':
        throw this.invalid(lineNo, 'data after the end of the report');
    }
  }

  /** Checks that the report ended where it should, and that its summary counts its results. */
  end(lines: number): ReportHeader & { results: number } {
    if (this.stage !== 'end') throw this.invalid(lines + 1, 'the report is truncated: it ends before its closing ]}');
    const s = this.summary!;
    const held = this.verdicts;
    if (s.total !== this.count || s.trusted !== held.trusted || s.notTrusted !== held['not-trusted'] || s.unreachable !== held.incomplete) {
      throw new ParseError(
        'REPORT_INVALID',
        `${this.file}: its summary counts ${s.total} VM(s) (${s.trusted} trusted, ${s.notTrusted} not trusted, ${s.unreachable} unreachable) but it holds ${this.count} result(s) (${held.trusted} trusted, ${held['not-trusted']} not trusted, ${held.incomplete} unreachable)`,
        {
          file: this.file,
          check: 'summary',
          expected: { total: this.count, trusted: held.trusted, notTrusted: held['not-trusted'], unreachable: held.incomplete },
          actual: { total: s.total, trusted: s.trusted, notTrusted: s.notTrusted, unreachable: s.unreachable },
        },
      );
    }
    // the audit exits 1 exactly when a VM is not trusted: a run that says 1 over results that are all
    // trusted or unreachable lost the result that failed (taken out, the summary recounted to match)
    if (this.run!.exitCode === 1 && held['not-trusted'] === 0) {
      throw new ParseError('REPORT_INVALID', `${this.file}: its run exited 1 (a VM not trusted), but none of its ${this.count} result(s) is not trusted: a result was taken out`, {
        file: this.file,
        check: 'run.exitCode',
        expected: 'a not-trusted result',
        actual: { exitCode: 1, notTrusted: 0 },
      });
    }
    return { run: this.run!, summary: s, results: this.count };
  }

  private resultLine(text: string, lineNo: number): { result: AttestationResult } {
    if (this.count >= MAX_REPORT_RESULTS) throw this.invalid(lineNo, `more than ${MAX_REPORT_RESULTS} results`);
    // every result but the last is followed by a comma
    const more = text.endsWith(',');
    const value = this.parse(more ? text.slice(0, -1) : text, lineNo, 'a result');
    const problems = this.validators.result(value);
    if (problems.length) throw this.invalid(lineNo, `result ${this.count + 1} does not match the report schema: ${problems.slice(0, 3).join('; ')}`, { problems: problems.slice(0, 10) });
    const result = value as AttestationResult;
    const contradiction = verdictContradiction(result);
    if (contradiction) throw this.invalid(lineNo, `result ${this.count + 1} (${JSON.stringify(result.name ?? result.target)}) says ${result.verdict}, but ${contradiction}: not a verdict the audit gives those parts (edited?)`, { check: 'result.verdict', vm: result.name ?? result.target, verdict: result.verdict });
    this.count++;
    this.verdicts[result.verdict]++;
    this.stage = more ? 'result' : 'close';
    return { result };
  }

  /** A header line: `"key":{...},` */
  private member(text: string, lineNo: number, key: string, validate: (v: unknown) => string[]): unknown {
    const prefix = `"${key}":`;
    if (!text.startsWith(prefix) || !text.endsWith(',')) throw this.invalid(lineNo, `expected the report's ${key} (${prefix}{...},)`);
    const value = this.parse(text.slice(prefix.length, -1), lineNo, `the ${key}`);
    const problems = validate(value);
    if (problems.length) throw this.invalid(lineNo, `the ${key} does not match the report schema: ${problems.slice(0, 3).join('; ')}`, { problems: problems.slice(0, 10) });
    return value;
  }

  private parse(text: string, lineNo: number, what: string): unknown {
    if (nestingOver(text, MAX_REPORT_NESTING)) throw this.invalid(lineNo, `${what} nests arrays and objects more than ${MAX_REPORT_NESTING} deep`);
    let value: unknown;
    try {
      value = JSON.parse(text) as unknown;
    } catch (err) {
      throw this.invalid(lineNo, `${what} is not valid JSON: ${(err as Error).message}`);
    }
    const duplicate = duplicateJsonKey(text, value);
    if (duplicate) throw this.invalid(lineNo, `${what} repeats a key (${formatJsonPath(duplicate)}): JSON keeps only the last value`);
    return value;
  }

  private invalid(lineNo: number, message: string, extra: Record<string, unknown> = {}): ParseError {
    return new ParseError('REPORT_INVALID', `${this.file}:${lineNo}: ${message}`, { file: this.file, line: lineNo, ...extra });
  }
}

/**
 * Why a result's verdict is more trusted than its own parts allow (undefined: it is not).
 * The walker decides the verdict from the layers and chain rules it records: any layer
 * not trusted, or a failing check or rule of a layer that answered, or a failing chain
 * rule makes it not-trusted; otherwise an unreachable (or never reached) layer makes it
 * incomplete; only a result with layers, all trusted, and no error is trusted. A report
 * whose result says trusted beside a failing check would make the merged fleet more
 * trusted than the shard's own evidence (and its HTML a trusted card with a failure).
 * A verdict less trusted than its parts is left alone: it can only make the fleet worse.
 */
export function verdictContradiction(r: AttestationResult): string | undefined {
  if (r.verdict === 'not-trusted') return undefined;
  for (const l of r.layers) {
    if (l.status === 'not-trusted') return `its layer ${l.position} is not-trusted`;
    // an unreachable layer records its failed fetch as a failing check: that is what made it unreachable
    if (l.status === 'unreachable') continue;
    const check = l.checks.find((c) => c.status === 'fail');
    if (check) return `its layer ${l.position} has the failing check ${check.id}`;
    const rule = l.rules.find((x) => x.status === 'fail');
    if (rule) return `its layer ${l.position} has the failing rule ${rule.id}`;
  }
  const chainRule = r.chain.find((x) => x.status === 'fail');
  if (chainRule) return `it has the failing chain rule ${chainRule.id}`;
  if (r.verdict === 'incomplete') return undefined;
  const open = r.layers.find((l) => l.status !== 'trusted');
  if (open) return `its layer ${open.position} is ${open.status}`;
  if (r.layers.length === 0) return 'it has no layer';
  if (r.error) return `it records the error ${r.error.code}`;
  return undefined;
}


/** Whether a time the schema's pattern accepts (YYYY-MM-DDTHH:MM:SS[.f](Z|±HH:MM)) names a real date, clock time and offset. */
function isRealTime(text: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))$/.exec(text);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  if (m[7] !== undefined && (Number(m[7]) > 23 || Number(m[8]) > 59)) return false;
  return !Number.isNaN(utcTime(year, month, day, hour, minute, second));
}
