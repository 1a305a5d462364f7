// vtpm-verify audit INVENTORY: attests every VM of an inventory (or of one
// shard of it) down through its layers and reports: a summary table, the
// JSON / JUnit / HTML report files, the state file's history, an exit code
// for cron and CI. The work is in src/audit (inventory, shards, the runner);
// this is the edge: files, the terminal, the state file.

import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { EXIT_CODES, TransportError, UsageError, VtpmError, type ExitCode } from '../../errors.js';
import type { AuditTarget } from '../../audit/run.js';
import { checkRunLabel, runWarnings, type AuditRun } from '../../report/json-report.js';
import { renderSummary, type AuditSummary } from '../../report/summary.js';
import { changeMark, terminalSafe } from '../../report/format.js';
import { FAILURES_SHOWN, failureOf, renderFailures, type AuditFailure } from '../../report/failures.js';
import type { AttestationResult } from '../../verify/result.js';
import { appendWarnings, type CommandOutcome, type Style } from '../output.js';
import { boundResult } from '../../report/bound-result.js';
import type { AuditDefaults } from '../audit-setup.js';
import type { ReportFiles, ReportWriteFailure } from '../audit-reports.js';
import type { AuditRunSummary } from '../../state/store.js';
import { changeCountParts, changesByKind } from '../../state/run-changes.js';
import { invalidDocumentOutcome } from '../policy-file.js';
import { VERSION } from '../version.js';
import { tuneV8ForAudit } from '../v8-tuning.js';
import { realFilePath } from '../../util/files.js';

export interface AuditOptions extends AuditDefaults {
  inventory: string;
  concurrency?: number | undefined;
  /** a state file ('' = the default location); absent: no state */
  state?: string | undefined;
  /** with state: after the audit, delete results and readings older than this age (as `prune --older-than`) */
  keepHistory?: string | undefined;
  reports: ReportFiles;
  /** "I/N" */
  shard?: string | undefined;
  /** --run-label: kept in the JSON report's run, so `report` can tell the shards of one run (RUN_LABEL_RE) */
  runLabel?: string | undefined;
  unreachableOk: boolean;
  retries: number;
  /** base backoff before the first retry (tests shorten it) */
  retryDelayMs?: number | undefined;
  /** the --json envelope on stdout */
  json: boolean;
  verbose: boolean;
}

export type { AuditFailure } from '../../report/failures.js';

export interface AuditCommandResult {
  run: AuditRun;
  summary: AuditSummary;
  exitCode: ExitCode;
  reports: ReportFiles;
  /** pruned: what --keep-history deleted after the audit; pruneError: why it could not (the audit's results stand) */
  /**
   * runId: this audit's run in the state file (`history --runs`, `history --run ID`);
   * since: what changed since the previous finished run of the same inventory and shard (null: none)
   */
  state: { file: string; stored: number; runId: number; since: AuditRunSummary['since']; pruned?: { before: string; results: number; readings: number; runs: number }; pruneError?: { code: string; message: string } } | null;
  stats: { selected: number; inventory: number; profiles: number; attempts: number; retried: number };
  /** every VM not trusted or unreachable, in inventory order */
  failures: AuditFailure[];
  /** reports that could not be written (the others were) */
  reportErrors?: ReportWriteFailure[];
  /**
   * VMs whose result does not say what a later VM's refusal showed (AUDIT_DUPLICATE_INSTANCE): they are in doubt too;
   * then the report files this run did not write that were removed from their paths (withReportGuard)
   */
  warnings?: string[];
}

export async function runAuditCommand(opts: AuditOptions): Promise<CommandOutcome> {
  // before any of the audit's hot code is compiled (see v8-tuning.ts)
  tuneV8ForAudit();
  const { parseShard } = await import('../../audit/shard.js');
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  checkRunLabel(opts.runLabel);
  if (opts.reports.json === undefined && opts.reports.junit === undefined && opts.reports.html === undefined) return auditInventory(opts, shard, new Set());
  const [{ checkReportPaths, withReportGuard }, { resolveStatePath }] = await Promise.all([import('../audit-reports.js'), import('../../state/paths.js')]);
  checkReportPaths(opts.reports, [
    { path: opts.inventory, what: 'the inventory' },
    ...(opts.state !== undefined ? stateFiles(resolveStatePath(opts.state === '' ? undefined : opts.state)) : []),
  ]);
  // from here on, a report file that exists at the end is this run's (an error removes an earlier one, and says so in the envelope too)
  return withReportGuard(opts.reports, (written) => auditInventory(opts, shard, written));
}

