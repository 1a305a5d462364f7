// The vPlatform table (protocol sections 5 and 5.1): the log a VMM keeps of
// the vTPM instances it hosts, each change extended into PCR 23 of its own
// TPM. Pure: used by the layer walker (is the upper layer's instance hosted
// by the layer below?) and by the simulator (what to extend, what it hosts).
//
// Trust: entries as received are untrusted. analyzeVplatformLog() reads
// them without any claim; only verifyVplatformLog() returns a
// VerifiedVplatformTable, and only when the replay equals the quoted PCR 23,
// and the hosting/issuer checks accept nothing else.
//
// Lifecycle per instance on one host: a residency starts with create or
// migrate-in and ends with at most one of migrate-out or destroy. After a
// migrate-out the instance may come back with migrate-in (a new residency);
// after destroy it never comes back (a new vTPM has a new EK, so a new id).
// Everything else is a violation. Hosted now = the last entry is create or
// migrate-in (protocol section 5), violations or not; a check on an instance
// whose own history has a violation fails.

import { hash } from 'node:crypto';
import { ParseError, type CodeTable } from '../errors.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { fail, pass, type CheckResult } from './checks.js';

export const VPLATFORM_CODES = {
  VPLATFORM_ENTRY_INVALID: { kind: 'input', summary: 'a vplatformLog entry is malformed (unknown op, PCR other than 23, instance or certificate not 32 bytes of hex...)' },
  VPLATFORM_LOG_TOO_LARGE: { kind: 'input', summary: 'a vplatformLog has more entries than vtpm-verify accepts' },
  VPLATFORM_REPLAY_MISMATCH: { kind: 'verification', summary: 'replaying the vplatformLog does not give the quoted PCR 23 value' },
  VPLATFORM_LIFECYCLE_VIOLATION: { kind: 'verification', summary: 'the vplatformLog breaks the instance lifecycle (create|migrate-in, then at most one of migrate-out|destroy)' },
  VPLATFORM_INSTANCE_NOT_HOSTED: { kind: 'verification', summary: 'the layer below never recorded the upper layer\'s vTPM instance (a relayed or wrong lower layer)' },
  VPLATFORM_INSTANCE_LEFT: { kind: 'verification', summary: 'the layer below recorded that the upper layer\'s vTPM instance left it (migrate-out) or was destroyed: a stale binding' },
  VPLATFORM_ISSUER_NOT_RECORDED: { kind: 'verification', summary: 'the CA that issued the upper layer\'s AK certificate is not recorded as an issuer by the layer below' },
  VPLATFORM_STILL_HOSTED: { kind: 'verification', summary: 'the source platform of a migration still hosts the instance (a duplicate was left behind)' },
  VPLATFORM_NOT_MIGRATED_OUT: { kind: 'verification', summary: 'the source platform of a migration shows no migrate-out for the instance' },
  VPLATFORM_HOSTED_TWICE: { kind: 'verification', summary: 'two platforms host the same vTPM instance now: a clone' },
} as const satisfies CodeTable;

/** Version 1 of the protocol extends every entry into this PCR of the SHA-256 bank. */
export const VPLATFORM_PCR = 23;

/** More entries than any real host keeps; a log beyond it is refused before hashing. */
export const MAX_VPLATFORM_ENTRIES = 100_000;

const MAX_VM_LABEL = 1024;

export type VplatformInstanceOp = 'create' | 'destroy' | 'migrate-in' | 'migrate-out';
export type VplatformOp = VplatformInstanceOp | 'issuer';

const INSTANCE_OPS: ReadonlySet<string> = new Set<VplatformInstanceOp>(['create', 'destroy', 'migrate-in', 'migrate-out']);

/** One entry as it arrives (the transport has checked the JSON shape, not the meaning). */
export interface VplatformEntryInput {
  pcr: number;
  op: string;
  /** 32 bytes, raw or as 64 hex digits; for every op but issuer */
  instance?: Uint8Array | string;
  /** SHA-256 of the issuing CA certificate's DER, 64 hex digits; for op issuer */
  certificate?: string;
  /** informational label */
  vm?: string;
}

