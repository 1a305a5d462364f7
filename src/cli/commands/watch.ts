// vtpm-verify watch URL: attest a VM, then again after every migration
// notification and every --interval, recording everything in the state file.
// Options only; the watcher, walker and state store load when it runs.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';
import { withStateOption } from '../state-option.js';
import { clientOptionsFrom, verifierOptionsFrom, withClientOptions, withVerifierOptions } from './attest.js';

export const watchCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('watch')
    .description('attest a VM, subscribe to the Migration Controller its verified certificate names, and attest it again after every migration (checking that the source let it go) and every --interval, until SIGINT or SIGTERM')
    .argument('<url>', "the VM's evidence endpoint base URI (protocol section 2)")
    .option('--interval <duration>', 'attest again this often even without notifications: 30s, 5m, 1h (default 5m)')
    .option('--notification-gap <duration>', 'an attestation caused by notifications starts at least this long after the previous one started; notifications meanwhile merge into it (default 5s; 0ms: at once)')
    .option('--exit-on-failure', 'stop with exit code 1 at the first result that is verified and not trusted (the VM, or the Migration Controller where the policy requires a trusted one); an unreachable VM or layer is not a failure, and the watch goes on')
    .option('--instance <hex>', "the vTPM instance id (64 hex digits) expected at the URL, from the first attestation on: another one, or none, is TARGET_INSTANCE_MISMATCH and WATCH_INSTANCE_CHANGED (without it, the watch pins the instance its first attestation shows)")
    .option('--controller-policy <file>', "policy for the Migration Controller's own attestation, when the policy sets migration.requireTrustedController (default: the built-in baseline)");
  // --ca and the client certificate also apply to the notification stream
  withCommonOptions(withVerifierOptions(withClientOptions(withStateOption(cmd)))).addHelpText(
    'after',
    `
Each event prints one line (with --json, one JSON object per line, and at the end
the envelope {ok, result, error} with the totals):
  attested     an attestation of the VM finished: verdict, why (initial, interval,
               after N notifications), platform path, findings
  migrated     the VM's platform path changed: old → new (and whether announced)
  source       a platform the VM left was attested: migrated-out, still-hosted,
               not-migrated-out, not-checked; after an unannounced move: moved
               (migrate-out shown), hosted-twice, still-hosted,
               not-migrated-out, not-checked
  finding      a rollback or clone finding (CLOCK_*, CLONE_*, RESTORE_FROM_BACKUP,
               VPLATFORM_HOSTED_TWICE), failing or warning per the policy
  notification a migration notification and what it caused: attest, queued,
               coalesced (merged into the waiting attestation), ignored, noted
  stream       the notification stream: subscribing, connected, disconnected, retrying,
               skipped, ignored, ended, failed
  controller   the Migration Controller's own attestation

Notifications are hints: each one only causes an attestation from the top, at
most one at a time with one waiting (a burst of notifications costs two), and
one caused by notifications starts at least --notification-gap after the
previous attestation started (a controller streaming notifications without end
cannot make the watch attest back to back). The stream resumes after the last
notification handled (kept in the state file).

Exit codes: 0 stopped by SIGINT/SIGTERM (whatever the verdicts); 1 with
--exit-on-failure, at the first result verified and not trusted (an
unreachable one is not a failure); 2 bad usage; 3 the state
file could not be used.

Example:
  $ vtpm-verify watch http://127.0.0.1:8443/l/vm --trust ./trust --policy policies/production.yaml --state watch.db --interval 1m
  2026-11-26T12:00:00.112Z attested trusted http://127.0.0.1:8443/l/vm (initial) platform 9c41d0e2b7a3… > 51f0aa8c2e19…
  2026-11-26T12:00:00.113Z stream subscribing http://127.0.0.1:8443/m/migrations (from the first event)
  2026-11-26T12:00:00.120Z stream connected http://127.0.0.1:8443/m/migrations (from the first event)
  2026-11-26T12:03:41.007Z notification seq 1 http://127.0.0.1:8443/l/vmm-a → http://127.0.0.1:8443/l/vmm-b (2026-11-26T12:03:41.000Z): attest
  2026-11-26T12:03:41.093Z attested trusted http://127.0.0.1:8443/l/vm (after 1 notification (seq 1)) platform 0e7d6c12f4b8… > c3a9b5e07d21…
  2026-11-26T12:03:41.093Z migrated http://127.0.0.1:8443/l/vm platform 9c41d0e2b7a3… > 51f0aa8c2e19… → 0e7d6c12f4b8… > c3a9b5e07d21… (http://127.0.0.1:8443/l/vmm-a → http://127.0.0.1:8443/l/vmm-b)
  2026-11-26T12:03:41.093Z source http://127.0.0.1:8443/l/vmm-a migrated-out: http://127.0.0.1:8443/l/vmm-a: instance … shows migrate-out on the source platform
  ^C
  watch http://127.0.0.1:8443/l/vm: stopped by SIGINT
  $ vtpm-verify watch https://vm1.example/attest --trust ./trust --state watch.db --json --exit-on-failure`,
  );
  cmd.action(async (url: string, opts: Record<string, unknown>) => {
    const globals = globalsFrom(opts);
    await runner(globals, async () => {
      const [{ runWatch }, { positiveInt, bytes32 }] = await Promise.all([import('../actions/watch.js'), import('../actions/attest.js')]);
      return runWatch(url, {
        ...verifierOptionsFrom(opts),
        state: opts['state'] as string | undefined,
        interval: opts['interval'] as string | undefined,
        notificationGap: opts['notificationGap'] as string | undefined,
        exitOnFailure: opts['exitOnFailure'] === true,
        controllerPolicy: opts['controllerPolicy'] as string | undefined,
        instance: opts['instance'] !== undefined ? bytes32(String(opts['instance']), '--instance') : undefined,
        ...clientOptionsFrom(opts, positiveInt),
        maxDepth: opts['maxDepth'] !== undefined ? positiveInt(String(opts['maxDepth']), '--max-depth', 64) : undefined,
        json: globals.json,
        color: globals.color,
        verbose: globals.verbose,
      });
    });
  });
};
