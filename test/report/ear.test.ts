// EAR (draft-ietf-rats-ear, Veraison profile): the claims set, the AR4SI
// mapping table, status tiers, and ES256 JWTs signed with PEM/JWK keys,
// verified with jose and independently with node:crypto; tampered tokens,
// other algorithms and unusable keys are rejected with their codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, createSign, verify as cryptoVerify, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ALL_CODES } from '../../src/error-codes.js';
import { EAR_PROFILE, earJson, parseEarSigningKey, signEar, submodName, toEar, verifyEar } from '../../src/report/ear.js';
import { CODE_MAPPINGS, earMappingMarkdown, layerTrustVector, mappingFor, tierOf, vectorStatus, type TrustClaim } from '../../src/report/ear-mapping.js';
import { checkOutcome, type Outcome } from '../../src/report/format.js';
import { fail } from '../../src/verify/checks.js';
import type { LayerResult } from '../../src/verify/result.js';
import { assertRejectsCode, assertThrowsCode } from '../helpers/assert.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NONCE, T0, baselineResult, pcrMismatchAtVmmResult, trustedResult, unreachablePhysicalResult } from './fixtures.js';
import { freshKeyPair } from '../../src/util/fresh-key-pair.js';

test('AR4SI tiers: none [-1,1], affirming [2,31], warning [32,95], contraindicated [96,127]; outside is contraindicated', () => {
  const table: [number, string][] = [
    [-1, 'none'], [0, 'none'], [1, 'none'], [2, 'affirming'], [3, 'affirming'], [31, 'affirming'],
    [32, 'warning'], [33, 'warning'], [95, 'warning'], [96, 'contraindicated'], [97, 'contraindicated'],
    [99, 'contraindicated'], [127, 'contraindicated'], [-2, 'contraindicated'], [128, 'contraindicated'],
  ];
  for (const [value, tier] of table) assert.equal(tierOf(value), tier, `value ${value}`);
  assert.equal(vectorStatus({}), 'none');
  assert.equal(vectorStatus({ 'instance-identity': 2, executables: 33 }), 'warning');
  assert.equal(vectorStatus({ 'instance-identity': 99, executables: 33 }), 'contraindicated');
  assert.equal(vectorStatus({ 'instance-identity': 1 }), 'none');
  assert.equal(vectorStatus({ 'instance-identity': 1, configuration: 2 }), 'affirming');
});

const AFFIRMED: Pick<LayerResult, 'status' | 'kind' | 'anchor'> = {
  status: 'not-trusted',
  kind: 'virtual',
  anchor: { label: 'vplatform-ca', subject: 'CN=CA', vouchesFor: 'vplatform-ca' },
};

