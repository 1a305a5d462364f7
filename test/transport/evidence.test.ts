import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VerificationError, exitCodeForKind } from '../../src/errors.js';
import {
  certificatePem,
  parseEvidence,
  parseEvidenceBytes,
  serializeEvidence,
  type EvidenceJson,
  type LayerEvidence,
} from '../../src/transport/evidence.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { SAMPLE_INSTANCE, SAMPLE_ISSUER, sampleEvidenceJson } from './servers.js';

type Json = Record<string, any>;

function withChange(change: (j: Json) => void): Json {
  const j = structuredClone(sampleEvidenceJson()) as Json;
  change(j);
  return j;
}

function expectFieldError(change: (j: Json) => void, code: string, field: string): void {
  const err = assertThrowsCode(() => parseEvidence(withChange(change), { layer: 2 }), code);
  assert.equal(err.details['field'], field, err.message);
  assert.equal(err.details['layer'], 2);
  assert.ok(err.message.startsWith('layer 2: evidence: '), err.message);
  assert.ok(err.message.includes(field), err.message);
}

test('a complete evidence document parses into typed fields', () => {
  const e = parseEvidence(sampleEvidenceJson());
  assert.equal(e.version, 1);
  assert.deepEqual([...e.quote.message], [0xff, 0x54, 0x43, 0x47, 0x80, 0x18, 0x00]);
  assert.deepEqual([...e.quote.signature], [0x00, 0x18, 0x00, 0x0b, 0x00, 0x20]);
  assert.deepEqual([...e.unverifiedPcrs.keys()], ['sha256', 'sha1']);
  assert.deepEqual([...e.unverifiedPcrs.get('sha256')!.keys()], [0, 7, 23]);
  assert.equal(Buffer.from(e.unverifiedPcrs.get('sha256')!.get(23)!).toString('hex'), '33'.repeat(32));
  assert.equal(e.certificates.length, 2);
  assert.deepEqual([...e.certificates[0]!.der], [0x30, 0x03, 0x02, 0x01, 0x01]);
  assert.ok(e.certificates[0]!.pem.startsWith('-----BEGIN CERTIFICATE-----'));
  assert.equal(Buffer.from(e.eventLog!).toString(), 'event log bytes');
  assert.equal(e.imaLog, '10 aaaa ima-ng sha256:bbbb /init\n');
  const log = e.vplatformLog!;
  assert.equal(log.length, 3);
  assert.equal(log[0]!.op, 'issuer');
  assert.ok(log[0]!.op === 'issuer' && log[0]!.certificate === SAMPLE_ISSUER);
  assert.ok(log[1]!.op === 'create' && log[1]!.instance === SAMPLE_INSTANCE);
  assert.equal(log[1]!.vm, 'web-1');
  assert.equal(log[2]!.vm, undefined);
});

test('optional logs may be absent or null; unknown fields are ignored', () => {
  const e = parseEvidence(
    withChange((j) => {
      delete j['eventLog'];
      j['imaLog'] = null;
      delete j['vplatformLog'];
      j['futureField'] = { anything: [1, 2, 3] };
      j['quote']['futureQuoteField'] = true;
    }),
  );
  assert.equal(e.eventLog, undefined);
  assert.equal(e.imaLog, undefined);
  assert.equal(e.vplatformLog, undefined);
});

test('serializeEvidence is the inverse of parseEvidence', () => {
  const json = sampleEvidenceJson();
  delete json['futureField'];
  const e = parseEvidence(json);
  const back = serializeEvidence(e);
  assert.deepEqual(back, json);
  assert.deepEqual(parseEvidence(JSON.parse(JSON.stringify(back))), e);
});

