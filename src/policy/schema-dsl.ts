// A small schema language: the policy language is defined ONCE with it
// (schema.ts), and from that one definition come the validator (parse), the
// JSON Schema for editors (jsonSchema) and the reference table in README
// (docRows). Why not a library: no installed one gives, from one definition,
// positions for every error (we validate plain values and locate paths in the
// YAML/JSON text afterwards), ALL errors at once, exact hex lengths per PCR
// bank in the JSON Schema, "did you mean" hints, and README rows.
//
// Values come from yaml's toJS (intAsBigInt) or JSON.parse: plain objects,
// arrays, strings, numbers, bigints, booleans, null. Objects are only read
// through Object.keys/hasOwn, and user-chosen keys (paths, PCR indexes) land
// in Maps, so keys like "__proto__" or "constructor" are ordinary data.

import type { PolicyLoadCode } from './codes.js';

import { patternProblem } from './pattern.js';

export type Path = readonly (string | number)[];

/** One problem found while validating; the loader turns path into file:line:column. */
export interface Issue {
  code: PolicyLoadCode;
  path: Path;
  /** 'key': about the key itself (unknown key); 'value': about the value at path */
  at: 'key' | 'value';
  message: string;
  expected?: string;
  actual?: string;
}

export const INVALID: unique symbol = Symbol('invalid');
export type Parsed<T> = T | typeof INVALID;

/** Resolves `{include: FILE}` at path against the schema of the included data. */
export type IncludeResolver = (file: string, schema: Schema<unknown>, path: Path) => Parsed<unknown>;

export interface ParseContext {
  issues: Issue[];
  /** keys of every mapping parsed (all of them when there are no issues): JSON duplicate-key detection compares it with the text */
  members: number;
  /** absent inside an included file: included files hold data only, never further includes */
  include?: IncludeResolver | undefined;
  /** set when MAX_COLLECTED_ISSUES issues were found and validation stopped looking for more */
  stopped?: boolean;
}

/**
 * Validation stops once this many issues are found. Loaders list at most
 * MAX_ISSUES (load.ts), and each issue costs a path and a message: a 900 KB
 * facts file of 300,000 `{}` items gave 1.2 million issues, 1.6 GB and 7 s.
 */
export const MAX_COLLECTED_ISSUES = 10_000;

/** True (and ctx marked stopped) when enough issues were found: loops over items and keys stop there. */
function enough(ctx: ParseContext): boolean {
  if (ctx.issues.length < MAX_COLLECTED_ISSUES) return false;
  ctx.stopped = true;
  return true;
}

export type JsonSchema = { [key: string]: unknown };

/** One row of the language reference. */
export interface DocRow {
  key: string;
  type: string;
  default: string;
  description: string;
  example: string;
}

/**
 * Where a value is while parsing: a chain of keys up to the root. Children
 * cost one small object each; the Path array is built only for an issue
 * (parsing a 50,000-path allow-list must not copy 100,000 arrays).
 */
export type At = { readonly up: At; readonly key: string | number } | undefined;

export function child(up: At, key: string | number): At {
  return { up, key };
}

export function pathOf(where: At): Path {
  const out: (string | number)[] = [];
  for (let a = where; a; a = a.up) out.push(a.key);
  return out.reverse();
}

/** A mapping key in a message: quoted; an empty one says it may have been written `~` or `null` (YAML reads both as no key). */
function shownKey(key: string): string {
  return key === '' ? '"" (an empty key, written "", ~ or null)' : `"${key}"`;
}

export function formatPath(path: Path): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out || '(top level)';
}

/** How a value looks, for "actual" in errors. */
export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'string') return v.length > 60 ? `the string "${v.slice(0, 57)}..." (${v.length} characters)` : `the string "${v}"`;
  if (typeof v === 'number' || typeof v === 'bigint') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  if (isPlainObject(v)) return 'a mapping';
  return `a value of type ${typeof v}`;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeIssue(ctx: ParseContext, where: At, expected: string, v: unknown): typeof INVALID {
  const path = pathOf(where);
  ctx.issues.push({ code: 'POLICY_TYPE', path, at: 'value', message: `${formatPath(path)}: expected ${expected}, got ${describeValue(v)}`, expected, actual: describeValue(v) });
  return INVALID;
}

