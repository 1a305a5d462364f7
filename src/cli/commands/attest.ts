// vtpm-verify attest URL / verify BUNDLE: deep attestation, live or offline.
// Options only; the walker, transport and reports load when the command runs.

import type { Command } from 'commander';
import type { CommandDefinition } from '../command.js';
import { MAX_TIMER_MS, globalsFrom, withCommonOptions } from '../command.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Options attest, verify, demo, watch and audit share for loading trust and policy. */
export function withVerifierOptions(cmd: Command): Command {
  return cmd
    .option('--policy <file>', 'YAML integrity policy (default: the built-in baseline: every cryptographic, certificate-path and binding check, no reference values)')
    .option('--trust <[label=]path>', 'trust anchors for AK certificate paths: a file or folder, optionally labelled (ak-ca, vplatform-ca, ek-ca); repeatable', collect)
    .option('--intermediates <path>', 'untrusted intermediate CA certificates (file or folder); repeatable', collect)
    .option('--crl <file>', 'CRL file to check revocation with; repeatable', collect)
    .option('--max-depth <n>', 'follow at most this many layers (default 8)');
}

/** Options of every command that fetches live evidence: timeouts and TLS. */
export function withClientOptions(cmd: Command): Command {
  return cmd
    .option('--timeout <ms>', 'total time allowed per layer request (default 30000)')
    .option('--connect-timeout <ms>', 'time allowed to connect per layer (default 5000)')
    .option('--ca <file>', 'CA bundle for https endpoints (replaces the system roots); repeatable', collect)
    .option('--cert <file>', 'client certificate for mutual TLS (with --key; TLS 1.3 only)')
    .option('--key <file>', 'client private key for mutual TLS (with --cert): an unencrypted PEM key');
}

/** The values of withClientOptions (parsing the numbers: a bad one is a UsageError). */
export function clientOptionsFrom(opts: Record<string, unknown>, positiveInt: (value: string, option: string, max?: number) => number) {
  return {
    timeout: opts['timeout'] !== undefined ? positiveInt(String(opts['timeout']), '--timeout', MAX_TIMER_MS) : undefined,
    connectTimeout: opts['connectTimeout'] !== undefined ? positiveInt(String(opts['connectTimeout']), '--connect-timeout', MAX_TIMER_MS) : undefined,
    ca: opts['ca'] as string[] | undefined,
    cert: opts['cert'] as string | undefined,
    key: opts['key'] as string | undefined,
  };
}

export function verifierOptionsFrom(opts: Record<string, unknown>) {
  return {
    policy: opts['policy'] as string | undefined,
    trust: (opts['trust'] as string[] | undefined) ?? [],
    intermediates: (opts['intermediates'] as string[] | undefined) ?? [],
    crls: (opts['crl'] as string[] | undefined) ?? [],
  };
}

export const attestCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('attest')
    .description('deep attestation: attest a VM and every layer below it down to the physical TPM, and decide per layer against a policy')
    .argument('<url>', "the VM's evidence endpoint base URI (protocol section 2), e.g. http://10.0.0.5:8443/attest")
    .option('--ear', 'print the result as an IETF RATS EAR (EAT Attestation Result) instead of a tree')
    .option('--ear-key <file>', 'sign the EAR as an ES256 JWT with this P-256 private key (PEM or JWK)')
    .option('--save <file>', 'save everything fetched as an evidence bundle (re-verify it offline with vtpm-verify verify)')
    .option('--challenge <hex>', 'use these 32 bytes (64 hex digits), chosen by whoever verifies the saved bundle, as the random part of the top nonce (verify --challenge)')
    .option('--instance <hex>', "the vTPM instance id (64 hex digits) expected at the URL: a VM whose verified AK certificate names another is not trusted (TARGET_INSTANCE_MISMATCH: a relay forwarding another VM's evidence, or a wrong address)")
    .option('--state [file]', 'record clock readings and hosting in a state file and check them for rollback and clones; the result goes to the history (without a file: $XDG_STATE_HOME/vtpm-verify/state.db)');
  withCommonOptions(withVerifierOptions(withClientOptions(cmd))).addHelpText(
    'after',
    `
The walk: the VM's quote is verified with the AK from its certificate, once that
certificate's path verified to a --trust anchor; the certificate's TrustedLayer
extension says whether the VM is virtual and where the layer below answers; that
layer is attested over a nonce chained from the quote above, must host the VM's
vTPM instance in its quoted vPlatform table, and so on down to a physical TPM.

Nothing in the evidence names the URL it was asked at: a machine at the URL
that forwards each request to another, healthy VM is trusted as that VM. Give
--instance with the vTPM instance id expected there (a result's
layers[0].instanceId, or the TrustedLayer extension of the VM's AK certificate)
to rule that out.

Exit codes: 0 trusted; 1 not trusted (the failing layer, check and code are
shown); 2 bad usage or input; 3 could not complete (a layer unreachable).

Example:
  $ vtpm-verify attest http://127.0.0.1:8443/l/vm --trust ./trust --policy policies/production.yaml
  $ vtpm-verify attest https://vm1.example/attest --trust ./trust --instance 5c0d9f1e62b8a4737e01c2a9f4b3d6e8a1907c5b2e4f6d8a0c1b3e5f7a9d2c4e
  $ vtpm-verify attest https://vm1.example/attest --trust ./trust --ca provider-ca.pem --save vm1.bundle.json --json
  $ vtpm-verify attest http://127.0.0.1:8443/l/vm --trust ./trust --ear --ear-key ear-signing.pem`,
  );
  cmd.action(async (url: string, opts: Record<string, unknown>) => {
    await runner(globalsFrom(opts), async () => {
      const { runAttest, positiveInt, bytes32 } = await import('../actions/attest.js');
      return runAttest(url, {
        ...verifierOptionsFrom(opts),
        json: opts['json'] === true,
        ear: opts['ear'] === true || opts['earKey'] !== undefined,
        earKey: opts['earKey'] as string | undefined,
        save: opts['save'] as string | undefined,
        challenge: opts['challenge'] !== undefined ? bytes32(String(opts['challenge']), '--challenge') : undefined,
        instance: opts['instance'] !== undefined ? bytes32(String(opts['instance']), '--instance') : undefined,
        ...clientOptionsFrom(opts, positiveInt),
        state: opts['state'] === true ? '' : (opts['state'] as string | undefined),
        maxDepth: opts['maxDepth'] !== undefined ? positiveInt(String(opts['maxDepth']), '--max-depth', 64) : undefined,
        verbose: opts['verbose'] === true,
      });
    });
  });
};

