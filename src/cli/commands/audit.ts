// vtpm-verify audit INVENTORY: a fleet audit for cron and CI. Options only;
// the work is in ../actions/audit.ts and src/audit/.

import type { Command } from 'commander';
import { globalsFrom, type CommandDefinition } from '../command.js';
import { verifierOptionsFrom, withVerifierOptions } from './attest.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const auditCommand: CommandDefinition = (program: Command, runner) => {
  const cmd = program
    .command('audit')
    .description('fleet audit: attest every VM of an inventory down through its layers, with bounded concurrency, retries for unreachable hosts, a summary, JSON / JUnit / HTML reports and the state history')
    .argument('<inventory>', 'the inventory (YAML or JSON): VMs with their evidence URLs, groups, policies, trust anchors, TLS settings and tags')
    .option('--concurrency <n>', 'attest at most N VMs at once (default: 8 per CPU, 8..64)')
    .option('--shard <I/N>', 'audit only shard I of N (0-based; VMs are assigned by a stable hash of their name), e.g. --shard $JOB_COMPLETION_INDEX/4')
    .option('--run-label <label>', "a label for this run, kept in the JSON report (e.g. the Kubernetes Job's name): the shards of one audit share it, so `report` refuses a shard's report left from another run")
    .option('--retries <n>', 'attempts after the first for a VM that could not be attested (network errors, HTTP 5xx, 408, 429, waiting at least the Retry-After of a 429 or 503, at most 60 s; never after a verification failure, another HTTP 4xx, a redirect, a refused URL or scheme, or a refused server certificate)', '2')
    .option('--unreachable-ok', 'exit 0 even when some VMs could not be attested (a VM that is not trusted still exits 1)')
    .option('--state [file]', 'record clock readings, hosting and every result in the state file, so `history` shows trends (without a file: $XDG_STATE_HOME/vtpm-verify/state.db)')
    .option('--keep-history <age>', 'with --state: after the audit, delete results and clock readings older than this age (30d, 2w, 12h) from the state file, as `vtpm-verify prune` does, so a cron audit keeps it bounded')
    .option('--json [file]', 'with FILE: write the JSON report (every result; docs/audit-report.schema.json) there; alone: print one JSON envelope {ok, result, error} on stdout instead of the summary')
    .option('--junit <file>', 'write a JUnit XML report: one testcase per VM, failures and errors with their reason')
    .option('--html <file>', 'write a self-contained HTML report: one tree per VM, failures first, filterable')
    .option('--timeout <ms>', 'total time allowed per layer request, for VMs whose inventory entry sets no timeoutMs (default 30000)')
    .option('--connect-timeout <ms>', 'time allowed to connect per layer request (default 5000)')
    .option('--ca <file>', 'CA bundle for https endpoints, for VMs whose inventory sets no tls; repeatable', collect)
    .option('--cert <file>', 'client certificate for mutual TLS (with --key; TLS 1.3 only), for VMs whose inventory sets no tls')
    .option('--key <file>', 'client private key for mutual TLS (with --cert): an unencrypted PEM key');
  // --json takes an optional file here, so the common options are declared one by one.
  withVerifierOptions(cmd)
    .option('--no-color', 'plain text output (also when NO_COLOR is set or stdout is not a terminal)')
    .option('-v, --verbose', 'list every VM that is not trusted or unreachable (default: the first 20)')
    .addHelpText(
      'after',
      `
Every VM is attested as \`attest\` does, each on its own nonce chain, down to its
physical host; trust anchors, verified certificate links and paths, vPlatform logs and
replayed event logs are cached across VMs. A VM that cannot be reached is
retried (--retries, exponential backoff); a VM that fails verification is
never retried. One VM failing never stops the others.

One vTPM answers at one address: a VM's inventory instanceId is compared with
the instance it answers as (TARGET_INSTANCE_MISMATCH), and a VM answering as an
instance pinned to another VM, or with the attestation key another VM answered
with first, is refused (AUDIT_DUPLICATE_INSTANCE: a relay forwarding a healthy
VM's evidence, or a clone; the other VM is named, and a warning says when it is
the one in doubt).

Settings come from the inventory (VM over group over defaults); --policy,
--trust, --intermediates, --crl, --ca/--cert/--key, --timeout and --max-depth
apply to VMs whose inventory entry does not set them. Paths in the inventory
are relative to the inventory file.

Inventory (see README "Fleet audits" for every key):
  apiVersion: vtpm-verify/v1
  defaults: { trust: [trust/], policy: policies/production.yaml, timeoutMs: 10000 }
  groups:
    web: { tags: [web], policy: policies/web.yaml }
  vms:
    - { name: web-1, url: "https://web-1.prod.example:8443/attest", group: web }
    - { name: db-1,  url: "https://db-1.prod.example:8443/attest", tags: [db],
        instanceId: "5c0d9f1e62b8a4737e01c2a9f4b3d6e8a1907c5b2e4f6d8a0c1b3e5f7a9d2c4e" }

Exit codes: 0 every VM trusted; 1 at least one VM not trusted (this wins over
3); 3 at least one VM unreachable after its retries (0 with --unreachable-ok),
or stopped by SIGINT/SIGTERM (AUDIT_INTERRUPTED: the results so far are stored
and reported), or a report could not be written; 2 bad usage or an invalid
inventory (every problem listed as file:line:column).

A report file that exists after the audit is this audit's: one it does not
write (it stopped with an error, a full disk) is removed from its path, with a
warning, so an earlier run's report is not taken for this one's.

Examples:
  $ vtpm-verify audit fleet.yaml --trust ./trust --state audit.db --junit audit.xml --html audit.html --json audit.json
  Audit summary: 1000 VMs
    ✓ trusted      930   93.0%
    ✗ not trusted   40    4.0%
    ? unreachable   30    3.0%
  ...
  Not trusted or unreachable
    ✗ vm-0009  QUOTE_NONCE_MISMATCH at layer 0: extraData is not the nonce sent
    ? vm-0057  TRANSPORT_REFUSED at layer 0: layer 0 (http://10.1.0.57:8443/attest): connection refused
  ...
  $ vtpm-verify audit fleet.yaml --trust ./trust --state audit.db --keep-history 30d   # hourly from cron: the file stays at ~30 days of results
  $ vtpm-verify audit fleet.yaml --shard "$JOB_COMPLETION_INDEX/4" --run-label "$JOB_NAME" --trust ./trust --json report-$JOB_COMPLETION_INDEX.json
  $ vtpm-verify audit fleet.yaml --trust ./trust --unreachable-ok --json   # one envelope on stdout, for scripts`,
    )
    .action(async (inventory: string, opts: Record<string, unknown>) => {
      const jsonFile = typeof opts['json'] === 'string' ? (opts['json'] as string) : undefined;
      await runner(globalsFrom(opts), async () => {
        const [{ runAuditCommand }, { positiveInt }] = await Promise.all([import('../actions/audit.js'), import('../actions/attest.js')]);
        const { UsageError } = await import('../../errors.js');
        const retries = String(opts['retries']);
        if (!/^\d{1,2}$/.test(retries) || Number(retries) > 10) throw new UsageError('USAGE', `--retries: expected a whole number from 0 to 10, got ${JSON.stringify(retries)}`, { option: 'retries', value: retries });
        return runAuditCommand({
          ...verifierOptionsFrom(opts),
          inventory,
          concurrency: opts['concurrency'] !== undefined ? positiveInt(String(opts['concurrency']), '--concurrency', 4096) : undefined,
          shard: opts['shard'] as string | undefined,
          runLabel: opts['runLabel'] as string | undefined,
          retries: Number(retries),
          unreachableOk: opts['unreachableOk'] === true,
          state: opts['state'] === true ? '' : (opts['state'] as string | undefined),
          keepHistory: opts['keepHistory'] as string | undefined,
          reports: { json: jsonFile, junit: opts['junit'] as string | undefined, html: opts['html'] as string | undefined },
          timeoutMs: opts['timeout'] !== undefined ? positiveInt(String(opts['timeout']), '--timeout', 600_000) : undefined,
          connectTimeoutMs: opts['connectTimeout'] !== undefined ? positiveInt(String(opts['connectTimeout']), '--connect-timeout', 600_000) : undefined,
          maxDepth: opts['maxDepth'] !== undefined ? positiveInt(String(opts['maxDepth']), '--max-depth', 64) : undefined,
          ca: opts['ca'] as string[] | undefined,
          cert: opts['cert'] as string | undefined,
          key: opts['key'] as string | undefined,
          json: opts['json'] === true,
          verbose: opts['verbose'] === true,
        });
      });
    });
};