async function auditInventory(opts: AuditOptions, shard: { index: number; count: number } | undefined, written: Set<keyof ReportFiles>): Promise<CommandOutcome> {
  const [{ readInputText }, inv, { selectShard }, { ValidationCache }] = await Promise.all([
    import('../../util/files.js'),
    import('../../audit/inventory.js'),
    import('../../audit/shard.js'),
    import('../../x509/cache.js'),
  ]);
  if (opts.keepHistory !== undefined) {
    if (opts.state === undefined) throw new UsageError('USAGE', '--keep-history needs --state: it prunes the state file', { option: 'keep-history' });
    (await import('./prune.js')).pruneCutoff(opts.keepHistory, 'keep-history', Date.now()); // a bad age fails before the audit, not after it
  }
  const text = readInputText(opts.inventory, 'inventory', inv.MAX_INVENTORY_TEXT);
  let parsed: ReturnType<typeof inv.parseInventory> | undefined = inv.parseInventory(text, opts.inventory);
  if (!parsed.inventory) return invalidDocumentOutcome(inv.inventoryInvalid(opts.inventory, parsed.issues));
  const inventory = parsed.inventory;
  const selected = selectShard(inventory.vms, shard);

  // Parsed certificates (~7 KB each) and verified links, shared by every VM
  // and profile; bounded so that the fleet's AK certificates, each needed
  // once, do not pile up: the lower layers' certificates, used again and
  // again, stay (least recently used goes first).
  const cache = new ValidationCache({ maxEntries: 2048 });
  const { setupAudit } = await import('../audit-setup.js');
  let setup: ReturnType<typeof setupAudit>;
  try {
    setup = setupAudit(inventory, selected, opts, cache, parsed.locate, (issues) => inv.inventoryInvalid(opts.inventory, issues));
  } catch (err) {
    // the inventory, or a --policy given on the command line, does not load
    if (err instanceof VtpmError && (err.code === 'INVENTORY_INVALID' || err.code === 'POLICY_INVALID')) return invalidDocumentOutcome(err);
    throw err;
  }
  parsed = undefined; // the inventory's YAML tree is no longer needed
  for (const w of setup.warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);

  try {
    // the instances the inventory names, all of them (another shard's VM is still the instance's owner)
    const { TopInstanceRegistry } = await import('../../audit/instances.js');
    const instances = new TopInstanceRegistry(inventory.vms);
    // what the shards of one audit must share (report refuses shards that differ): this tool, the inventory as
    // written, and what it and the command line make of every VM's policy and trust anchors
    const configSha256 = createHash('sha256').update(`vtpm-verify ${VERSION}\n${text}\n${setup.config.join('\n')}`).digest('hex');
    return await audit(opts, setup.targets, { inventory: inventory.vms.length, profiles: setup.profiles, shard, cache, instances, written, setupWarnings: setup.warnings, configSha256 });
  } catch (err) {
    // what loading warned about (said on stderr) is in the envelope of a failure without a result too (with one, run.warnings keeps it)
    if (err instanceof VtpmError) appendWarnings(err.details, runWarnings(setup.warnings) ?? []);
    throw err;
  } finally {
    setup.close();
  }
}

