// Small pieces every report renderer shares: what to call a layer, how to
// shorten identifiers, how to print expected/actual values, and how to make
// attacker-controlled text (URIs, server messages, certificate subjects) safe
// to write to a terminal.

import type { Style } from '../cli/output.js';
import { changeKind, type VerdictChange } from '../state/run-changes.js';
import type { CheckResult } from '../verify/checks.js';
import type { AttestationResult, LayerResult, RuleOutcome, Verdict } from '../verify/result.js';

/**
 * A layer's role in the walk: the VM on top, VMMs below it, the physical
 * platform at the bottom; "host" for a layer below the top whose kind is
 * unknown (it was not reached, or never answered).
 */
export type LayerRole = 'vm' | 'vmm' | 'physical' | 'host';

export function layerRole(layer: Pick<LayerResult, 'position' | 'kind'>): LayerRole {
  if (layer.kind === 'physical') return 'physical';
  if (layer.position === 0) return 'vm';
  return layer.kind === undefined ? 'host' : 'vmm';
}

export const ROLE_LABELS: Record<LayerRole, string> = { vm: 'VM', vmm: 'VMM', physical: 'physical', host: 'host' };

/** "VMM (layer 1)" */
export function layerLabel(layer: Pick<LayerResult, 'position' | 'kind'>): string {
  return `${ROLE_LABELS[layerRole(layer)]} (layer ${layer.position})`;
}

/** How a report names the VM: its inventory name, else the URI asked. */
export function displayName(result: Pick<AttestationResult, 'name' | 'target'>): string {
  return result.name ?? result.target;
}

export const VERDICT_LABELS: Record<Verdict, string> = {
  trusted: 'trusted',
  'not-trusted': 'not trusted',
  incomplete: 'unreachable',
};

/** First `digits` hex digits and an ellipsis; short values unchanged. */
export function shortHex(hex: string, digits: number): string {
  return hex.length > digits ? `${hex.slice(0, digits)}…` : hex;
}

/** Time the whole attestation took in ms (every attempt's, for a VM attempted more than once), or undefined when the times are unusable. */
export function resultDurationMs(result: Pick<AttestationResult, 'startedAt' | 'finishedAt' | 'attemptsMs'>): number | undefined {
  // a VM attempted more than once took all its attempts' time (three timeouts of 2 s are 6 s, not the last 2 s)
  // (a safe integer, as the schema has it: 1e308 would be a JUnit time of "1e+305" and "1.7e+303 min" in the summary)
  if (Number.isSafeInteger(result.attemptsMs) && result.attemptsMs! >= 0) return result.attemptsMs;
  const ms = Date.parse(result.finishedAt) - Date.parse(result.startedAt);
  return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
}

/** Code-unit order, the same on every machine (localeCompare is not). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "12 ms", "5.0 s", "2 min 3 s" */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

export { terminalSafe } from '../util/terminal-safe.js';

/** An expected/actual value as one line: strings as they are, the rest as compact JSON; cut at `max` characters. */
export function formatValue(value: unknown, max = 160): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'bigint') text = value.toString();
  else {
    try {
      text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value);
    } catch {
      // a value too deep for JSON.stringify: String() of an array recurses as deep and throws the same RangeError
      try {
        text = String(value);
      } catch {
        text = '(a value nested too deep to show)';
      }
    }
  }
  if (text.length > max) text = `${text.slice(0, max)}… (${text.length - max} more characters)`;
  return text;
}

/** A check or a policy rule, as the reports list them. */
export interface Outcome {
  source: 'check' | 'rule';
  id: string;
  status: 'pass' | 'fail' | 'warn' | 'skip';
  code?: string;
  message: string;
  expected?: unknown;
  actual?: unknown;
}

export function checkOutcome(c: CheckResult): Outcome {
  return { ...c, source: 'check' };
}

export function ruleOutcome(r: RuleOutcome): Outcome {
  return { ...r, source: 'rule', status: r.status === 'not-applicable' ? 'skip' : r.status };
}

/** A layer's checks then its rules, in their recorded order. */
export function layerOutcomes(layer: Pick<LayerResult, 'checks' | 'rules'>): Outcome[] {
  return [...layer.checks.map(checkOutcome), ...layer.rules.map(ruleOutcome)];
}

/** Chain-wide rules, then state-store findings. */
export function resultWideOutcomes(result: Pick<AttestationResult, 'chain' | 'findings'>): Outcome[] {
  return [...result.chain.map(ruleOutcome), ...(result.findings ?? []).map(checkOutcome)];
}

/** Failed or warning outcomes, failures first, each group in recorded order. */
export function problems(outcomes: readonly Outcome[]): Outcome[] {
  return [...outcomes.filter((o) => o.status === 'fail'), ...outcomes.filter((o) => o.status === 'warn')];
}

/**
 * A layer's deciding error when none of its listed outcomes carries its code
 * (a transport error, say, has no check): reports show it on its own.
 */
export function uncoveredError<E extends { code: string }>(outcomes: readonly Outcome[], error: E | undefined): E | undefined {
  if (!error) return undefined;
  return outcomes.some((o) => o.status === 'fail' && o.code === error.code) ? undefined : error;
}

/** "9 checks, 4 rules passed, 2 skipped" */
export function passCountText(outcomes: readonly Outcome[]): string {
  const passed = outcomes.filter((o) => o.status === 'pass');
  const checks = passed.filter((o) => o.source === 'check').length;
  return passCountTextOf(checks, passed.length - checks, outcomes.filter((o) => o.status === 'skip').length);
}

/** passCountText from the counts. */
export function passCountTextOf(checks: number, rules: number, skipped: number): string {
  const parts: string[] = [];
  if (checks) parts.push(plural(checks, 'check'));
  if (rules) parts.push(plural(rules, 'rule'));
  let text = parts.length ? `${parts.join(', ')} passed` : 'nothing passed';
  if (skipped) text += `, ${skipped} skipped`;
  return text;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * The layer whose failure decided the verdict: the first layer, top-down,
 * that is not trusted or was unreachable. Undefined when every layer is
 * trusted (a chain rule or a finding may still have failed).
 */
export function decidingLayer(result: Pick<AttestationResult, 'layers'>): LayerResult | undefined {
  return result.layers.find((l) => l.status === 'not-trusted' || l.status === 'unreachable');
}

/** Every distinct failure code of a result (checks, rules, layer errors, chain, findings, the verdict's error), sorted. */
export function failureCodes(result: AttestationResult): string[] {
  const codes = new Set<string>();
  if (result.error) codes.add(result.error.code);
  // Straight over checks and rules (the outcomes layerOutcomes would build): reports ask this of every result.
  const addFailed = (list: readonly { status: string; code?: string | undefined }[]): void => {
    for (const o of list) if (o.status === 'fail' && o.code) codes.add(o.code);
  };
  for (const layer of result.layers) {
    if (layer.error && (layer.status === 'not-trusted' || layer.status === 'unreachable')) codes.add(layer.error.code);
    addFailed(layer.checks);
    addFailed(layer.rules);
  }
  addFailed(result.chain);
  addFailed(result.findings ?? []);
  return [...codes].sort();
}

/** "worse " / "better" / "change", colored, one width: the mark of a changed VM in a terminal list. */
export function changeMark(c: VerdictChange, style: Style): string {
  const kind = changeKind(c);
  return kind === 'worse' ? style.bad('worse ') : kind === 'better' ? style.ok('better') : style.warn('change');
}
