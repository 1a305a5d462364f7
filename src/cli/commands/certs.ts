// vtpm-verify certs: validates EK/AK certificates to configured trust anchors.
// Options only; the implementation (and @peculiar-free X.509 code) loads lazily.

import type { CommandDefinition } from '../command.js';
import { globalsFrom, withCommonOptions } from '../command.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

export const certsCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('certs')
    .description('validate EK/AK certificates to trust anchors: path, TCG attributes, TrustedLayer extension, verdict')
    .argument('<file...>', 'certificate files (DER or PEM); in a file with several, the first is validated and the rest are its intermediates')
    .option('--trust <[label=]path>', 'trust anchors: a file or folder, optionally labelled (ek-ca, ak-ca, vplatform-ca, ...); repeatable', collect)
    .option('--intermediates <path>', 'untrusted intermediate CA certificates (file or folder); repeatable', collect)
    .option('--crl <file>', 'CRL file (DER or PEM) to check revocation with; repeatable', collect)
    .option('--at <time>', 'validation time, ISO 8601 (2024-06-01 or 2024-06-01T12:00:00Z); default now')
    .option('--require-eku <eku>', 'required extended key usage: ek (2.23.133.8.1), ak (2.23.133.8.3) or an OID')
    .option('--allow-label <label>', 'accept only paths ending at anchors with this label; repeatable', collect);
  withCommonOptions(cmd).addHelpText(
    'after',
    `
Trust store: --trust takes a file or a folder. In a folder, subfolders named
ek-ca/, ak-ca/, vplatform-ca/ label their anchors, intermediates/ holds
untrusted intermediates; LABEL=PATH labels everything else under PATH.

Exit codes: 0 every certificate valid; 1 a certificate is not valid (the
failing check's code, e.g. CHAIN_EXPIRED); 2 bad input (unreadable or
malformed certificate, no trust anchor).

Example:
  $ vtpm-verify certs ek.der --trust ek-ca=/etc/vtpm/vendor-ca --at 2025-01-01 --require-eku ek
  $ vtpm-verify certs ak-chain.pem --trust vplatform-ca=roots.pem --require-eku ak --allow-label vplatform-ca --json`,
  );
  cmd.action(async (files: string[], opts: Record<string, unknown>) => {
    await runner(globalsFrom(opts), async () => {
      const { runCerts } = await import('../actions/certs.js');
      return runCerts(files, {
        trust: (opts['trust'] as string[] | undefined) ?? [],
        intermediates: (opts['intermediates'] as string[] | undefined) ?? [],
        crls: (opts['crl'] as string[] | undefined) ?? [],
        at: opts['at'] as string | undefined,
        requireEku: opts['requireEku'] as string | undefined,
        allowLabels: opts['allowLabel'] as string[] | undefined,
        verbose: opts['verbose'] === true,
      });
    });
  });
};