/** [code, fail|warn, claim, value, status of a not-trusted layer with only that outcome] */
const CASES: [string, 'fail' | 'warn', TrustClaim, number, string][] = [
  ['QUOTE_BAD_SIGNATURE', 'fail', 'instance-identity', 99, 'contraindicated'],
  ['QUOTE_NONCE_MISMATCH', 'fail', 'instance-identity', 99, 'contraindicated'],
  ['QUOTE_AK_NOT_RESTRICTED', 'fail', 'instance-identity', 96, 'contraindicated'],
  ['QUOTE_PCR_DIGEST_MISMATCH', 'fail', 'executables', 99, 'contraindicated'],
  ['CHAIN_BAD_SIGNATURE', 'fail', 'instance-identity', 99, 'contraindicated'],
  ['CHAIN_UNTRUSTED_ROOT', 'fail', 'instance-identity', 97, 'contraindicated'],
  ['POLICY_TRUST_ANCHOR', 'fail', 'instance-identity', 97, 'contraindicated'],
  ['CHAIN_EXPIRED', 'fail', 'instance-identity', 96, 'contraindicated'],
  ['CHAIN_REVOKED', 'fail', 'instance-identity', 96, 'contraindicated'],
  ['CLONE_HOSTED_TWICE', 'fail', 'instance-identity', 96, 'contraindicated'],
  ['CLONE_HOSTED_TWICE', 'warn', 'configuration', 32, 'warning'],
  ['VPLATFORM_STILL_HOSTED', 'fail', 'instance-identity', 96, 'contraindicated'],
  ['POLICY_PCR_VALUE', 'fail', 'executables', 33, 'warning'],
  ['POLICY_PCR_VALUE', 'warn', 'executables', 33, 'warning'],
  ['POLICY_BOOT_APP_FORBIDDEN', 'fail', 'executables', 96, 'contraindicated'],
  ['EVENTLOG_REPLAY_MISMATCH', 'fail', 'executables', 96, 'contraindicated'],
  ['POLICY_EVENTLOG_REPLAY', 'fail', 'executables', 96, 'contraindicated'],
  ['EVENTLOG_TRUNCATED', 'fail', 'executables', 1, 'warning'],
  ['POLICY_IMA_UNKNOWN_FILE', 'fail', 'file-system', 32, 'warning'],
  ['POLICY_IMA_DENIED', 'fail', 'file-system', 96, 'contraindicated'],
  ['IMA_REPLAY_MISMATCH', 'fail', 'file-system', 96, 'contraindicated'],
  ['IMA_MALFORMED_LINE', 'fail', 'file-system', 1, 'warning'],
  ['VPLATFORM_INSTANCE_NOT_HOSTED', 'fail', 'sourced-data', 96, 'contraindicated'],
  ['VPLATFORM_INSTANCE_LEFT', 'fail', 'sourced-data', 96, 'contraindicated'],
  ['POLICY_BINDING', 'fail', 'sourced-data', 96, 'contraindicated'],
  ['POLICY_BINDING', 'warn', 'sourced-data', 32, 'warning'],
  ['VPLATFORM_ENTRY_INVALID', 'fail', 'sourced-data', 1, 'warning'],
  ['POLICY_FIRMWARE_VERSION', 'fail', 'hardware', 32, 'warning'],
  ['POLICY_MANUFACTURER', 'fail', 'hardware', 97, 'contraindicated'],
  ['POLICY_CLOCK_UNSAFE', 'warn', 'configuration', 32, 'warning'],
  ['CLOCK_NOT_SAFE', 'warn', 'configuration', 32, 'warning'],
  ['CLOCK_WENT_BACK', 'fail', 'configuration', 96, 'contraindicated'],
  ['POLICY_SECURE_BOOT', 'fail', 'configuration', 96, 'contraindicated'],
  ['POLICY_CHAIN_END', 'fail', 'configuration', 96, 'contraindicated'],
  ['CERT_MALFORMED', 'fail', 'instance-identity', 1, 'warning'],
  ['EVIDENCE_MISSING_FIELD', 'fail', 'instance-identity', 1, 'warning'],
  ['TPM_TRUNCATED', 'fail', 'instance-identity', 1, 'warning'],
  ['INTERNAL_ERROR', 'fail', 'instance-identity', -1, 'warning'],
];

test('claim mapping, code by code: the claim, its value, and the layer status it leads to', () => {
  for (const [code, status, claim, value, ear] of CASES) {
    const outcome: Outcome = checkOutcome({ id: 'x', status, code, message: code });
    const vector = layerTrustVector({ layer: AFFIRMED, outcomes: [outcome] });
    assert.equal(vector[claim], value, `${code} (${status}) → ${claim}`);
    const claims = toEar({ ...trustedResult(), layers: [{ ...trustedResult().layers[0]!, status: 'not-trusted', checks: [outcome as never] }] });
    assert.equal(claims.submods['layer0-vm']!['ear.status'], ear, `${code} (${status}) → status`);
  }
});