async function audit(
  opts: AuditOptions,
  targets: AuditTarget[],
  ctx: {
    inventory: number;
    profiles: number;
    shard: { index: number; count: number } | undefined;
    cache: import('../../x509/cache.js').ValidationCache;
    instances: import('../../audit/instances.js').TopInstanceRegistry;
    /** the reports this run wrote (the others are removed from their paths at the end) */
    written: Set<keyof ReportFiles>;
    /** what setting up the audit warned about (already shown): the reports keep it too */
    setupWarnings: readonly string[];
    /** the run's configuration digest (AuditRun.config) */
    configSha256: string;
  },
): Promise<CommandOutcome> {
  const [{ runAudit }, outcome, { SummaryBuilder }, { VplatformLogCache }, { LogVerificationCache }, { PathValidationMemo }, progressMod] = await Promise.all([
    import('../../audit/run.js'),
    import('../../audit/outcome.js'),
    import('../../report/summary.js'),
    import('../../verify/vplatform-cache.js'),
    import('../../verify/log-cache.js'),
    import('../../x509/path-memo.js'),
    import('../audit-progress.js'),
  ]);
  const concurrency = opts.concurrency ?? outcome.defaultConcurrency();
  const wantsReports = opts.reports.json !== undefined || opts.reports.junit !== undefined || opts.reports.html !== undefined;
  const reportsMod = wantsReports ? await import('../audit-reports.js') : undefined;

  const startedAt = new Date();
  // every result on disk as it comes, for the reports at the end (removed whatever happens);
  // made before the state file's run begins, so a spool that cannot be made leaves no run behind
  const spool = reportsMod ? new reportsMod.ResultSpool(undefined, opts.reports.html !== undefined ? { htmlCards: reportsMod.AUDIT_HTML_CARDS } : {}) : undefined;
  let batcher: import('../../state/batch-thread.js').OffThreadBatcher | undefined;
  let runId: number | undefined;
  /** the progress display's count of results stored (committed on the state thread) */
  let onStored: ((stored: number) => void) | undefined;
  if (opts.state !== undefined) {
    const [{ openState, resolveStatePath }, { OffThreadBatcher }] = await Promise.all([import('../../state/index.js'), import('../../state/batch-thread.js')]);
    const store = await openState(resolveStatePath(opts.state === '' ? undefined : opts.state)).catch((err: unknown) => {
      spool?.close();
      throw err;
    });
    try {
      // the run's row first: history lists runs, with what changed since the previous one (of the
      // same inventory file, by its absolute path: cron and a person in another folder name it alike)
      runId = store.beginAuditRun({
        startedAt: startedAt.getTime(),
        inventory: resolve(opts.inventory),
        shard: ctx.shard ? `${ctx.shard.index}/${ctx.shard.count}` : null,
        planned: targets.length,
        label: opts.runLabel ?? null,
      });
      // the state writes of the walks on a thread of their own (batch-thread.ts)
      batcher = OffThreadBatcher.start(store, { runId, onCommit: (stored) => onStored?.(stored) });
    } catch (err) {
      store.close();
      spool?.close();
      throw err;
    }
  }
  let stopListening: (() => void) | undefined;
  try {
    const progress = await progressMod.startProgress(
      targets.length,
      progressMod.progressMode({ json: opts.json, stdoutTty: process.stdout.isTTY === true, stderrTty: process.stderr.isTTY === true }),
      { state: batcher !== undefined },
    );
    onStored = (stored) => progress.stored(stored);
    const summary = new SummaryBuilder();
    const failures: (AuditFailure & { index: number })[] = [];
    // SIGINT/SIGTERM (a cron job's or Kubernetes' stop): start no more VMs, let
    // those in flight finish (their timeouts bound it), then store and report
    // what was done. A second signal stops at once.
    const stop = new AbortController();
    let stoppedBy: NodeJS.Signals | undefined;
    // once every VM is audited, a signal has nothing left to stop: the run is not interrupted by it (its results
    // are being stored and its reports written, which a second signal still ends at once)
    let allAudited = false;
    let lateSignal: NodeJS.Signals | undefined;
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stoppedBy || lateSignal) process.exit(EXIT_CODES.INCOMPLETE);
      if (allAudited) {
        lateSignal = sig;
        process.stderr.write(`audit: ${sig}: every VM is audited already; storing results and writing reports (${sig} again stops at once)\n`);
        return;
      }
      stoppedBy = sig;
      process.stderr.write(`audit: ${sig}: stopping the VMs in flight (their requests are cancelled: they count as not audited), then storing results and writing reports (${sig} again stops at once)\n`);
      stop.abort();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    stopListening = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    const exitCodeOf = (sum: AuditSummary): ExitCode => {
      const code = outcome.auditExitCode(sum, { unreachableOk: opts.unreachableOk });
      // An interrupted audit did not audit the whole fleet: never "all trusted".
      return stoppedBy && code === EXIT_CODES.OK ? EXIT_CODES.INCOMPLETE : code;
    };
    let stats: Awaited<ReturnType<typeof runAudit>>;
    let pruned: NonNullable<AuditCommandResult['state']>['pruned'];
    let since: AuditRunSummary['since'] = null;
    let pruneError: NonNullable<AuditCommandResult['state']>['pruneError'];
    /** what the state file made the run warn about (printed, and kept in the reports) */
    const stateWarnings: string[] = [];
    try {
      stats = await runAudit(targets, {
        signal: stop.signal,
        concurrency,
        retries: opts.retries,
        ...(opts.retryDelayMs !== undefined ? { retryDelayMs: opts.retryDelayMs } : {}),
        cache: ctx.cache,
        // one slot per platform (VMM, host): ~0.5 KB per log entry, so bounded at ~25 MB (reached only by
        // fleets whose hosts' tables hold that many entries; past it, random eviction keeps a share)
        vplatformCache: new VplatformLogCache({ maxEntries: 50_000 }),
        logCache: new LogVerificationCache(),
        pathMemo: new PathValidationMemo(),
        instances: ctx.instances,
        ...(batcher ? { assess: (t: AuditTarget, a: { time: number }) => batcher.assessor({ target: t.url, time: a.time }) } : {}),
        onResult: (result, target) => {
          summary.add(result);
          if (result.verdict !== 'trusted') failures.push(indexedFailure(result, target));
          // serialized once, for the spool and the state; a result past RESULT_JSON_CAP is cut down first
          const bounded = spool || batcher ? boundResult(result) : undefined;
          // and encoded once: the spool and the state thread take the same UTF-8 bytes
          const utf8 = bounded ? Buffer.from(bounded.json, 'utf8') : undefined;
          spool?.add(bounded!.result, target.index, utf8);
          batcher?.record(bounded!.result, bounded!.json, utf8);
          progress.done(result);
        },
      });
      allAudited = true;
      if (batcher) {
        await batcher.flush();
        progress.stored(batcher.stored);
        const sumNow = summary.summary();
        batcher.store.finishAuditRun(runId!, { finishedAt: Date.now(), exitCode: exitCodeOf(sumNow), interrupted: stoppedBy ?? null, failureCodes: sumNow.failureCodes });
        // what changed since the run before: what a cron job's mail should say first (a read that fails costs the audit nothing)
        try {
          since = batcher.store.auditRun(runId!)?.since ?? null;
        } catch (err) {
          if (!(err instanceof VtpmError)) throw err;
          stateWarnings.push(`could not compare with the previous audit run: ${err.code}: ${err.message}`);
          process.stderr.write(`warning: ${terminalSafe(stateWarnings[stateWarnings.length - 1]!)}\n`);
        }
        // An interrupted audit stores what it did and stops: pruning waits for the next run.
        // A prune that fails (the file busy, the disk full) costs the audit nothing: its
        // results are stored and its verdicts stand; the failure is reported beside them.
        if (opts.keepHistory !== undefined && !stoppedBy) {
          const { pruneCutoff } = await import('./prune.js');
          try {
            // never into this run's own results, however short the age
            const cutoff = Math.min(pruneCutoff(opts.keepHistory, 'keep-history', Date.now()), startedAt.getTime());
            const { before, results, readings, runs } = batcher.store.prune(cutoff);
            pruned = { before, results, readings, runs };
          } catch (err) {
            if (!(err instanceof VtpmError)) throw err;
            pruneError = { code: err.code, message: err.message };
            // the message may quote the state file (a trigger's RAISE text): never raw to the terminal
            stateWarnings.push(`--keep-history: the history was not pruned: ${err.code}: ${err.message}`);
            process.stderr.write(`warning: ${terminalSafe(stateWarnings[stateWarnings.length - 1]!)}\n`);
          }
        }
      }
    } finally {
      progress.stop();
      await batcher?.close();
    }

    const sum = summary.summary();
    let exitCode = exitCodeOf(sum);
    const run: AuditRun = {
      tool: { name: 'vtpm-verify', version: VERSION },
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      inventory: opts.inventory,
      ...(ctx.shard ? { shard: ctx.shard } : {}),
      ...(opts.runLabel !== undefined ? { label: opts.runLabel } : {}),
      config: { sha256: ctx.configSha256 },
      concurrency,
      hostname: hostname(),
      exitCode,
      ...(stoppedBy ? { interrupted: { signal: stoppedBy, notStarted: stats.skipped } } : {}),
      ...(runId !== undefined ? { state: { runId, since } } : {}),
    };
    // A report that cannot be written (a full disk: the paths were checked before the audit)
    // does not hide the verdicts: the others are written, the summary is shown, and the exit
    // code is 3 unless a VM is not trusted (1 wins, as always).
    const warnings = contestedWarnings(ctx.instances.contested());
    const kept = runWarnings([...ctx.setupWarnings, ...stateWarnings, ...warnings]);
    if (kept) run.warnings = kept;
    const reportErrors = reportsMod && spool ? reportsMod.writeReports(opts.reports, run, sum, spool, ctx.written) : [];
    for (const w of warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);
    for (const f of reportErrors) process.stderr.write(`error: ${terminalSafe(f.message)}\n`);
    let error: VtpmError | undefined = stoppedBy
      ? new TransportError('AUDIT_INTERRUPTED', `the audit was stopped by ${stoppedBy}: ${sum.total} of ${targets.length} VMs audited, ${stats.skipped} not started`, { signal: stoppedBy, audited: sum.total, notStarted: stats.skipped })
      : undefined;
    if (reportErrors.length && exitCode !== EXIT_CODES.NOT_TRUSTED) {
      exitCode = EXIT_CODES.INCOMPLETE;
      error ??= new TransportError('IO_ERROR', reportErrors.map((f) => f.message).join('; '), { reports: reportErrors });
    }
    return auditOutcome(
      opts,
      run,
      sum,
      exitCode,
      failures,
      batcher,
      { pruned, pruneError, since },
      { selected: targets.length, inventory: ctx.inventory, profiles: ctx.profiles, attempts: stats.attempts, retried: stats.retried },
      (exitCode === EXIT_CODES.NOT_TRUSTED ? undefined : error) ?? outcome.auditError(sum, exitCode),
      reportErrors,
      warnings,
    );
  } finally {
    // Listened to until the reports are written (synchronously): with no listener, a signal in that window
    // ended the process at once, and an earlier run's report could stay under a name not yet written. One
    // that arrives now finds the reports and the outcome done.
    stopListening?.();
    spool?.close();
  }
}

