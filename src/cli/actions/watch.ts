// vtpm-verify watch URL: attests a VM, then again on every migration
// notification and every --interval, through the state store, printing one
// line per event until SIGINT or SIGTERM. The orchestration is the watcher
// core (src/watch/watcher.ts); here are the real parts it runs on: the
// walker over live HTTP, the state file, the notification stream, timers,
// stdout and the signals.

import { EXIT_CODES, TransportError, UsageError, VtpmError, exitCodeForKind } from '../../errors.js';
import type { Policy } from '../../policy/compile.js';
import type { StateStore } from '../../state/store.js';
import type { EvidenceClient } from '../../transport/evidence-client.js';
import type { MigrationStreamOptions } from '../../transport/migration-stream.js';
import type { AttestationResult, LayerResult } from '../../verify/result.js';
import type { AssessOutcome, EvidenceSource, VerifiedLayer } from '../../verify/walker.js';
import type { WatchLine } from '../../watch/lines.js';
import type { SourceReport } from '../../watch/source-check.js';
import type { AttestInput, AttestReport, HostSnapshot, WatchDeps, WatchSummary } from '../../watch/watcher.js';
import { boundHostAk, DEFAULT_INTERVAL_MS, DEFAULT_NOTIFICATION_GAP_MS } from '../../watch/watcher.js';
import { makeStyle, PLAIN, renderError, stdoutDrained, stdoutWentAway, toJsonText, type CommandOutcome, type Style } from '../output.js';
import { sleepUnlessAborted } from '../../util/sleep.js';
import type { VerifierSetup, VerifierSetupOptions } from '../verifier-setup.js';
import { terminalSafe, terminalSafeJson } from '../../util/terminal-safe.js';
import { checkTargetUrl, evidenceClient, openStateFile, walkOptions, type ClientOptions } from './attest.js';

export interface WatchCliOptions extends VerifierSetupOptions, ClientOptions {
  /** the state file ('' or absent: the default location) */
  state?: string | undefined;
  /** --interval text, e.g. 5m */
  interval?: string | undefined;
  /** --notification-gap text, e.g. 5s */
  notificationGap?: string | undefined;
  exitOnFailure: boolean;
  /** policy for the Migration Controller's own attestation (default: the built-in baseline) */
  controllerPolicy?: string | undefined;
  maxDepth?: number | undefined;
  /** --instance: the vTPM instance expected at the URL (otherwise the one the first attestation shows) */
  instance?: Uint8Array | undefined;
  json: boolean;
  color: boolean;
  verbose: boolean;
}

const INTERVAL_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };
/** Shorter intervals would attest a VM several times a second. */
export const MIN_INTERVAL_MS = 100;
/** Longer than a setTimeout can wait (2^31 - 1 ms, about 24.8 days). */
export const MAX_INTERVAL_MS = 2 ** 31 - 1;

/** --interval (or `option`, which takes the same): a whole number and a unit ms, s, m or h (e.g. 30s, 5m). */
export function parseInterval(text: string, option = 'interval'): number {
  const ms = durationMs(text);
  if (!(ms >= MIN_INTERVAL_MS && ms <= MAX_INTERVAL_MS)) {
    throw new UsageError('USAGE', `--${option}: expected a whole number and a unit ms, s, m or h, from 100ms to 596h (about 24.8 days), such as 30s, 5m or 1h, got "${text}"`, { option, value: text });
  }
  return ms;
}

/** Longer would leave a VM that really moved unattested for over an hour after the notification. */
export const MAX_NOTIFICATION_GAP_MS = 3_600_000;

/** --notification-gap: as --interval, from 0ms (attest at once) to 1h. */
export function parseNotificationGap(text: string): number {
  const ms = durationMs(text);
  if (!(ms >= 0 && ms <= MAX_NOTIFICATION_GAP_MS)) {
    throw new UsageError('USAGE', `--notification-gap: expected a duration from 0ms to 1h such as 5s, got "${text}"`, { option: 'notification-gap', value: text });
  }
  return ms;
}

function durationMs(text: string): number {
  const m = /^(\d{1,10})(ms|s|m|h)$/.exec(text.trim());
  return m ? Number(m[1]) * INTERVAL_UNITS_MS[m[2]!]! : NaN;
}

