// A minimal deep-attestation walk for the simulator's tests, made only of the
// project's verification functions (not the walker, which is built
// elsewhere): fetch each layer over real HTTP with the EvidenceClient,
// validate its AK certificate path to the exported trust anchors, verify the
// quote over the chained nonce (protocol section 3), replay the event log and
// IMA list against it, and, below the top, replay the vplatformLog against
// PCR 23 and check that the upper instance is hosted and its issuer
// recorded. Each layer's failing codes are collected; the walk follows
// deepAttestation only from a valid certificate.

import { createHash, randomBytes } from 'node:crypto';
import { VtpmError } from '../../src/errors.js';
import { verifyLogsAgainstQuote } from '../../src/eventlog/verify-logs.js';
import type { EvidenceClient } from '../../src/transport/evidence-client.js';
import type { LayerEvidence, PcrSelection } from '../../src/transport/evidence.js';
import { akFromKeyObject } from '../../src/verify/ak.js';
import type { CheckResult } from '../../src/verify/checks.js';
import { verifyQuote } from '../../src/verify/quote.js';
import { checkInstanceHosted, verifyVplatformLog, type VplatformEntryInput } from '../../src/verify/vplatform.js';
import { layerInfo, validateChain, type TrustStore, type ValidationCache } from '../../src/x509/index.js';

export interface WalkedLayer {
  position: number;
  url: string;
  nonce: Buffer;
  /** failing check codes of this layer (empty: it verified) */
  codes: string[];
  checks: CheckResult[];
  kind?: 'physical' | 'virtual';
  anchorLabels?: readonly string[];
  instanceId?: string;
  evidence?: LayerEvidence;
  /** the hosted-instance check's actual (absent, migrate-out, ...) when it failed */
  hostedActual?: unknown;
}

export const SELECTION: PcrSelection[] = [
  { bank: 'sha256', pcrs: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
  { bank: 'sha1', pcrs: [0, 7, 10] },
];

export function nextNonce(nonce: Uint8Array, message: Uint8Array): Buffer {
  return createHash('sha256').update(nonce).update(createHash('sha256').update(message).digest()).digest();
}

function entriesOf(ev: LayerEvidence): VplatformEntryInput[] {
  return (ev.vplatformLog ?? []).map((e) =>
    e.op === 'issuer' ? { pcr: e.pcr, op: e.op, certificate: e.certificate } : { pcr: e.pcr, op: e.op, instance: e.instance },
  );
}

export async function attestChain(client: EvidenceClient, topUrl: string, store: TrustStore, options: { maxDepth?: number; timeoutMs?: number; cache?: ValidationCache; expectInstanceId?: string } = {}): Promise<WalkedLayer[]> {
  const out: WalkedLayer[] = [];
  let nonce: Buffer = randomBytes(32);
  let url = topUrl;
  let upper: { instanceId: Uint8Array; issuerSha256: string } | null = null;
  for (let position = 0; position < (options.maxDepth ?? 8); position++) {
    const layer: WalkedLayer = { position, url, nonce, codes: [], checks: [] };
    out.push(layer);
    const pcrs = position === 0 ? SELECTION : [{ bank: 'sha256' as const, pcrs: [...SELECTION[0]!.pcrs, 23] }, SELECTION[1]!];
    let ev: LayerEvidence;
    try {
      ev = (await client.fetch(url, { nonce, pcrs, ...(upper ? { instance: upper.instanceId } : {}) }, { layer: position, ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}) })).evidence;
    } catch (err) {
      if (err instanceof VtpmError) {
        layer.codes.push(err.code);
        return out;
      }
      throw err;
    }
    layer.evidence = ev;
    const path = validateChain(ev.certificates.map((c) => c.der), store, { at: new Date(), requireEku: 'ak', ...(options.cache ? { cache: options.cache } : {}) });
    if (!path.valid) {
      layer.codes.push(path.code);
      return out; // verify before follow
    }
    const info = layerInfo(path);
    layer.kind = info.layer?.kind;
    layer.anchorLabels = info.anchorLabels;
    if (info.layer?.instanceId) layer.instanceId = Buffer.from(info.layer.instanceId).toString('hex');
    // the VM asked for is the one that answered: a relay at its URL verifies in every other respect
    if (position === 0 && options.expectInstanceId !== undefined && layer.instanceId !== options.expectInstanceId) layer.codes.push('TARGET_INSTANCE_MISMATCH');
    const quote = verifyQuote({ ak: akFromKeyObject(info.publicKey!), message: ev.quote.message, signature: ev.quote.signature, nonce, pcrs: ev.unverifiedPcrs });
    layer.checks.push(...quote.checks);
    if (!quote.ok) {
      layer.codes.push(quote.failure.code);
    } else {
      const logs = verifyLogsAgainstQuote({ ...(ev.eventLog ? { eventLog: ev.eventLog } : {}), ...(ev.imaLog !== undefined ? { ima: Buffer.from(ev.imaLog, 'latin1') } : {}) }, quote.pcrs!);
      layer.checks.push(...logs.checks);
      let issuerRecorded = true;
      if (upper) {
        const vp = verifyVplatformLog(entriesOf(ev), quote.pcrs!.get('sha256')!.get(23)!);
        layer.checks.push(...vp.checks);
        if (vp.table) {
          const hosted = checkInstanceHosted(vp.table, upper.instanceId);
          layer.checks.push(hosted);
          if (hosted.status === 'fail') layer.hostedActual = hosted.actual;
          issuerRecorded = vp.table.issuers.has(upper.issuerSha256);
        }
      }
      for (const c of layer.checks) if (c.status === 'fail' && c.code && !layer.codes.includes(c.code)) layer.codes.push(c.code);
      // issuer binding (protocol 5.1), checked here whenever the layer below sent a table
      if (!issuerRecorded) layer.codes.push('VPLATFORM_ISSUER_NOT_RECORDED');
      if (!ev.eventLog) layer.codes.push('EVENTLOG_ABSENT');
    }
    if (info.layer?.kind !== 'virtual') return out;
    upper = { instanceId: info.layer.instanceId!, issuerSha256: info.issuerCertificateSha256 };
    url = info.layer.deepAttestation!;
    nonce = nextNonce(nonce, ev.quote.message);
  }
  return out;
}

/** Positions and codes of the layers that failed: [[position, code], ...]. */
export function failures(walk: readonly WalkedLayer[]): [number, string][] {
  return walk.flatMap((l) => l.codes.map((c) => [l.position, c] as [number, string]));
}
