// Realistic attestation results for the report tests, shaped as the layer
// walker produces them: a trusted 3-layer chain, one failing at the VMM with
// a PCR mismatch, one whose physical layer was unreachable, one under the
// built-in baseline policy, and one full of hostile text.
import { createHash } from 'node:crypto';
import { fail, pass, type CheckResult } from '../../src/verify/checks.js';
import type { AttestationResult, LayerResult, RuleOutcome } from '../../src/verify/result.js';
import type { RunChanges } from '../../src/state/run-changes.js';

export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);
export const NONCE = '5c0f3e9a1b7d24c68e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f';
const PCR7_GOLDEN = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const PCR7_SEEN = '7f83b1657ff1fc53b92dc18148a1d65dfc2d4b1fa3d677284addd200126d9069';

function hex(seed: string, bytes = 32): string {
  return seed.repeat(Math.ceil((bytes * 2) / seed.length)).slice(0, bytes * 2);
}

function rule(id: string, status: RuleOutcome['status'], message: string, extra: Partial<RuleOutcome> = {}): RuleOutcome {
  return { id, status, message, ...extra };
}

/** The checks a layer that verified completely has. */
function cleanChecks(position: number, below: boolean): CheckResult[] {
  const checks = [
    pass('quote.signature', 'the quote signature verifies with the AK'),
    pass('quote.nonce', 'the quote carries the expected nonce'),
    pass('quote.pcr-digest', 'the quoted PCR digest matches the PCR values'),
    pass('certificates.path', 'the AK certificate path verifies to a trust anchor'),
    pass('layer-extension', 'the AK certificate carries a valid TrustedLayer extension'),
    pass('eventlog.replay.sha256', 'the event log replays to the quoted PCRs'),
  ];
  if (position > 0) checks.push(pass('binding.nonce-chain', 'the nonce is chained from the quote above'));
  if (below) checks.push(pass('binding.hosted-instance', 'the layer below hosts this instance now'));
  return checks;
}

function layer(position: number, role: 'vm' | 'vmm' | 'physical', host: string, overrides: Partial<LayerResult> = {}): LayerResult {
  const physical = role === 'physical';
  const base: LayerResult = {
    position,
    uri: `https://${host}:${physical ? 9443 : 8443}`,
    status: 'trusted',
    nonce: hex(`${position}a7c`),
    kind: physical ? 'physical' : 'virtual',
    akName: `000b${hex(`${position}d4e1`)}`,
    // each machine its own key, as in a real fleet (report refuses two VMs answering with one)
    akKeyId: createHash('sha256').update(`ak:${host}`).digest('hex'),
    certificatePath: [
      {
        subject: `CN=${host} AK`,
        issuer: physical ? 'CN=Example TPM AK CA' : 'CN=Example vPlatform CA',
        serial: `0${position}a1`,
        notBefore: '2026-01-01T00:00:00Z',
        notAfter: '2027-01-01T00:00:00Z',
        sha256: hex(`${position}c3`),
      },
    ],
    anchor: physical
      ? { label: 'ak-ca', subject: 'CN=Example TPM AK CA', vouchesFor: 'ak-ca' }
      : { label: 'vplatform-ca', subject: 'CN=Example vPlatform CA', vouchesFor: 'vplatform-ca' },
    clockInfo: { clock: String(1_000_000 + position), resetCount: 3, restartCount: 0, safe: true },
    firmwareVersion: '0001000200030004',
    checks: cleanChecks(position, !physical),
    rules: [
      rule(`layer[${position}].pcrs.sha256.7`, 'pass', 'PCR 7 (sha256) is a golden value', { expected: [PCR7_GOLDEN], actual: PCR7_GOLDEN }),
      rule(`layer[${position}].trust.anchors`, 'pass', 'the AK path ends at an allowed anchor'),
      rule(`layer[${position}].eventLog.requireSecureBoot`, 'pass', 'secure boot is on'),
    ],
    elapsedMs: 4 + position * 3,
  };
  if (!physical) {
    base.instanceId = hex(`${position}f1b2`);
    base.deepAttestation = `https://host-below-${position}.example:9443`;
  }
  if (role !== 'vm') base.hostedInstanceCount = 1;
  return { ...base, ...overrides };
}

