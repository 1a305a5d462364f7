// The JSON form of EvaluationInput ("a facts file"): what `policy init --from`
// and `policy evaluate --facts` read, and what a walker can save. Read as
// untrusted input: validated with the same schema language as policies (so
// errors name file:line:column), with caps on every list. Conventions follow
// --json output: hex lowercase, 64-bit values as decimal strings, times ISO 8601.

import { HASH_ALGS, type HashName } from '../tpm/constants.js';
import { pcrValuesToJson, type PcrValues } from '../tpm/pcrs.js';
import { ParseError } from '../errors.js';
import type { EvaluationInput, LayerFacts } from './evidence.js';
import { capped, formatIssue, parseJsonData, type PolicyIssue } from './load.js';
import { BANKS } from './schema.js';
import { INVALID, MAX_COLLECTED_ISSUES, bool, defaulted, defaultedObject, dict, enumOf, hex, int, keyed, list, mapped, obj, optional, required, str, uint64, type Infer, type Schema } from './schema-dsl.js';

const sizeOf = (bank: HashName): number => HASH_ALGS.find((h) => h.name === bank)!.size;
const pcrIndex = { label: 'index', expected: 'a PCR index 0..23', pattern: /^(?:[0-9]|1[0-9]|2[0-3])$/ };

const pcrValues: Schema<PcrValues> = mapped(
  keyed(BANKS, 'bank', (bank) => dict(pcrIndex, hex(`${bank} digest`, [sizeOf(bank)]), { description: 'PCR value' }, 24), { type: 'mapping of PCR index to value', description: 'PCR values of the bank' }),
  (banks) => new Map([...banks].map(([bank, values]) => [bank, new Map([...values].map(([i, v]) => [Number(i), Buffer.from(v, 'hex')]))])),
);

const digestsByBank = mapped(
  keyed(BANKS, 'bank', (bank) => hex(`${bank} digest`, [sizeOf(bank)]), { type: 'digest', description: 'digest in this bank' }),
  (m) => Object.fromEntries(m) as Partial<Record<HashName, string>>,
);

const isoTime = mapped(
  str({
    label: 'ISO 8601 time, e.g. 2026-11-26T12:00:00Z',
    pattern: /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/,
    check: (s) => (Number.isNaN(Date.parse(s)) ? 'not a valid time' : undefined),
  }),
  (s) => new Date(s),
);

const text = (maxLength = 4096) => str({ maxLength });
const u32 = int(0, 0xffffffff, 'unsigned 32-bit integer');
const bindingStatus = enumOf(['pass', 'fail', 'not-checked', 'not-applicable']);
const anyDigest = hex('digest', [20, 32, 48, 64]);
const sha256 = hex('SHA-256 digest', [32]);

const layerSchema = obj({
  position: required(int(0, 15, 'position'), 'layer position, 0 = top'),
  uri: required(text(2048), 'where the evidence came from'),
  kind: required(enumOf(['virtual', 'physical', 'unspecified']), 'from the TrustedLayer extension'),
  instanceId: optional(hex('instance id', [32]), 'vTPM instance id'),
  akName: optional(str({ label: 'TPM Name (hex)', pattern: /^(?:[0-9a-f]{2}){2,68}$/ }), 'AK Name'),
  certificate: required(
    obj({
      subject: required(text(), 'AK certificate subject'),
      issuer: required(text(), 'AK certificate issuer'),
      anchor: required(obj({ label: required(text(256), 'anchor label'), subject: required(text(), 'anchor subject'), vouchesFor: required(text(64), 'anchor role'), labels: optional(list(text(256), { max: 32 }), 'every label of the anchor') }), 'trust anchor'),
      ekus: defaulted(list(str({ label: 'dotted OID', pattern: /^[0-2](?:\.[0-9]{1,19}){1,40}$/ }), { max: 64 }), [], 'EKU OIDs'),
      tcg: optional(obj({ manufacturer: optional(text(64), 'vendor id'), model: optional(text(256), 'model'), version: optional(text(256), 'version') }), 'TPM attributes'),
    }),
    'verified AK certificate facts',
  ),
  quote: required(
    obj({
      clock: required(uint64(), 'TPMS_CLOCK_INFO.clock'),
      resetCount: required(u32, 'resetCount'),
      restartCount: required(u32, 'restartCount'),
      safe: required(bool(), 'safe'),
      firmwareVersion: required(uint64(), 'firmwareVersion'),
      pcrs: required(pcrValues, 'quoted PCR values'),
    }),
    'verified quote facts',
  ),
  eventLog: optional(
    obj({
      replayMatched: required(bool(), 'replay matched the quote'),
      replayedPcrs: defaulted(pcrValues, new Map(), 'replayed PCR values'),
      secureBoot: optional(bool(), 'SecureBoot variable'),
      bootApplications: defaulted(list(obj({ pcr: required(int(0, 23, 'PCR'), 'PCR'), digests: required(digestsByBank, 'digests'), path: optional(text(), 'device path') }), { max: 10_000 }), [], 'boot applications'),
      unboundDigests: optional(list(obj({ pcr: required(int(0, 23, 'PCR'), 'PCR'), digests: required(digestsByBank, 'digests') }), { max: 100_000 }), 'digests of the other verified events whose digest is not their data\'s hash'),
      kernelCmdlines: defaulted(list(text(8192), { max: 1000 }), [], 'kernel command lines'),
      kernelCmdlinesUnattested: optional(int(0, 1_000_000, 'events'), 'verified PCR 8 and 12 events whose text is not attested'),
      crtmVersions: defaulted(list(text(1024), { max: 100 }), [], 'CRTM versions'),
      dbx: defaultedObject(obj({ sha256: defaulted(list(sha256, { max: 100_000 }), [], 'image hashes'), certSha256: defaulted(list(sha256, { max: 10_000 }), [], 'certificate hashes') }), 'dbx content'),
      quirksApplied: defaulted(list(text(64), { max: 100 }), [], 'workarounds'),
    }),
    'event log facts',
  ),
  ima: optional(
    obj({
      replayMatched: required(bool(), 'replay matched the quote'),
      entries: required(
        list(obj({ path: required(str({ minLength: 1, maxLength: 4096 }), 'path'), digest: required(anyDigest, 'digest'), algo: required(str({ pattern: /^[a-z0-9_-]{1,32}$/ }), 'algorithm'), digestType: optional(str({ pattern: /^[a-z0-9_-]{1,32}$/ }), 'ima-ngv2: "ima" (content hash) or "verity" (fs-verity digest)'), template: required(str({ pattern: /^[a-z0-9_-]{1,32}$/ }), 'template'), templateAttested: optional(bool(), 'false: the entry contradicts its template name'), bootAggregate: optional(bool(), "true: the kernel's boot_aggregate (entry 0), not a file") }), { max: 2_000_000 }),
        'entries',
      ),
      violations: optional(list(obj({ entry: required(int(0, Number.MAX_SAFE_INTEGER, 'entry index'), 'index in the list (absolute: an incremental list continues a long one)'), path: optional(str({ minLength: 1, maxLength: 4096 }), 'path') }), { max: 2_000_000 }), 'violation entries (ToMToU, open-writers): path only, no digest'),
      undecoded: optional(list(obj({ entry: required(int(0, Number.MAX_SAFE_INTEGER, 'entry index'), 'index in the list'), template: required(str({ maxLength: 255 }), 'template name as listed') }), { max: 2_000_000 }), 'verified entries whose file name or digest could not be read (unknown template)'),
    }),
    'IMA facts',
  ),
  binding: required(obj({ nonceChain: required(bindingStatus, 'nonce chain'), hostedInstance: required(bindingStatus, 'hosted instance'), issuer: required(bindingStatus, 'issuer binding') }), 'binding to the layer above'),
});

