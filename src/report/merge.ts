// Merging the JSON reports of one fleet audit run as shards (`audit --shard
// I/N` on N machines) into one fleet report (`vtpm-verify report`). Pure: the
// caller reads the files and feeds each report's run, then its results.
//
// What makes a set of reports one audit: the same inventory, every report a
// shard of the same N (or a single unsharded report), no shard twice, no VM
// twice, and every VM in the shard its report claims (rendezvous hashing of
// its name is deterministic, so a VM elsewhere means a mislabelled or edited
// file). What the reports do not cover is said, not guessed: missing shards,
// interrupted shards' VMs that were never started, and, when the inventory is
// given, exactly which of its VMs have no result.

import { posix } from 'node:path';
import { MAX_SHARDS, shardOf, type Shard } from '../audit/shard.js';
import { ParseError } from '../errors.js';
import type { AttestationResult } from '../verify/result.js';
import type { AuditRun } from './json-report.js';

/** One merged report, as the merged report's run lists it. */
export interface MergedReport {
  file: string;
  shard?: Shard;
  /** its run's label (audit --run-label) */
  label?: string;
  /** its run's configuration digest (AuditRun.config) */
  config?: { sha256: string };
  hostname?: string;
  startedAt: string;
  finishedAt: string;
  exitCode?: 0 | 1 | 2 | 3;
  interrupted?: { signal: string; notStarted: number };
  /** results the report holds */
  results: number;
}

/** What a merged report's run says about its sources and the fleet's coverage (AuditRun.merged). */
export interface MergedFrom {
  reports: MergedReport[];
  /** shards of N with no report */
  missingShards?: number[];
  /** with the inventory: its VMs with no result (names: the first 100, inventory order) */
  missingVms?: { count: number; names: string[] };
}

/** A VM of the inventory, for ordering and for naming what is missing. */
export interface MergeInventoryVm {
  key: string;
  index: number;
}

/** How many missing VMs the report names (the count covers all). */
export const MISSING_NAMES_LISTED = 100;
/** Missing shards named in words (the report's list has them all). */
const SHARDS_LISTED = 20;

export class ReportMerger {
  private readonly reports: (MergedReport & { inventory: string | null })[] = [];
  private shardCount: number | undefined;
  private readonly seen = new Map<string, string>();
  private readonly position: Map<string, number> | undefined;
  private readonly inventoryVms: readonly MergeInventoryVm[] | undefined;
  private next = 0;
  /** the merge a merged report read alone carries over */
  private carried: MergedFrom | undefined;
  /** the reports' own run warnings, each shard's prefixed with its file (a merged report's as they are) */
  private readonly warnings: string[] = [];

  private readonly requiredLabel: string | undefined;

  /**
   * `inventory`: the fleet's VMs, when known: results are then ordered as it lists them, and what is missing is named.
   * `label`: the run label every report must carry (report --run-label); without it, the reports' labels must still agree.
   */
  constructor(inventory?: { file: string; vms: readonly MergeInventoryVm[] }, label?: string) {
    this.inventoryVms = inventory?.vms;
    this.position = inventory ? new Map(inventory.vms.map((v) => [v.key, v.index])) : undefined;
    this.requiredLabel = label;
  }