interface Meta {
  name?: string;
  group?: string;
  tags?: string[];
  /** ms from T0 to the start, and the duration */
  at?: number;
  took?: number;
}

function result(r: Omit<AttestationResult, 'startedAt' | 'finishedAt' | 'nonce' | 'platformPath' | 'chain'> & Partial<AttestationResult>, meta: Meta = {}): AttestationResult {
  const start = T0 + (meta.at ?? 0);
  const out: AttestationResult = {
    nonce: NONCE,
    startedAt: new Date(start).toISOString(),
    finishedAt: new Date(start + (meta.took ?? 25)).toISOString(),
    platformPath: r.layers.slice(1).map((l) => l.akName ?? ''),
    chain: [
      rule('chain.maxDepth', 'pass', 'the chain has 3 layers, at most 5'),
      rule('chain.endAt', 'pass', 'the walk ended at a physical layer'),
      rule('freshness.maxAge', 'not-applicable', 'live evidence (fresh by its nonce)'),
    ],
    ...r,
  };
  if (meta.name !== undefined) out.name = meta.name;
  if (meta.group !== undefined) out.group = meta.group;
  if (meta.tags !== undefined) out.tags = meta.tags;
  return out;
}

const PROD_POLICY = { source: 'policies/prod.yaml', id: 'prod-2026-11', builtin: false };

export function trustedResult(meta: Meta = {}): AttestationResult {
  const host = meta.name ?? 'vm-17';
  return result(
    {
      target: `https://${host}.prod.example:8443`,
      verdict: 'trusted',
      reason: 'every layer verified and satisfied the policy',
      policy: PROD_POLICY,
      layers: [layer(0, 'vm', `${host}.prod.example`), layer(1, 'vmm', 'vmm-3.prod.example'), layer(2, 'physical', 'host-9.prod.example')],
    },
    meta,
  );
}

export function pcrMismatchAtVmmResult(meta: Meta = {}): AttestationResult {
  const host = meta.name ?? 'vm-23';
  const vmm = layer(1, 'vmm', 'vmm-4.prod.example', { status: 'not-trusted' });
  vmm.rules = vmm.rules.map((r) =>
    r.id === 'layer[1].pcrs.sha256.7'
      ? rule(r.id, 'fail', 'PCR 7 (sha256) is not one of the golden values', { code: 'POLICY_PCR_VALUE', expected: [PCR7_GOLDEN], actual: PCR7_SEEN })
      : r,
  );
  vmm.error = { code: 'POLICY_PCR_VALUE', message: 'PCR 7 (sha256) is not one of the golden values', details: { expected: [PCR7_GOLDEN], actual: PCR7_SEEN } };
  return result(
    {
      target: `https://${host}.prod.example:8443`,
      verdict: 'not-trusted',
      reason: 'VMM (layer 1): PCR 7 (sha256) is not one of the golden values',
      error: { code: 'POLICY_PCR_VALUE', message: 'PCR 7 (sha256) is not one of the golden values', details: { layer: 1, expected: [PCR7_GOLDEN], actual: PCR7_SEEN } },
      policy: PROD_POLICY,
      layers: [layer(0, 'vm', `${host}.prod.example`), vmm, layer(2, 'physical', 'host-4.prod.example')],
    },
    meta,
  );
}

