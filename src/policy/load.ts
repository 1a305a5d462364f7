// Loading a policy: YAML text → validated, compiled Policy, or EVERY problem
// at once, each with file:line:column and what was expected. Included
// reference files (`{include: FILE}`) are read through a reader the caller
// passes (the core does no I/O of its own) and resolve relative to the policy
// file. Included files hold data only: YAML, or JSON for large generated
// lists (JSON.parse is two orders of magnitude faster than a YAML parser).

import { yamlTooDense } from '../util/yaml-size.js';
import { dirname, isAbsolute, join } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import { ParseError, VtpmError } from '../errors.js';
import type { PolicyLoadCode } from './codes.js';
import { compilePolicy, type Policy } from './compile.js';
import { withPatternBudget } from './pattern.js';
import { jsonErrorOffset, positioner, yamlPosition } from './locate.js';
import { countJsonMembersInText, pathKey, scanJson } from '../util/json-scan.js';
import { API_VERSION, policySchema } from './schema.js';
import { yamlLibrary } from '../util/lazy-yaml.js';
import { duplicateYamlKeys, type DuplicateYamlKey } from './yaml-keys.js';
import { jsonNestingOver } from '../util/json-nesting.js';
import { parseDocumentCapped } from '../util/yaml-depth.js';
import { INVALID, MAX_COLLECTED_ISSUES, describeValue, formatPath, includable, isPlainObject, validate, type IncludeResolver, type Issue, type Parsed, type Schema } from './schema-dsl.js';

/** One problem in a policy (or an included file), located. */
export interface PolicyIssue {
  file: string;
  line: number;
  column: number;
  code: PolicyLoadCode;
  /** where in the policy structure, e.g. "layers[0].pcrs.sha256.7" */
  path: string;
  message: string;
  expected?: string;
  actual?: string;
}

/** Reads an included file; throws a VtpmError (FILE_UNREADABLE, FILE_TOO_LARGE) when it cannot. */
export type PolicyFileReader = (path: string) => string;

export interface LoadOptions {
  /** the policy file's path: names it in issues; includes resolve relative to its folder */
  path?: string;
  /** reads included files; without it a policy cannot include anything */
  readFile?: PolicyFileReader;
}

export interface PolicyCheckResult {
  /** present when there are no issues */
  policy?: Policy;
  issues: PolicyIssue[];
}

/** Policy files are small and reviewed; reference lists may be large. */
export const MAX_POLICY_TEXT = 1024 * 1024;
export const MAX_INCLUDE_TEXT = 64 * 1024 * 1024;
/**
 * A YAML include is parsed into a document tree first: a hundred or more
 * bytes of heap per byte of text (8 MiB of a list of short items took 4 GB;
 * 30 MiB ran out of memory). Larger lists are included as JSON.
 */
export const MAX_YAML_INCLUDE_TEXT = 8 * 1024 * 1024;
/** Past this many issues the rest are counted, not listed (a generated file gone wrong can have 100,000). */
export const MAX_ISSUES = 1000;

/** Nesting a policy's JSON data (facts, reference files) may have; deeper would overflow the stack of locating its issues. */
const MAX_JSON_NESTING = 64;

// logLevel error: what the parser would only warn about on stderr (a collection used as a key) is an issue of the document anyway.
// uniqueKeys off: the parser compares key values (7 is not "7"), the plain value their names; duplicateYamlKeys checks those.
const YAML_OPTIONS = { intAsBigInt: true, uniqueKeys: false, strict: true, prettyErrors: false, version: '1.2', logLevel: 'error' } as const;

function issueOf(file: string, pos: { line: number; column: number }, i: Issue): PolicyIssue {
  const out: PolicyIssue = { file, line: pos.line, column: pos.column, code: i.code, path: formatPath(i.path), message: i.message };
  if (i.expected !== undefined) out.expected = i.expected;
  if (i.actual !== undefined) out.actual = i.actual;
  return out;
}

