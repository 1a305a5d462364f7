// vtpm-verify attest URL and vtpm-verify verify BUNDLE: one deep attestation,
// live or replayed from a saved bundle, rendered as a tree, the JSON
// envelope, or an EAR.

import { isAscii } from 'node:buffer';
import { EXIT_CODES, TransportError, UsageError, VtpmError, type ExitCode } from '../../errors.js';
import type { AttestationResult } from '../../verify/result.js';
import type { EvidenceSource, WalkOutcome } from '../../verify/walker.js';
import type { TopNonce } from '../../verify/nonce-chain.js';
import type { CommandOutcome, Style } from '../output.js';
import { setupVerifier, type VerifierSetup, type VerifierSetupOptions } from '../verifier-setup.js';
import { VERSION } from '../version.js';
import { eventLogMemoryCheck, imaMemoryCheck } from '../memory-check.js';
import { reservedParameterProblem } from '../../transport/evidence-request.js';
import { MAX_URL_LENGTH } from '../../transport/url.js';
import { checkOutputFile, writeFileAtomic } from '../../util/files.js';
import { terminalSafe } from '../../util/terminal-safe.js';

export interface AttestOptions extends VerifierSetupOptions, ClientOptions {
  json: boolean;
  ear: boolean;
  earKey?: string | undefined;
  save?: string | undefined;
  /** 32 bytes a relying party chose: the random part of the top nonce (verify --challenge) */
  challenge?: Uint8Array | undefined;
  /** the vTPM instance expected at the URL */
  instance?: Uint8Array | undefined;
  maxDepth?: number | undefined;
  /** a state file ('' = the default location); absent: no state */
  state?: string | undefined;
  verbose: boolean;
}

export function exitCodeForVerdict(verdict: AttestationResult['verdict']): ExitCode {
  return verdict === 'trusted' ? EXIT_CODES.OK : verdict === 'not-trusted' ? EXIT_CODES.NOT_TRUSTED : EXIT_CODES.INCOMPLETE;
}

export function positiveInt(value: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError('USAGE', `${option}: expected a whole number from 1 to ${max}, got ${JSON.stringify(value)}`, { option, value });
  }
  return Number(value);
}

/** --challenge, --instance: exactly 32 bytes as 64 hex digits (anything else is bad usage, exit 2). */
export function bytes32(value: string, option: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new UsageError('USAGE', `${option}: expected 32 bytes as 64 hex digits, got ${JSON.stringify(value.slice(0, 80))}`, { option, value: value.slice(0, 80), length: value.length });
  }
  return Buffer.from(value, 'hex');
}

/** Checks the URL argument before any I/O, so a bad URL is bad usage (exit 2), not a transport failure. */
export function checkTargetUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError('USAGE', `not a URL: ${JSON.stringify(url)} (expected http://host:port/path or https://...)`, { url });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('USAGE', `only http and https evidence endpoints are supported, not ${u.protocol}`, { url });
  // what the transport would refuse anyway, refused as the bad usage it is (exit 2)
  if (u.username || u.password) throw new UsageError('USAGE', 'credentials in the URL are not supported (use --cert and --key for mutual TLS)', { url: `${u.protocol}//${u.host}${u.pathname}` });
  if (u.port === '0') throw new UsageError('USAGE', 'port 0 in the URL: no server listens there', { url: `${u.protocol}//${u.host}${u.pathname}` });
  if (url.length > MAX_URL_LENGTH) throw new UsageError('USAGE', `the URL is ${url.length} characters, more than ${MAX_URL_LENGTH}`, { length: url.length, max: MAX_URL_LENGTH });
  const reserved = reservedParameterProblem(u);
  if (reserved !== undefined) throw new UsageError('USAGE', reserved.message, { parameter: reserved.parameter });
  return url;
}

