// A small JSON Schema checker for the keywords our generated schemas use, so
// tests can show that the schema editors get agrees with the loader (accepts
// every example policy, rejects what the loader rejects). Not a general
// validator: unknown keywords fail loudly so it can never pass by ignoring one.
type S = Record<string, unknown>;

const KNOWN = new Set([
  '$schema', '$id', 'title', 'description', 'default', 'examples', 'format',
  'type', 'properties', 'additionalProperties', 'required', 'propertyNames', 'minProperties', 'maxProperties',
  'items', 'minItems', 'maxItems', 'uniqueItems', 'enum', 'const', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'anyOf',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/** Errors (JSON pointer: message); empty when v is valid. */
export function checkJsonSchema(schema: S, v: unknown, at = ''): string[] {
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) throw new Error(`json-schema-lite: unsupported keyword ${k} at ${at}`);
  const errs: string[] = [];
  const t = typeOf(v);
  if (schema['type'] !== undefined && !(schema['type'] === t || (schema['type'] === 'number' && t === 'integer'))) return [`${at}: type ${t}, expected ${schema['type']}`];
  if (schema['anyOf'] && !(schema['anyOf'] as S[]).some((s) => checkJsonSchema(s, v, at).length === 0)) errs.push(`${at}: no anyOf alternative matches`);
  if (schema['enum'] && !(schema['enum'] as unknown[]).includes(v)) errs.push(`${at}: not in enum`);
  if ('const' in schema && schema['const'] !== v) errs.push(`${at}: not const`);
  if (typeof v === 'string') {
    const len = [...v].length;
    if (schema['pattern'] && !new RegExp(schema['pattern'] as string, 'u').test(v)) errs.push(`${at}: pattern ${schema['pattern']}`);
    if (schema['minLength'] !== undefined && len < (schema['minLength'] as number)) errs.push(`${at}: too short`);
    if (schema['maxLength'] !== undefined && len > (schema['maxLength'] as number)) errs.push(`${at}: too long`);
  }
  if (typeof v === 'number') {
    if (schema['minimum'] !== undefined && v < (schema['minimum'] as number)) errs.push(`${at}: below minimum`);
    if (schema['maximum'] !== undefined && v > (schema['maximum'] as number)) errs.push(`${at}: above maximum`);
  }
  if (Array.isArray(v)) {
    if (schema['minItems'] !== undefined && v.length < (schema['minItems'] as number)) errs.push(`${at}: too few items`);
    if (schema['maxItems'] !== undefined && v.length > (schema['maxItems'] as number)) errs.push(`${at}: too many items`);
    if (schema['uniqueItems'] && new Set(v.map((x) => JSON.stringify(x))).size !== v.length) errs.push(`${at}: items not unique`);
    if (schema['items']) v.forEach((x, i) => errs.push(...checkJsonSchema(schema['items'] as S, x, `${at}/${i}`)));
  }
  if (t === 'object') {
    const o = v as Record<string, unknown>;
    const props = (schema['properties'] ?? {}) as Record<string, S>;
    const keys = Object.keys(o);
    for (const r of (schema['required'] ?? []) as string[]) if (!(r in o)) errs.push(`${at}: missing ${r}`);
    if (schema['minProperties'] !== undefined && keys.length < (schema['minProperties'] as number)) errs.push(`${at}: too few properties`);
    if (schema['maxProperties'] !== undefined && keys.length > (schema['maxProperties'] as number)) errs.push(`${at}: too many properties`);
    for (const k of keys) {
      if (schema['propertyNames']) errs.push(...checkJsonSchema(schema['propertyNames'] as S, k, `${at}/${k}(name)`));
      if (Object.hasOwn(props, k)) errs.push(...checkJsonSchema(props[k]!, o[k], `${at}/${k}`));
      else if (schema['additionalProperties'] === false) errs.push(`${at}: unexpected property ${k}`);
      else if (typeof schema['additionalProperties'] === 'object') errs.push(...checkJsonSchema(schema['additionalProperties'] as S, o[k], `${at}/${k}`));
    }
  }
  return errs;
}
