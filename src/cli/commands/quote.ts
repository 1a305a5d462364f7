// `vtpm-verify quote`: verify one TPM 2.0 quote with an attestation key.
// Options only; the implementation (src/cli/actions/quote.ts) loads on use.

import { globalsFrom, withCommonOptions, type CommandDefinition } from '../command.js';

export const quoteCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('quote')
    .description('verify a TPM 2.0 quote: signature, magic, type, nonce, signer and (with --pcrs) the PCR digest')
    .requiredOption('--ak <file>', 'attestation key: PEM/DER public key or certificate, TPM2B_PUBLIC or TPMT_PUBLIC')
    .requiredOption('--message <file>', 'the quoted TPMS_ATTEST (tpm2_quote -m)')
    .requiredOption('--signature <file>', 'the signature (tpm2_quote -s)')
    .requiredOption('--nonce <hex>', 'the nonce sent with the challenge: extraData must equal it ("" for none)')
    .option('--pcrs <file>', 'PCR values to check against the signed pcrDigest (tpm2_quote -o)')
    .option('--pcrs-format <format>', 'serialized | values | marshaled | json', 'serialized')
    .option('--selection <pcrs>', 'for --pcrs-format values: the selection the values were written for, e.g. sha256:0,1,2 (default: the signed one)')
    .option('--signature-format <format>', 'tss (TPMT_SIGNATURE) | plain (DER ECDSA or raw RSA)', 'tss')
    .option('--hash <alg>', 'with --signature-format plain: the signature hash', 'sha256')
    .option('--signer-parent <hex>', "the Qualified Name of the AK's parent, to check qualifiedSigner exactly")
    .option('--eventlog <file>', 'also replay this TCG PC Client event log (binary_bios_measurements) against the verified PCR values (needs --pcrs)')
    .option('--ima <file>', 'also replay this IMA measurement list (ASCII or binary) into PCR 10 against the verified PCR values (needs --pcrs)');
  withCommonOptions(cmd);
  cmd.addHelpText(
    'after',
    `
Exit codes: 0 valid, 1 invalid (the failing check is named with expected and actual;
with --eventlog/--ima also a log that does not replay to the quoted PCRs), 2 unusable input.

Example:
  $ tpm2_quote -c ak.ctx -l sha256:0,1,2,3,7,10 -q 9f86d081884c7d65 -m quote.msg -s quote.sig -o quote.pcrs -g sha256
  $ vtpm-verify quote --ak ak.pub --message quote.msg --signature quote.sig --nonce 9f86d081884c7d65 --pcrs quote.pcrs
  $ vtpm-verify quote --ak ak.pub --message quote.msg --signature quote.sig --nonce 9f86d081884c7d65 --pcrs quote.pcrs \\
      --eventlog /sys/kernel/security/tpm0/binary_bios_measurements --ima ascii_runtime_measurements`,
  );
  cmd.action(async (opts: Record<string, unknown>) => {
    const globals = globalsFrom(opts);
    await runner(globals, async () => {
      const m = await import('../actions/quote.js');
      return m.runQuote(opts as unknown as import('../actions/quote.js').QuoteOptions, globals);
    });
  });
};