const sleep = sleepUnlessAborted;

export interface WatchDepsInput {
  /** the VM's evidence endpoint */
  url: string;
  /** trust, the VM's policy, CRLs, the validation cache */
  setup: VerifierSetup;
  /** the Migration Controller's policy (default: the built-in baseline) */
  controllerPolicy?: { policy: Policy; source: { source: string; builtin: boolean } } | undefined;
  client: EvidenceClient;
  store: StateStore;
  maxDepth?: number | undefined;
  /** the vTPM instance expected at `url`: each of the VM's attestations checks it (TARGET_INSTANCE_MISMATCH) */
  instance?: Uint8Array | undefined;
  emit: (line: WatchLine) => void;
  /** the notification stream's backoff, clock and randomness (tests make reconnection immediate) */
  stream?: Pick<MigrationStreamOptions, 'backoff' | 'sleep' | 'random' | 'idleTimeoutMs'> | undefined;
}

/** The real dependencies of the watcher core: live walks through the state store, the notification stream, timers. */
export async function createWatchDeps(input: WatchDepsInput): Promise<WatchDeps> {
  const [{ walk }, { drawTopNonce }, { liveSource }, assessMod, { migrationEvents, eventCursorTime }, { checkSources, sameUri }, { toHex }, { baselinePolicy }] = await Promise.all([
    import('../../verify/walker.js'),
    import('../../verify/nonce-chain.js'),
    import('../../transport/layer-source.js'),
    import('../../state/assess.js'),
    import('../../transport/migration-stream.js'),
    import('../../watch/source-check.js'),
    import('../../util/bytes.js'),
    import('../../policy/baseline.js'),
  ]);
  const { url, store, client, setup, emit } = input;
  const baseline = { policy: baselinePolicy(), source: { source: 'built-in baseline', builtin: true } };
  const controllerPolicy = input.controllerPolicy ?? baseline;

  /** One deep attestation from `target` through the state store; `extra` adds to the state checks before the policy decides. */
  const attestFrom = async (
    target: string,
    policy: { policy: Policy; source: { source: string; builtin: boolean } },
    signal: AbortSignal,
    extra?: (verified: readonly VerifiedLayer[]) => Promise<Partial<AssessOutcome>>,
    expectInstance?: Uint8Array,
  ) => {
    const now = new Date();
    const top = drawTopNonce(now, target);
    // when the walk's evidence arrived: its readings are written only after the source check, which may take long
    let arrived: number | undefined;
    const base = assessMod.stateAssessor(store, { target, time: now.getTime(), receivedAt: () => arrived ?? Date.now() });
    const assess = async (verified: readonly VerifiedLayer[], layers: readonly LayerResult[]): Promise<AssessOutcome> => {
      // A walk cut short by the stop (a source platform's or the controller's too: its request below aborted) is
      // no result, and its readings are none either: recorded, a reading whose finding went to no result became
      // the clock history the next attestation continued from.
      if (signal.aborted) return { findings: [], checks: [] };
      if (!extra) return base(verified, layers);
      arrived = Date.now();
      // The source check (requests to other platforms, as long as they take) first, the walk's own readings after
      // it: a stop during the check then leaves nothing of this attestation in the state file. Recorded first,
      // a reading whose finding (CLOCK_WENT_BACK after a restore on the new host) went to no result became the
      // clock history the next attestation continued from: the rollback was never reported.
      // Whose instance each layer is, judged before the check records what the sources show: a source's
      // migrate-out closes the instance's last open stay, and judged after it, a VM re-keyed and moved in one
      // step (or an impostor answering right after a genuine move) had its new AK taken as the instance's own.
      const claims = assessMod.akClaims(store, verified, layers);
      const more = await extra(verified);
      if (signal.aborted) return { findings: [], checks: [] };
      const a = await base(verified, layers, claims);
      return { findings: [...a.findings, ...(more.findings ?? [])], checks: [...a.checks, ...(more.checks ?? [])], ...(more.migration ? { migration: more.migration } : {}) };
    };
    const outcome = await walk(
      { ...walkOptions(target, top, { ...setup, policy: policy.policy, policySource: policy.source }, now, input.maxDepth, expectInstance), assess },
      liveSource(client, { signal }) as EvidenceSource,
    );
    // an attestation cut short by shutdown is not a result: nothing goes to the history
    if (!signal.aborted) assessMod.recordResult(store, outcome.result);
    return { outcome, time: now.getTime() };
  };

  const vmPolicy = { policy: setup.policy, source: setup.policySource };

  /**
   * Where the state file last saw `instance` verified: its newest result (of any target: a watch before this one,
   * an audit) whose top layer's certificate verified, named this instance and a host. Read by the instance's index,
   * a few results at most.
   */
  const lastVerifiedHost = (instance: string): HostSnapshot | null => {
    let own: string[] | undefined;
    let found: HostSnapshot | null = null;
    for (const h of store.latestResultsOf(instance, 3)) {
      const result = h.result as Partial<AttestationResult> | null;
      const top = Array.isArray(result?.layers) ? result.layers[0] : undefined;
      if (top?.position !== 0 || top.kind !== 'virtual' || typeof top.deepAttestation !== 'string' || top.instanceId !== instance) continue;
      // Only an answer with one of the instance's own keys (those the state file took as evidence of where it
      // runs; any, while it has none) says where the VM was. An impostor certified under its id at another URL
      // (refused by an audit, CLONE_AK_CONFLICT) named its own host: taken as the VM's, that host was checked
      // instead of the one the VM left, and a duplicate left there was trusted.
      own ??= store.instanceKeys(instance);
      if (own.length > 0 && (typeof top.akKeyId !== 'string' || !own.includes(top.akKeyId))) continue;
      const platformPath = h.platformPath ?? [];
      // the host's AK where its binding to the VM held: this result's, or an older one's of the same stay at that
      // host (a relay there, or a VM mid-migration, at the newest), as a watch that kept running would have kept it
      const hostAk = boundHostAk({ platformPath, layers: result!.layers });
      if (found !== null) {
        // only while the VM stayed there: a result at another host ends the stay, and an AK read past it (another
        // machine at the same URL then, or the host since re-keyed) was expected of the platform there now, which
        // answering with its own was "not-checked" (a duplicate left there unseen), where a running watch knew none
        if (found.host === null || !sameUri(found.host, top.deepAttestation)) return found;
        if (hostAk !== null) return { ...found, hostAk };
        continue;
      }
      // the walk ended at a layer that is not virtual (verified, so it has a kind): the whole path; else only its start
      const bottom = result!.layers![platformPath.length];
      const whole = platformPath.length === result!.layers!.length - 1 && bottom?.kind !== undefined && bottom.kind !== 'virtual';
      found = { host: top.deepAttestation, platformPath, instance, ...(whole ? {} : { cutShort: true }), hostAk };
      if (hostAk !== null) return found;
    }
    return found;
  };
  /** the state file is read for the first attestation whose top layer verifies (a watch that knows no host yet) */
  let restoreTried = false;

  const attest = async ({ trigger, previous, signal }: AttestInput): Promise<AttestReport> => {
    let sources: SourceReport[] = [];
    let restored: HostSnapshot | null = null;
    const { outcome } = await attestFrom(url, vmPolicy, signal, async (verified) => {
      const topInstance = verified[0]?.position === 0 && verified[0].info.layer?.instanceId ? toHex(verified[0].info.layer.instanceId) : null;
      // a watch restarted after the VM moved (a migration while none ran, a notification replayed after a crash)
      // checks the host the VM was last verified on, as it would have had it kept running
      if (previous === null && !restoreTried && topInstance !== null) {
        restoreTried = true;
        // A state file that cannot be read ends the watch with its error, as at any other state error: thrown
        // out of the walk, before this attestation's readings and result are written. Caught and handed back as
        // an empty check, the walk went on to record both (a result with no source check, trusted), and with
        // three such results newer than the damaged one, a restart read the VM's current host as its previous
        // one: a duplicate left on the host it came from was never checked.
        restored = lastVerifiedHost(topInstance);
      }
      const compared = previous ?? restored;
      // a host recorded for another instance (another VM at this URL before) is not this VM's
      const previousHost = compared && (compared.instance == null || compared.instance === topInstance) ? compared.host : null;
      // the AK the previous host quoted with where it was seen hosting the VM (not merely the first of the path)
      const previousHostAk = previousHost !== null ? (compared!.hostAk ?? null) : null;
      const checked = await checkSources({
        verified,
        trigger,
        previousHost,
        previousHostAk,
        // source platforms are asked to show a genuine vPlatform table: the baseline's checks, not the VM's policy
        attestSource: async (uri) => {
          const { outcome: o, time } = await attestFrom(uri, baseline, signal);
          return { result: o.result, verified: o.verified, time };
        },
        recordHosting: (instance, evidence) => store.recordHosting(instance, evidence),
        hostingEpoch: assessMod.hostingEpoch,
        findingCategory: assessMod.findingCategory,
        followNamedSources: setup.policy.spec.migration.requireSourceMigrateOut,
      });
      sources = checked.reports;
      return checked;
    }, input.instance);
    const top = outcome.verified[0]?.position === 0 ? outcome.verified[0] : undefined;
    const ext = top?.info.layer;
    const previousRead = restored as HostSnapshot | null;
    return {
      ...(previousRead ? { previous: previousRead } : {}),
      result: outcome.result,
      instance: ext?.instanceId ? toHex(ext.instanceId) : null,
      ...(top ? { topVerified: true } : {}),
      migrationService: ext?.migrationService ?? null,
      host: ext?.kind === 'virtual' ? (ext.deepAttestation ?? null) : null,
      // as the state assessor judges it: the bottom verified layer did not end the walk
      ...(outcome.verified[outcome.verified.length - 1]?.info.layer?.kind === 'virtual' ? { cutShort: true } : {}),
      sources,
      ...(signal.aborted ? { aborted: true } : {}),
    };
  };

  return {
    attest,
    attestController: async (service, signal) => {
      const { outcome } = await attestFrom(service, controllerPolicy, signal);
      return { result: outcome.result, trusted: outcome.result.verdict === 'trusted' };
    },
    subscribe: ({ service, instance, afterSeq, afterTime, signal, onStatus }) => migrationEvents({ ...input.stream, service, instance, afterSeq, afterTime, signal, onStatus, http: client.http }),
    loadCursor: (service, instance) => store.migrationCursor(service, instance),
    saveCursor: (service, instance, seq, eventTime) => store.saveMigrationCursor(service, instance, seq, eventCursorTime(eventTime)),
    sleep,
    now: () => new Date(),
    emit,
  };
}