export async function runAttest(url: string, opts: AttestOptions): Promise<CommandOutcome> {
  checkTargetUrl(url);
  if (opts.json && opts.ear) throw new UsageError('USAGE', '--json and --ear are exclusive: choose one output', {});
  const earKey = opts.earKey !== undefined ? await readEarKey(opts.earKey) : undefined;
  // where the bundle goes is checked before the walk: a FIFO would block the write for ever, a missing folder waste the walk
  if (opts.save !== undefined) checkOutputFile('--save', opts.save);
  const setup = await setupVerifier(opts);
  for (const w of setup.warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);

  const [{ liveSource }, { walk }, { drawTopNonce }] = await Promise.all([
    import('../../transport/layer-source.js'),
    import('../../verify/walker.js'),
    import('../../verify/nonce-chain.js'),
  ]);
  const client = await evidenceClient(opts);
  const state = opts.state !== undefined ? await openStateFile(opts.state) : undefined;
  try {
    const now = new Date();
    const top = drawTopNonce(now, url, opts.challenge);
    const assess = state ? (await import('../../state/assess.js')).stateAssessor(state, { target: url, time: now.getTime() }) : undefined;
    const outcome = await walk({ ...walkOptions(url, top, setup, now, opts.maxDepth, opts.instance), ...(assess ? { assess } : {}) }, liveSource(client) as EvidenceSource);
    if (state) (await import('../../state/assess.js')).recordResult(state, outcome.result);
    let saveError: VtpmError | undefined;
    if (opts.save !== undefined) {
      try {
        await saveBundle(opts.save, url, top, outcome);
      } catch (err) {
        if (!(err instanceof VtpmError)) throw err;
        saveError = err;
      }
    }
    const rendered = await renderOutcome(outcome.result, opts, earKey, undefined, opts.challenge);
    if (!saveError) return rendered;
    // a bundle that cannot be written does not hide the verdict (recorded in the state file already):
    // the result is shown, and a failed attestation keeps its code (1 wins, as for audit reports)
    process.stderr.write(`error: ${terminalSafe(saveError.message)}\n`);
    if (rendered.exitCode !== EXIT_CODES.OK) return rendered;
    return { ...rendered, ok: false, exitCode: EXIT_CODES.INCOMPLETE, error: saveError };
  } finally {
    client.close();
    state?.close();
  }
}

/** The options of a live evidence client: TLS files and timeouts. */
export interface ClientOptions {
  timeout?: number | undefined;
  connectTimeout?: number | undefined;
  ca?: string[] | undefined;
  cert?: string | undefined;
  key?: string | undefined;
}

/** An evidence client for live attestation (TLS files read now: a bad file is bad usage, before any I/O). */
export async function evidenceClient(opts: ClientOptions) {
  const [{ EvidenceClient }, { readTlsFiles }] = await Promise.all([import('../../transport/evidence-client.js'), import('../../transport/tls-files.js')]);
  const tls = readTlsFiles({ ...(opts.ca ? { ca: opts.ca } : {}), ...(opts.cert ? { cert: opts.cert } : {}), ...(opts.key ? { key: opts.key } : {}) });
  return new EvidenceClient({
    tls,
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
    ...(opts.connectTimeout !== undefined ? { connectTimeoutMs: opts.connectTimeout } : {}),
  });
}

export interface VerifyBundleOptions extends VerifierSetupOptions {
  json: boolean;
  ear: boolean;
  earKey?: string | undefined;
  /** the relying party's challenge: the bundle's random bytes must be it */
  challenge?: Uint8Array | undefined;
  /** the vTPM instance expected at the bundle's target */
  instance?: Uint8Array | undefined;
  maxDepth?: number | undefined;
  verbose: boolean;
}

export async function runVerifyBundle(file: string, opts: VerifyBundleOptions): Promise<CommandOutcome> {
  if (opts.json && opts.ear) throw new UsageError('USAGE', '--json and --ear are exclusive: choose one output', {});
  const earKey = opts.earKey !== undefined ? await readEarKey(opts.earKey) : undefined;
  const [{ readInputFile }, bundleMod, { walk }, { bundleMemoryCheck, JSON_PARSE_BYTES_PER_VALUE }] = await Promise.all([
    import('../../util/files.js'),
    import('../../verify/bundle.js'),
    import('../../verify/walker.js'),
    import('../memory-check.js'),
  ]);
  // read whole as text (one byte a character, or two where one is past U+00FF), then parsed: each step checked
  // against the heap first, as the transport caps what it reads from the network
  const room = bundleMemoryCheck(file);
  const data = readInputFile(file, 'evidence bundle', bundleMod.MAX_BUNDLE_BYTES);
  room(isAscii(data) ? data.length : 2 * data.length);
  const bundle = bundleMod.parseBundle(data.toString('utf8'), {
    beforeParse: ({ chars, values, twoByte }) => room(chars * (twoByte ? 2 : 1) + values * JSON_PARSE_BYTES_PER_VALUE),
  });
  const setup = await setupVerifier(opts);
  for (const w of setup.warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);
  if (opts.challenge !== undefined) bundleMod.checkBundleChallenge(bundle, opts.challenge);
  const top = bundleMod.bundleTopNonce(bundle);
  const evidenceTime = new Date(bundle.time);
  const outcome = await walk(
    { ...walkOptions(bundle.target, top, setup, evidenceTime, opts.maxDepth, opts.instance), now: new Date(), evidenceTime },
    bundleMod.bundleSource(bundle),
  );
  // evidenceTime: when the bundle's evidence was collected, at which certificates, CRLs and a freshness rule were
  // judged (startedAt/finishedAt are when this verification ran)
  const result: AttestationResult & { evidenceTime: string } = { ...bundleMod.refuseUnaskedLayers(bundle, outcome.result, outcome.collected.length), evidenceTime: evidenceTime.toISOString() };
  // the verdict is of evidence collected then, not now: said under it (without a freshness rule any date passes)
  const freshness = setup.policy.spec.freshness !== undefined;
  const when = `evidence collected ${result.evidenceTime} (the bundle's time), judged as of then${freshness ? '' : '; no freshness rule bounds its age'}`;
  return renderOutcome(result, opts, earKey, when, opts.challenge);
}