/**
 * An entry whose fields have been checked; says nothing about whether a TPM
 * quoted it. Ids are lowercase hex only: a fleet audit caches the tables of
 * many hosts (VplatformLogCache), so an entry keeps no second copy as bytes.
 */
export type VplatformEntry =
  | { index: number; pcr: number; op: VplatformInstanceOp; instance: string; vm?: string }
  | { index: number; pcr: number; op: 'issuer'; certificate: string; vm?: string };

function invalid(index: number, field: string, message: string, extra: Record<string, unknown> = {}): ParseError {
  return new ParseError('VPLATFORM_ENTRY_INVALID', `vplatformLog[${index}].${field}: ${message}`, { index, field, ...extra });
}

const HEX32_RE = /^[0-9a-fA-F]{64}$/;
const LOWER_HEX32_RE = /^[0-9a-f]{64}$/;

/** A 32-byte id as 64 lowercase hex digits (the very string given when it already is one). */
function parseId32(value: unknown, index: number, field: string): string {
  if (value instanceof Uint8Array) {
    if (value.length !== 32) throw invalid(index, field, `must be 32 bytes, got ${value.length}`);
    return toHex(value);
  }
  if (typeof value !== 'string' || !HEX32_RE.test(value)) throw invalid(index, field, 'must be 64 hex digits (32 bytes)');
  return LOWER_HEX32_RE.test(value) ? value : value.toLowerCase();
}

export function checkLogSize(input: readonly unknown[]): void {
  if (!Array.isArray(input)) throw new ParseError('VPLATFORM_ENTRY_INVALID', 'vplatformLog: not an array', { field: 'vplatformLog' });
  if (input.length > MAX_VPLATFORM_ENTRIES) {
    throw new ParseError('VPLATFORM_LOG_TOO_LARGE', `vplatformLog: ${input.length} entries, more than the ${MAX_VPLATFORM_ENTRIES} accepted`, {
      entries: input.length,
      max: MAX_VPLATFORM_ENTRIES,
    });
  }
}

/** Checks the meaning of one entry (at position `index` of its log). */
export function parseVplatformEntry(input: unknown, index: number): VplatformEntry {
  const e = input as VplatformEntryInput;
  if (typeof e !== 'object' || e === null) throw invalid(index, '', 'not an object');
  if (e.pcr !== VPLATFORM_PCR) throw invalid(index, 'pcr', `protocol version 1 records only in PCR ${VPLATFORM_PCR}`, { expected: VPLATFORM_PCR, actual: e.pcr });
  let vm: string | undefined;
  if (e.vm !== undefined) {
    if (typeof e.vm !== 'string' || e.vm.length > MAX_VM_LABEL) throw invalid(index, 'vm', `must be a string of at most ${MAX_VM_LABEL} characters`);
    vm = e.vm;
  }
  if (e.op === 'issuer') {
    if (e.instance !== undefined) throw invalid(index, 'instance', 'an issuer entry has a certificate hash, not an instance');
    const certificate = parseId32(e.certificate, index, 'certificate');
    return vm !== undefined ? { index, pcr: e.pcr, op: 'issuer', certificate, vm } : { index, pcr: e.pcr, op: 'issuer', certificate };
  }
  if (typeof e.op === 'string' && INSTANCE_OPS.has(e.op)) {
    if (e.certificate !== undefined) throw invalid(index, 'certificate', `a ${e.op} entry has an instance, not a certificate`);
    const instance = parseId32(e.instance, index, 'instance');
    const op = e.op as VplatformInstanceOp;
    return vm !== undefined ? { index, pcr: e.pcr, op, instance, vm } : { index, pcr: e.pcr, op, instance };
  }
  throw invalid(index, 'op', `unknown op ${JSON.stringify(e.op)} (create, destroy, migrate-in, migrate-out, issuer)`);
}

/** Checks the meaning of every entry; throws VPLATFORM_ENTRY_INVALID / VPLATFORM_LOG_TOO_LARGE. */
export function parseVplatformLog(input: readonly VplatformEntryInput[]): VplatformEntry[] {
  checkLogSize(input);
  const out: VplatformEntry[] = new Array(input.length);
  for (let index = 0; index < input.length; index++) out[index] = parseVplatformEntry(input[index], index);
  return out;
}