/** The command outcome: the envelope result, the error that goes with the exit code, the terminal rendering. */
function auditOutcome(
  opts: AuditOptions,
  run: AuditRun,
  sum: AuditSummary,
  exitCode: ExitCode,
  failures: (AuditFailure & { index: number })[],
  batcher: import('../../state/batch-thread.js').OffThreadBatcher | undefined,
  prune: Pick<NonNullable<AuditCommandResult['state']>, 'pruned' | 'pruneError' | 'since'>,
  stats: AuditCommandResult['stats'],
  error: VtpmError | undefined,
  reportErrors: readonly ReportWriteFailure[],
  warnings: readonly string[],
): CommandOutcome {
  failures.sort((a, b) => a.index - b.index);
  const result: AuditCommandResult = {
    run,
    summary: sum,
    exitCode,
    reports: opts.reports,
    state: batcher
      ? { file: batcher.store.path, stored: batcher.stored, runId: batcher.runId!, since: prune.since, ...(prune.pruned ? { pruned: prune.pruned } : {}), ...(prune.pruneError ? { pruneError: prune.pruneError } : {}) }
      : null,
    stats,
    failures: failures.map(({ index: _index, ...f }) => f),
    ...(reportErrors.length ? { reportErrors: [...reportErrors] } : {}),
    ...(warnings.length ? { warnings: [...warnings] } : {}),
  };
  return {
    ok: exitCode === EXIT_CODES.OK,
    exitCode,
    result,
    error,
    human: (style) => renderAudit(result, style, opts.verbose),
  };
}

