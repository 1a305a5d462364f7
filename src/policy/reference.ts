// The language reference for README, generated from the schema: one row per
// key with its type, default, meaning and an example. scripts/gen-policy-docs
// writes it between markers in README.md; a test keeps it in step. Any file
// format defined with the schema DSL (the audit inventory too) gets its table
// the same way.

import { policySchema } from './schema.js';
import type { Schema } from './schema-dsl.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The reference table of a schema's keys, as Markdown. */
export function schemaReferenceMarkdown(schema: Schema<unknown>): string {
  const rows = schema.docRows('');
  const lines = ['| key | type | default | meaning | example |', '|---|---|---|---|---|'];
  for (const r of rows) {
    const def = r.default === '' ? '' : r.default === '(required)' ? 'required' : r.default.startsWith('{') ? '(see keys below)' : `\`${cell(r.default)}\``;
    lines.push(`| \`${cell(r.key)}\` | ${cell(r.type)} | ${def} | ${cell(r.description)} | ${r.example ? `\`${cell(r.example)}\`` : ''} |`);
  }
  return `${lines.join('\n')}\n`;
}

export function policyReferenceMarkdown(): string {
  return schemaReferenceMarkdown(policySchema as Schema<unknown>);
}
