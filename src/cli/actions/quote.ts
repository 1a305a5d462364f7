// Implementation of `vtpm-verify quote`: reads the files, hands bytes to the
// pure verifier, and shapes the outcome. Kept light: no heavy library is
// imported on this path (start-up time is a tracked target).

import { EXIT_CODES, ParseError, UsageError, VerificationError, VtpmError } from '../../errors.js';
import { hashByName, TPM_ALG } from '../../tpm/constants.js';
import { parsePcrFile, PCR_FILE_FORMATS, type PcrFileFormat } from '../../tpm/pcr-formats.js';
import { formatPcrSelection, parsePcrSelectionText } from '../../tpm/pcr-selection.js';
import { pcrValuesToJson, type PcrValues } from '../../tpm/pcrs.js';
import { parseTpmtSignature } from '../../tpm/signature.js';
import { fromHex, toHex } from '../../util/bytes.js';
import { readInputFile } from '../../util/files.js';
import { EVENTLOG_CAPS } from '../../eventlog/caps.js';
import { loadAttestationKey, type AttestationKey } from '../../verify/ak.js';
import type { AttestSignature } from '../../verify/attest-signature.js';
import type { CheckResult } from '../../verify/checks.js';
import { verifyQuote, type PcrDigestList, type QuoteVerification } from '../../verify/quote.js';
import type { GlobalOptions } from '../command.js';
import { describeAttest, renderDescribed, type Described } from '../describe-tpm.js';
import { toJsonText, type CommandOutcome, type Style } from '../output.js';
import { TPM_GENERATED_VALUE } from '../../tpm/constants.js';
import { TPM12_UNSUPPORTED, describeTpm12Structure } from '../../tpm/tpm12.js';
import { eventLogMemoryCheck, imaMemoryCheck } from '../memory-check.js';

export interface QuoteOptions {
  ak: string;
  message: string;
  signature: string;
  nonce: string;
  pcrs?: string;
  pcrsFormat: string;
  eventlog?: string;
  ima?: string;
  selection?: string;
  signatureFormat: string;
  hash: string;
  signerParent?: string;
}

/** Caps per input kind: far above anything a TPM writes; the event log's is the parser's (as `eventlog` reads it). */
const CAPS = { ak: 64 * 1024, message: 16 * 1024, signature: 16 * 1024, pcrs: 1024 * 1024, eventlog: EVENTLOG_CAPS.maxLogBytes, ima: 64 * 1024 * 1024 };

const SIGNATURE_HASHES = new Set<number>([TPM_ALG.SHA1, TPM_ALG.SHA256, TPM_ALG.SHA384, TPM_ALG.SHA512]);

function readSignature(opts: QuoteOptions): AttestSignature {
  const bytes = readInputFile(opts.signature, 'signature', CAPS.signature);
  if (opts.signatureFormat === 'tss') {
    try {
      return parseTpmtSignature(bytes);
    } catch (err) {
      throw withSignatureHint(err, bytes);
    }
  }
  if (opts.signatureFormat !== 'plain') throw new UsageError('USAGE', `--signature-format must be tss or plain, not "${opts.signatureFormat}"`);
  const hash = hashByName(opts.hash);
  if (!hash || !SIGNATURE_HASHES.has(hash.id)) throw new UsageError('USAGE', `--hash must be sha1, sha256, sha384 or sha512, not "${opts.hash}"`);
  return { scheme: 'plain', hash, bytes };
}

/** TPM_ALG_ID values a TPMT_SIGNATURE can start with: RSASSA, RSAPSS, ECDSA, ECDAA, SM2, ECSCHNORR, NULL. */
const TPM_SIG_ALGS = new Set([0x0014, 0x0016, 0x0018, 0x001a, 0x001b, 0x001c, 0x0010]);

/**
 * A --signature file that is no TPMT_SIGNATURE is most often the quote message itself (the two files swapped)
 * or a plain signature (raw RSA as Azure's vTPM writes it, DER ECDSA, tpm2_quote -f plain) given without
 * --signature-format plain: say which, rather than only naming the sigAlg its first bytes made.
 */

