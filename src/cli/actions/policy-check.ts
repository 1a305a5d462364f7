// `policy check FILE...`: validate every file, list every problem.

import { EXIT_CODES, ParseError, VtpmError } from '../../errors.js';
import { checkPolicy, type PolicyIssue } from '../../policy/load.js';
import type { CommandOutcome } from '../output.js';
import { readIncludedFile, readPolicyText, renderIssues } from '../policy-file.js';

interface FileResult {
  file: string;
  valid: boolean;
  name?: string;
  ruleSets?: string[];
  includes?: string[];
  issues: PolicyIssue[];
  /** the file could not be read at all */
  error?: { code: string; message: string };
}

export async function policyCheck(opts: { files: string[] }): Promise<CommandOutcome> {
  const results: FileResult[] = opts.files.map((file) => {
    let text: string;
    try {
      text = readPolicyText(file);
    } catch (err) {
      if (!(err instanceof VtpmError)) throw err;
      return { file, valid: false, issues: [], error: { code: err.code, message: err.message } };
    }
    const { policy, issues } = checkPolicy(text, { path: file, readFile: readIncludedFile });
    if (!policy) return { file, valid: false, issues };
    return { file, valid: true, name: policy.name, ruleSets: policy.ruleSets.map((r) => r.name), includes: policy.includes, issues: [] };
  });
  const invalid = results.filter((r) => !r.valid);
  const unreadable = results.find((r) => r.error);
  const issueCount = invalid.reduce((n, r) => n + r.issues.length, 0);
  const error = unreadable
    ? new ParseError(unreadable.error!.code, unreadable.error!.message, { file: unreadable.file })
    : invalid.length
      ? new ParseError('POLICY_INVALID', `${invalid.length} of ${results.length} policy file(s) invalid, ${issueCount} problem(s)`, { files: invalid.map((r) => r.file), issues: invalid.flatMap((r) => r.issues) })
      : undefined;
  return {
    ok: !error,
    exitCode: error ? EXIT_CODES.BAD_INPUT : EXIT_CODES.OK,
    result: { valid: !error, files: results },
    error,
    human: (s) =>
      results
        .map((r) => {
          if (r.error) return `${s.bad('unreadable')} ${r.file}: ${s.code(r.error.code)} ${r.error.message}`;
          if (r.valid) return `${s.ok('valid')} ${r.file}: policy ${r.name}, ${r.ruleSets!.length} rule set(s)${r.includes!.length ? `, ${r.includes!.length} included file(s)` : ''}`;
          return `${s.bad('invalid')} ${r.file}: ${r.issues.length} problem(s)\n${renderIssues(r.issues, s)}`;
        })
        .join('\n'),
  };
}