export const evaluationInputSchema = obj({
  layers: required(list(layerSchema, { min: 1, max: 16 }), 'layers, top first'),
  now: optional(isoTime, 'decision time (default: the current time)'),
  evidenceTime: optional(isoTime, 'when offline evidence was collected'),
  findings: optional(list(obj({ category: required(enumOf(['clone', 'rollback']), 'category'), code: required(text(64), 'code'), layer: required(int(0, 15, 'layer'), 'layer'), message: required(text(), 'message') }), { max: 1000 }), 'state store findings'),
  migration: optional(obj({ from: required(text(2048), 'source'), to: required(text(2048), 'destination'), sourceCheck: required(enumOf(['migrated-out', 'still-hosted', 'not-migrated-out', 'not-checked']), 'source check') }), 'migration facts'),
});

type FactsJson = Infer<typeof evaluationInputSchema>;

/** What a facts file holds: the input of evaluation, with `now` possibly left to the caller. */
export type FactsFile = Omit<EvaluationInput, 'now'> & { now?: Date };

/** Parses a facts file (JSON text) or throws POLICY_FACTS_INVALID listing every issue with file:line:column. */
export function parseFactsJson(textIn: string, file = '<facts>'): FactsFile {
  const issues: PolicyIssue[] = [];
  const value = parseJsonData(textIn, file, evaluationInputSchema as Schema<unknown>, issues) as FactsJson | typeof INVALID;
  if (value !== INVALID && !issues.length) {
    value.layers.forEach((l, i) => {
      if (l.position !== i) issues.push({ file, line: 1, column: 1, code: 'POLICY_VALUE', path: `layers[${i}].position`, message: `layers[${i}].position is ${l.position}; layers must be listed top first with positions 0, 1, ...` });
    });
  }
  if (value === INVALID || issues.length) {
    const listed = capped(issues);
    const count = issues.length >= MAX_COLLECTED_ISSUES ? `${issues.length} or more` : String(issues.length);
    throw new ParseError('POLICY_FACTS_INVALID', `${file}: ${count} problem(s) in the facts file; first: ${issues[0] ? formatIssue(issues[0]) : ''}`, { file, issues: listed });
  }
  const out: FactsFile = { layers: value.layers as LayerFacts[] };
  if (value.now) out.now = value.now;
  if (value.evidenceTime) out.evidenceTime = value.evidenceTime;
  if (value.findings) out.findings = value.findings;
  if (value.migration) out.migration = value.migration;
  return out;
}

function layerToJson(l: LayerFacts): unknown {
  const pcrs = (v: PcrValues) => pcrValuesToJson(v);
  return {
    ...l,
    quote: { ...l.quote, clock: l.quote.clock.toString(), firmwareVersion: l.quote.firmwareVersion.toString(), pcrs: pcrs(l.quote.pcrs) },
    ...(l.eventLog ? { eventLog: { ...l.eventLog, replayedPcrs: pcrs(l.eventLog.replayedPcrs) } } : {}),
  };
}

/** The JSON value of a facts file (parseFactsJson reads it back). */
export function factsToJson(input: FactsFile): unknown {
  return {
    layers: input.layers.map(layerToJson),
    ...(input.now ? { now: input.now.toISOString() } : {}),
    ...(input.evidenceTime ? { evidenceTime: input.evidenceTime.toISOString() } : {}),
    ...(input.findings ? { findings: input.findings } : {}),
    ...(input.migration ? { migration: input.migration } : {}),
  };
}
