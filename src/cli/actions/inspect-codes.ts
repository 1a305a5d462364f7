// Codes of `vtpm-verify inspect`, apart so the catalog does not import the command.
import type { CodeTable } from '../../errors.js';

export const INSPECT_CODES = {
  INSPECT_UNKNOWN_FORMAT: { kind: 'input', summary: 'inspect could not recognize the file as any structure it decodes' },
} as const satisfies CodeTable;