/** A YAML document parsed for validation: its plain value (absent after a syntax error) and where each node is in the text. */
export interface ParsedYaml {
  value?: unknown;
  doc: Document;
  lineCounter: LineCounter;
}

const NESTED_TOO_DEEPLY = 'nested too deeply to read (mappings inside one another, as in a: b: c: ..., past what the YAML parser can take)';

/**
 * YAML text → plain value, or located syntax issues. Shared by every YAML
 * file of the policy language's loader style (policies, included files,
 * audit inventories): YAML 1.2, unique keys, bounded aliases.
 */
export function parseYaml(text: string, file: string, issues: PolicyIssue[]): ParsedYaml {
  const yaml = yamlLibrary();
  const lineCounter = new yaml.LineCounter();
  let doc: Document;
  // The parser makes an Error, stack trace included, for each problem it records: a hostile file of a few MB
  // with one problem per line took ~50 s, most of it capturing stacks nobody reads (the issues carry positions).
  const stackTraceLimit = Error.stackTraceLimit;
  try {
    Error.stackTraceLimit = 0;
    // Collections nested some hundreds deep run the parser out of stack, and when that happens while V8 compiles one
    // of the parser's regular expressions V8 aborts the process (a 4 KB file of two lines "- [[[[..." or "- - - ..."
    // did): refused before the parser recurses into them, where the nesting passes the cap.
    const parsed = parseDocumentCapped(text, { ...YAML_OPTIONS, lineCounter });
    if ('tooDeepAt' in parsed) {
      // (the parser may not have counted the lines yet: flow collections are counted before it runs)
      const { line, col } = lineCounterFor(text, parsed.tooDeepAt);
      issues.push({ file, line, column: col, code: 'POLICY_YAML_SYNTAX', path: '', message: parsed.message });
      return { doc: new yaml.Document(), lineCounter };
    }
    doc = parsed;
  } catch (err) {
    // (a last resort: nesting that ran the parser out of stack, as a: a: a: ... on one line did, is refused by the
    // depth cap first) where the parser stopped is unknown, so the issue is at the start.
    if (!(err instanceof RangeError)) throw err;
    issues.push({ file, line: 1, column: 1, code: 'POLICY_YAML_SYNTAX', path: '', message: NESTED_TOO_DEEPLY });
    return { doc: new yaml.Document(), lineCounter };
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  const found: { offset: number; issue: PolicyIssue }[] = [];
  const at = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  // A "%YAML 1.1" directive would switch the parser to YAML 1.1, where 010 is 8, 0:20 is 20, on is true and << merges
  // mappings: the file would mean something else than it reads as YAML 1.2.
  const version = doc.directives?.yaml.version;
  const otherVersion = version !== undefined && version !== '1.2';
  const fatal = doc.errors.length > 0 || doc.warnings.length > 0 || otherVersion;
  if (otherVersion) {
    const offset = Math.max(0, text.search(/^%YAML[ \t]/m));
    found.push({ offset, issue: { ...at(offset), code: 'POLICY_YAML_SYNTAX', path: '', message: `%YAML ${version}: only YAML 1.2 is read (remove the directive)` } });
  }
  let tooDeep = false;
  for (const e of [...doc.errors, ...doc.warnings]) {
    const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    // the parser reports running out of stack in V8's words: say what it means for the file
    const overflow = /Maximum call stack size exceeded/.test(first);
    // the parser may run out of stack more than once as it unwinds: one report
    if (overflow && tooDeep) continue;
    tooDeep ||= overflow;
    // the parser's advice for a second document names its own API: say what to do with the file
    const message = overflow
      ? 'nested too deeply to read (flow collections inside one another, past what the YAML parser can take)'
      : e.code === 'MULTIPLE_DOCS'
        ? 'a second YAML document starts here: a file holds one document (remove this "---" line and what follows, or put it in a file of its own)'
        : first;
    found.push({ offset: e.pos[0], issue: { ...at(e.pos[0]), code: 'POLICY_YAML_SYNTAX', path: '', message } });
  }
  for (const d of duplicateYamlKeys(doc)) found.push({ offset: d.offset, issue: { ...at(d.offset), code: 'POLICY_DUPLICATE_KEY', path: '', message: duplicateKeyMessage(text, d, lineCounter) } });
  // in text order, as the parser reported them when it found the duplicates itself
  for (const f of found.sort((a, b) => a.offset - b.offset)) issues.push(f.issue);
  // A syntax error leaves the structure uncertain; checking it would only add noise.
  if (fatal) return { doc, lineCounter };
  try {
    return { value: doc.toJS({ maxAliasCount: 100 }), doc, lineCounter };
  } catch (err) {
    // the one error toJS throws (too many aliases) names no place: the first alias is where expanding began
    let offset = 0;
    yaml.visit(doc, {
      Alias(_key, node) {
        offset = node.range?.[0] ?? 0;
        return yaml.visit.BREAK;
      },
    });
    issues.push({ ...at(offset), code: 'POLICY_YAML_SYNTAX', path: '', message: (err as Error).message });
    return { doc, lineCounter };
  }
}

/** 1-based line and column of an offset, without a parse. */
function lineCounterFor(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, col: offset - start + 1 };
}

