// The human output of `attest` and `verify`: one tree node per layer, top-down
// (VM → VMM → … → physical), each with its identity and the checks and rules
// that failed (or all of them with --verbose), then the verdict line.
//
//   https://vm-17.example:8443
//   ├── ✓ VM        https://vm-17.example:8443   trusted       12 ms
//   │   │ virtual · instance 3f2a91c0… · AK 000b1c9e04aa… · anchor vplatform-ca
//   │   └── ✓ 9 checks, 4 rules passed
//   └── ✗ VMM       https://vmm-3.example:9443   not trusted    8 ms
//       ├── ✗ POLICY_PCR_VALUE  PCR 7 is not one of the golden values
//       │     rule     layer[1].pcrs.sha256.7
//       │     expected e3b0c442…
//       │     actual   7f83b165…
//       └── ✓ 11 checks, 2 rules passed
//
//   ✗ NOT TRUSTED  VMM (layer 1): PCR 7 is not one of the golden values  [POLICY_PCR_VALUE]
//
// Color only marks what the glyphs and words already say, so the tree reads
// the same without it. Every string that came from evidence or a server goes
// through terminalSafe().

import type { Style } from '../cli/output.js';
import type { AttestationResult, ErrorSummary, LayerResult, LayerStatus } from '../verify/result.js';
import {
  ROLE_LABELS,
  displayName,
  formatMs,
  formatValue,
  layerOutcomes,
  layerRole,
  passCountText,
  problems,
  resultDurationMs,
  resultWideOutcomes,
  shortHex,
  terminalSafe,
  uncoveredError,
  type Outcome,
} from './format.js';

export interface TreeOptions {
  /** list every check and rule that passed or was skipped, not only a count */
  verbose?: boolean;
}

/** Glyphs for outcomes and layers; each is also distinct without color. */
const GLYPH = { pass: '✓', fail: '✗', warn: '!', skip: '–', unreachable: '?', notReached: '·' } as const;

const LAYER_STATUS_WORDS: Record<LayerStatus, string> = {
  trusted: 'trusted',
  'not-trusted': 'not trusted',
  unreachable: 'unreachable',
  'not-reached': 'not reached',
};

export const BASELINE_NOTE =
  'no --policy given: the built-in baseline policy applied (every cryptographic, certificate-path and binding check; no reference values)';

/** One node of the drawn tree: a head line, lines under it, child nodes. */
interface Node {
  head: string;
  body?: string[];
  children?: Node[];
}

/** Renders a result as a terminal tree (see the file comment for a sample). */
export function renderTree(result: AttestationResult, style: Style, opts: TreeOptions = {}): string {
  const verbose = opts.verbose ?? false;
  const nodes: Node[] = layerNodes(result.layers, style, verbose);
  const wide = resultWideNodes(result, style, verbose);
  nodes.push(...wide);

  const lines: string[] = [];
  const name = displayName(result);
  lines.push(
    style.bold(terminalSafe(name)) + (name !== result.target ? `  ${style.dim(terminalSafe(result.target))}` : ''),
  );
  if (nodes.length === 0) lines.push(style.dim('└── (no layer was reached)'));
  lines.push(...drawNodes(nodes, '', style));
  lines.push('');
  lines.push(verdictLine(result, style));
  if (result.policy.builtin) lines.push(`  ${style.warn('note:')} ${BASELINE_NOTE}`);
  else lines.push(`  ${style.dim(`policy ${terminalSafe(result.policy.id)} (${terminalSafe(result.policy.source)})`)}`);
  return lines.join('\n');
}

/** The last line: the verdict, why, and the deciding code. */
export function verdictLine(result: AttestationResult, style: Style): string {
  const ms = resultDurationMs(result);
  const took = ms === undefined ? '' : `  ${style.dim(`(${formatMs(ms)})`)}`;
  const code = result.error ? `  ${style.code(`[${terminalSafe(result.error.code)}]`)}` : '';
  const reason = terminalSafe(result.reason);
  switch (result.verdict) {
    case 'trusted': {
      const path = result.layers.map((l) => ROLE_LABELS[layerRole(l)]).join(' → ');
      return `${style.ok(`${GLYPH.pass} TRUSTED`)}  ${reason || path}${took}`;
    }
    case 'not-trusted':
      return `${style.bad(`${GLYPH.fail} NOT TRUSTED`)}  ${reason}${code}${took}`;
    case 'incomplete':
      return `${style.warn(`${GLYPH.unreachable} INCOMPLETE`)}  ${reason}${code}${took}`;
  }
}