test('affirmations never override a failure on the same claim', () => {
  // an anchor would affirm the identity; a parse failure on it wins even in the none tier
  const v = layerTrustVector({ layer: AFFIRMED, outcomes: [checkOutcome(fail('certificates.parse', 'CERT_MALFORMED', 'bad DER'))] });
  assert.equal(v['instance-identity'], 1);
  // a passing PCR rule next to a failing one: the failure stands
  const w = layerTrustVector({
    layer: AFFIRMED,
    outcomes: [
      { source: 'rule', id: 'layer[0].pcrs.sha256.0', status: 'pass', message: '' },
      { source: 'rule', id: 'layer[0].pcrs.sha256.7', status: 'fail', code: 'POLICY_PCR_VALUE', message: '' },
    ],
  });
  assert.equal(w.executables, 33);
});

test('the worst value per claim wins, deterministically', () => {
  const v = layerTrustVector({
    layer: AFFIRMED,
    outcomes: ['POLICY_PCR_VALUE', 'EVENTLOG_REPLAY_MISMATCH', 'QUOTE_PCR_DIGEST_MISMATCH'].map((code) => checkOutcome(fail('x', code, code))),
  });
  assert.equal(v.executables, 99);
  const reversed = layerTrustVector({
    layer: AFFIRMED,
    outcomes: ['QUOTE_PCR_DIGEST_MISMATCH', 'EVENTLOG_REPLAY_MISMATCH', 'POLICY_PCR_VALUE'].map((code) => checkOutcome(fail('x', code, code))),
  });
  assert.deepEqual(reversed, v);
});

test('every verification code vtpm-verify has maps to a claim', () => {
  const unmapped = Object.entries(ALL_CODES)
    .filter(([, info]) => info.kind === 'verification')
    .map(([code]) => code)
    // EAR_TOKEN_INVALID is about an EAR itself, AUDIT_NOT_TRUSTED about a whole fleet audit: neither describes one attestation
    .filter((code) => code !== 'EAR_TOKEN_INVALID' && code !== 'AUDIT_NOT_TRUSTED' && !mappingFor(code));
  assert.deepEqual(unmapped, []);
  // and the table itself: no row is shadowed entirely by an earlier one
  for (const [i, row] of CODE_MAPPINGS.entries()) {
    for (const pattern of row.codes.filter((p) => !p.endsWith('*'))) assert.equal(mappingFor(pattern), row, `${pattern} (row ${i}) is shadowed`);
  }
});

test('a trusted 3-layer result: profile, iat, verifier, nonce, one affirming submod per layer', () => {
  const r = trustedResult();
  const ear = toEar(r, { build: 'vtpm-verify 0.1.0' });
  assert.equal(ear.eat_profile, 'tag:github.com,2023:veraison/ear');
  assert.equal(ear.iat, Math.floor((T0 + 25) / 1000));
  assert.deepEqual(ear['ear.verifier-id'], { developer: 'vtpm-verify', build: 'vtpm-verify 0.1.0' });
  assert.equal(Buffer.from(ear.eat_nonce!, 'base64url').toString('hex'), NONCE);
  assert.doesNotMatch(ear.eat_nonce!, /[+/=]/, 'base64url without padding');
  assert.deepEqual(Object.keys(ear.submods), ['layer0-vm', 'layer1-vmm', 'layer2-physical']);
  for (const s of Object.values(ear.submods)) {
    assert.equal(s['ear.status'], 'affirming');
    assert.equal(s['ear.appraisal-policy-id'], 'prod-2026-11');
  }
  assert.deepEqual(ear.submods['layer0-vm']!['ear.trustworthiness-vector'], { 'instance-identity': 2, configuration: 2, executables: 3, 'sourced-data': 2 });
  assert.deepEqual(ear.submods['layer2-physical']!['ear.trustworthiness-vector'], { 'instance-identity': 2, configuration: 2, executables: 3, hardware: 2, 'sourced-data': 2 });
  assert.deepEqual(ear.submods['layer1-vmm']!['vtpm-verify.layer'], {
    position: 1,
    uri: r.layers[1]!.uri,
    status: 'trusted',
    kind: 'virtual',
    'instance-id': r.layers[1]!.instanceId,
    'ak-name': r.layers[1]!.akName,
    anchor: 'vplatform-ca',
  });
  assert.deepEqual(ear['vtpm-verify.result'], { target: r.target, verdict: 'trusted', reason: r.reason });
  // pure: the same input gives the same text
  assert.equal(earJson(toEar(r)), earJson(toEar(r)));
  assert.equal(toEar(r, { iat: 42 }).iat, 42);
});