/** The digest extended for an entry: SHA-256(ascii(op) || 0x00 || 32 raw bytes). */
export function vplatformEntryDigest(op: VplatformOp, id: Uint8Array | string): Buffer {
  if (op !== 'issuer' && !INSTANCE_OPS.has(op)) throw new ParseError('VPLATFORM_ENTRY_INVALID', `vplatform entry: unknown op ${JSON.stringify(op)}`, { field: 'op' });
  const field = op === 'issuer' ? 'certificate' : 'instance';
  if (typeof id === 'string' ? !HEX32_RE.test(id) : id.length !== 32) {
    const length = typeof id === 'string' ? `${id.length} characters` : `${id.length} bytes`;
    throw new ParseError('VPLATFORM_ENTRY_INVALID', `vplatform ${op} entry: ${field} must be 32 bytes (or 64 hex digits), got ${length}`, { field, length: id.length });
  }
  // One scratch buffer for every call: "migrate-out" (11) + NUL + 32 bytes at most.
  const n = ENTRY_SCRATCH.write(op, 0, 'latin1');
  ENTRY_SCRATCH[n] = 0;
  if (typeof id === 'string') ENTRY_SCRATCH.write(id, n + 1, 32, 'hex');
  else ENTRY_SCRATCH.set(id, n + 1);
  return hash('sha256', ENTRY_SCRATCH.subarray(0, n + 33), 'buffer');
}

const ENTRY_SCRATCH = Buffer.alloc(64);

/** SHA-256 of a certificate's DER: how an issuer entry names a CA. */
export function certificateHash(der: Uint8Array): string {
  return hash('sha256', der, 'hex');
}

/** PCR 23 after extending every entry's digest, from all zeros. */
export function replayVplatformLog(entries: readonly VplatformEntry[]): Buffer {
  // One reused block: PCR value (32) || entry digest (32), hashed per extend.
  const block = Buffer.alloc(64);
  for (const e of entries) extendBlock(block, e);
  return Buffer.from(block.subarray(0, 32));
}

function extendBlock(block: Buffer, e: VplatformEntry): void {
  vplatformEntryDigest(e.op, e.op === 'issuer' ? e.certificate : e.instance).copy(block, 32);
  hash('sha256', block, 'buffer').copy(block, 0);
}

export type InstanceState = 'hosted' | 'migrated-out' | 'destroyed';

export interface LifecycleViolation {
  /** index of the offending entry in the log */
  index: number;
  instance: string;
  op: VplatformInstanceOp;
  /** the instance's state before the entry ('absent': never seen on this host) */
  before: InstanceState | 'absent';
  message: string;
}

export interface InstanceRecord {
  instance: string;
  state: InstanceState;
  lastOp: VplatformInstanceOp;
  /** indices of this instance's entries, in order */
  entries: number[];
  violations: LifecycleViolation[];
  /** the last label given, informational */
  vm?: string;
}

/** What a vplatformLog says, read without any claim that a TPM quoted it. */
export interface VplatformTable {
  entries: readonly VplatformEntry[];
  /** PCR 23 from replaying the entries */
  replayed: Buffer;
  instances: ReadonlyMap<string, InstanceRecord>;
  /** hex instance ids whose last entry is create or migrate-in */
  hostedNow: ReadonlySet<string>;
  /** hex SHA-256 of every CA certificate recorded by an issuer entry */
  issuers: ReadonlySet<string>;
  violations: readonly LifecycleViolation[];
}

declare const verifiedBrand: unique symbol;

/** A table whose replay matched a quoted PCR 23: the only kind the hosting and issuer checks accept. */
export type VerifiedVplatformTable = VplatformTable & { readonly [verifiedBrand]: true; readonly quotedPcr: Buffer };

/**
 * One step of an instance's lifecycle on one host: the state after `op`, and
 * why `op` was not allowed in state `before` (null when it was). The state
 * follows the op even after a violation, so "hosted now" stays "the last
 * entry is create or migrate-in".
 */