  /** Adds a report by its run, before its results; refuses one that does not belong with those before it. */
  addReport(file: string, run: AuditRun): void {
    const first = this.reports[0];
    const inventory = run.inventory ?? null;
    // A report merged before is read again only alone (to render it again): its
    // sources and what they left out carry over, so a partial fleet stays partial.
    if (run.merged || this.carried) {
      if (first) {
        const merged = run.merged ? file : first.file;
        throw mismatch(`${merged} is a merged report: it is read alone, not merged again with ${merged === file ? first.file : file} (merge the shard reports it came from instead)`, { file, check: 'run.merged' });
      }
      if (run.merged) checkCarried(file, run);
      this.carried = run.merged;
    }
    for (const w of run.warnings ?? []) this.warnings.push(run.merged ? w : `${file}: ${w}`);
    // A shard's report left from an earlier run (its pod did not run this time) carries that run's label
    if (this.requiredLabel !== undefined && run.label !== this.requiredLabel) {
      throw mismatch(`${file} ${describeLabel(run.label)}, not ${JSON.stringify(this.requiredLabel)} (--run-label): a report of another run`, { file, check: 'run.label', expected: this.requiredLabel, actual: run.label ?? null });
    }
    if (first && first.label !== run.label) {
      throw mismatch(`${file} ${describeLabel(run.label)}, ${first.file} ${describeLabel(first.label)}: the shards of one audit share their run label (one is from another run)`, { file, check: 'run.label', expected: first.label ?? null, actual: run.label ?? null });
    }
    // Shards judged by different rules (another policy or trust store on one machine, an inventory edited
    // between two shards' starts, another version) do not make one audit: merged, some VMs were judged more
    // leniently than the report says. Reports written before the digest existed are not compared.
    const otherConfig = run.config && this.reports.find((r) => r.config !== undefined && r.config.sha256 !== run.config!.sha256);
    if (otherConfig) {
      throw mismatch(
        `${file} and ${otherConfig.file} were audited with different configurations (the tool's version, the inventory's text, --max-depth, a policy file, or the trust anchors or intermediates differ): the shards of one audit are judged by the same rules`,
        { file, check: 'run.config', expected: otherConfig.config!.sha256, actual: run.config!.sha256 },
      );
    }
    if (run.shard && run.shard.count > MAX_SHARDS) throw new ParseError('REPORT_INVALID', `${file} claims shard ${run.shard.index} of ${run.shard.count}: at most ${MAX_SHARDS} shards`, { file, check: 'run.shard.count', actual: run.shard.count, max: MAX_SHARDS });
    if (first && !sameInventory(first.inventory, inventory)) {
      throw mismatch(`${file} audited the inventory ${describeInventory(inventory)}, ${first.file} ${describeInventory(first.inventory)}: only shards of one inventory merge`, { file, check: 'run.inventory', expected: first.inventory, actual: inventory });
    }
    if (first && (first.shard === undefined) !== (run.shard === undefined)) {
      throw mismatch(`${file} is ${run.shard ? `shard ${run.shard.index}/${run.shard.count}` : 'a whole-inventory audit'} and ${first.file} is ${first.shard ? `shard ${first.shard.index}/${first.shard.count}` : 'a whole-inventory audit'}: merge the shards of one sharded audit, or read one whole report alone`, { file, check: 'run.shard' });
    }
    if (first && !run.shard) {
      throw mismatch(`${file} and ${first.file} both audited the whole inventory: their VMs would be counted twice`, { file, check: 'run.shard' });
    }
    if (run.shard) {
      if (run.shard.index >= run.shard.count) throw mismatch(`${file} claims shard ${run.shard.index} of ${run.shard.count}`, { file, check: 'run.shard' });
      if (this.shardCount !== undefined && run.shard.count !== this.shardCount) {
        throw mismatch(`${file} is a shard of ${run.shard.count}, ${first!.file} of ${this.shardCount}: shards of one audit share their N`, { file, check: 'run.shard.count', expected: this.shardCount, actual: run.shard.count });
      }
      const twice = this.reports.find((r) => r.shard?.index === run.shard!.index);
      if (twice) throw mismatch(`${file} and ${twice.file} are both shard ${run.shard.index}/${run.shard.count}`, { file, check: 'run.shard.index', actual: run.shard.index });
      this.shardCount = run.shard.count;
    }
    this.reports.push({
      file,
      inventory,
      ...(run.shard ? { shard: { index: run.shard.index, count: run.shard.count } } : {}),
      ...(run.label !== undefined ? { label: run.label } : {}),
      ...(run.config !== undefined ? { config: { sha256: run.config.sha256 } } : {}),
      ...(run.hostname !== undefined ? { hostname: run.hostname } : {}),
      startedAt: run.startedAt,
      finishedAt: run.finishedAt,
      ...(run.exitCode !== undefined ? { exitCode: run.exitCode } : {}),
      ...(run.interrupted ? { interrupted: { ...run.interrupted } } : {}),
      results: 0,
    });
  }