test('property: any evidence survives serialize then parse unchanged', () => {
  const bytes = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max });
  const id = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
  const entry = fc.oneof(
    fc.record({ pcr: fc.constant(23 as const), op: fc.constantFrom('create', 'destroy', 'migrate-in', 'migrate-out' as const), instance: id }, { requiredKeys: ['pcr', 'op', 'instance'] }),
    fc.record({ pcr: fc.constant(23 as const), op: fc.constant('issuer' as const), certificate: id, vm: fc.string({ maxLength: 20 }) }),
  );
  const arb = fc.record({
    message: bytes(1, 200),
    signature: bytes(1, 200),
    pcrIndexes: fc.uniqueArray(fc.integer({ min: 0, max: 23 }), { maxLength: 24 }),
    certs: fc.array(bytes(1, 300), { minLength: 1, maxLength: 4 }),
    eventLog: fc.option(bytes(0, 500), { nil: undefined }),
    imaLog: fc.option(fc.string({ maxLength: 200 }), { nil: undefined }),
    vplatformLog: fc.option(fc.array(entry, { maxLength: 6 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(arb, (a) => {
      const e: LayerEvidence = {
        version: 1,
        quote: { message: Buffer.from(a.message), signature: Buffer.from(a.signature) },
        unverifiedPcrs: new Map([['sha256', new Map([...a.pcrIndexes].sort((x, y) => x - y).map((i) => [i, Buffer.alloc(32, i)]))]]),
        certificates: a.certs.map((c) => {
          const der = Buffer.concat([Buffer.from([0x30]), Buffer.from(c)]);
          return { pem: certificatePem(der), der };
        }),
      };
      if (a.eventLog !== undefined) e.eventLog = Buffer.from(a.eventLog);
      if (a.imaLog !== undefined) e.imaLog = a.imaLog;
      // fast-check records have a null prototype; the parser makes plain objects
      if (a.vplatformLog !== undefined) e.vplatformLog = a.vplatformLog.map((x) => ({ ...x }));
      const text = JSON.stringify(serializeEvidence(e));
      assert.deepEqual(parseEvidenceBytes(Buffer.from(text)), e);
    }),
    { numRuns: 200 },
  );
});

test('malformed evidence is a verification failure (exit 1), not transport', () => {
  const err = assertThrowsCode(() => parseEvidenceBytes('{"version": 1,'), 'EVIDENCE_JSON');
  assert.ok(err instanceof VerificationError);
  assert.equal(exitCodeForKind(err.kind), 1);
});

test('invalid JSON, invalid UTF-8 and a non-object top level are EVIDENCE_JSON', () => {
  const err = assertThrowsCode(() => parseEvidenceBytes('<html>oops</html>', { layer: 'https://vmm.example/' }), 'EVIDENCE_JSON');
  assert.equal(err.details['layer'], 'https://vmm.example/');
  assertThrowsCode(() => parseEvidenceBytes(Buffer.from([0x7b, 0xff, 0x7d])), 'EVIDENCE_JSON');
  assertThrowsCode(() => parseEvidenceBytes('[1,2,3]'), 'EVIDENCE_JSON');
  assertThrowsCode(() => parseEvidenceBytes('null'), 'EVIDENCE_JSON');
  assertThrowsCode(() => parseEvidenceBytes(''), 'EVIDENCE_JSON');
});

test('a key that repeats, anywhere in the document, is EVIDENCE_JSON naming where (JSON.parse would keep the last)', () => {
  const text = JSON.stringify(sampleEvidenceJson());
  assert.doesNotThrow(() => parseEvidenceBytes(text));
  const twoQuotes = text.replace('{"version":1,', '{"version":1,"quote":{"message":"AA==","signature":"AA=="},');
  const err = assertThrowsCode(() => parseEvidenceBytes(twoQuotes, { layer: 'https://vmm.example/' }), 'EVIDENCE_JSON');
  assert.match(err.message, /repeats a key \(\$\.quote\)/);
  assert.equal(err.details['path'], '$.quote');
  assert.equal(err.details['layer'], 'https://vmm.example/');
  const deepInside = text.replace('"sha256":{"0":', '"sha256":{"7":"00","0":');
  assert.equal(assertThrowsCode(() => parseEvidenceBytes(deepInside), 'EVIDENCE_JSON').details['path'], '$.pcrs.sha256["7"]');
});

test('deeply nested JSON is rejected with a typed error, not a crash', () => {
  const depth = 200_000;
  const text = `{"version":1,"quote":${'['.repeat(depth)}${']'.repeat(depth)}}`;
  let code: string | undefined;
  try {
    parseEvidenceBytes(text);
  } catch (err) {
    code = (err as { code?: string }).code;
  }
  assert.equal(code, 'EVIDENCE_LIMIT', 'refused by its nesting before it is parsed');
});

test('what JSON.parse would build is capped before it is parsed: values and nesting of unknown fields count too', () => {
  const valid = JSON.stringify(sampleEvidenceJson());
  const withExtra = (extra: string): string => `${valid.slice(0, -1)},"extra":${extra}}`;
  // 3 MB of empty arrays in an ignored field: 1,000,000 arrays (32 MiB of them were 11 million, 1.2 GB and 4 s)
  const many = withExtra(`[${'[],'.repeat(999_999)}[]]`);
  const err = assertThrowsCode(() => parseEvidenceBytes(many, { layer: 1 }), 'EVIDENCE_LIMIT');
  assert.equal(err.details['field'], '(top level)');
  assert.equal(err.details['max'], 1_000_000);
  assert.ok((err.details['actual'] as number) > 1_000_000, String(err.details['actual']));
  assert.equal(err.details['layer'], 1);
  assert.ok(err.message.startsWith('layer 1: evidence: the document holds about '), err.message);
  // nesting past 64, even inside strings' neighbours, is refused; brackets and commas inside strings do not count
  const deep = assertThrowsCode(() => parseEvidenceBytes(withExtra(`${'['.repeat(65)}${']'.repeat(65)}`)), 'EVIDENCE_LIMIT');
  assert.deepEqual([deep.details['max'], deep.details['actual']], [64, 66]);
  parseEvidenceBytes(withExtra(`${'['.repeat(63)}${']'.repeat(63)}`));
  parseEvidenceBytes(withExtra(JSON.stringify('[{,'.repeat(2_000_000))));
  parseEvidenceBytes(withExtra(JSON.stringify(['\\"[', '"', '\\'])));
  // a full vplatformLog (100,000 entries with labels) is within the cap
  const full = structuredClone(sampleEvidenceJson()) as Json;
  full['vplatformLog'] = Array.from({ length: 100_000 }, (_, i) => ({ pcr: 23, op: 'create', instance: i.toString(16).padStart(64, '0'), vm: `vm-${i}` }));
  assert.equal(parseEvidenceBytes(JSON.stringify(full)).vplatformLog?.length, 100_000);
  // the caps are options like the others
  assertThrowsCode(() => parseEvidenceBytes(valid, { limits: { jsonValues: 10 } }), 'EVIDENCE_LIMIT');
  assertThrowsCode(() => parseEvidenceBytes(valid, { limits: { jsonDepth: 2 } }), 'EVIDENCE_LIMIT');
});

test('version must be the number 1', () => {
  for (const v of [undefined, 2, '1', 0, null]) {
    const err = assertThrowsCode(
      () =>
        parseEvidence(
          withChange((j) => {
            if (v === undefined) delete j['version'];
            else j['version'] = v;
          }),
        ),
      'EVIDENCE_VERSION',
    );
    assert.equal(err.details['field'], 'version');
  }
});

test('missing required fields name their path', () => {
  expectFieldError((j) => delete j['quote'], 'EVIDENCE_MISSING_FIELD', 'quote');
  expectFieldError((j) => delete j['quote']['message'], 'EVIDENCE_MISSING_FIELD', 'quote.message');
  expectFieldError((j) => delete j['quote']['signature'], 'EVIDENCE_MISSING_FIELD', 'quote.signature');
  expectFieldError((j) => delete j['pcrs'], 'EVIDENCE_MISSING_FIELD', 'pcrs');
  expectFieldError((j) => delete j['certificates'], 'EVIDENCE_MISSING_FIELD', 'certificates');
  expectFieldError((j) => delete j['vplatformLog'][1]['instance'], 'EVIDENCE_MISSING_FIELD', 'vplatformLog[1].instance');
  expectFieldError((j) => delete j['vplatformLog'][0]['certificate'], 'EVIDENCE_MISSING_FIELD', 'vplatformLog[0].certificate');
  expectFieldError((j) => delete j['vplatformLog'][2]['op'], 'EVIDENCE_MISSING_FIELD', 'vplatformLog[2].op');
  expectFieldError((j) => delete j['vplatformLog'][2]['pcr'], 'EVIDENCE_MISSING_FIELD', 'vplatformLog[2].pcr');
});

test('wrong JSON types name their path, the expected and the actual type', () => {
  expectFieldError((j) => (j['quote'] = 'base64'), 'EVIDENCE_FIELD_TYPE', 'quote');
  expectFieldError((j) => (j['quote']['message'] = 12), 'EVIDENCE_FIELD_TYPE', 'quote.message');
  expectFieldError((j) => (j['pcrs'] = []), 'EVIDENCE_FIELD_TYPE', 'pcrs');
  expectFieldError((j) => (j['pcrs']['sha256'] = '00'), 'EVIDENCE_FIELD_TYPE', 'pcrs.sha256');
  expectFieldError((j) => (j['pcrs']['sha256']['7'] = 7), 'EVIDENCE_FIELD_TYPE', 'pcrs.sha256.7');
  expectFieldError((j) => (j['certificates'] = 'PEM'), 'EVIDENCE_FIELD_TYPE', 'certificates');
  expectFieldError((j) => (j['certificates'][1] = {}), 'EVIDENCE_FIELD_TYPE', 'certificates[1]');
  expectFieldError((j) => (j['eventLog'] = [1]), 'EVIDENCE_FIELD_TYPE', 'eventLog');
  expectFieldError((j) => (j['imaLog'] = 5), 'EVIDENCE_FIELD_TYPE', 'imaLog');
  expectFieldError((j) => (j['vplatformLog'] = {}), 'EVIDENCE_FIELD_TYPE', 'vplatformLog');
  expectFieldError((j) => (j['vplatformLog'][1] = 'create'), 'EVIDENCE_FIELD_TYPE', 'vplatformLog[1]');
  expectFieldError((j) => (j['vplatformLog'][1]['pcr'] = '23'), 'EVIDENCE_FIELD_TYPE', 'vplatformLog[1].pcr');
  expectFieldError((j) => (j['vplatformLog'][1]['vm'] = 1), 'EVIDENCE_FIELD_TYPE', 'vplatformLog[1].vm');
  const err = assertThrowsCode(() => parseEvidence(withChange((j) => (j['quote']['message'] = null))), 'EVIDENCE_FIELD_TYPE');
  assert.equal(err.details['expected'], 'a string');
  assert.equal(err.details['actual'], 'null');
});

test('base64 must be strict: padded, standard alphabet, no whitespace, canonical', () => {
  for (const bad of ['AAEC AwQ=', 'AAECAwQ', 'AAECAw-_', 'AAECAwQ=\n', 'QR==', '====', 'A']) {
    expectFieldError((j) => (j['quote']['message'] = bad), 'EVIDENCE_BAD_VALUE', 'quote.message');
  }
  expectFieldError((j) => (j['eventLog'] = 'not base64!'), 'EVIDENCE_BAD_VALUE', 'eventLog');
  // the empty string is valid base64 (zero bytes)
  assert.equal(parseEvidence(withChange((j) => (j['eventLog'] = ''))).eventLog!.length, 0);
});

test('sizes and counts are capped before decoding', () => {
  expectFieldError((j) => (j['quote']['message'] = Buffer.alloc(1025).toString('base64')), 'EVIDENCE_LIMIT', 'quote.message');
  expectFieldError((j) => (j['quote']['signature'] = Buffer.alloc(4000).toString('base64')), 'EVIDENCE_LIMIT', 'quote.signature');
  expectFieldError((j) => (j['certificates'] = Array(11).fill(j['certificates'][0])), 'EVIDENCE_LIMIT', 'certificates');
  const limited = (change: (j: Json) => void, field: string, limits: Record<string, number>): void => {
    const err = assertThrowsCode(() => parseEvidence(withChange(change), { limits }), 'EVIDENCE_LIMIT');
    assert.equal(err.details['field'], field);
    assert.ok(typeof err.details['max'] === 'number');
  };
  limited((j) => (j['eventLog'] = Buffer.alloc(11).toString('base64')), 'eventLog', { eventLogBytes: 10 });
  limited((j) => (j['imaLog'] = 'x'.repeat(11)), 'imaLog', { imaLogChars: 10 });
  limited(() => {}, 'vplatformLog', { vplatformLogEntries: 2 });
  limited(() => {}, 'vplatformLog[1].vm', { vmLabelChars: 3 });
  limited((j) => (j['certificates'] = [certificatePem(Buffer.from('300300000000', 'hex'))]), 'certificates[0]', { certificateBytes: 4 });
  // at the cap exactly: accepted
  parseEvidence(withChange((j) => (j['eventLog'] = Buffer.alloc(10).toString('base64'))), { limits: { eventLogBytes: 10 } });
});

test('PCR banks, indexes and digest lengths are checked', () => {
  expectFieldError((j) => (j['pcrs']['md5'] = {}), 'EVIDENCE_BAD_VALUE', 'pcrs.md5');
  expectFieldError((j) => (j['pcrs']['sha256']['24'] = '00'.repeat(32)), 'EVIDENCE_BAD_VALUE', 'pcrs.sha256.24');
  expectFieldError((j) => (j['pcrs']['sha256']['07'] = '00'.repeat(32)), 'EVIDENCE_BAD_VALUE', 'pcrs.sha256.07');
  expectFieldError((j) => (j['pcrs']['sha256']['-1'] = '00'.repeat(32)), 'EVIDENCE_BAD_VALUE', 'pcrs.sha256.-1');
  expectFieldError((j) => (j['pcrs']['sha1']['0'] = '00'.repeat(32)), 'EVIDENCE_BAD_VALUE', 'pcrs.sha1.0');
  expectFieldError((j) => (j['pcrs']['sha256']['7'] = 'zz'.repeat(32)), 'EVIDENCE_BAD_VALUE', 'pcrs.sha256.7');
  expectFieldError((j) => (j['pcrs']['sha256']['7'] = `0x${'00'.repeat(31)}`), 'EVIDENCE_BAD_VALUE', 'pcrs.sha256.7');
  // upper-case hex is accepted; banks may be empty
  const e = parseEvidence(withChange((j) => ((j['pcrs']['sha256']['7'] = 'AB'.repeat(32)), (j['pcrs']['sha384'] = {}))));
  assert.equal(Buffer.from(e.unverifiedPcrs.get('sha256')!.get(7)!).toString('hex'), 'ab'.repeat(32));
  assert.equal(e.unverifiedPcrs.get('sha384')!.size, 0);
});

test('certificates must be single PEM CERTIFICATE blocks, AK first, not empty', () => {
  expectFieldError((j) => (j['certificates'] = []), 'EVIDENCE_BAD_VALUE', 'certificates');
  expectFieldError((j) => (j['certificates'][0] = 'MIIB...'), 'EVIDENCE_BAD_VALUE', 'certificates[0]');
  expectFieldError((j) => (j['certificates'][0] = j['certificates'][0] + j['certificates'][1]), 'EVIDENCE_BAD_VALUE', 'certificates[0]');
  expectFieldError((j) => (j['certificates'][1] = j['certificates'][1].replace('CERTIFICATE', 'PRIVATE KEY')), 'EVIDENCE_BAD_VALUE', 'certificates[1]');
  expectFieldError((j) => (j['certificates'][1] = certificatePem(Buffer.from('0403414243', 'hex'))), 'EVIDENCE_BAD_VALUE', 'certificates[1]');
  // CRLF line ends and surrounding whitespace are fine
  const e = parseEvidence(withChange((j) => (j['certificates'][0] = `\r\n${j['certificates'][0].replace(/\n/g, '\r\n')}  `)));
  assert.deepEqual([...e.certificates[0]!.der], [0x30, 0x03, 0x02, 0x01, 0x01]);
});

test('vplatformLog entries: pcr 23, known ops, 64-hex ids, one of instance or certificate', () => {
  expectFieldError((j) => (j['vplatformLog'][1]['pcr'] = 22), 'EVIDENCE_BAD_VALUE', 'vplatformLog[1].pcr');
  expectFieldError((j) => (j['vplatformLog'][1]['pcr'] = 23.5), 'EVIDENCE_BAD_VALUE', 'vplatformLog[1].pcr');
  expectFieldError((j) => (j['vplatformLog'][2]['op'] = 'delete'), 'EVIDENCE_BAD_VALUE', 'vplatformLog[2].op');
  expectFieldError((j) => (j['vplatformLog'][2]['op'] = 'CREATE'), 'EVIDENCE_BAD_VALUE', 'vplatformLog[2].op');
  expectFieldError((j) => (j['vplatformLog'][2]['instance'] = 'ab'.repeat(31)), 'EVIDENCE_BAD_VALUE', 'vplatformLog[2].instance');
  expectFieldError((j) => (j['vplatformLog'][2]['instance'] = 'g'.repeat(64)), 'EVIDENCE_BAD_VALUE', 'vplatformLog[2].instance');
  expectFieldError((j) => (j['vplatformLog'][0]['certificate'] = 'ab'), 'EVIDENCE_BAD_VALUE', 'vplatformLog[0].certificate');
  expectFieldError((j) => (j['vplatformLog'][0]['instance'] = SAMPLE_INSTANCE), 'EVIDENCE_BAD_VALUE', 'vplatformLog[0].instance');
  expectFieldError((j) => (j['vplatformLog'][1]['certificate'] = SAMPLE_ISSUER), 'EVIDENCE_BAD_VALUE', 'vplatformLog[1].certificate');
  const e = parseEvidence(withChange((j) => (j['vplatformLog'] = [])));
  assert.deepEqual(e.vplatformLog, []);
  // either case on the wire; ids are kept lowercase
  const upper = parseEvidence(withChange((j) => (j['vplatformLog'][1]['instance'] = SAMPLE_INSTANCE.toUpperCase())));
  assert.ok(upper.vplatformLog![1]!.op === 'create' && upper.vplatformLog![1]!.instance === SAMPLE_INSTANCE);
  // null stands for absent, as for every optional field
  const nulls = parseEvidence(withChange((j) => Object.assign(j['vplatformLog'][1], { vm: null, certificate: null })));
  assert.deepEqual(nulls.vplatformLog![1], { pcr: 23, op: 'create', instance: SAMPLE_INSTANCE });
});

test('property: a vplatformLog entry is accepted exactly when it is well-formed, and read as sent', () => {
  const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
  const idValue = fc.oneof(hex64, hex64.map((h) => h.toUpperCase()), hex64.map((h) => h.slice(2)), hex64.map((h) => `${h.slice(1)}g`), fc.constant(null), fc.integer(), fc.constant(undefined));
  const entryArb = fc.record({
    pcr: fc.oneof(fc.constant(23), fc.constant(23), fc.integer({ min: -1, max: 30 }), fc.constant('23'), fc.constant(undefined)),
    op: fc.oneof(fc.constantFrom('create', 'destroy', 'migrate-in', 'migrate-out', 'issuer'), fc.constantFrom('CREATE', '', 'delete'), fc.constant(7), fc.constant(undefined)),
    instance: idValue,
    certificate: idValue,
    vm: fc.oneof(fc.constant(undefined), fc.constant(null), fc.string({ maxLength: 6 }), fc.integer()),
  });
  const present = (v: unknown): boolean => v !== undefined && v !== null;
  const isId = (v: unknown): v is string => typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v);
  fc.assert(
    fc.property(entryArb, (raw) => {
      const entry = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
      const issuer = entry['op'] === 'issuer';
      const [wanted, unwanted] = issuer ? ['certificate', 'instance'] : ['instance', 'certificate'];
      const valid =
        entry['pcr'] === 23 &&
        ['create', 'destroy', 'migrate-in', 'migrate-out', 'issuer'].includes(entry['op'] as string) &&
        isId(entry[wanted]) &&
        !present(entry[unwanted]) &&
        (!present(entry['vm']) || (typeof entry['vm'] === 'string' && entry['vm'].length <= 5));
      const doc = withChange((j) => (j['vplatformLog'] = [j['vplatformLog'][0], entry]));
      let got;
      try {
        got = parseEvidence(doc, { limits: { vmLabelChars: 5 } }).vplatformLog![1]!;
      } catch (err) {
        assert.ok(!valid, `a well-formed entry was refused: ${(err as Error).message}`);
        assert.ok(err instanceof VerificationError && /^EVIDENCE_/.test(err.code), String(err));
        assert.match(err.message, /vplatformLog\[1\]/, 'the error names the entry');
        return;
      }
      assert.ok(valid, `a malformed entry was accepted: ${JSON.stringify(entry)}`);
      const want: Record<string, unknown> = { pcr: 23, op: entry['op'], [wanted]: (entry[wanted] as string).toLowerCase() };
      if (typeof entry['vm'] === 'string') want['vm'] = entry['vm'];
      assert.deepEqual(got, want);
    }),
    { numRuns: 2000 },
  );
});

test('server text in errors is sanitized (no terminal escapes)', () => {
  const err = assertThrowsCode(() => parseEvidence(withChange((j) => (j['pcrs']['\u001b[31mred'] = {}))), 'EVIDENCE_BAD_VALUE');
  assert.ok(!err.message.includes('\u001b'), err.message);
});

test('a saved bundle entry (plain object) parses the same as the bytes', () => {
  const json: EvidenceJson = sampleEvidenceJson();
  assert.deepEqual(parseEvidence(json), parseEvidenceBytes(Buffer.from(JSON.stringify(json))));
});