export function unreachablePhysicalResult(meta: Meta = {}): AttestationResult {
  const host = meta.name ?? 'vm-31';
  const error = {
    code: 'TRANSPORT_CONNECT_TIMEOUT',
    message: 'connecting to host-7.prod.example:9443 timed out after 5000 ms',
    details: { layer: 2, host: 'host-7.prod.example', port: 9443, timeoutMs: 5000 },
  };
  // as the walker leaves an unreachable layer: its fetch is a failing check
  const fetch = { id: 'evidence.fetch', status: 'fail' as const, code: error.code, message: error.message };
  const physical: LayerResult = { position: 2, uri: 'https://host-7.prod.example:9443', status: 'unreachable', nonce: hex('2a7c'), checks: [fetch], rules: [], error, elapsedMs: 5003 };
  return result(
    {
      target: `https://${host}.prod.example:8443`,
      verdict: 'incomplete',
      reason: 'host (layer 2): connecting to host-7.prod.example:9443 timed out after 5000 ms',
      error,
      policy: PROD_POLICY,
      layers: [layer(0, 'vm', `${host}.prod.example`), layer(1, 'vmm', 'vmm-7.prod.example'), physical],
      chain: [rule('chain.endAt', 'fail', 'the walk did not reach a physical layer', { code: 'POLICY_CHAIN_END', expected: 'physical', actual: 'none' })],
    },
    { took: 5040, ...meta },
  );
}

export function baselineResult(meta: Meta = {}): AttestationResult {
  const host = meta.name ?? 'vm-5';
  const layers = [layer(0, 'vm', `${host}.dev.example`), layer(1, 'vmm', 'vmm-1.dev.example'), layer(2, 'physical', 'host-1.dev.example')];
  for (const l of layers) l.rules = [];
  return result(
    {
      target: `https://${host}.dev.example:8443`,
      verdict: 'trusted',
      reason: 'every layer verified (built-in baseline policy)',
      policy: { source: 'built-in', id: 'baseline', builtin: true },
      layers,
      chain: [rule('chain.endAt', 'pass', 'the walk ended at a physical layer')],
    },
    meta,
  );
}

/** A not-trusted result whose every free-text field is hostile. */
export const XSS = '<img src=x onerror="window.__xss=1">';
export const SCRIPT = '<script>window.__xss=2</script>';
export const ANSI = '\u001b[2J\u001b]0;pwned\u0007';

export function hostileResult(meta: Meta = {}): AttestationResult {
  const vm = layer(0, 'vm', 'evil.example', {
    status: 'not-trusted',
    uri: `https://evil.example/${XSS}${ANSI}`,
    anchor: { label: `vplatform-ca${SCRIPT}`, subject: `CN=${XSS}`, vouchesFor: 'vplatform-ca' },
  });
  vm.checks = [
    ...vm.checks.filter((c) => c.id !== 'quote.signature'),
    fail('quote.signature', 'QUOTE_BAD_SIGNATURE', `server said: ${SCRIPT} ${ANSI}\u202eevil`, { expected: `${XSS}`, actual: '\u0000\u0001\u00a0"&\'' }),
  ];
  vm.error = { code: 'QUOTE_BAD_SIGNATURE', message: `server said: ${SCRIPT}` };
  return result(
    {
      target: `https://evil.example/${XSS}`,
      verdict: 'not-trusted',
      reason: `VM (layer 0): ${SCRIPT}${ANSI}`,
      error: { code: 'QUOTE_BAD_SIGNATURE', message: `server said: ${SCRIPT}` },
      policy: { source: `policies/${XSS}.yaml`, id: `id${SCRIPT}`, builtin: false },
      layers: [vm],
    },
    { name: `evil-${XSS}`, group: `grp${SCRIPT}`, tags: [`t${XSS}`], ...meta },
  );
}

/** What changed since a previous run (run 41): one VM worse (with a hostile target), one better, one between failures; two gone. */
export function runChanges(): RunChanges {
  return {
    runId: 41,
    worse: 1,
    better: 1,
    other: 1,
    added: 0,
    gone: 2,
    changes: [
      { target: 'https://b.example', before: 'incomplete', now: 'trusted' },
      { target: 'https://c.example', before: 'not-trusted', now: 'incomplete' },
      { target: 'https://<evil>.example', before: 'trusted', now: 'not-trusted' },
    ],
  };
}
