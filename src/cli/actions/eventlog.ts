// Implementation of `vtpm-verify eventlog`: reads the files (with size caps),
// parses and replays them, and renders the result. Nothing here is verified
// against a quote; the output says so.

import { EXIT_CODES, VerificationError } from '../../errors.js';
import { readInputFile } from '../../util/files.js';
import { toHex } from '../../util/bytes.js';
import { terminalSafe } from '../../util/terminal-safe.js';
import { pcrValuesToJson, type PcrValues } from '../../tpm/pcrs.js';
import type { HashName } from '../../tpm/constants.js';
// Direct module imports, not eventlog/index.js: start-up time is dominated by
// module loading, and this command needs neither quote replay nor facts.
import { EVENTLOG_CAPS } from '../../eventlog/caps.js';
import { eventTypeName } from '../../eventlog/event-types.js';
import { parseEventLog } from '../../eventlog/parse.js';
import { replayEventLog } from '../../eventlog/replay.js';
import { parseImaList } from '../../eventlog/ima/parse.js';
import { checkAndReplayIma, MAX_DETAILED_CHECKS, type TemplateHashCheck } from '../../eventlog/ima/replay.js';
import type { EventContent } from '../../eventlog/decode/content.js';
import type { LogEvent, UnverifiedEventLog } from '../../eventlog/types.js';
import type { ImaEntry, UnverifiedImaList } from '../../eventlog/ima/types.js';
import type { CommandOutcome, Style } from '../output.js';
import { eventLogMemoryCheck, imaMemoryCheck } from '../memory-check.js';

export interface EventlogOptions {
  file: string;
  ima?: string | undefined;
  verbose?: boolean;
  /** --json: the output holds an object per IMA entry (a larger share of memory) */
  json?: boolean;
}

const IMA_BANKS: HashName[] = ['sha1', 'sha256'];

/** Event content as JSON: Spec ID algorithms by name, everything else as decoded (bytes become hex, bigints strings). */
function contentJson(c: EventContent): unknown {
  if (c.kind === 'spec-id') {
    const s = c.specId;
    return {
      kind: c.kind,
      signature: s.signature,
      platformClass: s.platformClass,
      specVersion: `${s.specVersion.major}.${s.specVersion.minor}.${s.specVersion.errata}`,
      uintnSize: s.uintnSize,
      algorithms: s.algorithms.map((a) => ({ id: a.id, name: a.alg?.name ?? null, digestSize: a.digestSize })),
      vendorInfo: s.vendorInfo,
    };
  }
  return c;
}

export function eventJson(e: LogEvent): Record<string, unknown> {
  const digests: Record<string, string> = {};
  for (const d of e.digests) digests[d.alg?.name ?? `0x${d.algId.toString(16).padStart(4, '0')}`] = toHex(d.digest);
  return {
    index: e.index,
    offset: e.offset,
    pcr: e.pcrIndex,
    type: eventTypeName(e.eventType),
    typeValue: e.eventType,
    digests,
    size: e.data.length,
    content: contentJson(e.content),
    digestMatchesData: e.binding ? { measured: e.binding.measured, ...e.binding.banks } : null,
  };
}

/** One line describing an event's content, for people. */
export function summarize(c: EventContent): string {
  switch (c.kind) {
    case 'spec-id':
      return `${c.specId.signature}: ${c.specId.algorithms.map((a) => a.alg?.name ?? `0x${a.id.toString(16)}`).join(', ')}`;
    case 'startup-locality':
      return `StartupLocality ${c.locality}`;
    case 'no-action':
      return c.signature ?? '';
    case 'efi-variable': {
      let v = '';
      if (c.enabled !== undefined) v = c.enabled ? 'on' : 'off';
      else if (c.signatureLists) v = `${c.signatureLists.reduce((n, l) => n + l.signatures.length, 0)} signature(s) in ${c.signatureLists.length} list(s)`;
      else if (c.authority) v = `${c.authority.data.length}-byte entry, owner ${c.authority.owner}`;
      else if (c.bootOrder) v = c.bootOrder.map((n) => n.toString(16).padStart(4, '0')).join(',');
      else if (c.loadOption) v = `${c.loadOption.description} ${c.loadOption.devicePath}`;
      else if (c.text !== undefined) v = JSON.stringify(c.text);
      else v = `${c.value.length} byte(s)`;
      return `${c.name} = ${v}`;
    }
    case 'efi-image-load':
      return c.devicePath || '(no device path)';
    case 'ipl':
      return `${c.role === 'string' ? '' : `${c.role}: `}${JSON.stringify(c.value)}`;
    case 'separator':
      return c.error ? 'ERROR separator' : `0x${(c.value >>> 0).toString(16).padStart(8, '0')}`;
    case 'text':
      return JSON.stringify(c.text);
    case 'version':
      return `${c.version}${c.form === 'guid' || c.form === 'hex' ? ` (${c.form})` : ''}`;
    case 'firmware-blob':
      return `${c.description ? `${c.description} ` : ''}base 0x${c.base.toString(16)} length 0x${c.length.toString(16)}`;
    case 'gpt':
      return `disk ${c.diskGuid}, ${c.partitions.length} partition(s)`;
    case 'handoff-tables':
      return c.tables.map((t) => t.name ?? t.guid).join(', ');
    case 'event-tag':
      return c.tags.map((t) => `${t.name ?? `0x${t.id.toString(16)}`}${t.text ? ` ${JSON.stringify(t.text)}` : ''}`).join('; ');
    case 'raw':
      return '';
  }
}