  /** The warnings the reports' runs carry (see AuditRun.warnings). */
  carriedWarnings(): readonly string[] {
    return this.warnings;
  }

  /** Whether the one report read is a merged report read again: its warnings already say what a merge warns about. */
  get rereading(): boolean {
    return this.carried !== undefined;
  }

  /** Adds a result of the report added last; returns its position in the merged report's order. */
  addResult(result: AttestationResult): number {
    const report = this.reports[this.reports.length - 1];
    if (!report) throw new ParseError('REPORT_INVALID', 'a result before any report', {});
    const key = result.name ?? result.target;
    const other = this.seen.get(key);
    if (other !== undefined) {
      throw mismatch(`the VM ${JSON.stringify(key)} is in ${other === report.file ? `${report.file} twice` : `both ${other} and ${report.file}`}`, { file: report.file, check: 'vm', actual: key });
    }
    if (report.shard && shardOf(key, report.shard.count) !== report.shard.index) {
      throw mismatch(`${report.file} is labelled shard ${report.shard.index}/${report.shard.count}, but the VM ${JSON.stringify(key)} belongs to shard ${shardOf(key, report.shard.count)}/${report.shard.count}: the file's shard or the VM's name was changed`, {
        file: report.file,
        check: 'vm.shard',
        vm: key,
        expected: report.shard.index,
        actual: shardOf(key, report.shard.count),
      });
    }
    let index = this.next++;
    if (this.position) {
      const at = this.position.get(key);
      if (at === undefined) throw mismatch(`the VM ${JSON.stringify(key)} of ${report.file} is not in the inventory`, { file: report.file, check: 'vm.inventory', actual: key });
      index = at;
    }
    this.seen.set(key, report.file);
    report.results++;
    return index;
  }

  /** The merged run (its exitCode is the caller's), and whether the reports cover the whole fleet. */
  finish(tool: AuditRun['tool']): { run: AuditRun; complete: boolean } {
    if (this.reports.length === 0) throw new ParseError('REPORT_INVALID', 'no report to merge', {});
    if (this.carried) {
      // each VM of the merged reports once: the results they held are the results this one holds
      const held = this.carried.reports.reduce((n, r) => n + r.results, 0);
      const read = this.reports[0]!;
      if (held !== read.results) {
        throw carriedInvalid(read.file, 'run.merged.reports.results', `its run.merged.reports hold ${held} result(s) in all, but it holds ${read.results}: a result was taken out or added`, { expected: held, actual: read.results });
      }
    }
    const from: MergedFrom = this.carried ? { reports: this.carried.reports.map((r) => ({ ...r })) } : { reports: this.reports.map(({ inventory: _inventory, ...r }) => r) };
    if (this.carried?.missingShards) from.missingShards = [...this.carried.missingShards];
    if (this.carried?.missingVms) from.missingVms = { count: this.carried.missingVms.count, names: [...this.carried.missingVms.names] };
    if (this.shardCount !== undefined) {
      const present = new Set(this.reports.map((r) => r.shard!.index));
      const missing = Array.from({ length: this.shardCount }, (_, i) => i).filter((i) => !present.has(i));
      if (missing.length) from.missingShards = missing;
    }
    if (this.inventoryVms) {
      delete from.missingVms; // what this inventory lacks, from the results themselves
      const absent = this.inventoryVms.filter((v) => !this.seen.has(v.key));
      if (absent.length) from.missingVms = { count: absent.length, names: absent.slice(0, MISSING_NAMES_LISTED).map((v) => v.key) };
    }
    const interrupted = this.reports.filter((r) => r.interrupted);
    // a shard stopped after it had started every VM still covers them all
    const complete = !from.missingShards && !from.missingVms && interrupted.every((r) => r.interrupted!.notStarted === 0);
    const times = (pick: (r: MergedReport) => string) => this.reports.map(pick).sort((a, b) => Date.parse(a) - Date.parse(b));
    const first = this.reports[0]!;
    const run: AuditRun = {
      tool,
      startedAt: times((r) => r.startedAt)[0]!,
      finishedAt: times((r) => r.finishedAt)[this.reports.length - 1]!,
      ...(first.inventory !== null ? { inventory: first.inventory } : {}),
      ...(this.reports.length === 1 && first.shard ? { shard: first.shard } : {}),
      ...(first.label !== undefined ? { label: first.label } : {}),
      ...(first.config !== undefined && this.reports.every((r) => r.config?.sha256 === first.config!.sha256) ? { config: { sha256: first.config.sha256 } } : {}),
      ...(this.reports.length === 1 && first.hostname !== undefined ? { hostname: first.hostname } : {}),
      ...(interrupted.length ? { interrupted: { signal: signalsOf(interrupted), notStarted: interrupted.reduce((n, r) => n + r.interrupted!.notStarted, 0) } } : {}),
      merged: from,
    };
    return { run, complete };
  }
}

