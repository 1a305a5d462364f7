// `vtpm-verify inspect`: decode a TPM structure, PCR file, key or certificate
// for a person, detecting its type. Options only; the implementation loads on use.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';

export const inspectCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('inspect')
    .description('decode a TPMS_ATTEST, TPMT_SIGNATURE, TPM2B_PUBLIC/TPMT_PUBLIC, PCR file, PEM/DER key or certificate')
    .argument('<file>', 'the file to decode')
    .option('--type <type>', 'skip detection: attest | tpm2b-attest | signature | public | pcrs-serialized | pcrs-marshaled | pcrs-json | key | certificate');
  withCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Example:
  $ vtpm-verify inspect quote.msg
  $ vtpm-verify inspect ak.pub --json`,
  );
  cmd.action(async (file: string, opts: Record<string, unknown>) => {
    const globals = globalsFrom(opts);
    await runner(globals, async () => {
      const m = await import('../actions/inspect.js');
      return m.runInspect(file, opts as unknown as import('../actions/inspect.js').InspectOptions, globals);
    });
  });
};