function withSignatureHint(err: unknown, bytes: Buffer): unknown {
  if (!(err instanceof VtpmError) || bytes.length < 2) return err;
  let hint: string | undefined;
  if (bytes.length >= 4 && bytes.readUInt32BE(0) === TPM_GENERATED_VALUE) {
    hint = 'this is a TPMS_ATTEST (it starts with TPM_GENERATED_VALUE), the quote message: give it with --message and the signature (tpm2_quote -s) with --signature';
  } else if (TPM_SIG_ALGS.has(bytes.readUInt16BE(0))) {
    return err; // a TPMT_SIGNATURE that is damaged: its own error says where
  } else if ([128, 256, 384, 512].includes(bytes.length) || (bytes[0] === 0x30 && bytes.length >= 8 && bytes.length <= 140 && bytes[1] === bytes.length - 2)) {
    hint = `its ${bytes.length} bytes look like a plain signature (${bytes[0] === 0x30 && bytes[1] === bytes.length - 2 ? 'DER ECDSA' : 'raw RSA'}): add --signature-format plain --hash <alg>`;
  }
  if (!hint) return err;
  return new ParseError(err.code, `${err.message}; ${hint}`, { ...err.details, hint }, { cause: err });
}

function readPcrs(opts: QuoteOptions): PcrValues | PcrDigestList | undefined {
  if (opts.pcrs === undefined) {
    if (opts.selection !== undefined) throw new UsageError('USAGE', '--selection needs --pcrs with --pcrs-format values');
    return undefined;
  }
  const format = opts.pcrsFormat as PcrFileFormat;
  if (!PCR_FILE_FORMATS.includes(format)) throw new UsageError('USAGE', `--pcrs-format must be one of ${PCR_FILE_FORMATS.join(', ')}, not "${opts.pcrsFormat}"`);
  if (opts.selection !== undefined && format !== 'values') throw new UsageError('USAGE', `--selection applies to --pcrs-format values only (${format} files carry their own selection)`);
  const bytes = readInputFile(opts.pcrs, 'PCR file', CAPS.pcrs);
  // Bare values without a selection are mapped by the signed pcrSelect inside the verifier.
  if (format === 'values' && opts.selection === undefined) return { kind: 'digests', bytes };
  const selection = opts.selection !== undefined ? parsePcrSelectionText(opts.selection) : undefined;
  return parsePcrFile(bytes, format, selection).values;
}

function akSummary(ak: AttestationKey): Described {
  const out: Described = { type: ak.description, source: ak.source };
  if (ak.name) out['name'] = toHex(ak.name);
  return out;
}

function resultOf(v: QuoteVerification, ak: AttestationKey, pcrsGiven: boolean): Record<string, unknown> {
  return {
    valid: v.ok,
    ak: akSummary(ak),
    // only what the verified signature covers: nothing when the signature failed
    quote: v.attest ? describeAttest(v.attest) : null,
    pcrs: v.ok && v.pcrs ? pcrValuesToJson(v.pcrs) : null,
    pcrsChecked: v.ok && pcrsGiven,
    checks: v.checks,
  };
}

function statusMark(c: CheckResult, style: Style): string {
  switch (c.status) {
    case 'pass':
      return style.ok('pass');
    case 'fail':
      return style.bad('FAIL');
    case 'warn':
      return style.warn('warn');
    case 'skip':
      return style.dim('skip');
  }
}

export function renderChecks(checks: CheckResult[], style: Style, verbose: boolean): string[] {
  const lines: string[] = [];
  for (const c of checks) {
    if (!verbose && c.status === 'pass') continue;
    lines.push(`  ${statusMark(c, style)}  ${c.id}${c.code ? ` ${style.code(c.code)}` : ''}: ${c.message}`);
    if (c.expected !== undefined) lines.push(`          ${style.dim('expected:')} ${typeof c.expected === 'string' ? c.expected : toJsonText(c.expected, 0)}`);
    if (c.actual !== undefined) lines.push(`          ${style.dim('actual:  ')} ${typeof c.actual === 'string' ? c.actual : toJsonText(c.actual, 0)}`);
  }
  return lines;
}

