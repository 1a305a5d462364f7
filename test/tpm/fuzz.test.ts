// Property/fuzz test: random and mutated bytes fed to every parser (and to the
// quote verifier) yield a result or a typed input error, never a raw exception
// or a hang. Seeds are valid structures, so mutations reach deep fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { VtpmError } from '../../src/errors.js';
import { parseTpm2bAttest, parseTpmsAttest } from '../../src/tpm/attest.js';
import { mapPcrDigests, parseJsonPcrs, parseMarshaledPcrs, parseSerializedPcrs } from '../../src/tpm/pcr-formats.js';
import { parsePcrSelection, parsePcrSelectionText } from '../../src/tpm/pcr-selection.js';
import { parsePublicArea, parseTpm2bPublic, parseTpmtPublic } from '../../src/tpm/public.js';
import { parseTpmtSignature } from '../../src/tpm/signature.js';
import { loadAttestationKey } from '../../src/verify/ak.js';
import { verifyQuote } from '../../src/verify/quote.js';
import { bytesOf } from '../helpers/fields.js';
import { ECC_AK_FIELDS, QUOTE_FIELDS, QUOTE_SIGNATURE_FIELDS } from '../fixtures/tpm-fields.js';
import { serializedPcrFile } from '../fixtures/pcr-files.js';

const quote = bytesOf(QUOTE_FIELDS);
const signature = bytesOf(QUOTE_SIGNATURE_FIELDS);
const publicArea = bytesOf(ECC_AK_FIELDS);
const serialized = serializedPcrFile([{ alg: 0x000b, values: new Map([[0, new Uint8Array(32)], [1, new Uint8Array(32)]]) }]);
const marshaled = Buffer.from('00000001000b0303000000000001000000020020' + '11'.repeat(32) + '0020' + '22'.repeat(32), 'hex');
const SEEDS = [quote, signature, publicArea, Buffer.concat([Buffer.of(0, publicArea.length), publicArea]), serialized, marshaled, Buffer.from('00000002000403810000000b038f0400', 'hex')];

/** Random bytes, or a seed with byte overwrites, a cut, and an insertion. */
const inputs = fc.oneof(
  fc.uint8Array({ maxLength: 700 }),
  fc
    .tuple(fc.constantFrom(...SEEDS), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.option(fc.nat()), fc.option(fc.tuple(fc.nat(), fc.uint8Array({ maxLength: 8 }))))
    .map(([seed, writes, cut, insert]) => {
      let b = Buffer.from(seed);
      for (const [at, v] of writes) b[at % b.length] = v;
      if (insert) b = Buffer.concat([b.subarray(0, insert[0] % (b.length + 1)), insert[1], b.subarray(insert[0] % (b.length + 1))]);
      if (cut !== null) b = b.subarray(0, cut % (b.length + 1));
      return new Uint8Array(b);
    }),
);

function typedOnly(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof VtpmError) || err.kind !== 'input') throw err;
  }
}

const ak = loadAttestationKey(publicArea);
const selection = parsePcrSelectionText('sha1:0,7+sha256:0,1,2,3,7,10');

const PARSERS: [string, (b: Uint8Array) => unknown][] = [
  ['TPMS_ATTEST', parseTpmsAttest],
  ['TPM2B_ATTEST', parseTpm2bAttest],
  ['TPMT_SIGNATURE', parseTpmtSignature],
  ['TPMT_PUBLIC', parseTpmtPublic],
  ['TPM2B_PUBLIC', parseTpm2bPublic],
  ['public area (either)', parsePublicArea],
  ['TPML_PCR_SELECTION', parsePcrSelection],
  ['PCR file serialized', parseSerializedPcrs],
  ['PCR file marshaled', parseMarshaledPcrs],
  ['PCR values', (b) => mapPcrDigests(b, selection)],
  ['PCR file json', (b) => parseJsonPcrs(b)],
  ['attestation key', (b) => loadAttestationKey(b)],
  ['verifyQuote (message)', (b) => verifyQuote({ ak, message: b, signature, nonce: Buffer.of(1) })],
  ['verifyQuote (signature)', (b) => verifyQuote({ ak, message: quote, signature: b, nonce: Buffer.of(1) })],
];

for (const [name, parse] of PARSERS) {
  test(`fuzz: ${name} gives a result or a typed input error`, () => {
    fc.assert(fc.property(inputs, (b) => typedOnly(() => parse(b))), { numRuns: 600 });
  });
}

test('fuzz: PCR selection text and JSON text', () => {
  fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => typedOnly(() => parsePcrSelectionText(s))), { numRuns: 1000 });
  const jsonish = fc.oneof(fc.json(), fc.string({ maxLength: 40 }), fc.dictionary(fc.constantFrom('sha1', 'sha256', 'SHA-384', 'x'), fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string({ maxLength: 70 }), fc.integer()))).map((o) => JSON.stringify(o)));
  fc.assert(fc.property(jsonish, (s) => typedOnly(() => parseJsonPcrs(s))), { numRuns: 1000 });
});

test('fuzz seeds are valid, so mutations start from deep inside real structures', () => {
  assert.equal(parseTpmsAttest(quote).kind, 'quote');
  assert.equal(parseSerializedPcrs(serialized).values.get('sha256')!.size, 2);
  assert.equal(parseMarshaledPcrs(marshaled).values.get('sha256')!.size, 2);
});