test('IMA allow-list plus approved boot: executables 2 (approved runtime) and file-system 2', () => {
  const r = trustedResult();
  r.layers[0]!.rules.push({ id: 'layer[0].ima.allowList', status: 'pass', message: 'every file is allowed' });
  const v = toEar(r).submods['layer0-vm']!['ear.trustworthiness-vector'];
  assert.equal(v.executables, 2);
  assert.equal(v['file-system'], 2);
});

test('baseline policy: identity (and hardware for the physical layer) affirmed, nothing claimed without reference values', () => {
  const ear = toEar(baselineResult());
  assert.deepEqual(ear.submods['layer0-vm']!['ear.trustworthiness-vector'], { 'instance-identity': 2, 'sourced-data': 2 });
  // the physical layer's nonce is chained from the VMM's quote (binding.nonce-chain)
  assert.deepEqual(ear.submods['layer2-physical']!['ear.trustworthiness-vector'], { 'instance-identity': 2, hardware: 2, 'sourced-data': 2 });
  assert.equal(ear.submods['layer0-vm']!['ear.appraisal-policy-id'], 'baseline');
  assert.ok(Object.values(ear.submods).every((s) => s['ear.status'] === 'affirming'));
});

test('PCR mismatch at the VMM: that submod is warning with executables 33; the VM on it is warning too, its own vector clean; the host stays affirming', () => {
  const ear = toEar(pcrMismatchAtVmmResult());
  const vmm = ear.submods['layer1-vmm']!;
  assert.equal(vmm['ear.status'], 'warning');
  assert.equal(vmm['ear.trustworthiness-vector'].executables, 33);
  assert.equal(vmm['vtpm-verify.layer'].code, 'POLICY_PCR_VALUE');
  // a VM is no more trustworthy than the VMM it runs on: before, its entry said affirming in a result not trusted
  assert.equal(ear.submods['layer0-vm']!['ear.status'], 'warning');
  assert.equal(vectorStatus(ear.submods['layer0-vm']!['ear.trustworthiness-vector']), 'affirming');
  assert.equal(ear.submods['layer2-physical']!['ear.status'], 'affirming');
  assert.deepEqual(ear['vtpm-verify.result'], {
    target: 'https://vm-23.prod.example:8443',
    verdict: 'not-trusted',
    reason: 'VMM (layer 1): PCR 7 (sha256) is not one of the golden values',
    code: 'POLICY_PCR_VALUE',
  });
});

test('unreachable physical layer: no claims, status warning (its fetch failed); the chain rule that failed lands on the VM', () => {
  const ear = toEar(unreachablePhysicalResult());
  assert.deepEqual(Object.keys(ear.submods), ['layer0-vm', 'layer1-vmm', 'layer2-host']);
  const host = ear.submods['layer2-host']!;
  assert.equal(host['ear.status'], 'warning');
  assert.deepEqual(host['ear.trustworthiness-vector'], {});
  assert.equal(host['vtpm-verify.layer'].code, 'TRANSPORT_CONNECT_TIMEOUT');
  assert.equal(ear.submods['layer0-vm']!['ear.trustworthiness-vector'].configuration, 96);
  assert.equal(ear.submods['layer0-vm']!['ear.status'], 'contraindicated');
});

test('a physical layer that ends the walk under a vPlatform CA: its identity is unrecognized, and no genuine hardware is claimed', () => {
  // the anchor verified the AK, but one for virtual TPMs: a host could have certified its own "hardware" key
  const vector = layerTrustVector({
    layer: { status: 'not-trusted', kind: 'physical', anchor: { label: 'vplatform-ca', subject: 'CN=vPlatform CA', vouchesFor: 'vplatform-ca' } },
    outcomes: [checkOutcome(fail('layer.anchor', 'WALK_ENDS_UNDER_VPLATFORM_CA', 'layer 2 ends the walk under vplatform-ca'))],
  });
  assert.equal(vector['instance-identity'], 97);
  assert.equal(vector.hardware, undefined);
  assert.equal(vectorStatus(vector), 'contraindicated');
});