interface ImaSummary {
  list: UnverifiedImaList;
  checks: TemplateHashCheck[];
  pcrs: PcrValues;
}

function imaJson(file: string, s: ImaSummary): Record<string, unknown> {
  // template names are the list's bytes ("__proto__", "constructor"): count them in a Map, not on an object's prototype chain
  const counted = new Map<string, number>();
  for (const e of s.list.entries) counted.set(e.templateName, (counted.get(e.templateName) ?? 0) + 1);
  const templates: Record<string, number> = Object.fromEntries(counted);
  const counts = { valid: 0, mismatch: 0, violation: 0 };
  for (const c of s.checks) counts[c.status]++;
  return {
    file,
    format: s.list.format,
    entryCount: s.list.entries.length,
    templates,
    templateHashes: counts,
    mismatches: s.checks.filter((c) => c.status === 'mismatch'),
    pcrs: pcrValuesToJson(s.pcrs),
    notes: s.list.notes,
    entries: s.list.entries.map((e, i) => imaEntryJson(e, s.checks[i]!.status)),
  };
}

/**
 * One entry of imaJson. An object literal with the members added after it,
 * not spreads: V8 makes a spread's result a dictionary several times the
 * size, and `--json` holds one of these for each of up to two million entries.
 */
function imaEntryJson(e: ImaEntry, templateHashStatus: TemplateHashCheck['status']): Record<string, unknown> {
  const { fields } = e;
  const pcr = e.pcr;
  const template = e.templateName;
  const templateHash = toHex(e.templateHash);
  const digestAlgorithm = fields.digestAlgorithm ?? null;
  const digest = fields.digest ? toHex(fields.digest) : null;
  const name = fields.name ?? null;
  const o: Record<string, unknown> =
    e.line !== undefined
      ? { index: e.index, line: e.line, pcr, template, templateHash, templateHashStatus, digestAlgorithm, digest, name }
      : { index: e.index, offset: e.offset, pcr, template, templateHash, templateHashStatus, digestAlgorithm, digest, name };
  if (fields.signature && fields.signature.length) o['signature'] = toHex(fields.signature);
  if (fields.buffer) o['buffer'] = toHex(fields.buffer);
  return o;
}

function logJson(file: string, log: UnverifiedEventLog): Record<string, unknown> {
  return {
    file,
    format: log.format,
    registers: log.registers,
    banks: log.banks.map((b) => b.name),
    unsupportedAlgorithms: log.unsupportedAlgorithms,
    startupLocality: log.startupLocality ?? null,
    eventCount: log.events.length,
    padding: log.padding ?? null,
    notes: log.notes,
  };
}

export const EMPTY_IMA_NOTE =
  "the list has no entries, but a kernel's list always begins with boot_aggregate: was it copied with a tool that trusts the file's size (securityfs files report 0 bytes)? Use cat, or read the file to its end";

export async function runEventlog(opts: EventlogOptions): Promise<CommandOutcome> {
  const bytes = readInputFile(opts.file, 'event log', EVENTLOG_CAPS.maxLogBytes);
  const log = parseEventLog(bytes, { checkMemory: eventLogMemoryCheck() });
  const pcrs = replayEventLog(log);
  let ima: ImaSummary | undefined;
  if (opts.ima) {
    const list = parseImaList(readInputFile(opts.ima, 'IMA list'), { checkMemory: imaMemoryCheck(opts.json ? 'json' : 'text') });
    // The format allows an empty list (an incremental one), but the kernel's whole list always
    // begins with boot_aggregate: an empty file is most often a copy that went wrong.
    if (list.entries.length === 0) list.notes.push(EMPTY_IMA_NOTE);
    // the checks and both banks' replays in one pass: the SHA-1 template digest is computed once
    const { checks, states } = checkAndReplayIma(list, IMA_BANKS);
    const unlisted = checks.reduce((n, c) => (c.status !== 'valid' && c.listed === undefined ? n + 1 : n), 0);
    if (unlisted > 0) list.notes.push(`${unlisted} more mismatches and violations past the first ${MAX_DETAILED_CHECKS} are counted, without their hashes (a list this broken was edited, or is hostile)`);
    const imaPcrs: PcrValues = new Map();
    for (const [bank, state] of states) imaPcrs.set(bank, state.pcrs);
    ima = { list, checks, pcrs: imaPcrs };
  }

  const result: Record<string, unknown> = {
    trust: 'unverified: decoded and replayed from the files alone; no quote was checked',
    log: logJson(opts.file, log),
    pcrs: pcrValuesToJson(pcrs),
    events: log.events.map(eventJson),
  };
  if (ima && opts.ima) {
    // built when first read (by --json's printing): the human output never reads it, and for a list of
    // hundreds of thousands of entries it is an object per entry. An enumerable member in the same place
    // as a plain one, so the JSON text and what a caller reads are the same.
    const { ima: file } = opts;
    const summary = ima;
    let built: Record<string, unknown> | undefined;
    Object.defineProperty(result, 'ima', { enumerable: true, configurable: true, get: () => (built ??= imaJson(file, summary)) });
  }

  const badIma = ima ? ima.checks.filter((c) => c.status === 'mismatch') : [];
  const error = badIma.length
    ? new VerificationError('IMA_TEMPLATE_HASH_MISMATCH', `${badIma.length} IMA entr${badIma.length === 1 ? 'y has' : 'ies have'} a template hash that is not the hash of its data`, {
        entries: badIma.slice(0, 20).map((c) => (c.line !== undefined ? { line: c.line, listed: c.listed, computed: c.computed } : { entry: c.entry, listed: c.listed, computed: c.computed })),
      })
    : undefined;
  return {
    ok: !error,
    exitCode: error ? EXIT_CODES.NOT_TRUSTED : EXIT_CODES.OK,
    result,
    error,
    human: (style) => renderHuman(opts, log, pcrs, ima, style, error),
  };
}

