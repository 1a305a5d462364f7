// `policy init`: a golden policy from known-good evidence: a saved evidence
// bundle (re-verified by the walker), one quote with its logs, or a facts file
// (verified LayerFacts as JSON). Evidence is verified into facts first
// (policy-init-evidence.ts); the generator sees nothing unverified.

import { existsSync } from 'node:fs';
import { checkOutputFile, writeFileAtomic } from '../../util/files.js';
import { basename, dirname, extname, join } from 'node:path';
import { EXIT_CODES, ParseError, TransportError, UsageError } from '../../errors.js';
import { parseFactsJson } from '../../policy/evidence-json.js';
import { generatePolicy } from '../../policy/generate.js';
import { checkPolicy, formatIssue } from '../../policy/load.js';
import type { LayerFacts } from '../../policy/evidence.js';
import { NAME_PATTERN } from '../../policy/schema.js';
import { checkFactsParse, factsFromBundle, factsFromQuoteFiles, isBundleText, readEvidenceText, type QuoteFiles } from './policy-init-evidence.js';
import type { CommandOutcome } from '../output.js';

function looksLikeUnverifiedEvidence(text: string): boolean {
  // The evidence endpoint's response (protocol §2) carries a quote, not verified facts.
  return /^\s*\{[\s\S]*"quote"\s*:/.test(text.slice(0, 4096)) && !/"layers"\s*:/.test(text.slice(0, 4096));
}

/** Past this many IMA entries the allow-list must go to an included file. */
const INLINE_IMA_MAX = 1000;

function write(path: string, text: string): void {
  try {
    // whole or not at all: a full disk must not leave an empty or truncated policy in place of a golden one
    writeFileAtomic(path, text);
  } catch (err) {
    throw new TransportError('IO_ERROR', `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path }, { cause: err });
  }
}

export interface PolicyInitOptions {
  from?: string | undefined;
  trust: string[];
  quote?: QuoteFiles | undefined;
  output?: string | undefined;
  name: string;
  force: boolean;
}

async function readFacts(opts: PolicyInitOptions): Promise<{ layers: LayerFacts[]; source: string }> {
  if ((opts.from === undefined) === (opts.quote === undefined)) {
    throw new UsageError('USAGE', 'give the known-good evidence either as --from FILE (a bundle or facts file) or as a quote with --ak --message --signature --nonce --pcrs', {});
  }
  if (opts.quote) {
    const q = opts.quote;
    for (const [k, v] of Object.entries({ '--message': q.message, '--signature': q.signature, '--pcrs': q.pcrs })) {
      if (!v) throw new UsageError('USAGE', `--ak needs ${k} too`, {});
    }
    // "" is the nonce of a quote made with none (as quote --nonce ""): only a missing --nonce is refused
    if (q.nonce === undefined) throw new UsageError('USAGE', '--ak needs --nonce too ("" for a quote with no nonce)', {});
    return { layers: await factsFromQuoteFiles(q), source: basename(q.message) };
  }
  const from = opts.from!;
  const text = await readEvidenceText(from);
  if (isBundleText(text)) return { layers: await factsFromBundle(text, from, opts.trust), source: basename(from) };
  if (looksLikeUnverifiedEvidence(text)) {
    throw new UsageError('USAGE', `${from} looks like one layer's raw evidence response; save a whole attestation with attest --save and pass that bundle, or pass the quote files with --ak ...`, { file: from });
  }
  await checkFactsParse(text, from);
  return { layers: parseFactsJson(text, from).layers, source: basename(from) };
}

export async function policyInit(opts: PolicyInitOptions): Promise<CommandOutcome> {
  // the name lands in the policy: one the language refuses would make the generated policy invalid
  if (!NAME_PATTERN.test(opts.name)) throw new UsageError('USAGE', `--name ${JSON.stringify(opts.name)}: a policy name is letters, digits, ".", "_", "-" (up to 64), starting with a letter or digit`, { name: opts.name });
  // before any work, as attest --save: an empty name, a folder, a FIFO (the write would block for ever) or a
  // missing folder is the command line's mistake (exit 2), not an I/O failure after the evidence was verified
  if (opts.output !== undefined) checkOutputFile('--output', opts.output);
  const { layers, source } = await readFacts(opts);
  const facts = { layers };
  const imaEntries = Math.max(0, ...facts.layers.map((l) => l.ima?.entries.length ?? 0));
  if (opts.output === undefined && imaEntries > INLINE_IMA_MAX) {
    throw new UsageError('USAGE', `an IMA log has ${imaEntries} entries: give -o FILE so the allow-list goes to an included JSON file next to it (inline YAML lists that large load slowly)`, { entries: imaEntries });
  }
  const base = opts.output === undefined ? undefined : basename(opts.output, extname(opts.output));
  const generated = generatePolicy(facts.layers, {
    name: opts.name,
    source,
    generatedAt: new Date(),
    imaAllowListFile: base === undefined ? undefined : (l) => `${base}.layer${l.position}-ima.json`,
  });
  // The generator must produce what the loader accepts; check before writing anything.
  const files = new Map(generated.files.map((f) => [f.path, f.text]));
  const check = checkPolicy(generated.yaml, { path: opts.output ?? 'golden.yaml', readFile: (p) => files.get(basename(p)) ?? '' });
  // Facts files (and, for the size cap, evidence: thousands of boot applications) can hold what the policy
  // language refuses; that is the input's doing, said as such (exit 2), not a bug of the generator.
  if (!check.policy) {
    throw new ParseError('POLICY_INIT_UNREPRESENTABLE', `${source}: the facts hold what a policy cannot state, so no policy was written: ${check.issues.slice(0, 3).map(formatIssue).join('; ')}${check.issues.length > 3 ? `; and ${check.issues.length - 3} more` : ''}`, { issues: check.issues.slice(0, 100) });
  }

  const written: string[] = [];
  if (opts.output !== undefined) {
    const dir = dirname(opts.output);
    const targets = [...generated.files.map((f) => ({ path: join(dir, f.path), text: f.text })), { path: opts.output, text: generated.yaml }];
    const existing = targets.filter((t) => existsSync(t.path)).map((t) => t.path);
    if (existing.length && !opts.force) throw new UsageError('USAGE', `${existing.join(', ')} exist(s); pass --force to overwrite`, { paths: existing });
    for (const t of targets) checkOutputFile('--output', t.path);
    for (const t of targets) write(t.path, t.text);
    written.push(...targets.map((t) => t.path));
  }
  const summary = { name: opts.name, layers: facts.layers.length, source, written, ruleSets: check.policy.ruleSets.map((r) => r.name) };
  return {
    ok: true,
    exitCode: EXIT_CODES.OK,
    result: opts.output === undefined ? { ...summary, yaml: generated.yaml } : summary,
    human: (s) => (opts.output === undefined ? generated.yaml : `${s.ok('wrote')} ${written.join(', ')}\n${s.dim(`check it: vtpm-verify policy check ${opts.output}`)}`),
  };
}
