// `vtpm-verify policy ...`: check, explain, generate (init), test (evaluate)
// integrity policies, and print the JSON Schema of the language. Only options
// are declared here; each implementation (and yaml with it) loads lazily.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';

export const policyCommand: CommandDefinition = (program, runner) => {
  const policy = program
    .command('policy')
    .description('check, explain, generate and test YAML integrity policies (apiVersion vtpm-verify/v1)')
    .addHelpText(
      'after',
      `
Examples:
  $ vtpm-verify policy check policies/production.yaml policies/lab.yaml
  $ vtpm-verify policy explain policies/production.yaml
  $ vtpm-verify policy init --from known-good.facts.json -o golden.yaml
  $ vtpm-verify policy evaluate golden.yaml --facts today.facts.json
  $ vtpm-verify policy schema > policies/schema.json`,
    );

  withCommonOptions(policy.command('check').description('validate policy files: exit 0 when all are valid, 2 listing every error with file:line:column').argument('<files...>', 'policy files (YAML)'))
    .addHelpText('after', '\nExample:\n  $ vtpm-verify policy check policies/*.yaml\n  policies/lab.yaml:12:7 POLICY_UNKNOWN_KEY layers[0]: unknown key "pcr" (did you mean "pcrs"?); ...')
    .action(async (files: string[], opts: Record<string, unknown>) => {
      await runner(globalsFrom(opts), async () => {
        const m = await import('../actions/policy-check.js');
        return m.policyCheck({ files });
      });
    });

  withCommonOptions(policy.command('explain').description('summarize what a policy demands, layer by layer').argument('[file]', 'policy file (YAML)').option('--baseline', 'explain the built-in baseline policy (used by attest without --policy)'))
    .addHelpText('after', '\nExample:\n  $ vtpm-verify policy explain policies/production.yaml\n  $ vtpm-verify policy explain --baseline')
    .action(async (file: string | undefined, opts: Record<string, unknown>) => {
      await runner(globalsFrom(opts), async () => {
        const m = await import('../actions/policy-explain.js');
        return m.policyExplain({ file, baseline: opts['baseline'] === true });
      });
    });

  withCommonOptions(
    policy
      .command('init')
      .description('write a golden policy from known-good evidence, with comments saying where each value came from')
      .option('--from <evidence>', 'known-good evidence: a saved evidence bundle (attest --save; needs --trust) or a facts file (JSON, see README "Facts files")')
      .option('--trust <[label=]path>', 'with a bundle: the trust anchors its AK certificates verify to; repeatable', (v: string, prev: string[] = []) => [...prev, v])
      .option('--ak <file>', 'instead of --from, one quote with its logs: the AK (PEM/DER SPKI or TPM2B_PUBLIC)')
      .option('--message <file>', 'with --ak: the TPMS_ATTEST (tpm2_quote -m)')
      .option('--signature <file>', 'with --ak: the TPMT_SIGNATURE (tpm2_quote -s)')
      .option('--nonce <hex>', 'with --ak: the nonce the quote carries ("" for none)')
      .option('--pcrs <file>', 'with --ak: the quoted PCR values (tpm2_quote -o)')
      .option('--pcrs-format <format>', 'with --ak: serialized | values | marshaled | json', 'serialized')
      .option('--eventlog <file>', 'with --ak: the firmware event log')
      .option('--ima <file>', 'with --ak: the IMA measurement list')
      .option('-o, --output <file>', 'write the policy here (and IMA allow-lists next to it); default: print it')
      .option('--name <name>', 'policy name', 'golden')
      .option('--force', 'overwrite existing files'),
  )
    .addHelpText(
      'after',
      `
Only evidence that verifies becomes a policy: a bundle is re-verified (baseline
checks), a quote is verified with its logs replayed; otherwise exit 1.

Example:
  $ vtpm-verify attest http://10.0.0.5:8443/attest --trust ./trust --save known-good.bundle.json
  $ vtpm-verify policy init --from known-good.bundle.json --trust ./trust -o golden.yaml
  $ vtpm-verify policy init --ak ak.pub --message q.msg --signature q.sig --nonce 9009 --pcrs q.pcrs --eventlog bios.bin --ima ima.txt -o golden.yaml   # or instead, from one quote and its logs
  $ vtpm-verify policy check golden.yaml`,
    )
    .action(async (opts: Record<string, unknown>) => {
      await runner(globalsFrom(opts), async () => {
        const m = await import('../actions/policy-init.js');
        return m.policyInit({
          from: opts['from'] as string | undefined,
          trust: (opts['trust'] as string[] | undefined) ?? [],
          quote:
            opts['ak'] !== undefined
              ? {
                  ak: String(opts['ak']),
                  message: String(opts['message'] ?? ''),
                  signature: String(opts['signature'] ?? ''),
                  // an empty nonce ("", as quote --nonce) is a nonce: only a missing option is refused
                  nonce: opts['nonce'] === undefined ? undefined : String(opts['nonce']),
                  pcrs: String(opts['pcrs'] ?? ''),
                  pcrsFormat: String(opts['pcrsFormat']),
                  eventlog: opts['eventlog'] as string | undefined,
                  ima: opts['ima'] as string | undefined,
                }
              : undefined,
          output: opts['output'] as string | undefined,
          name: String(opts['name']),
          force: opts['force'] === true,
        });
      });
    });

  withCommonOptions(
    policy
      .command('evaluate')
      .description('evaluate a policy against a facts file: exit 0 trusted, 1 not trusted')
      .argument('<file>', 'policy file (YAML)')
      .requiredOption('--facts <file>', 'verified layer facts (JSON, see README "Facts files")')
      .option('--now <time>', 'decision time, ISO 8601 (default: the facts file\'s "now", else the current time)'),
  )
    .addHelpText('after', '\nExample:\n  $ vtpm-verify policy evaluate policies/demo.yaml --facts run.facts.json --verbose')
    .action(async (file: string, opts: Record<string, unknown>) => {
      const globals = globalsFrom(opts);
      await runner(globals, async () => {
        const m = await import('../actions/policy-evaluate.js');
        return m.policyEvaluate({ file, facts: String(opts['facts']), now: opts['now'] as string | undefined, verbose: globals.verbose });
      });
    });

  withCommonOptions(policy.command('schema').description('print the JSON Schema of the policy language (for editors), or with --markdown its reference table').option('--markdown', 'print the language reference as a Markdown table'))
    .addHelpText('after', '\nExample:\n  $ vtpm-verify policy schema > policies/schema.json')
    .action(async (opts: Record<string, unknown>) => {
      await runner(globalsFrom(opts), async () => {
        const m = await import('../actions/policy-schema.js');
        return m.policySchemaCommand({ markdown: opts['markdown'] === true });
      });
    });
};