export const verifyCommand: CommandDefinition = (program, runner) => {
  const cmd = program
    .command('verify')
    .description('verify a saved evidence bundle offline (attest --save), with the same checks and policy as a live attestation')
    .argument('<bundle>', 'evidence bundle written by vtpm-verify attest --save')
    .option('--ear', 'print the result as an EAR instead of a tree')
    .option('--ear-key <file>', 'sign the EAR as an ES256 JWT with this P-256 private key')
    .option('--challenge <hex>', 'the 32 bytes (64 hex digits) you gave attest --challenge: a bundle whose top nonce was drawn from other bytes is not trusted (BUNDLE_CHALLENGE_MISMATCH)')
    .option('--instance <hex>', "the vTPM instance id (64 hex digits) expected at the bundle's target: a VM whose verified AK certificate names another is not trusted (TARGET_INSTANCE_MISMATCH)");
  withCommonOptions(withVerifierOptions(cmd)).addHelpText(
    'after',
    `
Certificates are validated at the time the bundle was saved, which is bound into
the top quote's nonce (an edited time no longer verifies); the policy's
freshness.maxAge compares that time with now. That time is the word of whoever
saved the bundle: a bundle saved by the machine it attests may be dated ahead.
To know its quotes are fresh, choose 32 random bytes, have the bundle saved with
attest --challenge HEX, and verify it with the same --challenge HEX.

Exit codes: 0 trusted; 1 not trusted (including a bundle edited after saving);
2 bad usage, or a bundle that cannot be read, is not in the bundle format or
does not fit the memory node may use; 3 incomplete: the bundle holds no
evidence for a layer the walk reaches (BUNDLE_MISSING_LAYER), unreachable when
it was saved or removed since by whoever held the bundle: a gate must not
take it as "retry later" and let a change through.

Example:
  $ vtpm-verify attest http://127.0.0.1:8443/l/vm --trust ./trust --save vm0.bundle.json
  $ vtpm-verify verify vm0.bundle.json --trust ./trust --policy policies/ci-gate.yaml --json`,
  );
  cmd.action(async (file: string, opts: Record<string, unknown>) => {
    await runner(globalsFrom(opts), async () => {
      const { runVerifyBundle, positiveInt, bytes32 } = await import('../actions/attest.js');
      return runVerifyBundle(file, {
        ...verifierOptionsFrom(opts),
        challenge: opts['challenge'] !== undefined ? bytes32(String(opts['challenge']), '--challenge') : undefined,
        instance: opts['instance'] !== undefined ? bytes32(String(opts['instance']), '--instance') : undefined,
        json: opts['json'] === true,
        ear: opts['ear'] === true || opts['earKey'] !== undefined,
        earKey: opts['earKey'] as string | undefined,
        maxDepth: opts['maxDepth'] !== undefined ? positiveInt(String(opts['maxDepth']), '--max-depth', 64) : undefined,
        verbose: opts['verbose'] === true,
      });
    });
  });
};