test('the VM is never affirming in a result that is not trusted: a binding check failed on the layer below, a host contraindicated below a VMM', () => {
  // VPLATFORM_INSTANCE_NOT_HOSTED is recorded on the VMM (its table does not host the VM); the VM's own checks all pass
  const r = trustedResult();
  r.verdict = 'not-trusted';
  r.layers[1]!.status = 'not-trusted';
  r.layers[1]!.checks.push(fail('binding.hosted', 'VPLATFORM_INSTANCE_NOT_HOSTED', 'the VMM does not host the instance'));
  let ear = toEar(r);
  assert.notEqual(ear.submods['layer1-vmm']!['ear.status'], 'affirming');
  assert.equal(ear.submods['layer0-vm']!['ear.status'], ear.submods['layer1-vmm']!['ear.status']);
  assert.equal(vectorStatus(ear.submods['layer0-vm']!['ear.trustworthiness-vector']), 'affirming');
  assert.equal(ear.submods['layer2-physical']!['ear.status'], 'affirming');
  // a verdict not trusted for a reason on no layer (a chain-wide outcome the mapping does not know) still keeps the VM from affirming
  const chainWide = trustedResult();
  chainWide.verdict = 'not-trusted';
  assert.ok(Object.values(toEar(trustedResult()).submods).every((s) => s['ear.status'] === 'affirming'));
  assert.equal(toEar(chainWide).submods['layer0-vm']!['ear.status'], 'warning');
  // the worst status below carries up: a contraindicated host makes the VMM and the VM contraindicated
  const forged = trustedResult();
  forged.verdict = 'not-trusted';
  forged.layers[2]!.status = 'not-trusted';
  forged.layers[2]!.checks.push(fail('quote.signature', 'QUOTE_BAD_SIGNATURE', 'the quote signature does not verify'));
  ear = toEar(forged);
  assert.deepEqual(
    Object.values(ear.submods).map((a) => a['ear.status']),
    ['contraindicated', 'contraindicated', 'contraindicated'],
  );
  assert.equal(vectorStatus(ear.submods['layer1-vmm']!['ear.trustworthiness-vector']), 'affirming', 'the VMM vector keeps its own claims');
});

test('a not-trusted layer is never better than warning, even when its code maps to nothing', () => {
  const r = trustedResult();
  r.layers[1]!.status = 'not-trusted';
  r.layers[1]!.checks.push(fail('walker.something-new', 'SOMETHING_NEW', 'a failure the mapping does not know'));
  assert.equal(toEar(r).submods['layer1-vmm']!['ear.status'], 'warning');
});

test('no layer reached, or an unusable nonce: still a valid claims set', () => {
  const r = unreachablePhysicalResult();
  r.layers = [];
  r.chain = [];
  r.nonce = 'zz';
  const ear = toEar(r);
  assert.equal(ear.eat_nonce, undefined);
  // EAT's JSON nonce is 10 to 74 characters: 55 bytes is the most that fits (56 would be 75 characters)
  for (const [bytes, claimed] of [[7, false], [8, true], [55, true], [56, false], [64, false]] as const) {
    const nonce = toEar({ ...r, nonce: 'ab'.repeat(bytes) }).eat_nonce;
    assert.equal(nonce !== undefined, claimed, `${bytes} bytes`);
    if (nonce !== undefined) assert.ok(nonce.length >= 10 && nonce.length <= 74, nonce);
  }
  assert.deepEqual(Object.keys(ear.submods), ['layer0-vm']);
  assert.deepEqual(ear.submods['layer0-vm']!['ear.trustworthiness-vector'], {});
  assert.equal(ear.submods['layer0-vm']!['ear.status'], 'warning');
  assert.equal(submodName({ position: 3, kind: 'physical' }), 'layer3-physical');
});

