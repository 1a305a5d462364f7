// The audit report's schema (docs/audit-report.schema.json) as checks for
// AuditReportReader, compiled with ajv: the same document the README
// publishes and the tests validate written reports against, so what
// `report` accepts is exactly what `audit` promises to write.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { InternalError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';
import { AUDIT_REPORT_SCHEMA_PATH } from './json-report.js';
import type { ReportValidators } from './report-reader.js';

const SCHEMA_KEY = 'audit-report';

function problems(validate: ValidateFunction): (value: unknown) => string[] {
  return (value) => (validate(value) ? [] : (validate.errors ?? []).map(describe));
}

function describe(e: ErrorObject): string {
  const extra = e.keyword === 'additionalProperties' ? ` (${String((e.params as { additionalProperty?: unknown }).additionalProperty)})` : '';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
}

/** Checks for a report's run, summary and each result, from the schema shipped with the package. */
export function reportValidators(schemaFile = join(packageRoot(), AUDIT_REPORT_SCHEMA_PATH)): ReportValidators {
  let schema: object;
  try {
    schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as object;
  } catch (err) {
    throw new InternalError(`cannot load the audit report schema ${schemaFile}: ${(err as Error).message}`, { file: schemaFile }, { cause: err });
  }
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  ajv.addSchema(schema, SCHEMA_KEY);
  const part = (name: string): ValidateFunction => {
    const v = ajv.getSchema(`${SCHEMA_KEY}#/$defs/${name}`);
    if (!v) throw new InternalError(`the audit report schema has no $defs/${name}`, { file: schemaFile });
    return v;
  };
  return { run: problems(part('run')), summary: problems(part('summary')), result: problems(part('result')) };
}
