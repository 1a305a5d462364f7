// `policy evaluate FILE --facts FACTS`: evaluate a policy against verified
// layer facts saved as JSON. Until the deep-attestation walker produces facts
// itself, this is how a policy is tried against evidence.

import { EXIT_CODES, VerificationError, VtpmError } from '../../errors.js';
import type { Policy } from '../../policy/compile.js';
import { evaluatePolicy, failedRules } from '../../policy/evaluate.js';
import { parseFactsJson } from '../../policy/evidence-json.js';
import { readInputText } from '../../util/files.js';
import { checkFactsParse } from './policy-init-evidence.js';
import type { CommandOutcome } from '../output.js';
import { invalidPolicyOutcome, loadPolicyFile } from '../policy-file.js';
import { renderEvaluation } from './policy-render.js';
import { parseTimeArgument } from '../time-argument.js';

export async function policyEvaluate(opts: { file: string; facts: string; now?: string | undefined; verbose: boolean }): Promise<CommandOutcome> {
  let now: Date | undefined;
  if (opts.now !== undefined) {
    now = new Date(parseTimeArgument(opts.now, '--now'));
  }
  let policy: Policy;
  try {
    policy = loadPolicyFile(opts.file);
  } catch (err) {
    const outcome = err instanceof VtpmError ? invalidPolicyOutcome(err) : undefined;
    if (outcome) return outcome;
    throw err;
  }
  const text = readInputText(opts.facts, 'facts file');
  // its values against the heap before JSON.parse builds them, as policy init --from checks a facts file
  await checkFactsParse(text, opts.facts);
  const facts = parseFactsJson(text, opts.facts);
  const evaluation = evaluatePolicy(policy, { ...facts, now: now ?? facts.now ?? new Date() });
  const failed = failedRules(evaluation);
  const trusted = evaluation.verdict === 'trusted';
  return {
    ok: trusted,
    exitCode: trusted ? EXIT_CODES.OK : EXIT_CODES.NOT_TRUSTED,
    result: evaluation,
    error: trusted ? undefined : new VerificationError('POLICY_NOT_TRUSTED', `not trusted under policy ${policy.name}: ${failed.length} rule(s) failed; first: ${failed[0]?.id}: ${failed[0]?.message}`, { failed: failed.map((r) => r.id) }),
    human: (s) => renderEvaluation(evaluation, s, opts.verbose),
  };
}