/**
 * A merged report read alone says what it lacked; what it says must agree with the reports it lists, or an
 * edit (a missingShards taken out, an interrupted shard's run.interrupted dropped) would make a partial
 * fleet read as a whole one. The shards it lists are of one N, each once, and those of N it does not list
 * are its missingShards; the VMs its interrupted shards never started are its run's.
 */
function checkCarried(file: string, run: AuditRun): void {
  const merged = run.merged!;
  const shards = merged.reports.flatMap((r) => (r.shard ? [r.shard] : []));
  if (shards.length > 0) {
    const count = shards[0]!.count;
    if (shards.length !== merged.reports.length || shards.some((sh) => sh.count !== count)) {
      throw carriedInvalid(file, 'run.merged.reports.shard', 'its run.merged.reports are not the shards of one N');
    }
    if (count > MAX_SHARDS || shards.some((sh) => sh.index >= count)) throw carriedInvalid(file, 'run.merged.reports.shard', `its run.merged.reports name a shard beyond ${Math.min(count, MAX_SHARDS)}`);
    const present = new Set(shards.map((sh) => sh.index));
    if (present.size !== shards.length) throw carriedInvalid(file, 'run.merged.reports.shard', 'its run.merged.reports list a shard twice');
    const lacking = Array.from({ length: count }, (_, i) => i).filter((i) => !present.has(i));
    const said = [...(merged.missingShards ?? [])].sort((a, b) => a - b);
    if (lacking.join(',') !== said.join(',')) {
      throw carriedInvalid(file, 'run.merged.missingShards', `its run.merged.reports lack shard(s) ${lacking.join(', ') || 'none'} of ${count}, but its missingShards says ${said.join(', ') || 'none'}`, { expected: lacking, actual: said });
    }
    if (run.shard && (shards.length !== 1 || run.shard.index !== shards[0]!.index || run.shard.count !== count)) {
      throw carriedInvalid(file, 'run.shard', `its run.shard is not the one shard its run.merged.reports list`);
    }
  } else if (merged.missingShards) {
    throw carriedInvalid(file, 'run.merged.missingShards', 'its run.merged.reports are not shards, yet it names missing shards');
  }
  if (merged.reports.some((r) => r.label !== run.label)) {
    throw carriedInvalid(file, 'run.label', `its run.merged.reports do not all have its run label ${run.label === undefined ? '(none)' : JSON.stringify(run.label)}`);
  }
  const notStarted = merged.reports.reduce((n, r) => n + (r.interrupted?.notStarted ?? 0), 0);
  const interrupted = merged.reports.some((r) => r.interrupted);
  if (interrupted !== (run.interrupted !== undefined) || notStarted !== (run.interrupted?.notStarted ?? 0)) {
    throw carriedInvalid(file, 'run.interrupted', `its run.merged.reports leave ${notStarted} VM(s) not started, but its run.interrupted says ${run.interrupted ? run.interrupted.notStarted : 'none'}`, { expected: notStarted, actual: run.interrupted?.notStarted ?? null });
  }
}

function carriedInvalid(file: string, check: string, why: string, extra: Record<string, unknown> = {}): ParseError {
  return new ParseError('REPORT_INVALID', `${file} is a merged report that contradicts itself: ${why}`, { file, check, ...extra });
}