function layerNodes(layers: readonly LayerResult[], style: Style, verbose: boolean): Node[] {
  // Columns: role and URI padded to the widest (URIs to at most 48), so the
  // status words line up; a longer URI is printed whole and pushes its row.
  const roleWidth = Math.max(0, ...layers.map((l) => ROLE_LABELS[layerRole(l)].length));
  const uriWidth = Math.min(48, Math.max(0, ...layers.map((l) => terminalSafe(l.uri).length)));
  const statusWidth = Math.max(0, ...layers.map((l) => LAYER_STATUS_WORDS[l.status].length));
  return layers.map((layer) => {
    const role = ROLE_LABELS[layerRole(layer)].padEnd(roleWidth);
    const uri = terminalSafe(layer.uri).padEnd(uriWidth);
    const word = LAYER_STATUS_WORDS[layer.status];
    const elapsed = layer.elapsedMs !== undefined ? formatMs(layer.elapsedMs).padStart(8) : '';
    const [glyph, paint] = layerMark(layer.status, style);
    const head = `${paint(glyph)} ${style.bold(role)}  ${uri}  ${paint(word.padEnd(statusWidth))}${elapsed ? style.dim(elapsed) : ''}`.trimEnd();
    if (layer.status === 'not-reached') return { head: style.dim(`${glyph} ${role}  ${uri}  ${word}`.trimEnd()) };
    const info = identityLine(layer, style);
    return { head, body: info ? [info] : [], children: outcomeNodes(layerOutcomes(layer), layer.error, style, verbose) };
  });
}

function layerMark(status: LayerStatus, style: Style): [string, (t: string) => string] {
  switch (status) {
    case 'trusted':
      return [GLYPH.pass, style.ok];
    case 'not-trusted':
      return [GLYPH.fail, style.bad];
    case 'unreachable':
      return [GLYPH.unreachable, style.warn];
    case 'not-reached':
      return [GLYPH.notReached, style.dim];
  }
}

/** "virtual · instance 3f2a91c0… · AK 000b1c9e04aa… · anchor vplatform-ca" */
function identityLine(layer: LayerResult, style: Style): string {
  const parts: string[] = [];
  if (layer.kind) parts.push(layer.kind);
  if (layer.instanceId) parts.push(`${style.dim('instance')} ${terminalSafe(shortHex(layer.instanceId, 8))}`);
  if (layer.akName) parts.push(`${style.dim('AK')} ${terminalSafe(shortHex(layer.akName, 12))}`);
  else if (layer.akKeyId) parts.push(`${style.dim('AK key')} ${terminalSafe(shortHex(layer.akKeyId, 12))}`);
  if (layer.anchor) parts.push(`${style.dim('anchor')} ${terminalSafe(layer.anchor.label)}`);
  return parts.join(style.dim(' · '));
}

/**
 * A layer's (or the chain's) outcomes: failures and warnings always, with
 * their code, reason and expected vs actual; the layer's deciding error when
 * no listed outcome carries its code (a transport error has no check);
 * passes and skips one by one when verbose, else as one count.
 */
function outcomeNodes(outcomes: readonly Outcome[], error: ErrorSummary | undefined, style: Style, verbose: boolean): Node[] {
  const shown = problems(outcomes);
  const nodes: Node[] = shown.map((o) => problemNode(o, style, verbose));
  const lone = uncoveredError(outcomes, error);
  if (lone) nodes.unshift(errorNode(lone, style, verbose));
  else if (error && verbose) {
    // the failing check that carries the layer's error (an unreachable layer's fetch): its details too, as for a lone error
    const carrier = shown.findIndex((o) => o.status === 'fail' && o.code === error.code);
    if (carrier >= 0) {
      // only what the check's own lines do not say already (its id, expected and actual were printed twice)
      const body = nodes[carrier]!.body!;
      body.push(...errorDetails(error, style, true).filter((line) => !body.includes(line)));
    }
  }
  const passed = outcomes.filter((o) => o.status === 'pass');
  const skipped = outcomes.filter((o) => o.status === 'skip');
  if (verbose) {
    // ids in one column (up to 40 wide) so the messages line up
    const idWidth = Math.min(40, Math.max(0, ...[...passed, ...skipped].map((o) => terminalSafe(o.id).length)));
    const id = (o: Outcome) => terminalSafe(o.id).padEnd(idWidth);
    for (const o of passed) nodes.push({ head: `${style.ok(GLYPH.pass)} ${style.dim(id(o))}  ${terminalSafe(o.message)}` });
    for (const o of skipped) nodes.push({ head: style.dim(`${GLYPH.skip} ${id(o)}  ${terminalSafe(o.message)}`) });
  } else if (passed.length > 0 || skipped.length > 0) {
    nodes.push({ head: countLine(outcomes, style) });
  }
  return nodes;
}