/** A VM refused for answering with another's key names that VM in its result; the other's own result cannot say it. */
function contestedWarnings(contested: ReturnType<import('../../audit/instances.js').TopInstanceRegistry['contested']>): string[] {
  const out = contested.pairs.map((p) =>
    p.bothPinned
      ? `VM ${p.first} (${p.firstUrl}) answered with the attestation key VM ${p.later} answered with later, and the inventory pins both and both pins verified (AUDIT_DUPLICATE_INSTANCE): one of the two platforms certified the other VM's key under its own VM's instance id and relays it, or the vTPM was cloned, so ${p.first}'s own result is in doubt too (${p.later} is refused, so that the audit fails)`
      : p.firstIsRelay
      ? `VM ${p.first} (${p.firstUrl}) answered with the attestation key of VM ${p.later}, whose instance the inventory names and whose pin verified: ${p.first} most likely relays ${p.later}, and its own result is wrong (${p.later} is refused, AUDIT_DUPLICATE_INSTANCE, so that the audit fails)`
      : `VM ${p.first} (${p.firstUrl}) answered with the attestation key VM ${p.later} answered with later (AUDIT_DUPLICATE_INSTANCE): one of the two URLs relays the other VM, or the vTPM was cloned, so ${p.first}'s own result is in doubt too; give every VM its instanceId in the inventory to tell which`,
  );
  if (contested.more > 0) out.push(`... and ${contested.more} more pairs of VMs answering with one key (the reports' AUDIT_DUPLICATE_INSTANCE results name them)`);
  return out;
}

