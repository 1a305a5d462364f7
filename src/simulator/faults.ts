// Fault injection for the simulated platform: each fault is an explicit
// option on one layer, and FAULTS says what the verifier should report for
// it and on which layer. Tests, the demo (`--tamper WHAT[@LAYER]`) and fleet
// fault plans read this one table.
//
// Where a fault is reported: always on the faulty layer, the one `@LAYER`
// names (0 = the VM at the top). Binding faults break the relation between
// the faulty layer and the layer above it (it does not host that instance,
// it is relayed, its vPlatform table is stale, or the instance above holds a
// certificate from another host's CA), so they need a layer above: @1 or
// lower. The check fails on the lower layer because that is the layer whose
// signed evidence does not support the claim.

import { UsageError } from '../errors.js';

/** The longest delay a Node timer holds. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export type FaultName =
  | 'pcr'
  | 'log-event'
  | 'signature'
  | 'certificate'
  | 'nonce'
  | 'not-hosted'
  | 'relayed'
  | 'relayed-top'
  | 'stale-binding'
  | 'foreign-issuer'
  | 'unreachable'
  | 'slow'
  | 'huge'
  | 'eventlog-missing'
  | 'ima-tamper';

export interface FaultInfo {
  /** what the simulator does */
  does: string;
  /** layer: the layer's own evidence or service; binding: between the layer and the one above it (needs one) */
  scope: 'layer' | 'binding';
  /** the code the verifier reports on the faulty layer */
  code: string;
  /** codes that may accompany it on the same layer */
  alsoCodes: readonly string[];
  /** the faulty layer's status in the attestation result (src/verify/result.ts LayerStatus) */
  status: 'not-trusted' | 'unreachable';
  /** what the verifier must do to see it */
  needs: string;
  /** which layers can have it: a VM (an IMA list), a VM at the top (one with no guests), or any */
  layers: 'any' | 'vm' | 'top';
}

