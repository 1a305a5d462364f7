// Reading the shared corpus's reference outputs in tests (never copied here).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { PcrValues } from '../../src/tpm/pcrs.js';
import type { HashName } from '../../src/tpm/constants.js';
import { CORPUS_DIR } from '../helpers/paths.js';

export type PcrJson = Record<string, Record<string, string>>;

/** The `pcrs:` block of a tpm2_eventlog YAML output; undefined when it has none (crash or refusal). */
export function yamlPcrs(path: string): PcrJson | undefined {
  if (!existsSync(path)) return undefined;
  const text = readFileSync(path, 'utf8');
  const at = text.indexOf('\npcrs:');
  if (at < 0) return undefined;
  const out: PcrJson = {};
  let bank: string | undefined;
  for (const line of text.slice(at + 6).split('\n')) {
    const b = /^ {2}(\w+):\s*$/.exec(line);
    const p = /^ {4}(\d+)\s*: 0x([0-9a-fA-F]+)/.exec(line);
    if (b) out[(bank = b[1]!)] = {};
    else if (p && bank) out[bank]![p[1]!] = p[2]!.toLowerCase();
  }
  return out;
}

export interface SummaryEntry {
  replay_pcrs_spec?: PcrJson;
  tpm2_eventlog_pcr_diff?: unknown[] | null;
  tpm2_eventlog_v1_rc?: number;
  trailing_bytes_after_last_event?: number | null;
  startup_locality?: number | null;
  events?: number | null;
}

export function eventlogSummary(): Record<string, SummaryEntry> {
  return (JSON.parse(readFileSync(join(CORPUS_DIR, 'expected', 'eventlog_summary.json'), 'utf8')) as { logs: Record<string, SummaryEntry> }).logs;
}

export function recordedPcrs(): Record<string, { banks: PcrJson }> {
  return (JSON.parse(readFileSync(join(CORPUS_DIR, 'expected', 'upstream', 'gotpmtools_recorded_pcrs.json'), 'utf8')) as { logs: Record<string, { banks: PcrJson }> }).logs;
}

/** The PCR values a corpus quote set recorded (their quotes verify, per expected/quote_checks.json). */
export function quotedPcrs(set: string): PcrValues {
  const j = JSON.parse(readFileSync(join(CORPUS_DIR, 'quotes', set, 'pcrs.json'), 'utf8')) as {
    quotes?: { bank: string; pcrs: Record<string, string> }[];
    pcrs?: { index: number; digest_hex: string }[];
  };
  const out: PcrValues = new Map();
  if (j.quotes) for (const q of j.quotes) out.set(q.bank as HashName, new Map(Object.entries(q.pcrs).map(([k, v]) => [Number(k), Buffer.from(v, 'hex')])));
  else out.set('sha1', new Map(j.pcrs!.map((p) => [p.index, Buffer.from(p.digest_hex, 'hex')])));
  return out;
}

/** Entries of ref that differ from got (bank:pcr), and entries got has beyond ref. */
export function diffPcrs(got: PcrJson, ref: PcrJson, opts: { onlyRefPcrsInGot?: boolean } = {}): string[] {
  const bad: string[] = [];
  for (const [bank, pcrs] of Object.entries(ref)) {
    for (const [i, v] of Object.entries(pcrs)) {
      if (opts.onlyRefPcrsInGot && got[bank]?.[i] === undefined) continue;
      if (got[bank]?.[i] !== v) bad.push(`${bank}:${i} got ${got[bank]?.[i]?.slice(0, 12) ?? 'nothing'} want ${v.slice(0, 12)}`);
    }
  }
  if (!opts.onlyRefPcrsInGot) {
    for (const [bank, pcrs] of Object.entries(got)) for (const i of Object.keys(pcrs)) if (ref[bank]?.[i] === undefined) bad.push(`${bank}:${i} not in the reference`);
  }
  return bad;
}