/** "✓ 9 checks, 4 rules passed, 2 skipped" */
function countLine(outcomes: readonly Outcome[], style: Style): string {
  const anyPassed = outcomes.some((o) => o.status === 'pass');
  return style.dim(`${anyPassed ? GLYPH.pass : GLYPH.skip} ${passCountText(outcomes)}`);
}

function problemNode(o: Outcome, style: Style, verbose: boolean): Node {
  const paint = o.status === 'fail' ? style.bad : style.warn;
  const glyph = o.status === 'fail' ? GLYPH.fail : GLYPH.warn;
  const code = o.code ? `${style.code(terminalSafe(o.code))}  ` : '';
  const body = [labelled(o.source, terminalSafe(o.id), style)];
  const max = verbose ? 4000 : 160;
  if (o.expected !== undefined) body.push(labelled('expected', terminalSafe(formatValue(o.expected, max)), style));
  if (o.actual !== undefined) body.push(labelled('actual', terminalSafe(formatValue(o.actual, max)), style));
  return { head: `${paint(glyph)} ${code}${terminalSafe(o.message)}`, body };
}

function errorNode(error: ErrorSummary, style: Style, verbose: boolean): Node {
  return { head: `${style.bad(GLYPH.fail)} ${style.code(terminalSafe(error.code))}  ${terminalSafe(error.message)}`, body: errorDetails(error, style, verbose) };
}

function errorDetails(error: ErrorSummary, style: Style, verbose: boolean): string[] {
  const body: string[] = [];
  const details = error.details ?? {};
  const max = verbose ? 4000 : 160;
  for (const [key, value] of Object.entries(details)) {
    if (value === undefined) continue;
    // expected/actual always; the rest (host, timeout, offsets...) with --verbose
    if (!verbose && key !== 'expected' && key !== 'actual') continue;
    body.push(labelled(terminalSafe(key), terminalSafe(formatValue(value, max)), style));
  }
  return body;
}

function resultWideNodes(result: AttestationResult, style: Style, verbose: boolean): Node[] {
  const out: Node[] = [];
  const chain = resultWideOutcomes({ chain: result.chain });
  const findings = resultWideOutcomes({ chain: [], findings: result.findings });
  for (const [name, outcomes] of [
    ['chain', chain],
    ['state', findings],
  ] as const) {
    if (outcomes.length === 0) continue;
    if (!verbose && problems(outcomes).length === 0) {
      out.push({ head: `${style.dim(name)}  ${countLine(outcomes, style)}` });
      continue;
    }
    const failed = outcomes.some((o) => o.status === 'fail');
    out.push({ head: `${failed ? style.bad(GLYPH.fail) : style.ok(GLYPH.pass)} ${style.bold(name)}`, children: outcomeNodes(outcomes, undefined, style, verbose) });
  }
  return out;
}

/** "expected e3b0…" with the label dimmed and padded so values line up. */
function labelled(label: string, value: string, style: Style): string {
  return `  ${style.dim(label.padEnd(8))} ${value}`;
}

/** Draws nodes with box-drawing branches; `prefix` is the continuation of the ancestors. */
function drawNodes(nodes: readonly Node[], prefix: string, style: Style): string[] {
  const lines: string[] = [];
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1;
    const children = node.children ?? [];
    lines.push(`${prefix}${style.dim(last ? '└── ' : '├── ')}${node.head}`);
    const next = prefix + style.dim(last ? '    ' : '│   ');
    for (const line of node.body ?? []) lines.push(`${next}${children.length ? style.dim('│ ') : '  '}${line}`);
    lines.push(...drawNodes(children, next, style));
  });
  return lines;
}