/**
 * The walk options every live or offline attestation shares. Each layer's IMA list is parsed against the memory
 * this process may use (as `eventlog --ima` does): a list of up to 24 MiB per layer (a bundle's, or a live
 * response's) can hold 760,000 entries, and one at the cap ended a 256 MB heap with V8's fatal out-of-memory error;
 * each layer's firmware log is kept until the walk ends (three of 100,000 events, 20 MB of bundle, ended it too).
 */
export function walkOptions(target: string, top: TopNonce, setup: Pick<VerifierSetup, 'trust' | 'cache' | 'crls' | 'policy' | 'policySource'>, at: Date, maxDepth: number | undefined, expectInstanceId?: Uint8Array) {
  return {
    target,
    topNonce: top,
    trust: setup.trust,
    cache: setup.cache,
    ...(setup.crls.length > 0 ? { crls: setup.crls } : {}),
    policy: setup.policy,
    policySource: setup.policySource,
    at,
    ...(maxDepth !== undefined ? { maxDepth } : {}),
    ...(expectInstanceId ? { expectInstanceId } : {}),
    imaCheckMemory: imaMemoryCheck('text'),
    eventLogCheckMemory: eventLogMemoryCheck(),
  };
}

/** Opens the state file given ('' = the default location). */
export async function openStateFile(path: string) {
  const { openState, resolveStatePath } = await import('../../state/index.js');
  return openState(resolveStatePath(path === '' ? undefined : path));
}

async function saveBundle(path: string, target: string, top: TopNonce, outcome: WalkOutcome): Promise<void> {
  const { bundleFromWalk } = await import('../../verify/bundle.js');
  const bundle = bundleFromWalk(target, top, outcome.collected, `vtpm-verify ${VERSION}`);
  try {
    // whole or not at all: a full disk must not leave a truncated bundle (or one in place of the last good one)
    writeFileAtomic(path, `${JSON.stringify(bundle, null, 1)}\n`);
  } catch (err) {
    throw new TransportError('IO_ERROR', `--save: cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path }, { cause: err });
  }
}

async function readEarKey(path: string) {
  const [{ readInputText }, { parseEarSigningKey }] = await Promise.all([import('../../util/files.js'), import('../../report/ear.js')]);
  return parseEarSigningKey(readInputText(path, 'EAR signing key', 64 * 1024));
}

/** challenge: the relying party's, which the top nonce was drawn from (checked): the EAR's eat_nonce */
async function renderOutcome(
  result: AttestationResult,
  opts: { json: boolean; ear: boolean; verbose: boolean },
  earKey: Awaited<ReturnType<typeof readEarKey>> | undefined,
  note?: string,
  challenge?: Uint8Array,
): Promise<CommandOutcome> {
  const exitCode = exitCodeForVerdict(result.verdict);
  const ok = result.verdict === 'trusted';
  const { VtpmError } = await import('../../errors.js');
  const error = result.error
    ? new VtpmError(result.verdict === 'incomplete' ? 'transport' : 'verification', result.error.code, result.error.message, result.error.details ?? {})
    : undefined;
  if (opts.ear) {
    const { toEar, earJson, signEar } = await import('../../report/ear.js');
    const claims = toEar(result, { build: `vtpm-verify ${VERSION}`, ...(challenge !== undefined ? { challenge } : {}) });
    const text = earKey ? await signEar(claims, earKey) : earJson(claims);
    return { ok, exitCode, result, error, human: () => text };
  }
  const { renderTree } = await import('../../report/tree.js');
  return { ok, exitCode, result, error, human: (style: Style) => `${renderTree(result, style, { verbose: opts.verbose })}${note ? `\n  ${style.dim(note)}` : ''}` };
}