export function lifecycleStep(before: InstanceState | 'absent', op: VplatformInstanceOp): { after: InstanceState; violation: string | null } {
  let violation: string | null = null;
  switch (before) {
    case 'absent':
      if (op !== 'create' && op !== 'migrate-in') violation = `${op} of an instance this host never had`;
      break;
    case 'hosted':
      if (op !== 'migrate-out' && op !== 'destroy') violation = `${op} of an instance this host already hosts`;
      break;
    case 'migrated-out':
      if (op !== 'migrate-in') violation = `${op} of an instance that migrated out of this host`;
      break;
    case 'destroyed':
      violation = `${op} of an instance destroyed on this host`;
      break;
  }
  return { after: op === 'migrate-out' ? 'migrated-out' : op === 'destroy' ? 'destroyed' : 'hosted', violation };
}

/**
 * Reads entries one at a time: replay, instances, issuers, violations. A
 * builder can be cloned, so a cache can continue a log that only grew.
 */
export class VplatformTableBuilder {
  private readonly entries: VplatformEntry[] = [];
  private readonly instances = new Map<string, InstanceRecord>();
  private readonly issuers = new Set<string>();
  private readonly violations: LifecycleViolation[] = [];
  /** PCR value (32) || scratch for the next entry digest (32) */
  private readonly block = Buffer.alloc(64);

  get length(): number {
    return this.entries.length;
  }

  get replayed(): Buffer {
    return Buffer.from(this.block.subarray(0, 32));
  }

  /** The entry at `index`, for comparing a new log with this one. */
  entryAt(index: number): VplatformEntry | undefined {
    return this.entries[index];
  }

  add(e: VplatformEntry): void {
    extendBlock(this.block, e);
    this.entries.push(e);
    if (e.op === 'issuer') {
      this.issuers.add(e.certificate);
      return;
    }
    const rec = this.instances.get(e.instance);
    const before = rec?.state ?? 'absent';
    const step = lifecycleStep(before, e.op);
    const record: InstanceRecord = rec ?? { instance: e.instance, state: step.after, lastOp: e.op, entries: [], violations: [] };
    if (step.violation !== null) {
      const v: LifecycleViolation = { index: e.index, instance: e.instance, op: e.op, before, message: `entry ${e.index}: ${step.violation}` };
      this.violations.push(v);
      record.violations.push(v);
    }
    record.state = step.after;
    record.lastOp = e.op;
    record.entries.push(e.index);
    if (e.vm !== undefined) record.vm = e.vm;
    this.instances.set(e.instance, record);
  }

  /** An independent copy (instance records included): adding to it leaves this one as it was. */
  clone(): VplatformTableBuilder {
    const c = new VplatformTableBuilder();
    c.entries.push(...this.entries);
    for (const [id, r] of this.instances) c.instances.set(id, { ...r, entries: [...r.entries], violations: [...r.violations] });
    for (const i of this.issuers) c.issuers.add(i);
    c.violations.push(...this.violations);
    this.block.copy(c.block);
    return c;
  }

  /** A snapshot; do not add to this builder afterwards (clone it first). */
  table(): VplatformTable {
    const hostedNow = new Set<string>();
    for (const r of this.instances.values()) if (r.state === 'hosted') hostedNow.add(r.instance);
    return { entries: this.entries, replayed: this.replayed, instances: this.instances, hostedNow, issuers: this.issuers, violations: this.violations };
  }
}

/** Replays and reads a log: instances, hosted-now set, issuers, lifecycle violations. No trust implied. */
export function analyzeVplatformLog(input: readonly VplatformEntryInput[]): VplatformTable {
  const builder = new VplatformTableBuilder();
  for (const e of parseVplatformLog(input)) builder.add(e);
  return builder.table();
}

export interface VplatformVerification {
  /** vplatform.replay and vplatform.lifecycle */
  checks: CheckResult[];
  /** present only when the replay matched the quoted value */
  table: VerifiedVplatformTable | null;
}

/**
 * How many violations or issuers a failed check lists in its actual value: a
 * hostile log that replays may hold 100,000 of them, and every VM attested
 * through it would carry them all in its result (three times: the check, the
 * layer's error, the result's error), in every report and state file.
 */