export async function runWatch(url: string, opts: WatchCliOptions): Promise<CommandOutcome> {
  checkTargetUrl(url);
  const intervalMs = opts.interval === undefined ? DEFAULT_INTERVAL_MS : parseInterval(opts.interval);
  const notificationGapMs = opts.notificationGap === undefined ? DEFAULT_NOTIFICATION_GAP_MS : parseNotificationGap(opts.notificationGap);
  const [{ setupVerifier }, { watch }, { renderLine }] = await Promise.all([import('../verifier-setup.js'), import('../../watch/watcher.js'), import('../../watch/lines.js')]);
  const setup = await setupVerifier(opts);
  // trust problems quote file names and untrusted intermediates' contents, as attest's do
  for (const warning of setup.warnings) process.stderr.write(`warning: ${terminalSafe(warning)}\n`);
  const controllerPolicy =
    opts.controllerPolicy !== undefined
      ? { policy: (await import('../policy-file.js')).loadPolicyFile(opts.controllerPolicy), source: { source: opts.controllerPolicy, builtin: false } }
      : undefined;
  const client = await evidenceClient(opts);
  let store: StateStore | undefined;
  const stop = new AbortController();
  let signalName: NodeJS.Signals | null = null;
  const onSignal = (name: NodeJS.Signals): void => {
    signalName ??= name;
    stop.abort();
  };
  // the reader of our output went away (EPIPE): nobody hears the watcher any more
  let outputError: Error | null = null;
  const onOutputError = (err: Error): void => {
    outputError ??= err;
    stdoutWentAway();
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // first, and before main's handler, which would exit 0 at once on EPIPE: the watch stops cleanly and exits 3
  process.stdout.prependListener('error', onOutputError);
  try {
    store = await openStateFile(opts.state ?? '');
    const style = await makeStyle(opts.color);
    // stdout to a pipe is asynchronous in node: a reader slower than the notifications would make its buffer
    // grow without end; waiting for 'drain' holds the watcher (and through TCP, the controller) back instead
    const emit = (line: WatchLine): void | Promise<void> => {
      if (process.stdout.write(`${opts.json ? terminalSafeJson(toJsonText(line, 0)) : renderLine(line, style)}\n`)) return;
      return stdoutDrained();
    };
    const deps = await createWatchDeps({ url, setup, controllerPolicy, client, store, maxDepth: opts.maxDepth, instance: opts.instance, emit });
    const migration = setup.policy.spec.migration;
    const { summary, error } = await watch(
      {
        target: url,
        intervalMs,
        notificationGapMs,
        exitOnFailure: opts.exitOnFailure,
        reattestOnNotification: migration.reattestOnNotification,
        requireTrustedController: migration.requireTrustedController,
        ...(opts.instance ? { expectInstance: Buffer.from(opts.instance).toString('hex') } : {}),
      },
      deps,
      stop.signal,
    );
    if (outputError && !error) {
      const e = outputError as NodeJS.ErrnoException;
      const ioError = new TransportError('IO_ERROR', `watch: cannot write the output: ${e.code ?? e.message}`, { code: e.code }, { cause: e });
      // with --json the envelope goes to the stdout that failed: a full disk is said on stderr, as any command says it
      // (a reader that went away needs no telling)
      if (opts.json && e.code !== 'EPIPE') process.stderr.write(`${renderError(ioError, PLAIN)}\n`);
      throw ioError;
    }
    const exitCode = error ? exitCodeForKind(error.kind) : summary.stoppedBy === 'failure' ? EXIT_CODES.NOT_TRUSTED : EXIT_CODES.OK;
    const result = { ...summary, stateFile: store.path, signal: signalName };
    const first = summary.firstFailure;
    const failure =
      summary.stoppedBy === 'failure' && first
        ? new VtpmError('verification', first.error?.code ?? 'POLICY_NOT_TRUSTED', `${first.target}: ${first.reason}`, { target: first.target, verdict: first.verdict })
        : undefined;
    return { ok: exitCode === EXIT_CODES.OK, exitCode, result, error: error ?? failure, human: (s) => renderSummary(result, error?.message, s) };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    // once the output is gone the final envelope meets it again: still ours, so the exit code stays 3
    if (!outputError) process.stdout.off('error', onOutputError);
    client.close();
    store?.close();
  }
}

/** The last lines of a watch. The reason and error quote evidence (IMA paths, command lines) and servers: escaped, as the event lines are. */
export function renderSummary(r: WatchSummary & { stateFile: string; signal: string | null }, errorMessage: string | undefined, s: Style): string {
  const why = r.stoppedBy === 'signal' ? `stopped by ${r.signal ?? 'request'}` : r.stoppedBy === 'failure' ? s.bad('stopped at the first result not trusted (--exit-on-failure)') : s.bad(`stopped by an error: ${terminalSafe(String(errorMessage))}`);
  const lines = [
    `watch ${terminalSafe(r.target)}: ${why}`,
    `  ${r.attestations} attestation(s) (initial ${r.byTrigger.initial}, interval ${r.byTrigger.interval}, after notifications ${r.byTrigger.migration}), ${r.failures} not trusted, ${r.incomplete} incomplete`,
    `  ${r.notifications} notification(s), ${r.coalescer.coalesced} coalesced; ${r.sourceChecks} source check(s); ${r.controllerAttestations} controller attestation(s)`,
    `  last verdict ${r.lastVerdict ?? '-'}; results recorded in ${r.stateFile}`,
  ];
  if (r.firstFailure) lines.push(`  first not trusted: ${terminalSafe(r.firstFailure.target)}: ${terminalSafe(r.firstFailure.reason)}`);
  return lines.join('\n');
}
