// `policy schema`: the JSON Schema of the policy language (policies/schema.json
// is this output), or the Markdown reference with --markdown.

import { EXIT_CODES } from '../../errors.js';
import { policyReferenceMarkdown } from '../../policy/reference.js';
import { policyJsonSchema } from '../../policy/schema.js';
import type { CommandOutcome } from '../output.js';

export async function policySchemaCommand(opts: { markdown: boolean }): Promise<CommandOutcome> {
  if (opts.markdown) {
    const md = policyReferenceMarkdown();
    return { ok: true, exitCode: EXIT_CODES.OK, result: { markdown: md }, human: () => md };
  }
  const schema = policyJsonSchema();
  return { ok: true, exitCode: EXIT_CODES.OK, result: schema, human: () => `${JSON.stringify(schema, null, 2)}\n` };
}