export const FAULTS = {
  pcr: {
    does: 'a PCR value in the evidence differs from the value the quote signed (one byte changed after quoting)',
    scope: 'layer',
    code: 'QUOTE_PCR_DIGEST_MISMATCH',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'check the PCR values against the quote pcrDigest',
    layers: 'any',
  },
  'log-event': {
    does: "one event of the firmware log is altered (default: the first PCR 7 event, SecureBoot) with digests made consistent with its new data; the quote is genuine",
    scope: 'layer',
    code: 'EVENTLOG_REPLAY_MISMATCH',
    alsoCodes: ['POLICY_EVENTLOG_REPLAY'],
    status: 'not-trusted',
    needs: 'quote the altered PCR (7 by default; PCRs 0-7 are always worth quoting) and replay the log against the quote',
    layers: 'any',
  },
  signature: {
    does: 'the quote signature is corrupted (one bit flipped)',
    scope: 'layer',
    code: 'QUOTE_BAD_SIGNATURE',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'verify the quote signature with the AK of the verified certificate',
    layers: 'any',
  },
  certificate: {
    does: "the layer's AK certificate names its CA as issuer (and its key id) but is signed by another key",
    scope: 'layer',
    code: 'CHAIN_BAD_SIGNATURE',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'validate the AK certificate path to the trust anchors; do not follow deepAttestation of an unverified certificate',
    layers: 'any',
  },
  nonce: {
    does: 'the quote carries another nonce than the one asked for (the previous request\'s nonce: a replayed quote)',
    scope: 'layer',
    code: 'QUOTE_NONCE_MISMATCH',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'compare extraData with the nonce sent (the chained nonce of protocol section 3 below the top)',
    layers: 'any',
  },
  'not-hosted': {
    does: 'the layer recorded migrate-out for the instance above it: its signed vPlatform table no longer hosts it',
    scope: 'binding',
    code: 'VPLATFORM_INSTANCE_LEFT',
    alsoCodes: [],
    status: 'not-trusted',
    needs: "replay the layer's vplatformLog against its quoted sha256 PCR 23 and require the upper instanceId hosted now (check actual: migrate-out)",
    layers: 'any',
  },
  relayed: {
    does: "the layer's URI is served by a relay that returns another genuine platform's evidence (same request, same nonce), a platform that never hosted the instance above",
    scope: 'binding',
    code: 'VPLATFORM_INSTANCE_NOT_HOSTED',
    alsoCodes: ['VPLATFORM_ISSUER_NOT_RECORDED'],
    status: 'not-trusted',
    needs: 'the hosted-instance check (its actual is "absent": the instance was never recorded there, unlike not-hosted\'s migrate-out); with issuer binding also the issuer check',
    layers: 'any',
  },
  'relayed-top': {
    does: "the VM's URI is served by a relay that forwards each request to another genuine VM and returns its evidence unchanged: every check of the walk passes, as that VM",
    scope: 'layer',
    code: 'TARGET_INSTANCE_MISMATCH',
    alsoCodes: [],
    status: 'not-trusted',
    needs: "know which vTPM instance should answer at the URL (an inventory's instanceId, attest --instance) and compare it with the instanceId of the top AK certificate: nothing in the evidence names the URL it was asked at",
    layers: 'top',
  },
  'stale-binding': {
    does: 'the layer sends an outdated vplatformLog (without its latest entry) that still lists the instance above as hosted but no longer replays to the quoted PCR 23',
    scope: 'binding',
    code: 'VPLATFORM_REPLAY_MISMATCH',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'replay the vplatformLog against the quoted sha256 PCR 23 before reading it (quote PCR 23 on every layer below the top)',
    layers: 'any',
  },
  'foreign-issuer': {
    does: "the AK certificate of the layer above is minted by another host's per-host vPlatform CA (valid under the vPlatform root) for an instance this layer hosts",
    scope: 'binding',
    code: 'VPLATFORM_ISSUER_NOT_RECORDED',
    alsoCodes: [],
    status: 'not-trusted',
    needs: "issuer binding (protocol 5.1): the SHA-256 of the upper AK certificate's issuer must be an issuer entry of this layer's verified table; do the check whenever the layer sent a vplatformLog, even where the policy leaves it optional",
    layers: 'any',
  },
  unreachable: {
    does: "nothing answers at the layer's URI: the connection is refused (mode refused, the default) or closed without an answer (mode reset)",
    scope: 'layer',
    code: 'TRANSPORT_REFUSED',
    alsoCodes: ['TRANSPORT_RESET'],
    status: 'unreachable',
    needs: 'report the transport failure on this layer and still report the layers above it',
    layers: 'any',
  },
  slow: {
    does: 'the layer answers after a delay longer than any client timeout (mode delay), or sends headers and then drips a byte every 200 ms forever (mode drip, the default)',
    scope: 'layer',
    code: 'TRANSPORT_TIMEOUT',
    alsoCodes: [],
    status: 'unreachable',
    needs: 'a total timeout on each request, body included',
    layers: 'any',
  },
  huge: {
    does: 'the layer sends an endless body as fast as the client reads (mode endless, the default) or declares a 64 GiB Content-Length (mode declared)',
    scope: 'layer',
    code: 'TRANSPORT_TOO_LARGE',
    alsoCodes: [],
    status: 'unreachable',
    needs: 'a response size cap, checked on Content-Length and on the bytes received',
    layers: 'any',
  },
  'eventlog-missing': {
    does: 'the evidence has no eventLog',
    scope: 'layer',
    code: 'POLICY_EVENTLOG_MISSING',
    alsoCodes: [],
    status: 'not-trusted',
    needs: 'a policy that requires the event log on this layer (policies/demo.yaml does on the VM and the VMM)',
    layers: 'any',
  },
  'ima-tamper': {
    does: "one IMA entry's file digest is changed and its template hash made consistent: every line checks, the list no longer replays to PCR 10",
    scope: 'layer',
    code: 'IMA_REPLAY_MISMATCH',
    alsoCodes: ['POLICY_IMA_REPLAY'],
    status: 'not-trusted',
    needs: 'quote PCR 10 and replay the IMA list against it',
    layers: 'vm',
  },
} as const satisfies Record<FaultName, FaultInfo>;

export const FAULT_NAMES = Object.keys(FAULTS) as FaultName[];

export type UnreachableMode = 'refused' | 'reset';
export type SlowMode = 'drip' | 'delay';
export type HugeMode = 'endless' | 'declared';

/** One fault on one layer, with its options. */
export interface LayerFault {
  fault: FaultName;
  /** log-event: the PCR whose first event is altered (default 7) */
  pcr?: number | undefined;
  /** unreachable: refused | reset; slow: drip | delay; huge: endless | declared */
  mode?: UnreachableMode | SlowMode | HugeMode | undefined;
  /** slow, mode delay: how long before answering (default 10 minutes) */
  delayMs?: number | undefined;
  /**
   * Binding faults: the layer above whose binding is broken (by name). A
   * layer hosting several guests must name one for not-hosted and
   * foreign-issuer; for relayed and stale-binding, naming one limits the
   * fault to requests made on behalf of that guest (the `instance` query
   * parameter), absent means every request.
   */
  upper?: string | undefined;
}

