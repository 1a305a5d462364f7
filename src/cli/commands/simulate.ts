// vtpm-verify simulate: serves the simulated virtualized platform (one chain
// of N layers, or a fleet) on 127.0.0.1 for others to attest, until SIGINT or
// SIGTERM. Options only; the work is in ../actions/simulate.ts.

import type { Command } from 'commander';
import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

export const simulateCommand: CommandDefinition = (program: Command, runner) => {
  const cmd = program
    .command('simulate')
    .description('serve a simulated virtualized platform (a VM → VMM → ... → physical chain, or a fleet) on 127.0.0.1, with injected faults if asked, for others to attest; runs until interrupted')
    .option('--port <port>', 'TCP port on 127.0.0.1 (0: any free port)', '0')
    .option('--layers <n>', 'one chain of N layers: 1 = a physical machine, 2 = VM → physical, 3 = VM → VMM → physical (default), ...')
    .option('--fleet <file>', 'a fleet file (YAML or JSON): {hosts: N, vmmsPerHost: N, vmsPerVmm: N} or an explicit hosts tree')
    .option('--hosts <n>', 'a fleet of N physical hosts (with --vmms-per-host and --vms-per-vmm)')
    .option('--vmms-per-host <n>', 'VMMs per host in a fleet (0: VMs run on the hosts)', '1')
    .option('--vms-per-vmm <n>', 'VMs per VMM in a fleet')
    .option('--fault-plan <file>', 'a fault plan (YAML or JSON): {faults: [{layer, fault, mode?, upper?}]}')
    .option('--tamper <what[@layer]>', 'inject a fault: WHAT[:MODE][@LAYER], LAYER a position (0 = top, -1 = bottom) or a name; repeatable', collect)
    .option('--trust-out <dir>', 'write the trust anchors here (ak-ca/, vplatform-ca/); default a temporary folder removed on exit')
    .option('--scenario <name>', 'a migration scenario on two hosts with a Migration Controller: live-migration, clone, restore-backup, source-still-hosts, stream-drop, burst; each step runs on POST {origin}/admin/step')
    .option('--step-every <duration>', 'with --scenario: also run the next step this often (e.g. 10s)')
    .option('--inventory-out <file>', 'write the inventory of the VMs (vms: [{name, url, instanceId, tags}]) for an audit: YAML, or JSON when FILE ends in .json')
    .option('--seed <text>', 'derive keys, certificates and instance ids from this text (default: a fixed seed; "random" for fresh keys)');
  withCommonOptions(cmd)
    .addHelpText(
      'after',
      `
Every layer answers GET {url}/v1/evidence?nonce=..&pcrs=..[&instance=..] (protocol section 2)
at http://127.0.0.1:PORT/l/<layer>. The top URL and a ready-to-run attest command are printed;
with --json one line {ok, result: {origin, topUrl, urls, layers, trustDir, faults, ...}} is
printed once the platform serves. Runs until SIGINT (Ctrl-C) or SIGTERM, then closes every
connection and exits 0. Faults (see README "Simulator"): pcr, log-event, signature, certificate,
nonce, not-hosted, relayed, relayed-top, stale-binding, foreign-issuer, unreachable[:reset],
slow[:delay], huge[:declared], eventlog-missing, ima-tamper.

Examples:
  $ vtpm-verify simulate --layers 3 --trust-out ./sim-trust
  vtpm-verify simulator: 3 layers on http://127.0.0.1:41234 (built in 80 ms)
    [0] vm    http://127.0.0.1:41234/l/vm    virtual
    [1] vmm   http://127.0.0.1:41234/l/vmm   virtual
    [2] host  http://127.0.0.1:41234/l/host  physical
  trust anchors: /home/me/sim-trust (ak-ca/, vplatform-ca/)
  attest it:
    vtpm-verify attest http://127.0.0.1:41234/l/vm --trust /home/me/sim-trust --instance 634832ff74a9763e387562f2a83a95f141d4f7440a16ae34dd124bd3ad687330
  serving until Ctrl-C (SIGINT) or SIGTERM; 3 layer services
  $ vtpm-verify simulate --layers 5 --tamper not-hosted@2 --port 8400
  $ vtpm-verify simulate --hosts 50 --vms-per-vmm 20 --fault-plan plan.json --inventory-out fleet.yaml --trust-out ./trust --json
    (then: vtpm-verify audit fleet.yaml --trust ./trust)
  $ vtpm-verify simulate --scenario live-migration --trust-out ./sim-trust --port 8400
    (then: vtpm-verify watch http://127.0.0.1:8400/l/vm --trust ./sim-trust --state watch.db,
     and in another terminal: curl -X POST http://127.0.0.1:8400/admin/step)`,
    )
    .action(async (opts: Record<string, unknown>) => {
      await runner(globalsFrom(opts), async () => {
        const m = await import('../actions/simulate.js');
        return m.runSimulate({
          port: opts['port'] as string,
          layers: opts['layers'] as string | undefined,
          fleet: opts['fleet'] as string | undefined,
          hosts: opts['hosts'] as string | undefined,
          vmmsPerHost: opts['vmmsPerHost'] as string,
          vmsPerVmm: opts['vmsPerVmm'] as string | undefined,
          faultPlan: opts['faultPlan'] as string | undefined,
          tamper: (opts['tamper'] as string[] | undefined) ?? [],
          trustOut: opts['trustOut'] as string | undefined,
          inventoryOut: opts['inventoryOut'] as string | undefined,
          seed: opts['seed'] as string | undefined,
          scenario: opts['scenario'] as string | undefined,
          stepEvery: opts['stepEvery'] as string | undefined,
          json: opts['json'] === true,
        });
      });
    });
};