function human(v: QuoteVerification, ak: AttestationKey, verbose: boolean, logsFailure?: VerificationError) {
  return (style: Style): string => {
    const lines: string[] = [];
    if (v.ok && logsFailure) lines.push(`${style.ok('quote VALID')}, ${style.bad('logs INVALID')}: ${style.code(logsFailure.code)} ${logsFailure.message}`);
    else if (v.ok) lines.push(`${style.ok('quote VALID')}`);
    else lines.push(`${style.bad('quote INVALID')}: ${style.code(v.failure.code)} ${v.failure.message}`);
    lines.push(`  ${style.dim('AK:')}        ${ak.description} (${ak.source}${ak.name ? `, name ${toHex(ak.name)}` : ''})`);
    if (v.attest) {
      const a = v.attest;
      lines.push(`  ${style.dim('PCRs:')}      ${formatPcrSelection(a.quote.pcrSelect) || '(none)'}${v.ok && v.pcrs ? ' (values verified)' : v.ok ? ' (values not given: pcrDigest not checked)' : ''}`);
      lines.push(`  ${style.dim('pcrDigest:')} ${toHex(a.quote.pcrDigest)}`);
      lines.push(`  ${style.dim('nonce:')}     ${toHex(a.extraData) || '(empty)'}`);
      lines.push(`  ${style.dim('clock:')}     clock ${a.clockInfo.clock} ms, resetCount ${a.clockInfo.resetCount}, restartCount ${a.clockInfo.restartCount}, safe ${a.clockInfo.safe ? 'yes' : 'no'}`);
      lines.push(`  ${style.dim('firmware:')}  ${a.firmwareVersion.toString(16).padStart(16, '0')}`);
    }
    const checkLines = renderChecks(v.checks, style, verbose);
    if (checkLines.length) lines.push(verbose ? 'checks:' : 'failed or skipped checks:', ...checkLines);
    if (v.ok && v.pcrs && verbose) lines.push('verified PCR values:', renderDescribed(pcrValuesToJson(v.pcrs), style, 1));
    return lines.join('\n');
  };
}

/**
 * The TPMS_ATTEST the TPM signed: tpm2_quote -m writes it bare, other tools (go-tpm, tpm2-pytss) as a
 * TPM2B_ATTEST, its u16 size first. The sized form is unambiguous (a bare one starts with 0xff54, and its
 * magic would then not follow at offset 2), so it is unwrapped rather than reported as a tampered message.
 */
function attestBody(bytes: Buffer): Buffer {
  const sized = bytes.length >= 6 && bytes.readUInt16BE(0) === bytes.length - 2 && bytes.readUInt32BE(2) === TPM_GENERATED_VALUE;
  return sized ? bytes.subarray(2) : bytes;
}