export const MAX_VPLATFORM_LISTED = 10;
const MAX_VIOLATIONS_SHOWN = MAX_VPLATFORM_LISTED;

/** The recorded issuers a failed issuer check lists: the first MAX_VPLATFORM_LISTED, with how many there are. */
export function issuersListed(table: VplatformTable): { listed: string[]; count: number } {
  const listed: string[] = [];
  for (const i of table.issuers) {
    if (listed.length === MAX_VPLATFORM_LISTED) break;
    listed.push(i);
  }
  return { listed, count: table.issuers.size };
}

function moreOf(count: number, listed: number): string {
  return count > listed ? ` (${count} recorded; the first ${listed} listed)` : '';
}

/**
 * Replays the log and compares it with PCR 23 of the SHA-256 bank as the
 * layer's verified quote covers it; reads the lifecycle. Throws
 * VPLATFORM_ENTRY_INVALID / VPLATFORM_LOG_TOO_LARGE on malformed entries.
 * (VplatformLogCache does the same faster for logs seen before.)
 */
export function verifyVplatformLog(input: readonly VplatformEntryInput[], quotedPcr23: Uint8Array): VplatformVerification {
  return judgeVplatformTable(analyzeVplatformLog(input), quotedPcr23);
}

/** The replay and lifecycle checks of a table read from a log, against the quoted PCR 23. */
export function judgeVplatformTable(table: VplatformTable, quotedPcr23: Uint8Array): VplatformVerification {
  const checks: CheckResult[] = [];
  if (!bytesEqual(table.replayed, quotedPcr23)) {
    checks.push(
      fail('vplatform.replay', 'VPLATFORM_REPLAY_MISMATCH', `replaying ${table.entries.length} vplatformLog entries does not give the quoted PCR ${VPLATFORM_PCR}`, {
        expected: toHex(quotedPcr23),
        actual: toHex(table.replayed),
      }),
    );
    return { checks, table: null };
  }
  checks.push(pass('vplatform.replay', `${table.entries.length} vplatformLog entries replay to the quoted PCR ${VPLATFORM_PCR}`, { actual: toHex(table.replayed) }));
  if (table.violations.length === 0) {
    checks.push(pass('vplatform.lifecycle', `${table.instances.size} instance(s), every lifecycle valid`));
  } else {
    checks.push(
      fail('vplatform.lifecycle', 'VPLATFORM_LIFECYCLE_VIOLATION', `${table.violations.length} lifecycle violation(s); first: ${table.violations[0]!.message}`, {
        actual: table.violations.slice(0, MAX_VIOLATIONS_SHOWN).map((v) => ({ index: v.index, instance: v.instance, op: v.op, before: v.before })),
      }),
    );
  }
  const verified = { ...table, quotedPcr: Buffer.from(quotedPcr23) } as VerifiedVplatformTable;
  return { checks, table: verified };
}

function idHex(instanceId: Uint8Array | string): string {
  return typeof instanceId === 'string' ? instanceId.toLowerCase() : toHex(instanceId);
}

/** Is this instance hosted now by the platform whose table this is (same-platform binding)? */
export function checkInstanceHosted(table: VerifiedVplatformTable, instanceId: Uint8Array | string): CheckResult {
  const id = idHex(instanceId);
  const rec = table.instances.get(id);
  if (rec && rec.violations.length > 0) {
    const n = rec.violations.length;
    const more = n > MAX_VIOLATIONS_SHOWN ? ` (${n} violations; the first ${MAX_VIOLATIONS_SHOWN} listed)` : '';
    return fail('vplatform.hosted', 'VPLATFORM_LIFECYCLE_VIOLATION', `instance ${id}: its history on this platform breaks the lifecycle: ${rec.violations[0]!.message}${more}`, {
      expected: 'a valid lifecycle ending in create or migrate-in',
      actual: rec.violations.slice(0, MAX_VIOLATIONS_SHOWN).map((v) => v.message),
    });
  }
  if (!rec) {
    return fail('vplatform.hosted', 'VPLATFORM_INSTANCE_NOT_HOSTED', `instance ${id} was never recorded by this platform: another platform is answering for the host (relayed), or the certificate names the wrong one`, {
      expected: 'create or migrate-in as the last entry',
      actual: 'absent',
    });
  }
  if (rec.state !== 'hosted') {
    return fail('vplatform.hosted', 'VPLATFORM_INSTANCE_LEFT', `instance ${id} is not hosted now by this platform: its last entry is ${rec.lastOp}`, {
      expected: 'create or migrate-in as the last entry',
      actual: rec.lastOp,
    });
  }
  return pass('vplatform.hosted', `instance ${id} is hosted now (last entry ${rec.lastOp})`);
}