/** A key as written (quoted or plain, up to its colon), for messages. */
function keyTextAt(text: string, offset: number): string {
  return (/^(?:"(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:\n]*)/.exec(text.slice(offset, offset + 200))?.[0] ?? '').trim();
}

/** Names the earlier key too when it is written differently (7 and "7"): the reader would not see them as one. */
function duplicateKeyMessage(text: string, d: DuplicateYamlKey, lineCounter: LineCounter): string {
  const key = keyTextAt(text, d.offset);
  const first = keyTextAt(text, d.firstOffset);
  // a key written quoted (JSON's always are) is shown as written, not quoted again
  const shown = /^["']/.test(key) ? key : `"${key}"`;
  if (first === key) return `duplicate key ${shown}: a key may appear only once in a mapping`;
  const { line, col } = lineCounter.linePos(d.firstOffset);
  return `duplicate key ${shown}: the same key as ${first} at line ${line}, column ${col} (keys are compared as text); a key may appear only once in a mapping`;
}

/** Validation issues (paths) → located issues in the YAML text they came from. */
export function locateYaml(parsed: ParsedYaml, file: string, found: readonly Issue[], issues: PolicyIssue[]): void {
  for (const i of found) issues.push(issueOf(file, yamlPosition(parsed.doc, parsed.lineCounter, i.path, i.at), i));
}

/** JSON data (a reference file, a facts file): parsed fast; scanned for positions and duplicate keys only when there are issues. */
export function parseJsonData(textIn: string, file: string, schema: Schema<unknown>, issues: PolicyIssue[]): Parsed<unknown> {
  // a byte order mark (Windows editors and PowerShell write one) is not part of the document: JSON.parse
  // refuses it ("Unexpected token '\ufeff'"), the YAML parser skips it; a space keeps every position the same
  const text = textIn.charCodeAt(0) === 0xfeff ? ` ${textIn.slice(1)}` : textIn;
  const pos = positioner(text);
  let value: unknown;
  if (jsonNestingOver(text, MAX_JSON_NESTING)) {
    issues.push({ file, line: 1, column: 1, code: 'POLICY_YAML_SYNTAX', path: '', message: `JSON nested more than ${MAX_JSON_NESTING} deep` });
    return INVALID;
  }
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message.replace(/^JSON\.parse: /, '');
    issues.push({ file, ...pos(jsonErrorOffset(err)), code: 'POLICY_YAML_SYNTAX', path: '', message: `not valid JSON: ${message}` });
    return INVALID;
  }
  const { value: parsedValue, issues: found, members } = validate(schema, value);
  // A valid parse visited every mapping, so its key count is the parsed value's; fewer keys than the text holds means duplicates.
  if (!found.length && members === countJsonMembersInText(text)) return parsedValue;
  const scan = scanJson(text, new Set(found.map((i) => pathKey(i.path))));
  for (const d of scan.duplicates) {
    issues.push({ file, ...pos(d.offset), code: 'POLICY_DUPLICATE_KEY', path: formatPath(d.path), message: `duplicate key "${String(d.path[d.path.length - 1])}" (JSON keeps only the last one)` });
  }
  for (const i of found) {
    const at = scan.found.get(pathKey(i.path));
    issues.push(issueOf(file, pos(at ? (i.at === 'key' ? (at.key ?? at.value) : at.value) : 0), i));
  }
  return INVALID;
}

/** The resolver for `{include: FILE}`: reads, parses and validates the file against the value's schema. */
function includeResolver(opts: LoadOptions, includes: string[], issues: PolicyIssue[], policyFile: string, locatePolicy: (path: Issue['path']) => { line: number; column: number }): IncludeResolver {
  return (ref, schema, at) => {
    const problem = (message: string): typeof INVALID => {
      issues.push({ file: policyFile, ...locatePolicy(at), code: 'POLICY_INCLUDE', path: formatPath(at), message });
      return INVALID;
    };
    if (!opts.readFile) return problem(`${formatPath(at)}: cannot include "${ref}": this policy was not loaded from a file`);
    const file = isAbsolute(ref) ? ref : join(dirname(policyFile), ref);
    let text: string;
    try {
      text = opts.readFile(file);
    } catch (err) {
      if (err instanceof VtpmError) return problem(`${formatPath(at)}: cannot include "${ref}": ${err.message}`);
      throw err;
    }
    if (text.length > MAX_INCLUDE_TEXT) return problem(`${formatPath(at)}: "${ref}" is larger than ${MAX_INCLUDE_TEXT} characters`);
    const json = /\.json$/i.test(file);
    if (!json && text.length > MAX_YAML_INCLUDE_TEXT) return problem(`${formatPath(at)}: "${ref}" is larger than ${MAX_YAML_INCLUDE_TEXT} characters, the limit for YAML (parsing YAML takes a hundred times its size in memory); write large lists as JSON (a .json file, up to ${MAX_INCLUDE_TEXT})`);
    const dense = json ? undefined : yamlTooDense(text, `"${ref}"`);
    if (dense !== undefined) return problem(`${formatPath(at)}: ${dense}`);
    includes.push(file);
    // Wrapped again so that an include inside the file is reported as such (no resolver: data only).
    const dataSchema = includable(schema);
    if (json) return parseJsonData(text, file, dataSchema, issues);
    const parsed = parseYaml(text, file, issues);
    if (!('value' in parsed)) return INVALID;
    // No resolver inside: included files hold data, never further includes.
    const { value, issues: found } = validate(dataSchema, parsed.value);
    locateYaml(parsed, file, found, issues);
    return value;
  };
}

/** An apiVersion as written, for the message: YAML integers are read as bigints, which JSON.stringify refuses. */
function shownApiVersion(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  // a mapping or a list (one an alias may have made circular): described, not printed
  return describeValue(v);
}

/**
 * Checks a policy and, when it has no issues, compiles it. Never throws for
 * problems in the policy: they are all in `issues`, located.
 */
export function checkPolicy(text: string, opts: LoadOptions = {}): PolicyCheckResult {
  const file = opts.path ?? '<policy>';
  const issues: PolicyIssue[] = [];
  if (text.length > MAX_POLICY_TEXT) {
    issues.push({ file, line: 1, column: 1, code: 'POLICY_VALUE', path: '', message: `the policy is larger than ${MAX_POLICY_TEXT} characters; keep large reference lists in included files` });
    return { issues };
  }
  const parsed = parseYaml(text, file, issues);
  if (!('value' in parsed)) return { issues: capped(issues) };
  const locate = (path: Issue['path'], at: Issue['at'] = 'value') => yamlPosition(parsed.doc, parsed.lineCounter, path, at);

  let root = parsed.value;
  if (!isPlainObject(root)) {
    issues.push({ file, ...locate([]), code: 'POLICY_TYPE', path: '', message: `a policy is a mapping starting with "apiVersion: ${API_VERSION}"`, expected: 'a mapping' });
    return { issues };
  }
  // The version decides which language the rest is in: a wrong one ends the check.
  if (root['apiVersion'] === undefined) {
    issues.push({ file, ...locate([]), code: 'POLICY_VERSION', path: 'apiVersion', message: `missing apiVersion: this file must start with "apiVersion: ${API_VERSION}"`, expected: API_VERSION });
    root = { ...root, apiVersion: API_VERSION };
  } else if (root['apiVersion'] !== API_VERSION) {
    issues.push({ file, ...locate(['apiVersion']), code: 'POLICY_VERSION', path: 'apiVersion', message: `unsupported apiVersion ${shownApiVersion(root['apiVersion'])}: this vtpm-verify understands ${API_VERSION}`, expected: API_VERSION, actual: typeof root['apiVersion'] === 'string' ? root['apiVersion'] : shownApiVersion(root['apiVersion']) });
    return { issues };
  }

  const includes: string[] = [];
  const { value, issues: found } = withPatternBudget(() => validate(policySchema, root, includeResolver(opts, includes, issues, file, (p) => locate(p))));
  locateYaml(parsed, file, found, issues);
  if (value === INVALID || issues.length) return { issues: capped(sortIssues(issues, file)) };
  const policy = compilePolicy(value, {
    ...(opts.path !== undefined ? { file: opts.path } : {}),
    includes,
    ruleSetAt: (index) => {
      const p = locate(['layers', index]);
      return `${file}:${p.line}:${p.column}`;
    },
  });
  return { policy, issues: [] };
}

/** The main file first, then the others (includes); each in text order. */
export function sortIssues<I extends Pick<PolicyIssue, 'file' | 'line' | 'column'>>(issues: I[], file: string): I[] {
  return issues
    .map((i, n) => ({ i, n }))
    .sort((a, b) => Number(a.i.file !== file) - Number(b.i.file !== file) || (a.i.file < b.i.file ? -1 : a.i.file > b.i.file ? 1 : 0) || a.i.line - b.i.line || a.i.column - b.i.column || a.n - b.n)
    .map(({ i }) => i);
}

/** At most MAX_ISSUES listed; the rest counted in a last POLICY_INVALID issue. */
export function capped(issues: PolicyIssue[]): PolicyIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const rest = issues.length - MAX_ISSUES;
  const last = issues[MAX_ISSUES - 1]!;
  // validation stops at MAX_COLLECTED_ISSUES: past it there may be more than were counted
  const more = issues.length >= MAX_COLLECTED_ISSUES ? `at least ${rest}` : String(rest);
  return [...issues.slice(0, MAX_ISSUES), { file: last.file, line: last.line, column: last.column, code: 'POLICY_INVALID', path: '', message: `... and ${more} more issue(s) not listed` }];
}

/** One line per issue: "file:line:column CODE message". */
export function formatIssue(i: PolicyIssue): string {
  return `${i.file}:${i.line}:${i.column} ${i.code} ${i.message}`;
}

/** Loads a policy or throws POLICY_INVALID whose details.issues lists every problem. */
export function loadPolicy(text: string, opts: LoadOptions = {}): Policy {
  const { policy, issues } = checkPolicy(text, opts);
  if (policy) return policy;
  const file = opts.path ?? '<policy>';
  const first = issues[0];
  throw new ParseError('POLICY_INVALID', `${file}: ${issues.length} problem(s) in the policy${first ? `; first: ${formatIssue(first)}` : ''}`, { file, issues });
}