function renderHuman(opts: EventlogOptions, log: UnverifiedEventLog, pcrs: PcrValues, ima: ImaSummary | undefined, style: Style, error: VerificationError | undefined): string {
  const out: string[] = [];
  const show = log.banks.find((b) => b.name === 'sha256') ?? log.banks[0];
  out.push(
    `${style.bold('Event log')} ${opts.file}: ${log.format}, banks ${log.banks.map((b) => b.name).join(', ') || 'none'}, ${log.events.length} events${log.registers === 'cc-mr' ? ', CC measurement registers' : ''}`,
  );
  out.push(style.dim('  decoded from the file alone: nothing here is verified against a quote'));
  for (const n of log.notes) out.push(style.warn(`  note: ${n}`));
  out.push('');
  out.push(style.dim(`     #  PCR  ${'type'.padEnd(34)} ${(show ? `${show.name} digest` : 'digest').padEnd(18)} content`));
  for (const e of log.events) {
    const d = show ? e.digests.find((x) => x.algId === show.id) : undefined;
    const digest = d ? `${toHex(d.digest).slice(0, 16)}..` : '-';
    const mismatch = show && e.binding && e.binding.banks[show.name] === false ? style.warn(' [digest is not the hash of this data]') : '';
    // names, device paths and notes come from the log: escaped before they reach a terminal
    const notes = e.content.notes?.length ? style.dim(` (${terminalSafe(e.content.notes.join('; '))})`) : '';
    const pcr = e.pcrIndex === 0xffffffff ? '-1' : String(e.pcrIndex);
    out.push(`  ${String(e.index).padStart(4)}  ${pcr.padStart(3)}  ${eventTypeName(e.eventType).padEnd(34)} ${digest.padEnd(18)} ${terminalSafe(summarize(e.content))}${mismatch}${notes}`);
    if (opts.verbose) for (const x of e.digests) out.push(style.dim(`${' '.repeat(47)}${x.alg?.name ?? x.algId}: ${toHex(x.digest)}`));
  }
  for (const [bank, values] of pcrs) {
    out.push('', style.bold(`${log.registers === 'cc-mr' ? 'Measurement registers' : 'PCRs'} (${bank})`));
    for (const [i, v] of [...values].sort((a, b) => a[0] - b[0])) out.push(`  ${String(i).padStart(2)}  ${toHex(v)}`);
  }
  if (ima && opts.ima) {
    const counts = { valid: 0, mismatch: 0, violation: 0 };
    for (const c of ima.checks) counts[c.status]++;
    out.push('', `${style.bold('IMA list')} ${opts.ima}: ${ima.list.format}, ${ima.list.entries.length} entries; template hashes: ${counts.valid} valid, ${counts.violation} violation(s), ${counts.mismatch ? style.bad(`${counts.mismatch} mismatch(es)`) : '0 mismatches'}`);
    for (const n of ima.list.notes) out.push(style.warn(`  note: ${terminalSafe(n)}`));
    for (const c of ima.checks.filter((x) => x.status === 'mismatch').slice(0, 20)) {
      out.push(style.bad(`  ${c.line !== undefined ? `line ${c.line}` : `entry ${c.entry}`}: listed ${c.listed ?? '?'}, data hashes to ${c.computed ?? '?'}`));
    }
    for (const [bank, values] of ima.pcrs) for (const [i, v] of values) out.push(`  PCR ${i} (${bank})  ${toHex(v)}`);
  }
  if (error) out.push('', `${style.bad('error')} ${style.code(error.code)}: ${error.message}`);
  return out.join('\n');
}