/** Issuer binding (section 5.1): is the CA certificate that issued the upper AK certificate recorded? */
export function checkIssuerRecorded(table: VerifiedVplatformTable, issuerCertificateDer: Uint8Array): CheckResult {
  const hash = certificateHash(issuerCertificateDer);
  if (!table.issuers.has(hash)) {
    const { listed, count } = issuersListed(table);
    return fail('vplatform.issuer', 'VPLATFORM_ISSUER_NOT_RECORDED', `the issuing CA certificate ${hash} is not recorded as an issuer by this platform${moreOf(count, listed.length)}`, {
      expected: hash,
      actual: listed,
    });
  }
  return pass('vplatform.issuer', `the issuing CA certificate ${hash} is recorded as an issuer`);
}

/** Where the instance was recorded last on this platform ('absent' if never). */
export function instanceState(table: VplatformTable, instanceId: Uint8Array | string): InstanceState | 'absent' {
  return table.instances.get(idHex(instanceId))?.state ?? 'absent';
}

/** For the source of a migration (protocol section 6): the instance must show migrate-out as its last entry. */
export function checkInstanceMigratedOut(table: VerifiedVplatformTable, instanceId: Uint8Array | string): CheckResult {
  const id = idHex(instanceId);
  const state = instanceState(table, id);
  if (state === 'migrated-out') return pass('vplatform.migrated-out', `instance ${id} shows migrate-out on the source platform`);
  if (state === 'hosted') {
    return fail('vplatform.migrated-out', 'VPLATFORM_STILL_HOSTED', `the source platform still hosts instance ${id}: a duplicate was left behind`, {
      expected: 'migrate-out',
      actual: table.instances.get(id)!.lastOp,
    });
  }
  return fail('vplatform.migrated-out', 'VPLATFORM_NOT_MIGRATED_OUT', `the source platform shows no migrate-out for instance ${id} (${state === 'absent' ? 'never recorded' : 'destroyed'})`, {
    expected: 'migrate-out',
    actual: state === 'absent' ? 'absent' : 'destroy',
  });
}

/** Instances that more than one platform hosts now: clones, whatever the clocks say. */
export function instancesHostedTwice(tables: ReadonlyArray<{ platform: string; table: VerifiedVplatformTable }>): Array<{ instance: string; platforms: string[] }> {
  const hosts = new Map<string, string[]>();
  for (const { platform, table } of tables) {
    for (const id of table.hostedNow) {
      const list = hosts.get(id);
      if (list) list.push(platform);
      else hosts.set(id, [platform]);
    }
  }
  return [...hosts].filter(([, p]) => p.length > 1).map(([instance, platforms]) => ({ instance, platforms }));
}

/** One instance, several platforms' verified tables: at most one may host it now. */
export function checkSingleHost(instanceId: Uint8Array | string, tables: ReadonlyArray<{ platform: string; table: VerifiedVplatformTable }>): CheckResult {
  const id = idHex(instanceId);
  const hosting = tables.filter((t) => t.table.hostedNow.has(id)).map((t) => t.platform);
  if (hosting.length > 1) {
    return fail('vplatform.single-host', 'VPLATFORM_HOSTED_TWICE', `instance ${id} is hosted now by ${hosting.length} platforms: ${hosting.join(', ')}`, {
      expected: 'at most one platform',
      actual: hosting,
    });
  }
  return pass('vplatform.single-host', `instance ${id} is hosted by ${hosting.length === 0 ? 'none' : hosting[0]} of ${tables.length} platform(s)`);
}