// ---- JWT ----

function p256(): { privateKey: KeyObject; publicKey: KeyObject } {
  return freshKeyPair('ec', { namedCurve: 'P-256' });
}

function decodePart(part: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('JWT round trip with PKCS#8 PEM, SEC1 PEM and JWK keys; verified by jose and by node:crypto directly', async () => {
  const { privateKey, publicKey } = p256();
  const claims = toEar(pcrMismatchAtVmmResult(), { build: 'vtpm-verify test' });
  const forms = [
    privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    privateKey.export({ format: 'pem', type: 'sec1' }).toString(),
    JSON.stringify(privateKey.export({ format: 'jwk' })),
  ];
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  for (const keyText of forms) {
    const token = await signEar(claims, keyText);
    const parts = token.split('.');
    assert.equal(parts.length, 3);
    assert.deepEqual(decodePart(parts[0]!), { alg: 'ES256', typ: 'JWT' });
    assert.deepEqual(await verifyEar(token, publicPem), claims);
    assert.deepEqual(await verifyEar(token, JSON.stringify(publicKey.export({ format: 'jwk' }))), claims);
    // independent of jose: ECDSA P-256 over "header.payload", r||s signature
    const ok = cryptoVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(parts[2]!, 'base64url'));
    assert.ok(ok, 'node:crypto verifies the signature');
  }
  assert.ok(parseEarSigningKey(forms[0]!).type === 'private');
});

