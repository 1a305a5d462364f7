// vtpm-verify demo: the built-in simulated platform, attested end to end.
import type { CommandDefinition } from '../command.js';
import { MAX_TIMER_MS, globalsFrom, withCommonOptions } from '../command.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const demoCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('demo')
    .description('start the built-in simulated platform (VM → VMM → physical) on 127.0.0.1 and attest it with policies/demo.yaml')
    .option('--layers <n>', 'depth of the simulated platform, 2 (VM → physical) to 8 (the most attest follows by default)', '3')
    .option('--tamper <what[@layer]>', 'inject a fault: pcr, log-event, signature, certificate, nonce, not-hosted, relayed, relayed-top, stale-binding, foreign-issuer, unreachable, slow, huge, eventlog-missing, ima-tamper; @N picks the layer (0 = VM); repeatable', collect)
    .option('--policy <file>', 'attest with this policy instead of policies/demo.yaml')
    .option('--timeout <ms>', 'per-layer request timeout', '3000');
  withCommonOptions(cmd).addHelpText(
    'after',
    `
Nothing leaves 127.0.0.1; the simulator stops when the demo ends. Exit codes as
for attest: 0 trusted, 1 not trusted, 3 could not complete.

Example:
  $ vtpm-verify demo
  $ vtpm-verify demo --layers 5 --verbose
  $ vtpm-verify demo --tamper relayed@1        # another platform answers for the VM's host
  $ vtpm-verify demo --tamper log-event@2 --json`,
  );
  cmd.action(async (opts: Record<string, unknown>) => {
    await runner(globalsFrom(opts), async () => {
      const { runDemo, parseDemoLayers } = await import('../actions/demo.js');
      const { positiveInt } = await import('../actions/attest.js');
      return runDemo({
        layers: parseDemoLayers(String(opts['layers'])),
        tamper: (opts['tamper'] as string[] | undefined) ?? [],
        policy: opts['policy'] as string | undefined,
        timeout: positiveInt(String(opts['timeout']), '--timeout', MAX_TIMER_MS),
        verbose: opts['verbose'] === true,
      });
    });
  });
};