function indexedFailure(result: AttestationResult, target: AuditTarget): AuditFailure & { index: number } {
  return { index: target.index, ...failureOf(result) };
}

function renderAudit(r: AuditCommandResult, style: Style, verbose: boolean): string {
  const lines: string[] = [renderSummary(r.summary, style)];
  lines.push(...renderFailures(r.failures, style, verbose));
  const since = r.state?.since;
  if (since) {
    const counts = changeCountParts(since);
    lines.push('', style.bold(`Since the previous run (${since.runId}): ${counts.length ? counts.join(', ') : 'no verdict changed'}`));
    const changes = changesByKind(since.changes);
    const shown = verbose ? changes : changes.slice(0, FAILURES_SHOWN);
    for (const c of shown) {
      const mark = changeMark(c, style);
      lines.push(`  ${mark} ${terminalSafe(c.target)}  ${c.before} → ${c.now}`);
    }
    const more = since.worse + since.better + since.other - shown.length;
    if (more > 0) lines.push(style.dim(`  ... and ${more} more (vtpm-verify history --runs --verbose --state ${terminalSafe(r.state!.file)})`));
  }
  const files = Object.entries(r.reports).filter(([, v]) => v !== undefined);
  if (files.length || r.state || r.run.interrupted) lines.push('');
  if (r.run.interrupted) {
    const { signal, notStarted } = r.run.interrupted;
    lines.push(style.warn(`Interrupted by ${terminalSafe(signal)}: ${r.summary.total} of ${r.stats.selected} VMs audited, ${notStarted} not started`));
  }
  const labels: Record<string, string> = { json: 'JSON', junit: 'JUnit', html: 'HTML' };
  for (const [kind, file] of files) {
    const failed = r.reportErrors?.find((f) => f.report === kind);
    lines.push(failed ? style.bad(`${labels[kind] ?? kind} report: not written: ${terminalSafe(failed.message)}`) : `${labels[kind] ?? kind} report: ${terminalSafe(String(file))}`);
  }
  if (r.state) lines.push(`state: ${r.state.stored} result(s) recorded in ${r.state.file} as audit run ${r.state.runId} (vtpm-verify history --runs --state ${r.state.file})`);
  if (r.state?.pruneError) lines.push(`state: not pruned (--keep-history): ${terminalSafe(r.state.pruneError.code)}: ${terminalSafe(r.state.pruneError.message)}`);
  if (r.state?.pruned) {
    const runs = r.state.pruned.runs > 0 ? `, and ${r.state.pruned.runs} audit run(s) left without results` : '';
    lines.push(`state: pruned ${r.state.pruned.results} result(s) and ${r.state.pruned.readings} clock reading(s) recorded before ${r.state.pruned.before}${runs}`);
  }
  const shard = r.run.shard ? `shard ${r.run.shard.index}/${r.run.shard.count}: ${r.stats.selected} of ${r.stats.inventory} VMs, ` : '';
  const ms = Date.parse(r.run.finishedAt) - Date.parse(r.run.startedAt);
  const rate = ms > 0 ? ` (${((r.summary.total * 1000) / ms).toFixed(0)} VMs/s)` : '';
  lines.push(style.dim(`${shard}concurrency ${r.run.concurrency}, ${r.stats.attempts} attempt(s), ${r.stats.retried} VM(s) retried, ${(ms / 1000).toFixed(1)} s${rate}`));
  return lines.join('\n');
}

/** The state file and the files SQLite keeps beside it: a report written over its WAL would lose results not yet checkpointed. */
function stateFiles(path: string): { path: string; what: string }[] {
  // SQLite keeps them beside the file the state file's name resolves to (its links followed)
  return [
    { path, what: 'the state file' },
    ...[...new Set([resolve(path), realFilePath(path)])].flatMap((base) => [
      { path: `${base}-wal`, what: "the state file's write-ahead log" },
      { path: `${base}-shm`, what: "the state file's shared-memory index" },
      { path: `${base}-journal`, what: "the state file's journal" },
    ]),
  ];
}