function valueIssue(ctx: ParseContext, where: At, expected: string, v: unknown, code: PolicyLoadCode = 'POLICY_VALUE', why?: string): typeof INVALID {
  const path = pathOf(where);
  ctx.issues.push({ code, path, at: 'value', message: `${formatPath(path)}: ${why ?? `expected ${expected}, got ${describeValue(v)}`}`, expected, actual: describeValue(v) });
  return INVALID;
}

/** A parsed value as the JSON it was written as (for defaults and examples in the JSON Schema and README). */
function jsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, jsonValue(x)]));
  if (Array.isArray(v)) return v.map(jsonValue);
  if (isDuration(v)) return v.text;
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonValue(x)]));
  return v;
}

function isDuration(v: unknown): v is Duration {
  return isPlainObject(v) && typeof v['text'] === 'string' && typeof v['ms'] === 'number' && Object.keys(v).length === 2;
}

function docText(v: unknown): string {
  if (v === undefined) return '';
  const j = jsonValue(v);
  return typeof j === 'string' ? j : JSON.stringify(j);
}

export abstract class Schema<T> {
  declare readonly __type: T;
  /** what a valid value looks like, for errors and the reference: "sha256 digest (64 hex digits)" */
  abstract label(): string;
  abstract parse(v: unknown, where: At, ctx: ParseContext): Parsed<T>;
  abstract jsonSchema(): JsonSchema;
  /** reference rows for the keys below this value (none for scalars) */
  docRows(_prefix: string): DocRow[] {
    return [];
  }
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

// ---------------------------------------------------------------- scalars

export interface StrOptions {
  label?: string;
  minLength?: number;
  maxLength?: number;
  pattern?: RegExp;
  /** JSON Schema "format" */
  format?: string;
  /** extra check; returns why the value is bad, or undefined */
  check?: (s: string) => string | undefined;
  /** the code a failed check reports (default POLICY_VALUE) */
  checkCode?: PolicyLoadCode;
  normalize?: (s: string) => string;
}

class StrSchema extends Schema<string> {
  constructor(private readonly o: StrOptions) {
    super();
  }
  label(): string {
    return this.o.label ?? 'string';
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<string> {
    if (typeof v !== 'string') return typeIssue(ctx, where, this.label(), v);
    const { minLength = 0, maxLength = 4096, pattern, check } = this.o;
    if (v.length < minLength || v.length > maxLength) {
      return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected ${this.label()} of ${minLength}..${maxLength} characters, got ${v.length}`);
    }
    if (pattern && !pattern.test(v)) return valueIssue(ctx, where, this.label(), v);
    const why = check?.(v);
    if (why !== undefined) return valueIssue(ctx, where, this.label(), v, this.o.checkCode ?? 'POLICY_VALUE', why);
    return this.o.normalize ? this.o.normalize(v) : v;
  }
  jsonSchema(): JsonSchema {
    const s: JsonSchema = { type: 'string' };
    if (this.o.minLength) s['minLength'] = this.o.minLength;
    s['maxLength'] = this.o.maxLength ?? 4096;
    if (this.o.pattern) s['pattern'] = this.o.pattern.source;
    if (this.o.format) s['format'] = this.o.format;
    return s;
  }
}

export function str(o: StrOptions = {}): Schema<string> {
  return new StrSchema(o);
}

/** An RE2 pattern (pattern.ts): matched against the WHOLE text by the evaluator, in linear time. */
export function regex(): Schema<string> {
  return str({
    label: 'regular expression (matches the whole value)',
    minLength: 1,
    maxLength: 1024,
    checkCode: 'POLICY_REGEX',
    check: patternProblem,
  });
}

const LOWER_HEX = /^[0-9a-f]*$/;
const ANY_HEX = /^[0-9a-fA-F]*$/;

/**
 * Hex digits of one of the given byte lengths, normalized to lowercase. Its
 * own class because it runs once per digest of large allow-lists: a length
 * check and one simple regex (an alternation of fixed-length patterns
 * backtracks and cost ten times more).
 */
class HexSchema extends Schema<string> {
  private readonly digits: readonly number[];
  constructor(private readonly what: string, sizes: readonly number[]) {
    super();
    this.digits = sizes.map((n) => n * 2);
  }
  label(): string {
    return `${this.what} (${this.digits.join(' or ')} hex digits)`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<string> {
    if (typeof v !== 'string') return typeIssue(ctx, where, this.label(), v);
    if (!this.digits.includes(v.length) || !LOWER_HEX.test(v)) {
      if (!ANY_HEX.test(v)) return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected ${this.label()}, got a string that is not hex ("${v.length > 20 ? `${v.slice(0, 17)}...` : v}")`);
      if (!this.digits.includes(v.length)) return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected ${this.label()}, got ${v.length} hex digits`);
      return v.toLowerCase();
    }
    return v;
  }
  jsonSchema(): JsonSchema {
    return { type: 'string', pattern: `^(?:${this.digits.map((d) => `[0-9a-fA-F]{${d}}`).join('|')})$` };
  }
}

/** Hex digits of one of the given byte lengths; normalized to lowercase. */
export function hex(what: string, sizes: readonly number[]): Schema<string> {
  return new HexSchema(what, sizes);
}

class IntSchema extends Schema<number> {
  constructor(private readonly min: number, private readonly max: number, private readonly what: string) {
    super();
  }
  label(): string {
    return `${this.what} ${this.min}..${this.max}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<number> {
    let n: number;
    if (typeof v === 'bigint') n = v >= BigInt(this.min) && v <= BigInt(this.max) ? Number(v) : NaN;
    else if (typeof v === 'number' && Number.isInteger(v)) n = v;
    else return typeIssue(ctx, where, this.label(), v);
    if (!(n >= this.min && n <= this.max)) return valueIssue(ctx, where, this.label(), v);
    return n;
  }
  jsonSchema(): JsonSchema {
    return { type: 'integer', minimum: this.min, maximum: this.max };
  }
}

export function int(min: number, max: number, what = 'integer'): Schema<number> {
  return new IntSchema(min, max, what);
}

const UINT64_MAX = (1n << 64n) - 1n;

class Uint64Schema extends Schema<bigint> {
  label(): string {
    return 'unsigned 64-bit integer, or a "0x..." hex string';
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<bigint> {
    let n: bigint;
    if (typeof v === 'bigint') n = v;
    else if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^[0-9]{1,20}$/.test(v)) n = BigInt(v);
    else if (typeof v === 'string') return valueIssue(ctx, where, this.label(), v);
    else return typeIssue(ctx, where, this.label(), v);
    if (n < 0n || n > UINT64_MAX) return valueIssue(ctx, where, this.label(), v);
    return n;
  }
  jsonSchema(): JsonSchema {
    return { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^(?:0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$' }] };
  }
}

export function uint64(): Schema<bigint> {
  return new Uint64Schema();
}

class BoolSchema extends Schema<boolean> {
  label(): string {
    return 'true or false';
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<boolean> {
    return typeof v === 'boolean' ? v : typeIssue(ctx, where, this.label(), v);
  }
  jsonSchema(): JsonSchema {
    return { type: 'boolean' };
  }
}

export function bool(): Schema<boolean> {
  return new BoolSchema();
}

class EnumSchema<E extends string> extends Schema<E> {
  constructor(private readonly values: readonly E[], private readonly code: PolicyLoadCode) {
    super();
  }
  label(): string {
    return this.values.length === 1 ? `"${this.values[0]}"` : `one of ${this.values.join(', ')}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<E> {
    if (typeof v !== 'string') return typeIssue(ctx, where, this.label(), v);
    if (!(this.values as readonly string[]).includes(v)) {
      const hint = suggest(v, this.values);
      return valueIssue(ctx, where, this.label(), v, this.code, `expected ${this.label()}, got "${v}"${hint ? ` (did you mean "${hint}"?)` : ''}`);
    }
    return v as E;
  }
  jsonSchema(): JsonSchema {
    return this.values.length === 1 ? { const: this.values[0] } : { enum: [...this.values] };
  }
}

export function enumOf<const E extends string>(values: readonly E[], code: PolicyLoadCode = 'POLICY_VALUE'): Schema<E> {
  return new EnumSchema(values, code);
}

/** A value with its text kept for reports: "10m" → { text: "10m", ms: 600000 }. */
export interface Duration {
  text: string;
  ms: number;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

class DurationSchema extends Schema<Duration> {
  label(): string {
    return 'duration: a whole number and a unit s, m, h or d, e.g. "10m"';
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<Duration> {
    if (typeof v !== 'string') return typeIssue(ctx, where, this.label(), v);
    const m = /^([1-9][0-9]{0,8})([smhd])$/.exec(v);
    if (!m) return valueIssue(ctx, where, this.label(), v);
    return { text: v, ms: Number(m[1]) * DURATION_UNITS[m[2]!]! };
  }
  jsonSchema(): JsonSchema {
    return { type: 'string', pattern: '^[1-9][0-9]{0,8}[smhd]$' };
  }
}

export function duration(): Schema<Duration> {
  return new DurationSchema();
}

// ---------------------------------------------------------------- lists

export interface ListOptions<T> {
  min?: number;
  max?: number;
  /** items must differ: true compares the parsed values; a function gives the key to compare */
  unique?: boolean | ((item: T) => string);
  /** items (mappings) must differ in this string field, compared even when an item has other errors */
  uniqueField?: string;
  /** what an item is, for the duplicate message */
  itemName?: string;
}

class ListSchema<T> extends Schema<T[]> {
  constructor(private readonly item: Schema<T>, private readonly o: ListOptions<T>) {
    super();
  }
  label(): string {
    return `list of ${this.item.label()}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<T[]> {
    if (!Array.isArray(v)) return typeIssue(ctx, where, this.label(), v);
    const { min = 0, max = 1_000_000 } = this.o;
    if (v.length < min || v.length > max) {
      return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected ${min === max ? min : `${min}..${max}`} item(s), got ${v.length}`);
    }
    // The input array is returned as is when no item changed in parsing (most lists: no copy).
    let out: T[] | undefined;
    const seen = (this.o.unique || this.o.uniqueField) && v.length > 1 ? new Map<string, number>() : undefined;
    let ok = true;
    const field = this.o.uniqueField;
    if (field && seen) {
      v.forEach((raw, i) => {
        if (enough(ctx)) return;
        const key = isPlainObject(raw) ? raw[field] : undefined;
        if (typeof key !== 'string') return;
        const first = seen.get(key);
        if (first === undefined) seen.set(key, i);
        else {
          ctx.issues.push({ code: 'POLICY_DUPLICATE', path: pathOf(child(child(where, i), field)), at: 'value', message: `${formatPath(pathOf(child(child(where, i), field)))}: duplicate ${this.o.itemName ?? field} "${key}" (first at ${formatPath(pathOf(child(where, first)))})`, actual: key });
          ok = false;
        }
      });
    }
    for (let i = 0; i < v.length; i++) {
      if (enough(ctx)) return INVALID;
      const p = this.item.parse(v[i], child(where, i), ctx);
      if (p === INVALID) {
        ok = false;
        continue;
      }
      if (seen && !this.o.uniqueField) {
        const key = typeof this.o.unique === 'function' ? this.o.unique(p) : String(jsonValue(p));
        const first = seen.get(key);
        if (first !== undefined) {
          ctx.issues.push({ code: 'POLICY_DUPLICATE', path: pathOf(child(where, i)), at: 'value', message: `${formatPath(pathOf(child(where, i)))}: duplicate ${this.o.itemName ?? 'item'} "${key}" (first at ${formatPath(pathOf(child(where, first)))})`, actual: key });
          ok = false;
        } else seen.set(key, i);
      }
      if (out) out.push(p);
      else if (p !== v[i]) out = [...(v.slice(0, i) as T[]), p];
    }
    return ok ? (out ?? (v as T[])) : INVALID;
  }
  jsonSchema(): JsonSchema {
    const s: JsonSchema = { type: 'array', items: this.item.jsonSchema() };
    if (this.o.min) s['minItems'] = this.o.min;
    if (this.o.max !== undefined) s['maxItems'] = this.o.max;
    if (this.o.unique && !this.o.uniqueField) s['uniqueItems'] = true;
    return s;
  }
  override docRows(prefix: string): DocRow[] {
    return this.item.docRows(`${prefix}[]`);
  }
}

export function list<T>(item: Schema<T>, o: ListOptions<T> = {}): Schema<T[]> {
  return new ListSchema(item, o);
}

// ---------------------------------------------------------------- objects

type Presence = 'required' | 'optional' | 'default';

export interface Field<T, P extends Presence = Presence> {
  readonly schema: Schema<T>;
  readonly presence: P;
  readonly defaultValue?: T;
  readonly description: string;
  readonly example?: unknown;
}

export function required<T>(schema: Schema<T>, description: string, example?: unknown): Field<T, 'required'> {
  return { schema, presence: 'required', description, example };
}

export function optional<T>(schema: Schema<T>, description: string, example?: unknown): Field<T, 'optional'> {
  return { schema, presence: 'optional', description, example };
}

export function defaulted<T>(schema: Schema<T>, defaultValue: T, description: string, example?: unknown): Field<T, 'default'> {
  return { schema, presence: 'default', defaultValue, description, example };
}

/** A mapping that may be absent: it then takes the defaults of its own keys (written once, on the leaves). */
export function defaultedObject<T>(schema: Schema<T>, description: string, example?: unknown): Field<T, 'default'> {
  return defaulted(schema, defaultsOf(schema), description, example);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Fields = Record<string, Field<any, Presence>>;
type FieldType<F> = F extends Field<infer T, Presence> ? T : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<F extends Fields> = Simplify<
  { -readonly [K in keyof F as F[K]['presence'] extends 'optional' ? never : K]: FieldType<F[K]> } & {
    -readonly [K in keyof F as F[K]['presence'] extends 'optional' ? K : never]?: FieldType<F[K]>;
  }
>;

export interface ObjOptions<T> {
  /** what this mapping is, for the reference and errors */
  label?: string;
  /** at least this many keys must be given (e.g. 1: an empty mapping would be a no-op) */
  minKeys?: number;
  /** cross-field checks on a value whose fields all parsed */
  refine?: (value: T, where: At, ctx: ParseContext) => void;
}

/** Levenshtein distance, small inputs only (key names). */
function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function suggest(given: string, known: readonly string[]): string | undefined {
  if (given.length > 64) return undefined;
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === given.toLowerCase() ? 0 : distance(given, k);
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return bestD <= Math.max(1, Math.min(3, Math.floor(given.length / 3))) ? best : undefined;
}

class ObjSchema<F extends Fields> extends Schema<ObjectOf<F>> {
  constructor(readonly fields: F, private readonly o: ObjOptions<ObjectOf<F>>) {
    super();
  }
  label(): string {
    return this.o.label ?? 'mapping';
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<ObjectOf<F>> {
    if (!isPlainObject(v)) return typeIssue(ctx, where, this.label(), v);
    const names = Object.keys(this.fields);
    const out: Record<string, unknown> = {};
    let ok = true;
    const keys = Object.keys(v);
    ctx.members += keys.length;
    for (const key of keys) {
      if (enough(ctx)) return INVALID;
      if (!Object.hasOwn(this.fields, key)) {
        const hint = suggest(key, names);
        ctx.issues.push({
          code: 'POLICY_UNKNOWN_KEY',
          path: pathOf(child(where, key)),
          at: 'key',
          message: `${formatPath(pathOf(where))}: unknown key ${shownKey(key)}${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of: ${names.join(', ')}`,
          expected: names.join(', '),
          actual: key,
        });
        ok = false;
      }
    }
    for (const name of names) {
      const field = this.fields[name]!;
      if (!Object.hasOwn(v, name) || v[name] === undefined) {
        if (field.presence === 'required') {
          ctx.issues.push({ code: 'POLICY_MISSING_KEY', path: pathOf(where), at: 'value', message: `${formatPath(pathOf(where))}: missing required key "${name}" (${field.schema.label()})`, expected: name });
          ok = false;
        } else if (field.presence === 'default') out[name] = field.defaultValue;
        continue;
      }
      const p = field.schema.parse(v[name], child(where, name), ctx);
      if (p === INVALID) ok = false;
      else out[name] = p;
    }
    if (this.o.minKeys && keys.length < this.o.minKeys) {
      ctx.issues.push({ code: 'POLICY_VALUE', path: pathOf(where), at: 'value', message: `${formatPath(pathOf(where))}: expected at least ${this.o.minKeys} of: ${names.join(', ')} (an empty mapping demands nothing)`, expected: names.join(', '), actual: 'an empty mapping' });
      ok = false;
    }
    if (!ok) return INVALID;
    const value = out as ObjectOf<F>;
    if (this.o.refine) {
      const before = ctx.issues.length;
      this.o.refine(value, where, ctx);
      if (ctx.issues.length > before) return INVALID;
    }
    return value;
  }
  jsonSchema(): JsonSchema {
    const properties: JsonSchema = {};
    const req: string[] = [];
    for (const [name, field] of Object.entries(this.fields)) {
      const s: JsonSchema = { description: field.description, ...field.schema.jsonSchema() };
      if (field.presence === 'default') s['default'] = jsonValue(field.defaultValue);
      if (field.example !== undefined) s['examples'] = [jsonValue(field.example)];
      properties[name] = s;
      if (field.presence === 'required') req.push(name);
    }
    const s: JsonSchema = { type: 'object', properties, additionalProperties: false };
    if (req.length) s['required'] = req;
    if (this.o.minKeys) s['minProperties'] = this.o.minKeys;
    return s;
  }
  override docRows(prefix: string): DocRow[] {
    const rows: DocRow[] = [];
    for (const [name, field] of Object.entries(this.fields)) {
      const key = prefix ? `${prefix}.${name}` : name;
      rows.push({
        key,
        type: field.schema.label(),
        default: field.presence === 'required' ? '(required)' : field.presence === 'default' ? docText(field.defaultValue) : '',
        description: field.description,
        example: docText(field.example),
      });
      rows.push(...field.schema.docRows(key));
    }
    return rows;
  }
}

export function obj<F extends Fields>(fields: F, o: ObjOptions<ObjectOf<F>> = {}): ObjSchema<F> {
  return new ObjSchema(fields, o);
}

/** A mapping whose keys are a fixed set, each with its own value schema (e.g. PCR banks and digest sizes). */
class KeyedSchema<K extends string, V> extends Schema<Map<K, V>> {
  constructor(
    private readonly keys: readonly K[],
    private readonly keyLabel: string,
    private readonly valueFor: (key: K) => Schema<V>,
    private readonly valueDoc: { type: string; description: string; example?: unknown; docKey?: K },
    private readonly minKeys = 0,
  ) {
    super();
  }
  label(): string {
    return `mapping of ${this.keyLabel} (${this.keys.join(', ')}) to ${this.valueDoc.type}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<Map<K, V>> {
    if (!isPlainObject(v)) return typeIssue(ctx, where, this.label(), v);
    const out = new Map<K, V>();
    let ok = true;
    const keys = Object.keys(v);
    ctx.members += keys.length;
    for (const key of keys) {
      if (enough(ctx)) return INVALID;
      if (!(this.keys as readonly string[]).includes(key)) {
        const hint = suggest(key, this.keys);
        ctx.issues.push({
          code: 'POLICY_UNKNOWN_KEY',
          path: pathOf(child(where, key)),
          at: 'key',
          message: `${formatPath(pathOf(where))}: unknown ${this.keyLabel} ${shownKey(key)}${hint ? ` (did you mean "${hint}"?)` : ''}; expected one of: ${this.keys.join(', ')}`,
          expected: this.keys.join(', '),
          actual: key,
        });
        ok = false;
        continue;
      }
      const p = this.valueFor(key as K).parse(v[key], child(where, key), ctx);
      if (p === INVALID) ok = false;
      else out.set(key as K, p);
    }
    if (keys.length < this.minKeys) {
      valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected at least ${this.minKeys} ${this.keyLabel} (${this.keys.join(', ')}): an empty mapping demands nothing`);
      ok = false;
    }
    return ok ? out : INVALID;
  }
  jsonSchema(): JsonSchema {
    const properties: JsonSchema = {};
    for (const k of this.keys) properties[k] = this.valueFor(k).jsonSchema();
    const s: JsonSchema = { type: 'object', properties, additionalProperties: false };
    if (this.minKeys) s['minProperties'] = this.minKeys;
    return s;
  }
  override docRows(prefix: string): DocRow[] {
    const key = `${prefix}.<${this.keyLabel}>`;
    return [
      { key, type: this.valueDoc.type, default: '', description: this.valueDoc.description, example: docText(this.valueDoc.example) },
      ...this.valueFor(this.valueDoc.docKey ?? this.keys[0]!).docRows(key),
    ];
  }
}

export function keyed<K extends string, V>(
  keys: readonly K[],
  keyLabel: string,
  valueFor: (key: K) => Schema<V>,
  valueDoc: { type: string; description: string; example?: unknown; docKey?: K },
  minKeys = 0,
): Schema<Map<K, V>> {
  return new KeyedSchema(keys, keyLabel, valueFor, valueDoc, minKeys);
}

export interface DictKey {
  /** placeholder in the reference, e.g. "index" or "path" */
  label: string;
  /** what a valid key is, e.g. "a PCR index 0..23" */
  expected: string;
  pattern?: RegExp;
  maxLength?: number;
}

/** A mapping with user-chosen keys (PCR indexes, file paths), parsed to a Map. */
class DictSchema<V> extends Schema<Map<string, V>> {
  constructor(
    private readonly key: DictKey,
    private readonly value: Schema<V>,
    private readonly valueDoc: { description: string; example?: unknown },
    private readonly maxEntries: number,
    private readonly minEntries: number,
  ) {
    super();
  }
  label(): string {
    return `mapping of ${this.key.expected} to ${this.value.label()}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<Map<string, V>> {
    if (!isPlainObject(v)) return typeIssue(ctx, where, this.label(), v);
    const keys = Object.keys(v);
    ctx.members += keys.length;
    if (keys.length > this.maxEntries) return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `more than ${this.maxEntries} entries (${keys.length})`);
    if (keys.length < this.minEntries) return valueIssue(ctx, where, this.label(), v, 'POLICY_VALUE', `expected at least ${this.minEntries} entr${this.minEntries === 1 ? 'y' : 'ies'} (${this.key.expected}): an empty mapping demands nothing`);
    const out = new Map<string, V>();
    let ok = true;
    const { pattern, maxLength = 4096 } = this.key;
    for (const key of keys) {
      if (enough(ctx)) return INVALID;
      if ((pattern && !pattern.test(key)) || key.length === 0 || key.length > maxLength) {
        ctx.issues.push({ code: 'POLICY_VALUE', path: pathOf(child(where, key)), at: 'key', message: `${formatPath(pathOf(where))}: ${shownKey(key.length > 60 ? `${key.slice(0, 57)}...` : key)} is not ${this.key.expected}`, expected: this.key.expected, actual: key });
        ok = false;
        continue;
      }
      const p = this.value.parse(v[key], child(where, key), ctx);
      if (p === INVALID) ok = false;
      else out.set(key, p);
    }
    return ok ? out : INVALID;
  }
  jsonSchema(): JsonSchema {
    const names: JsonSchema = { minLength: 1, maxLength: this.key.maxLength ?? 4096 };
    if (this.key.pattern) names['pattern'] = this.key.pattern.source;
    const s: JsonSchema = { type: 'object', propertyNames: names, additionalProperties: this.value.jsonSchema(), maxProperties: this.maxEntries };
    if (this.minEntries) s['minProperties'] = this.minEntries;
    return s;
  }
  override docRows(prefix: string): DocRow[] {
    const key = `${prefix}.<${this.key.label}>`;
    return [{ key, type: this.value.label(), default: '', description: this.valueDoc.description, example: docText(this.valueDoc.example) }, ...this.value.docRows(key)];
  }
}

export function dict<V>(key: DictKey, value: Schema<V>, valueDoc: { description: string; example?: unknown }, maxEntries = 1_000_000, minEntries = 0): Schema<Map<string, V>> {
  return new DictSchema(key, value, valueDoc, maxEntries, minEntries);
}

// ---------------------------------------------------------------- alternatives

type JsType = 'array' | 'string' | 'object' | 'number' | 'boolean';

function jsTypeOf(v: unknown): JsType | undefined {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number' || typeof v === 'bigint') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (isPlainObject(v)) return 'object';
  return undefined;
}

/**
 * Alternatives told apart by the value's type (a list, or the word "replay"),
 * so errors come from the one alternative that applies, never a vague "no
 * alternative matched".
 */
class ByTypeSchema<T> extends Schema<T> {
  constructor(private readonly alts: Partial<Record<JsType, Schema<T>>>, private readonly labelText?: string) {
    super();
  }
  label(): string {
    return (
      this.labelText ??
      Object.values(this.alts)
        .map((s) => s!.label())
        .join(', or ')
    );
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<T> {
    const t = jsTypeOf(v);
    const alt = t ? this.alts[t] : undefined;
    return alt ? alt.parse(v, where, ctx) : typeIssue(ctx, where, this.label(), v);
  }
  jsonSchema(): JsonSchema {
    return { anyOf: Object.values(this.alts).map((s) => s!.jsonSchema()) };
  }
  override docRows(prefix: string): DocRow[] {
    return Object.values(this.alts).flatMap((s) => s!.docRows(prefix));
  }
}

export function byType<T>(alts: Partial<Record<JsType, Schema<T>>>, label?: string): Schema<T> {
  return new ByTypeSchema(alts, label);
}

/** A value that may instead be `{include: FILE}`: reference data kept in a separate file. */
class IncludableSchema<T> extends Schema<T> {
  constructor(private readonly inner: Schema<T>) {
    super();
  }
  label(): string {
    return `${this.inner.label()}; or {include: FILE}`;
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<T> {
    if (isPlainObject(v) && Object.hasOwn(v, 'include') && Object.keys(v).length === 1) {
      const file = v['include'];
      const includeAt = child(where, 'include');
      const at = pathOf(includeAt);
      if (typeof file !== 'string' || file.length === 0 || file.length > 4096) return typeIssue(ctx, includeAt, 'a file path relative to this policy file', file);
      if (!ctx.include) {
        ctx.issues.push({ code: 'POLICY_INCLUDE', path: at, at: 'value', message: `${formatPath(at)}: an included file holds data only; it cannot include "${file}"` });
        return INVALID;
      }
      return ctx.include(file, this.inner as Schema<unknown>, at) as Parsed<T>;
    }
    // {inlcude: FILE}, {Include: FILE}, {includes: FILE}: read as a bank, a path or a list it was never meant to
    // be, the issue said "unknown bank" or "expected list of digests" without a word about include
    if (isPlainObject(v) && Object.keys(v).length === 1) {
      const key = Object.keys(v)[0]!;
      if (key !== 'include' && suggest(key, ['include']) === 'include') {
        const at = pathOf(child(where, key));
        ctx.issues.push({
          code: 'POLICY_UNKNOWN_KEY',
          path: at,
          at: 'key',
          message: `${formatPath(pathOf(where))}: unknown key ${shownKey(key)} (did you mean "include"?); a reference file is named by {include: FILE}`,
          expected: 'include',
          actual: key,
        });
        return INVALID;
      }
    }
    return this.inner.parse(v, where, ctx);
  }
  jsonSchema(): JsonSchema {
    return {
      anyOf: [
        this.inner.jsonSchema(),
        { type: 'object', properties: { include: { type: 'string', minLength: 1, description: 'a YAML or JSON file holding this value, relative to the policy file' } }, required: ['include'], additionalProperties: false },
      ],
    };
  }
  override docRows(prefix: string): DocRow[] {
    return this.inner.docRows(prefix);
  }
}

export function includable<T>(inner: Schema<T>): Schema<T> {
  return new IncludableSchema(inner);
}

/** A schema whose parsed value is transformed (e.g. one kind → a list of one). */
class MappedSchema<A, B> extends Schema<B> {
  constructor(private readonly inner: Schema<A>, private readonly fn: (a: A) => B) {
    super();
  }
  label(): string {
    return this.inner.label();
  }
  parse(v: unknown, where: At, ctx: ParseContext): Parsed<B> {
    const p = this.inner.parse(v, where, ctx);
    return p === INVALID ? INVALID : this.fn(p);
  }
  jsonSchema(): JsonSchema {
    return this.inner.jsonSchema();
  }
  override docRows(prefix: string): DocRow[] {
    return this.inner.docRows(prefix);
  }
}

export function mapped<A, B>(inner: Schema<A>, fn: (a: A) => B): Schema<B> {
  return new MappedSchema(inner, fn);
}

/** One value or a list of them, always parsed to a list. */
export function oneOrMany<T>(item: Schema<T>, itemType: JsType, o: ListOptions<T> = {}): Schema<T[]> {
  return byType<T[]>({ array: list(item, { min: 1, ...o }), [itemType]: new MappedSchema(item, (x: T) => [x]) }, `${item.label()}, or a list of them`);
}

/** The value a schema gives to an absent (empty) mapping: its defaults, from the one definition. */
export function defaultsOf<T>(schema: Schema<T>): T {
  const { value, issues } = validate(schema, {});
  if (value === INVALID) throw new Error(`schema has no default value: ${issues.map((i) => i.message).join('; ')}`);
  return value;
}

/** Parses a whole value; returns it and every issue found. */
export function validate<T>(schema: Schema<T>, value: unknown, include?: IncludeResolver): { value: Parsed<T>; issues: Issue[]; members: number; stopped: boolean } {
  const ctx: ParseContext = { issues: [], members: 0, include };
  const parsed = schema.parse(value, undefined, ctx);
  return { value: ctx.issues.length ? INVALID : parsed, issues: ctx.issues, members: ctx.members, stopped: ctx.stopped === true };
}
