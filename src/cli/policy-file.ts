// The file edge of the policy module: reading a policy and its includes from
// disk (with size caps) for any command that takes --policy, and showing
// POLICY_INVALID with every issue on its own line.

import { EXIT_CODES, VtpmError } from '../errors.js';
import type { Policy } from '../policy/compile.js';
import { MAX_INCLUDE_TEXT, MAX_POLICY_TEXT, loadPolicy, type PolicyIssue } from '../policy/load.js';
import { readInputText } from '../util/files.js';
import { terminalSafe } from '../util/terminal-safe.js';
import type { CommandOutcome, Style } from './output.js';

export const readIncludedFile = (path: string): string => readInputText(path, 'included file', MAX_INCLUDE_TEXT);

export function readPolicyText(path: string): string {
  return readInputText(path, 'policy file', MAX_POLICY_TEXT);
}

/** Reads, validates and compiles a policy file; throws POLICY_INVALID (details.issues) or FILE_UNREADABLE. */
export function loadPolicyFile(path: string): Policy {
  return loadPolicy(readPolicyText(path), { path, readFile: readIncludedFile });
}

/** One line per issue: "file:line:column CODE message" (policy issues, and any located issue of the same shape). */
export function renderIssues(issues: readonly { file: string; line: number; column: number; code: string; message: string }[], style: Style): string {
  return issues.map((i) => `${style.dim(terminalSafe(`${i.file}:${i.line}:${i.column}`))} ${style.code(terminalSafe(i.code))} ${terminalSafe(i.message)}`).join('\n');
}

/** The outcome of a command that could not load its policy: every issue listed for people, the envelope for machines. */
export function invalidPolicyOutcome(err: VtpmError): CommandOutcome | undefined {
  return err.code === 'POLICY_INVALID' ? invalidDocumentOutcome(err) : undefined;
}

/** The same for any file loaded in the policy loader's style (a policy, an audit inventory): details.file and details.issues. */
export function invalidDocumentOutcome(err: VtpmError): CommandOutcome {
  const issues = (err.details['issues'] ?? []) as PolicyIssue[];
  return {
    ok: false,
    exitCode: EXIT_CODES.BAD_INPUT,
    result: { file: err.details['file'], valid: false, issues },
    error: err,
    human: (s) => `${s.bad('invalid')} ${terminalSafe(String(err.details['file']))}: ${issues.length} problem(s)\n${renderIssues(issues, s)}`,
  };
}