export async function runQuote(opts: QuoteOptions, globals: GlobalOptions): Promise<CommandOutcome> {
  const nonce = fromHex(opts.nonce, '--nonce');
  const ak = loadAttestationKey(readInputFile(opts.ak, 'attestation key', CAPS.ak));
  const message = attestBody(readInputFile(opts.message, 'quote message', CAPS.message));
  // Nothing of the message is read before its signature verifies, but an empty file is no message at all: a
  // truncated copy is unusable input, not a quote 'altered after it was signed' (exit 1, a tampering alarm).
  if (message.length === 0) {
    throw new ParseError('TPM_TRUNCATED', `quote message: ${opts.message} is empty (0 bytes); tpm2_quote -m writes the signed TPMS_ATTEST`, { path: opts.message, structure: 'TPMS_ATTEST', needed: 1, available: 0 });
  }
  const signature = readSignature(opts);
  const pcrs = readPcrs(opts);
  const signerParent = opts.signerParent !== undefined ? fromHex(opts.signerParent, '--signer-parent') : undefined;
  if ((opts.eventlog !== undefined || opts.ima !== undefined) && !pcrs) {
    throw new UsageError('USAGE', '--eventlog and --ima replay against the quoted PCR values: give them with --pcrs');
  }
  // Read the logs before verifying, so an unreadable file is bad input whatever the quote says.
  const eventLog = opts.eventlog !== undefined ? readInputFile(opts.eventlog, 'event log', CAPS.eventlog) : undefined;
  const ima = opts.ima !== undefined ? readInputFile(opts.ima, 'IMA list', CAPS.ima) : undefined;
  const v = verifyQuote({ ak, message, signature, nonce, ...(pcrs ? { pcrs } : {}), ...(signerParent ? { signerParentQualifiedName: signerParent } : {}) });
  const result = resultOf(v, ak, pcrs !== undefined);
  // Logs are replayed only against PCR values the verified quote vouches for.
  if (v.ok && v.pcrs && (eventLog || ima)) {
    const { verifyLogsAgainstQuote } = await import('../../eventlog/index.js');
    const logs = verifyLogsAgainstQuote({ ...(eventLog ? { eventLog, eventLogCheckMemory: eventLogMemoryCheck() } : {}), ...(ima ? { ima, imaCheckMemory: imaMemoryCheck('text') } : {}) }, v.pcrs);
    v.checks.push(...logs.checks);
    result['logs'] = {
      valid: logs.ok,
      ...(logs.eventLog ? { eventLog: { valid: logs.eventLog.ok, pcrs: logs.eventLog.pcrs, quirksApplied: logs.eventLog.quirksApplied } } : {}),
      ...(logs.ima ? { ima: { valid: logs.ima.ok, bank: logs.ima.bank, pcrs: logs.ima.pcrs } } : {}),
    };
    result['valid'] = logs.ok;
    if (!logs.ok) {
      const failed = logs.checks.find((c) => c.status === 'fail');
      const error = new VerificationError(failed?.code ?? 'EVENTLOG_REPLAY_MISMATCH', failed?.message ?? 'a log does not replay to the quoted PCRs', {
        check: failed?.id,
        expected: failed?.expected,
        actual: failed?.actual,
      });
      return { ok: false, exitCode: EXIT_CODES.NOT_TRUSTED, result, error, human: human(v, ak, globals.verbose, error) };
    }
  }
  if (!v.ok) {
    v.failure = withMessageHint(v.failure, message);
  }
  return {
    ok: v.ok,
    exitCode: v.ok ? EXIT_CODES.OK : EXIT_CODES.NOT_TRUSTED,
    result,
    error: v.ok ? undefined : v.failure,
    human: human(v, ak, globals.verbose),
  };
}

/**
 * A signature that does not verify over a --message file that is no TPMS_ATTEST at all (a bundle, a PCR file,
 * text): the verdict stands (exit 1, nothing was verified), and the message says what the file's first bytes
 * are, which are only looked at for this hint.
 */
function withMessageHint(failure: VerificationError, message: Buffer): VerificationError {
  // a TPM 1.2 quote whose signature verifies (the AK given as a plain key) fails on the TPM 2.0 magic
  const tpm12 = failure.code === 'QUOTE_MESSAGE_ALTERED' || failure.code === 'QUOTE_BAD_SIGNATURE' || failure.code === 'QUOTE_BAD_MAGIC' ? describeTpm12Structure(message) : undefined;
  if (tpm12) {
    const hint = `the --message file is ${tpm12}: ${TPM12_UNSUPPORTED}`;
    return new VerificationError(failure.code, `${failure.message}; ${hint}`, { ...failure.details, hint, tpmVersion: '1.2' }, { cause: failure });
  }
  if (failure.code !== 'QUOTE_MESSAGE_ALTERED' && failure.code !== 'QUOTE_BAD_SIGNATURE') return failure;
  if (message.length >= 4 && message.readUInt32BE(0) === TPM_GENERATED_VALUE) return failure;
  const head = message.subarray(0, 64);
  const text = head.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09);
  const what = text ? `text ("${head.toString('latin1').replace(/\s+/g, ' ').slice(0, 24)}...")` : `0x${head.subarray(0, 4).toString('hex')}`;
  const hint = `the --message file does not start with TPM_GENERATED_VALUE (0xff544347) but with ${what}: it is not a TPMS_ATTEST (tpm2_quote -m); an evidence bundle is checked with vtpm-verify verify`;
  return new VerificationError(failure.code, `${failure.message}; ${hint}`, { ...failure.details, hint }, { cause: failure });
}