export const FAULT_MODES: Partial<Record<FaultName, readonly string[]>> = {
  unreachable: ['refused', 'reset'],
  slow: ['drip', 'delay'],
  huge: ['endless', 'declared'],
};

/** The code a fault should produce, its mode considered (an unreachable layer that resets is TRANSPORT_RESET). */
export function expectedCode(f: Pick<LayerFault, 'fault' | 'mode'>): string {
  if (f.fault === 'unreachable' && f.mode === 'reset') return 'TRANSPORT_RESET';
  return FAULTS[f.fault].code;
}

export function faultError(message: string, details: Record<string, unknown> = {}): UsageError {
  return new UsageError('SIM_FAULT_INVALID', message, details);
}

export function isFaultName(name: string): name is FaultName {
  return Object.hasOwn(FAULTS, name);
}

/** Checks a fault's options on its own (where it applies is checked when the platform is built). */
export function checkLayerFault(f: LayerFault): LayerFault {
  if (!isFaultName(f.fault)) throw faultError(`unknown fault "${String(f.fault).slice(0, 40)}"; known: ${FAULT_NAMES.join(', ')}`, { fault: String(f.fault).slice(0, 40) });
  const modes = FAULT_MODES[f.fault];
  if (f.mode !== undefined && !modes?.includes(f.mode)) {
    throw faultError(`fault ${f.fault}: mode "${String(f.mode)}" is not one of ${modes ? modes.join(', ') : '(none)'}`, { fault: f.fault, mode: f.mode });
  }
  if (f.pcr !== undefined && (f.fault !== 'log-event' || !Number.isInteger(f.pcr) || f.pcr < 0 || f.pcr > 23)) {
    throw faultError(`fault ${f.fault}: pcr applies to log-event only, 0..23`, { fault: f.fault, pcr: f.pcr });
  }
  // a timer holds at most 2^31 - 1 ms (24.8 days): beyond, Node fires at once and "slow" would be fast
  if (f.delayMs !== undefined && (f.fault !== 'slow' || f.mode !== 'delay' || !Number.isInteger(f.delayMs) || f.delayMs < 0 || f.delayMs > MAX_DELAY_MS)) {
    throw faultError(`fault ${f.fault}: delayMs applies to slow with mode delay only, a whole number of ms up to ${MAX_DELAY_MS}`, { fault: f.fault });
  }
  if (f.upper !== undefined && FAULTS[f.fault].scope !== 'binding') throw faultError(`fault ${f.fault}: upper applies to binding faults only`, { fault: f.fault });
  return f;
}

/** Where a `--tamper` fault goes: a position (0 = top, negative from the bottom) or a layer name. */
export interface TamperSpec {
  fault: LayerFault;
  layer: number | string;
}

const TAMPER_RE = /^([a-z-]+)(?::([a-z]+))?(?:@(-?\d{1,2}|[A-Za-z0-9][A-Za-z0-9._-]{0,63}))?$/;

/**
 * `WHAT[:MODE][@LAYER]`, e.g. `pcr@0`, `not-hosted@1`, `unreachable:reset@2`,
 * `slow@host`. Without @LAYER: layer faults go on the top layer (0), binding
 * faults on the layer below it (1).
 */
export function parseTamper(text: string): TamperSpec {
  const m = TAMPER_RE.exec(text);
  if (!m) throw faultError(`--tamper "${text.slice(0, 80)}": expected WHAT[:MODE][@LAYER], e.g. pcr@0 or not-hosted@1`, { tamper: text.slice(0, 80) });
  const [, what, mode, at] = m;
  if (!isFaultName(what!)) throw faultError(`--tamper ${text}: unknown fault "${what}"; known: ${FAULT_NAMES.join(', ')}`, { tamper: text });
  const fault = checkLayerFault({ fault: what, ...(mode !== undefined ? { mode: mode as LayerFault['mode'] } : {}) });
  const layer = at === undefined ? (FAULTS[what].scope === 'binding' ? 1 : 0) : /^-?\d+$/.test(at) ? Number(at) : at;
  return { fault, layer };
}
