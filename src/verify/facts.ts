// From verified results to the policy evaluator's input (src/policy/evidence.ts).
// Only what a verified quote, a replay that matched it, and a validated
// certificate vouch for becomes a fact.

import type { LogsVerification } from '../eventlog/index.js';
import type { EventLogFacts, ImaFacts, LayerFacts, QuoteFacts } from '../policy/evidence.js';
import type { PcrValues } from '../tpm/pcrs.js';
import { toHex } from '../util/bytes.js';
import { rfc4514 } from '../x509/name.js';
import type { QuoteVerified } from './quote.js';
import type { VerifiedLayer } from './walker.js';

export function quoteFacts(q: QuoteVerified): QuoteFacts {
  return {
    clock: q.clockInfo.clock,
    resetCount: q.clockInfo.resetCount,
    restartCount: q.clockInfo.restartCount,
    safe: q.clockInfo.safe,
    firmwareVersion: q.firmwareVersion,
    pcrs: q.pcrs ?? new Map(),
  };
}

function replayedPcrsOf(logs: LogsVerification): PcrValues {
  const out: PcrValues = new Map();
  for (const o of logs.eventLog?.pcrs ?? []) {
    const bank = out.get(o.bank) ?? new Map<number, Uint8Array>();
    bank.set(o.pcr, Buffer.from(o.replayed, 'hex'));
    out.set(o.bank, bank);
  }
  return out;
}

export function logFacts(logs: LogsVerification | null): { eventLog?: EventLogFacts; ima?: ImaFacts } {
  const out: { eventLog?: EventLogFacts; ima?: ImaFacts } = {};
  if (logs?.eventLog) {
    const boot = logs.bootFacts;
    out.eventLog = {
      replayMatched: logs.eventLog.ok,
      replayedPcrs: replayedPcrsOf(logs),
      ...(boot?.secureBoot ? { secureBoot: boot.secureBoot.enabled } : {}),
      bootApplications: (boot?.bootApplications ?? []).map((a) => ({ pcr: a.source.pcr, digests: a.digests, ...(a.filePath ? { path: a.filePath } : {}) })),
      kernelCmdlines: (boot?.kernelCommandLines ?? []).map((k) => k.text),
      ...(boot?.kernelCommandLinesUnattested.length ? { kernelCmdlinesUnattested: boot.kernelCommandLinesUnattested.length } : {}),
      ...(boot?.unboundDigests.length ? { unboundDigests: boot.unboundDigests.map((u) => ({ pcr: u.pcr, digests: u.digests })) } : {}),
      crtmVersions: (boot?.crtmVersions ?? []).map((k) => k.version),
      dbx: { sha256: boot?.dbx?.hashes ?? [], certSha256: (boot?.dbx?.certificates ?? []).map((x) => x.sha256) },
      quirksApplied: boot?.quirks ?? [],
    };
  }
  if (logs?.ima) {
    out.ima = {
      replayMatched: logs.ima.ok,
      entries: (logs.imaFacts?.measurements ?? []).map((m) => ({ path: m.path, digest: m.digest, algo: m.digestAlgorithm, ...(m.digestType !== undefined ? { digestType: m.digestType } : {}), template: m.template, ...(m.templateAttested === false ? { templateAttested: false as const } : {}), ...(m.entry === 0 && m.path === 'boot_aggregate' ? { bootAggregate: true } : {}) })),
      violations: (logs.imaFacts?.violations ?? []).map((v) => (v.path === undefined ? { entry: v.entry } : { entry: v.entry, path: v.path })),
      ...(logs.imaFacts?.undecoded.length ? { undecoded: logs.imaFacts.undecoded.map((u) => ({ entry: u.entry, template: u.template })) } : {}),
    };
  }
  return out;
}

export function toLayerFacts(v: VerifiedLayer, binding: LayerFacts['binding']): LayerFacts {
  const ext = v.info.layer;
  const c = v.target;
  const facts: LayerFacts = {
    position: v.position,
    uri: v.uri,
    kind: ext ? ext.kind : 'unspecified',
    ...(ext?.instanceId ? { instanceId: toHex(ext.instanceId) } : {}),
    certificate: {
      // RFC 4514 strings, as the policy language selects certificates by
      subject: rfc4514(c.subject),
      issuer: rfc4514(c.issuer),
      anchor: { label: v.info.anchorLabels[0] ?? 'unlabelled', subject: v.info.anchorSubjectRfc4514, vouchesFor: v.info.anchorLabels[0] ?? 'unlabelled', labels: v.info.anchorLabels.length ? [...v.info.anchorLabels] : ['unlabelled'] },
      ekus: [...(c.ext.extKeyUsage ?? [])],
      ...(v.info.tcg
        ? {
            tcg: {
              ...(v.info.tcg.manufacturer !== undefined ? { manufacturer: v.info.tcg.manufacturer } : {}),
              ...(v.info.tcg.model !== undefined ? { model: v.info.tcg.model } : {}),
              ...(v.info.tcg.version !== undefined ? { version: v.info.tcg.version } : {}),
            },
          }
        : {}),
    },
    quote: quoteFacts(v.quote),
    binding,
  };
  return { ...facts, ...logFacts(v.logs) };
}

/** One layer known only by a quote (a bare AK key, no certificate) and its logs. */
export function factsFromVerifiedQuote(q: QuoteVerified, logs: LogsVerification | null): LayerFacts {
  return {
    position: 0,
    uri: '',
    kind: 'unspecified',
    certificate: { subject: '', issuer: '', anchor: { label: '', subject: '', vouchesFor: '' }, ekus: [] },
    quote: quoteFacts(q),
    binding: { nonceChain: 'not-applicable', hostedInstance: 'not-applicable', issuer: 'not-applicable' },
    ...logFacts(logs),
  };
}
