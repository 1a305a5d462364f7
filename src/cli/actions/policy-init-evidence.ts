// Turning raw known-good evidence into verified layer facts for `policy init`:
// a saved evidence bundle (verified by the deep-attestation walker under the
// built-in baseline) or one quote with its logs given as files (verified like
// `vtpm-verify quote --eventlog --ima`). Nothing unverified reaches the
// generator: evidence that does not verify is refused.

import { isAscii } from 'node:buffer';
import { UsageError, VerificationError } from '../../errors.js';
import type { LayerFacts } from '../../policy/evidence.js';
import { readInputFile } from '../../util/files.js';
import { fromHex } from '../../util/bytes.js';

export interface QuoteFiles {
  ak: string;
  message: string;
  signature: string;
  /** hex; "" for a quote with no nonce; undefined when not given */
  nonce: string | undefined;
  pcrs: string;
  pcrsFormat: string;
  eventlog?: string | undefined;
  ima?: string | undefined;
}

/** Facts from a saved bundle, verified with the walker (trust anchors needed for the AK paths). */
export async function factsFromBundle(text: string, file: string, trust: readonly string[]): Promise<LayerFacts[]> {
  if (trust.length === 0) throw new UsageError('USAGE', `${file} is an evidence bundle: give --trust (the anchors its AK certificates verify to)`, { file });
  const [bundleMod, { walk }, { setupVerifier }, memory] = await Promise.all([
    import('../../verify/bundle.js'),
    import('../../verify/walker.js'),
    import('../verifier-setup.js'),
    import('../memory-check.js'),
  ]);
  // parsed, and each layer's logs, against the heap as verify BUNDLE reads them (past it V8 ends the process)
  const room = memory.bundleMemoryCheck(file);
  const bundle = bundleMod.parseBundle(text, { beforeParse: ({ chars, values, twoByte }) => room(chars * (twoByte ? 2 : 1) + values * memory.JSON_PARSE_BYTES_PER_VALUE) });
  const setup = await setupVerifier({ trust });
  const at = new Date(bundle.time);
  const outcome = await walk(
    {
      target: bundle.target,
      topNonce: bundleMod.bundleTopNonce(bundle),
      trust: setup.trust,
      cache: setup.cache,
      policy: setup.policy,
      policySource: setup.policySource,
      at,
      imaCheckMemory: memory.imaMemoryCheck('text'),
      eventLogCheckMemory: memory.eventLogMemoryCheck(),
    },
    bundleMod.bundleSource(bundle),
  );
  const result = bundleMod.refuseUnaskedLayers(bundle, outcome.result, outcome.collected.length);
  if (result.verdict !== 'trusted') {
    const e = result.error;
    throw new VerificationError(e?.code ?? 'POLICY_NOT_TRUSTED', `${file} is not known-good: it does not verify (${result.reason}); a golden policy is made only from evidence that verifies`, { file, ...(e?.details ?? {}) });
  }
  return outcome.facts;
}

/** Facts of one layer from a quote and its logs; the AK is a bare key, so no certificate facts. */
export async function factsFromQuoteFiles(f: QuoteFiles): Promise<LayerFacts[]> {
  const [{ loadAttestationKey }, { verifyQuote }, { parsePcrFile }, { parseTpmtSignature }, logsMod, memory] = await Promise.all([
    import('../../verify/ak.js'),
    import('../../verify/quote.js'),
    import('../../tpm/pcr-formats.js'),
    import('../../tpm/signature.js'),
    import('../../eventlog/index.js'),
    import('../memory-check.js'),
  ]);
  const ak = loadAttestationKey(readInputFile(f.ak, 'attestation key', 64 * 1024));
  const message = readInputFile(f.message, 'quote message', 16 * 1024);
  const signature = parseTpmtSignature(readInputFile(f.signature, 'quote signature', 16 * 1024));
  const pcrs = parsePcrFile(readInputFile(f.pcrs, 'PCR file', 1024 * 1024), f.pcrsFormat as never).values;
  const q = verifyQuote({ ak, message, signature, nonce: fromHex(f.nonce ?? '', '--nonce'), pcrs });
  if (!q.ok) throw new VerificationError(q.failure.code, `the quote is not known-good: ${q.failure.message}`, q.failure.details);
  const eventLog = f.eventlog !== undefined ? readInputFile(f.eventlog, 'event log', 16 * 1024 * 1024) : undefined;
  const ima = f.ima !== undefined ? readInputFile(f.ima, 'IMA list', 64 * 1024 * 1024) : undefined;
  // parsed against the heap, as quote --ima and verify BUNDLE parse them (past it V8 ends the process)
  const logs =
    eventLog || ima
      ? logsMod.verifyLogsAgainstQuote(
          { ...(eventLog ? { eventLog, eventLogCheckMemory: memory.eventLogMemoryCheck() } : {}), ...(ima ? { ima, imaCheckMemory: memory.imaMemoryCheck('text') } : {}) },
          q.pcrs!,
        )
      : null;
  if (logs && !logs.ok) {
    const failed = logs.checks.find((c) => c.status === 'fail');
    throw new VerificationError(failed?.code ?? 'EVENTLOG_REPLAY_MISMATCH', `the logs are not known-good: ${failed?.message ?? 'they do not replay to the quote'}`, {});
  }
  const { factsFromVerifiedQuote } = await import('../../verify/facts.js');
  return [factsFromVerifiedQuote(q, logs)];
}

export function isBundleText(text: string): boolean {
  return /"format"\s*:\s*"vtpm-verify\/evidence-bundle"/.test(text.slice(0, 4096));
}

/**
 * The text of `--from` (a bundle or a facts file), read as verify BUNDLE reads a bundle: checked against the heap
 * before it is made a string (FILE_TOO_LARGE, cap memory), with what a bundle's walk needs loaded first (what is
 * loaded after a text that just fits could itself end the process out of memory).
 */
export async function readEvidenceText(path: string): Promise<string> {
  const [{ bundleMemoryCheck }] = await Promise.all([
    import('../memory-check.js'),
    import('../../verify/bundle.js'),
    import('../../verify/walker.js'),
    import('../verifier-setup.js'),
  ]);
  const room = bundleMemoryCheck(path, undefined, 'evidence');
  const data = readInputFile(path, 'evidence', 256 * 1024 * 1024);
  // one byte a character, or two where one is past U+00FF
  room(isAscii(data) ? data.length : 2 * data.length);
  return data.toString('utf8');
}

/**
 * A facts file (the text of `--from` that is no bundle) against the heap before JSON.parse builds it, as a bundle's
 * parse is checked (FILE_TOO_LARGE, cap memory): its text fitting says nothing of its values (30 MB of `{}` is 10
 * million objects, and V8 ended the process, exit 134, no envelope).
 */
export async function checkFactsParse(text: string, path: string): Promise<void> {
  const [{ bundleMemoryCheck, JSON_PARSE_BYTES_PER_VALUE }, { jsonShape }] = await Promise.all([import('../memory-check.js'), import('../../util/json-nesting.js')]);
  const { values } = jsonShape(text);
  bundleMemoryCheck(path, undefined, 'facts file')(text.length * (/[^\u0000-\u00ff]/.test(text) ? 2 : 1) + values * JSON_PARSE_BYTES_PER_VALUE);
}
