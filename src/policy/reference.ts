// The language reference for README, generated from the schema: one row per
// key with its type, default, meaning and an example. scripts/gen-policy-docs
// writes it between markers in README.md; a test keeps it in step.

import { policySchema } from './schema.js';

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

export function policyReferenceMarkdown(): string {
  const rows = policySchema.docRows('');
  const lines = ['| key | type | default | meaning | example |', '|---|---|---|---|---|'];
  for (const r of rows) {
    const def = r.default === '' ? '' : r.default === '(required)' ? 'required' : r.default.startsWith('{') ? '(see keys below)' : `\`${cell(r.default)}\``;
    lines.push(`| \`${cell(r.key)}\` | ${cell(r.type)} | ${def} | ${cell(r.description)} | ${r.example ? `\`${cell(r.example)}\`` : ''} |`);
  }
  return `${lines.join('\n')}\n`;
}
