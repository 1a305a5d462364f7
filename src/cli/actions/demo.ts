// vtpm-verify demo: starts the built-in simulated platform on 127.0.0.1,
// attests it with policies/demo.yaml exactly as `attest` would a real one, and
// prints the tree. --tamper injects one of the simulator's faults, so each
// check can be seen failing with its own code on its own layer.

import { join } from 'node:path';
import { UsageError } from '../../errors.js';
import type { AttestationResult } from '../../verify/result.js';
import type { EvidenceSource } from '../../verify/walker.js';
import { packageRoot } from '../../util/package-root.js';
import type { CommandOutcome, Style } from '../output.js';
import { setupVerifier } from '../verifier-setup.js';
import { terminalSafe } from '../../report/format.js';
import { exitCodeForVerdict } from './attest.js';

export interface DemoOptions {
  layers: number;
  tamper: string[];
  policy?: string | undefined;
  timeout: number;
  verbose: boolean;
}

/** --layers: a whole number from 2 (VM → physical) to 8 (the most the demo policy follows, as attest does by default). */
export function parseDemoLayers(text: string): number {
  const n = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 2 && n <= 8)) throw new UsageError('USAGE', `--layers: expected a whole number from 2 to 8, got ${JSON.stringify(text)}`, { option: 'layers', value: text });
  return n;
}

export async function runDemo(opts: DemoOptions): Promise<CommandOutcome> {
  // the demo policy, like attest, follows at most 8 layers (maxDepth): a deeper platform could only fail WALK_TOO_DEEP
  parseDemoLayers(String(opts.layers));
  const [{ startSimulator }, { parseTamper, FAULTS, expectedCode }, { EvidenceClient }, { liveSource }, { walk }, { drawTopNonce }, { renderTree }] = await Promise.all([
    import('../../simulator/start.js'),
    import('../../simulator/faults.js'),
    import('../../transport/evidence-client.js'),
    import('../../transport/layer-source.js'),
    import('../../verify/walker.js'),
    import('../../verify/nonce-chain.js'),
    import('../../report/tree.js'),
  ]);
  const faults = opts.tamper.map((t) => {
    const spec = parseTamper(t);
    return { ...spec.fault, layer: spec.layer };
  });
  const policyPath = opts.policy ?? join(packageRoot(), 'policies', 'demo.yaml');
  const sim = await startSimulator({ topology: { layers: opts.layers }, faults });
  const client = new EvidenceClient({ timeoutMs: opts.timeout, connectTimeoutMs: Math.min(opts.timeout, 2_000) });
  let result: AttestationResult;
  try {
    const setup = await setupVerifier({ policy: policyPath, trust: [sim.trustDir] });
    for (const w of setup.warnings) process.stderr.write(`warning: ${terminalSafe(w)}\n`);
    const now = new Date();
    const outcome = await walk(
      {
        target: sim.topUrl,
        topNonce: drawTopNonce(now, sim.topUrl),
        trust: setup.trust,
        cache: setup.cache,
        policy: setup.policy,
        policySource: setup.policySource,
        at: now,
        // the demo knows which VM it asks, as an audit inventory does: a relay at its URL (relayed-top) is caught
        ...pinned(sim.inventory()[0]!.instanceId),
      },
      liveSource(client) as EvidenceSource,
    );
    result = outcome.result;
  } finally {
    client.close();
    await sim.close();
  }
  const expected = sim.expected();
  const injected = expected.faults.map((f) => ({ fault: f.fault, layer: f.position, name: f.layer, expectedCode: f.code, does: FAULTS[f.fault].does }));
  const names = [...sim.layers].reverse().map((l) => l.role).join(' → ');
  const exitCode = exitCodeForVerdict(result.verdict);
  const { VtpmError } = await import('../../errors.js');
  return {
    ok: result.verdict === 'trusted',
    exitCode,
    result: { simulator: { layers: sim.layers.map((l) => ({ name: l.name, role: l.role, kind: l.kind, url: l.url })), injected }, attestation: result },
    error: result.error ? new VtpmError(result.verdict === 'incomplete' ? 'transport' : 'verification', result.error.code, result.error.message, result.error.details ?? {}) : undefined,
    human: (style: Style) => {
      const head = [
        style.bold(`vtpm-verify demo: a simulated ${names} platform on ${sim.origin}`),
        style.dim(`  genuine TPM 2.0 quotes (soft TPMs), AK certificates with the TrustedLayer extension, per-host vPlatform CAs,`),
        style.dim(`  firmware event logs, an IMA list in the VM, vPlatform tables in PCR 23; policy ${policyPath}`),
      ];
      for (const f of injected) head.push(style.warn(`  injected: ${f.fault} at layer ${f.layer} (${f.name}): ${f.does}; expect ${f.expectedCode}`));
      if (injected.length === 0 && opts.tamper.length === 0) head.push(style.dim('  try: vtpm-verify demo --tamper pcr@1   (or log-event, signature, certificate, nonce, not-hosted, relayed, relayed-top, stale-binding, foreign-issuer, unreachable)'));
      void expectedCode;
      return `${head.join('\n')}\n\n${renderTree(result, style, { verbose: opts.verbose })}`;
    },
  };
}

function pinned(instanceId: string | undefined): { expectInstanceId?: Buffer } {
  return instanceId !== undefined ? { expectInstanceId: Buffer.from(instanceId, 'hex') } : {};
}