/** Shards without a run label that started further apart than this are probably not of one run. */
export const UNLABELLED_SPREAD_WARN_MS = 12 * 3600_000;

/**
 * A warning when shards without run labels started so far apart that one is
 * probably left from an earlier run (a pod that did not run this time): only
 * labels (audit --run-label) tell runs apart for sure, so this is said, not refused.
 */
export function unlabelledSpreadWarning(merged: MergedFrom): string | undefined {
  const reports = merged.reports;
  if (reports.length < 2 || reports.some((r) => r.label !== undefined)) return undefined;
  const starts = reports.map((r) => ({ file: r.file, at: Date.parse(r.startedAt) })).sort((a, b) => a.at - b.at);
  const first = starts[0]!;
  const last = starts[starts.length - 1]!;
  if (!(last.at - first.at > UNLABELLED_SPREAD_WARN_MS)) return undefined;
  const hours = Math.round((last.at - first.at) / 3600_000);
  return `the shard reports started ${hours} h apart (${first.file} first, ${last.file} last): one may be left from an earlier run; give the shards a run label (audit --run-label) so that report can tell`;
}

/**
 * What a run's results leave out of the fleet, in words (empty: nothing): the shards and VMs merged
 * reports lack, and the VMs an interrupted audit (or shard) never started. An audit's own JUnit and
 * HTML reports say so as `report` rendering its JSON report again does.
 */
export function coverageGaps(run: AuditRun): string[] {
  const merged = run.merged;
  const gaps: string[] = [];
  if (merged) {
    const count = merged.reports[0]?.shard?.count;
    const missing = merged.missingShards;
    if (missing) {
      const listed = missing.length > SHARDS_LISTED ? `${missing.slice(0, SHARDS_LISTED).join(', ')} and ${missing.length - SHARDS_LISTED} more` : missing.join(', ');
      gaps.push(`no report for shard${missing.length === 1 ? '' : 's'} ${listed} of ${count}`);
    }
    if (merged.missingVms) gaps.push(`${merged.missingVms.count} VM(s) of the inventory have no result`);
  }
  if (run.interrupted && run.interrupted.notStarted > 0) gaps.push(`interrupted (${run.interrupted.signal}) with ${run.interrupted.notStarted} VM(s) not started`);
  return gaps;
}

/** Which reports were merged, in words: "4 reports, shards 0, 1, 2, 3 of 4". */
export function mergedSources(merged: MergedFrom): string {
  const shards = merged.reports.flatMap((m) => (m.shard ? [m.shard] : []));
  const which = shards.length ? `, shard${shards.length === 1 ? '' : 's'} ${shards.map((s) => s.index).sort((a, b) => a - b).join(', ')} of ${shards[0]!.count}` : '';
  return `${merged.reports.length} report${merged.reports.length === 1 ? '' : 's'}${which}`;
}

/** The signals that stopped shards, as one short text ("SIGTERM,SIGINT"). */
function signalsOf(reports: readonly MergedReport[]): string {
  const signals = [...new Set(reports.map((r) => r.interrupted!.signal))];
  const text = signals.join(',');
  return text.length <= 64 ? text : `${signals.length} different signals`;
}

/**
 * Whether two reports name one inventory file. Each names it as its audit was given it: `fleet.yaml` and
 * `./fleet.yaml` (or `config/../fleet.yaml`) are one file to two shells in one folder, and were refused as
 * two inventories. Only the spelling is normalized: the same relative name from other folders, or an
 * absolute path beside a relative one, cannot be told apart from here.
 */
function sameInventory(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  return a === b || posix.normalize(a) === posix.normalize(b);
}

function describeLabel(label: string | undefined): string {
  return label === undefined ? 'has no run label' : `has the run label ${JSON.stringify(label)}`;
}

function describeInventory(inventory: string | null): string {
  return inventory === null ? '(none named)' : JSON.stringify(inventory);
}

function mismatch(message: string, details: Record<string, unknown>): ParseError {
  return new ParseError('REPORT_MISMATCH', message, details);
}
