// vtpm-verify report REPORT.json...: one fleet report from the JSON reports
// of a sharded audit (or one report rendered again). Options only; the work
// is in ../actions/report.ts and src/report/.

import type { Command } from 'commander';
import { globalsFrom, type CommandDefinition } from '../command.js';

export const reportCommand: CommandDefinition = (program: Command, runner) => {
  program
    .command('report')
    .description("merge the JSON reports of a sharded audit (audit --shard I/N --json FILE) into the whole fleet's summary, exit code and JSON / JUnit / HTML reports; every report is checked against the report schema and the others")
    .argument('<reports...>', 'JSON reports as `audit --json FILE` writes them: the shards of one audit, or one whole report')
    .option('--inventory <file>', 'the inventory the shards audited: the merged results follow its order, and its VMs with no result are named')
    .option('--run-label <label>', 'every report must have this run label (audit --run-label): a shard report left from another run is refused')
    .option('--allow-partial', 'missing shards or VMs do not make the exit code 3 (they are still reported)')
    .option('--unreachable-ok', 'exit 0 even when some VMs could not be attested (a VM that is not trusted still exits 1)')
    .option('--json [file]', 'with FILE: write the merged JSON report there; alone: print one JSON envelope {ok, result, error} on stdout instead of the summary')
    .option('--junit <file>', 'write the merged JUnit XML report: one testcase per VM')
    .option('--html <file>', 'write the merged self-contained HTML report: failures first, filterable')
    .option('--no-color', 'plain text output (also when NO_COLOR is set or stdout is not a terminal)')
    .option('-v, --verbose', 'list every VM that is not trusted or unreachable, and up to 100 missing ones (default: the first 20 of each)')
    .addHelpText(
      'after',
      `
The reports must be the shards of one audit: the same inventory, the same N,
the same run label (audit --run-label; --run-label here names the one
expected), each shard at most once, each VM once and in the shard its report names (a
report that was truncated, edited or reformatted is refused: REPORT_INVALID,
REPORT_MISMATCH). Results are verified as the audit recorded them; nothing is
attested again. One check needs the whole fleet: a VM whose top layer answered
with the attestation key a VM of a report read before it answered with (each
shard compared only its own VMs) is refused in the merged report,
AUDIT_DUPLICATE_INSTANCE, and the earlier VM is named in a warning.

Shards without run labels that started more than 12 hours apart merge with a
warning (one is probably left from another run). A report merged before (it
has run.merged) is read alone, to render it again; the shards and VMs it
lacked stay lacking. An output file this merge does not write (an input it
cannot read, a full disk) is removed from its path, with a warning.

Exit codes: 0 every VM trusted and the whole fleet covered; 1 at least one VM
not trusted (this wins); 3 at least one VM unreachable (0 with
--unreachable-ok), or a shard missing, or a shard stopped before it started
all its VMs, or (with --inventory) VMs with no result (REPORT_INCOMPLETE; not
with --allow-partial); 2 a report or the inventory is invalid, or the reports
do not belong together.

Examples:
  $ vtpm-verify report reports/audit-*.json --inventory fleet.yaml --html fleet.html --junit fleet.xml
  Audit summary: 1000 VMs
    ✓ trusted      990   99.0%
    ✗ not trusted   10    1.0%
    ? unreachable    0    0.0%
  ...
  Read 4 reports, shards 0, 1, 2, 3 of 4: audited 2026-11-27T02:17:00.412Z to 2026-11-27T02:17:05.903Z, inventory /config/fleet.yaml
  JUnit report: fleet.xml
  HTML report: fleet.html
  $ vtpm-verify report audit-0.json audit-1.json audit-2.json   # shard 3 of 4 missing: exit 3, REPORT_INCOMPLETE
  $ vtpm-verify report reports/audit-*.json --run-label "$JOB_NAME"   # a shard left from last night's Job: exit 2, REPORT_MISMATCH
  $ vtpm-verify report audit.json --html audit.html             # one whole report rendered again`,
    )
    .action(async (reports: string[], opts: Record<string, unknown>) => {
      const jsonFile = typeof opts['json'] === 'string' ? (opts['json'] as string) : undefined;
      await runner(globalsFrom(opts), async () => {
        if (jsonFile !== undefined && jsonFileBeforeReports(process.argv, jsonFile, reports)) {
          const { UsageError } = await import('../../errors.js');
          throw new UsageError('USAGE', `--json ${jsonFile} comes before reports to read, so ${jsonFile} would be written over as the merged report: put --json FILE after the reports, or write --json=FILE`, { option: 'json', file: jsonFile });
        }
        const { runReportCommand } = await import('../actions/report.js');
        return runReportCommand({
          reports,
          inventory: opts['inventory'] as string | undefined,
          runLabel: opts['runLabel'] as string | undefined,
          out: { json: jsonFile, junit: opts['junit'] as string | undefined, html: opts['html'] as string | undefined },
          unreachableOk: opts['unreachableOk'] === true,
          allowPartial: opts['allowPartial'] === true,
          json: opts['json'] === true,
          verbose: opts['verbose'] === true,
        });
      });
    });
};

/**
 * Whether the command line reads `--json FILE REPORT...`: --json's optional
 * value took a word that may have been meant as the first report (a report
 * file would be overwritten), since reports follow it.
 */
export function jsonFileBeforeReports(argv: readonly string[], jsonFile: string, reports: readonly string[]): boolean {
  const at = argv.findIndex((a, i) => a === '--json' && argv[i + 1] === jsonFile);
  return at !== -1 && argv.slice(at + 2).some((a) => reports.includes(a));
}