test('tampered, re-keyed, unsigned and other-algorithm tokens are rejected', async () => {
  const { privateKey, publicKey } = p256();
  const claims = toEar(trustedResult());
  const token = await signEar(claims, privateKey);
  const [h, p, s] = token.split('.') as [string, string, string];

  // payload edited: the VMM now "affirming" everywhere, or another verdict
  const forged = { ...decodePart(p), 'vtpm-verify.result': { ...claims['vtpm-verify.result'], verdict: 'trusted', target: 'https://other.example' } };
  const tampered = `${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`;
  await assertRejectsCode(verifyEar(tampered, publicKey), 'EAR_TOKEN_INVALID');
  // one signature byte flipped
  const sig = Buffer.from(s, 'base64url');
  sig.writeUInt8(sig.readUInt8(10) ^ 1, 10);
  await assertRejectsCode(verifyEar(`${h}.${p}.${sig.toString('base64url')}`, publicKey), 'EAR_TOKEN_INVALID');
  // the right token, the wrong key
  await assertRejectsCode(verifyEar(token, p256().publicKey), 'EAR_TOKEN_INVALID');
  // alg none
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
  await assertRejectsCode(verifyEar(none, publicKey), 'EAR_TOKEN_INVALID');
  // ES256 signature but typ other than JWT
  const header2 = Buffer.from(JSON.stringify({ alg: 'ES256', typ: 'at+jwt' })).toString('base64url');
  const signer = createSign('sha256');
  signer.update(`${header2}.${p}`);
  const sig2 = signer.sign({ key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  await assertRejectsCode(verifyEar(`${header2}.${p}.${sig2}`, publicKey), 'EAR_TOKEN_INVALID');
  // a valid ES256 JWT that is not an EAR
  const notEar = await signEar({ ...claims, eat_profile: 'tag:example.com,2020:other' as typeof EAR_PROFILE }, privateKey);
  await assertRejectsCode(verifyEar(notEar, publicKey), 'EAR_TOKEN_INVALID');
  // garbage
  await assertRejectsCode(verifyEar('not.a.jwt', publicKey), 'EAR_TOKEN_INVALID');
  // and the untouched token still verifies
  assert.equal((await verifyEar(token, createPublicKey(privateKey)))['vtpm-verify.result'].verdict, 'trusted');
});

test('keys that cannot sign ES256 are EAR_KEY_INVALID', async () => {
  const rsa = freshKeyPair('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const p384 = freshKeyPair('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const { privateKey, publicKey } = p256();
  const encrypted = privateKey.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
  const publicPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
  for (const text of [rsa, p384, encrypted, publicPem, 'not a key', '{"kty":"EC"}', '']) {
    assertThrowsCode(() => parseEarSigningKey(text), 'EAR_KEY_INVALID');
  }
  // what is wrong with the key is said in words, not as an OpenSSL decoder error
  const sec1Encrypted = privateKey.export({ format: 'pem', type: 'sec1', cipher: 'aes-128-cbc', passphrase: 'secret' }).toString();
  for (const text of [encrypted, sec1Encrypted]) {
    const err = assertThrowsCode(() => parseEarSigningKey(text), 'EAR_KEY_INVALID');
    assert.match(err.message, /encrypted \(passphrase-protected\)/);
    assert.doesNotMatch(err.message, /routines|interrupted/);
  }
  for (const text of [publicPem, JSON.stringify(publicKey.export({ format: 'jwk' }))]) {
    const err = assertThrowsCode(() => parseEarSigningKey(text), 'EAR_KEY_INVALID');
    assert.match(err.message, /a public key: signing needs the private key/);
  }
  // a certificate and its private key in one file sign, in either order
  const certificate = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const keyPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  for (const text of [certificate + keyPem, keyPem + certificate]) assert.equal(parseEarSigningKey(text).asymmetricKeyType, 'ec');
  const claims = toEar(trustedResult());
  await assertRejectsCode(signEar(claims, p384), 'EAR_KEY_INVALID');
  await assertRejectsCode(signEar(claims, publicKey), 'EAR_KEY_INVALID');
  // an HMAC secret is not taken for a public key: said for what it is
  const hmac = assertThrowsCode(() => parseEarSigningKey(JSON.stringify({ kty: 'oct', k: Buffer.alloc(32, 7).toString('base64url'), alg: 'HS256' })), 'EAR_KEY_INVALID');
  assert.match(hmac.message, /symmetric \(JWK kty "oct", HMAC\) secret/);
  assert.doesNotMatch(hmac.message, /public key/);
  // a JWK whose d is not the private key of its x, y (or is 0) is read by node:crypto without complaint, and signs nothing verifiable
  const jwk = privateKey.export({ format: 'jwk' });
  for (const d of [p256().privateKey.export({ format: 'jwk' }).d!, Buffer.alloc(32).toString('base64url')]) {
    const text = JSON.stringify({ ...jwk, d });
    assert.match(assertThrowsCode(() => parseEarSigningKey(text), 'EAR_KEY_INVALID').message, /cannot sign/);
    await assertRejectsCode(signEar(claims, createPrivateKey({ key: JSON.parse(text) as JsonWebKey, format: 'jwk' })), 'EAR_KEY_INVALID');
  }
  await assertRejectsCode(verifyEar('a.b.c', 'not a key'), 'EAR_KEY_INVALID');
  await assertRejectsCode(verifyEar('a.b.c', freshKeyPair('ec', { namedCurve: 'P-384' }).publicKey), 'EAR_KEY_INVALID');
});

test('unsigned EAR JSON parses back to the same claims', () => {
  const claims = toEar(pcrMismatchAtVmmResult());
  assert.deepEqual(JSON.parse(earJson(claims)), claims);
  assert.ok(earJson(claims).endsWith('}\n'));
});

test('README shows the claim mapping exactly as the code defines it', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  assert.ok(readme.includes(earMappingMarkdown()), 'README.md "EAR claim mapping" is out of date: paste earMappingMarkdown() there');
  // once: a table pasted again below the first would go unnoticed by includes()
  for (const header of earMappingMarkdown().split('\n').filter((l) => /^\| (failing codes|passing rules|a warning on) /.test(l))) {
    assert.equal(readme.split(header).length - 1, 1, `README.md shows the table "${header.slice(0, 40)}..." more than once`);
  }
});
