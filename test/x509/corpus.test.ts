// Real certificates from the shared corpus, read in place (never copied):
// every certificate parses and agrees with OpenSSL's view; the GCE EK/AK
// certificates and the Nuvoton EK validate to their real vendor CAs; the
// vendor CA certificates get the same verdicts as `openssl verify` in
// expected/cert_chain_checks.txt, except where our anchor model differs on
// purpose (a configured anchor that is not self-signed ends the path).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { VtpmError } from '../../src/errors.js';
import { parseCertificate, type Certificate } from '../../src/x509/certificate.js';
import { splitDerOrPem } from '../../src/x509/pem.js';
import { buildTrustStore, TrustStore, type TrustSource } from '../../src/x509/trust-store.js';
import { validatePath, type PathValidation } from '../../src/x509/validate.js';
import { CORPUS_DIR, corpusPath } from '../helpers/paths.js';
import { assertThrowsCode } from '../helpers/assert.js';

/** Inside every GCE and Nuvoton certificate's validity (some corpus certificates have expired since). */
const AT_2024 = new Date('2024-06-01T00:00:00Z');

function certsOf(path: string): Certificate[] {
  return splitDerOrPem(readFileSync(path), path).ders.map((d) => parseCertificate(d));
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

function source(path: string, role: TrustSource['role'], label?: string): TrustSource {
  return { origin: relative(CORPUS_DIR, path), bytes: readFileSync(path), role, ...(label ? { label } : {}) };
}

function assertValid(r: PathValidation, what: string): asserts r is Extract<PathValidation, { valid: true }> {
  if (!r.valid) assert.fail(`${what}: ${r.code}: ${r.message}`);
}

test('corpus: every certificate under certs/ parses, and agrees with OpenSSL (node) and expected/openssl_x509', (t) => {
  const dir = corpusPath(t, 'certs');
  if (!dir) return;
  let count = 0;
  for (const path of files(dir)) {
    // certs/secureboot/*.bin are signed dbx updates (EFI signature lists), not certificates.
    if (path.endsWith('.bin')) continue;
    const rel = relative(dir, path);
    const split = splitDerOrPem(readFileSync(path), rel);
    split.ders.forEach((der, i) => {
      const ours = parseCertificate(der);
      const node = new X509Certificate(der);
      assert.equal(ours.fingerprint, node.fingerprint256.replace(/:/g, '').toLowerCase(), `${rel}#${i} fingerprint`);
      assert.equal(ours.notBefore, Date.parse(node.validFrom), `${rel}#${i} notBefore`);
      assert.equal(ours.notAfter, Date.parse(node.validTo), `${rel}#${i} notAfter`);
      assert.equal(BigInt(`0x${ours.serial}`), BigInt(`0x${node.serialNumber}`), `${rel}#${i} serial`);
      assert.equal(ours.ext.basicConstraints?.ca === true, node.ca, `${rel}#${i} CA flag`);
      if (i === 0) {
        const expected = join(CORPUS_DIR, 'expected', 'openssl_x509', `${rel.replace(/\//g, '__')}.txt`);
        if (existsSync(expected)) {
          const fp = /sha256 Fingerprint=([0-9A-F:]+)/.exec(readFileSync(expected, 'utf8'))?.[1];
          assert.equal(ours.fingerprint, fp?.replace(/:/g, '').toLowerCase(), `${rel} vs expected/openssl_x509`);
        }
      }
      count++;
    });
  }
  // 26 roots + 143 intermediates in the tpm-ca-certificates bundles alone.
  assert.ok(count >= 252, `parsed ${count} certificates (252 when this was written, bundles included)`);
});

test('corpus: GCE EK certificates (empty subject, critical TCG SAN) validate to the legacy GCE root via intermediate 3', (t) => {
  const dir = corpusPath(t, 'certs');
  if (!dir) return;
  const { store, problems } = buildTrustStore([
    source(join(dir, 'vendor-ca/gotpmtools_gce_tpm_ek_root_1.cer'), 'anchor', 'vplatform-ca'),
    source(join(dir, 'vendor-ca/gotpmtools_gcp_ek_ak_ca_root.crt'), 'anchor', 'vplatform-ca'),
    ...['gotpmtools_gce_tpm_ek_intermediate_2.crt', 'gotpmtools_gce_tpm_ek_intermediate_3.crt', 'gotpmtools_gcp_ek_ak_ca_intermediate_v3.crt'].map((f) =>
      source(join(dir, 'vendor-ca', f), 'intermediate'),
    ),
  ]);
  assert.deepEqual(problems, []);
  for (const f of ['ecc_enc', 'ecc_sign', 'rsa_enc', 'rsa_sign']) {
    const [leaf] = certsOf(join(dir, `ek-ak/gotpmtools_gce_uca_tpm_${f}_cert.pem`));
    assert.equal(leaf!.subject.text, '', 'empty subject');
    assert.ok(leaf!.extensions.some((e) => e.oid === '2.5.29.17' && e.critical), 'critical SAN');
    const r = validatePath(leaf!, [], store, { at: AT_2024, requireEku: 'ek', allowedLabels: ['vplatform-ca'] });
    assertValid(r, f);
    assert.match(r.path[1]!.subject.text, /tpm_ek_v1_cloud_host-signer-0-2021-10-12/);
    assert.match(r.anchor.certificate.subject.text, /tpm_ek_v1_cloud_host_root-signer/);
    assert.deepEqual(
      { manufacturer: r.tcg?.manufacturer, id: r.tcg?.manufacturerId, model: r.tcg?.model, version: r.tcg?.version, spec: r.tcg?.specification },
      { manufacturer: 'id:474F4F47', id: 'GOOG', model: 'vTPM', version: 'id:20160511', spec: { family: '2.0', level: 0, revision: 142 } },
    );
    assert.deepEqual(r.warnings, []);
  }
});

test('corpus: GCE certificates with instance names validate to the GCP EK/AK CA root via intermediate v3', (t) => {
  const dir = corpusPath(t, 'certs');
  if (!dir) return;
  const { store } = buildTrustStore([
    source(join(dir, 'vendor-ca/gotpmtools_gcp_ek_ak_ca_root.crt'), 'anchor', 'vplatform-ca'),
    source(join(dir, 'vendor-ca/gotpmtools_gce_tpm_ek_root_1.cer'), 'anchor', 'vplatform-ca'),
  ]);
  const inter = certsOf(join(dir, 'vendor-ca/gotpmtools_gcp_ek_ak_ca_intermediate_v3.crt'));
  for (const f of ['ecc_enc', 'ecc_sign', 'rsa_enc', 'rsa_sign']) {
    const [leaf] = certsOf(join(dir, `ek-ak/gotpmtools_gce_pca_tpm_${f}_cert.pem`));
    const r = validatePath(leaf!, inter, store, { at: AT_2024 });
    assertValid(r, f);
    assert.match(r.anchor.certificate.subject.text, /CN=EK\/AK CA Root/);
    assert.match(r.target.subject.text, /O=Google Compute Engine/);
    // These carry no EKU: requiring one fails with its own code, naming the leaf.
    const eku = validatePath(leaf!, inter, store, { at: AT_2024, requireEku: 'ek' });
    assert.equal(eku.valid ? 'valid' : eku.code, 'CHAIN_EKU');
  }
  // Without the intermediate: no path.
  const [leaf] = certsOf(join(dir, 'ek-ak/gotpmtools_gce_pca_tpm_rsa_sign_cert.pem'));
  const none = validatePath(leaf!, [], store, { at: AT_2024 });
  assert.equal(none.valid ? 'valid' : none.code, 'CHAIN_UNTRUSTED_ROOT');
});

test('corpus: the GCE COS AK certificate of a real quote validates through intermediate 2 or 3', (t) => {
  const dir = corpusPath(t, 'certs');
  if (!dir) return;
  const { store } = buildTrustStore([
    source(join(dir, 'vendor-ca/gotpmtools_gce_tpm_ek_root_1.cer'), 'anchor', 'vplatform-ca'),
    source(join(dir, 'vendor-ca/gotpmtools_gce_tpm_ek_intermediate_2.crt'), 'intermediate'),
    source(join(dir, 'vendor-ca/gotpmtools_gce_tpm_ek_intermediate_3.crt'), 'intermediate'),
  ]);
  for (const q of ['gotpmtools_gce-cos-85-no-nonce', 'gotpmtools_gce-cos-85-nonce9009']) {
    const [ak] = certsOf(join(CORPUS_DIR, 'quotes', q, 'ak_cert.der'));
    assertValid(validatePath(ak!, [], store, { at: AT_2024 }), q);
  }
});

test('corpus: the real non-DER Nuvoton EK validates to Nuvoton TPM Root CA 2111 with a CERT_NON_DER warning', (t) => {
  const dir = corpusPath(t, 'certs');
  if (!dir) return;
  const [ek] = certsOf(join(dir, 'ek-ak/keylime_nuvoton_npct75x_ek_rsa_nonder.der'));
  assert.ok(ek!.derDeviations.some((d) => d.kind === 'set-order' && d.field === 'issuer'));
  for (const root of ['keylime_NUVO_2111.pem', 'secboot_Nuvoton_TPM_Root_CA_2111.cer']) {
    const { store } = buildTrustStore([source(join(dir, 'vendor-ca', root), 'anchor', 'ek-ca')]);
    const r = validatePath(ek!, [], store, { at: AT_2024, requireEku: 'ek', allowedLabels: ['ek-ca'] });
    assertValid(r, root);
    assert.equal(r.path.length, 1);
    assert.deepEqual(r.tcg, {
      source: 'subjectAltName',
      manufacturer: 'id:4E544300',
      manufacturerId: 'NTC',
      manufacturerName: 'Nuvoton Technology',
      model: 'NPCT75x',
      version: 'id:00070002',
      firmwareVersion: '7.2',
      specification: { family: '2.0', level: 0, revision: 138 },
    });
    const warning = r.warnings.find((w) => w.code === 'CERT_NON_DER');
    assert.equal(warning?.certificate?.index, 0);
    assert.match(warning!.message, /set-order in issuer/);
  }
  // Another Nuvoton root does not issue it.
  const { store: wrong } = buildTrustStore([source(join(dir, 'vendor-ca/keylime_NUVO_1111.pem'), 'anchor', 'ek-ca')]);
  const r = validatePath(ek!, [], wrong, { at: AT_2024 });
  assert.equal(r.valid ? 'valid' : r.code, 'CHAIN_UNTRUSTED_ROOT');
});

test('corpus: certificates under quotes/ parse; the FIDO conformance ones have an undecodable AKI: a typed error naming it', (t) => {
  const dir = corpusPath(t, 'quotes');
  if (!dir) return;
  let parsed = 0;
  for (const path of files(dir)) {
    if (!/\.(pem|der|crt|cer)$/.test(path) || /pub\.pem$/.test(path)) continue;
    if (path.includes('webauthn_fido_conformance_tpm')) {
      const err = assertThrowsCode(() => certsOf(path), 'CERT_EXTENSION_MALFORMED');
      assert.ok(err instanceof VtpmError);
      assert.match(err.message, /2\.5\.29\.35/);
      continue;
    }
    parsed += certsOf(path).length;
  }
  // Two GCE COS AK certificates and the three certificates of the Azure AMD VCEK chain (RSA-PSS, explicit trailerField).
  assert.equal(parsed, 5);
  const vcek = certsOf(join(dir, 'azure_cvm_snp', 'amd_vcek_chain.pem'));
  assert.ok(vcek.every((c) => c.signatureAlgorithm.scheme === 'rsa-pss'));
  assert.ok(vcek.every((c) => c.derDeviations.some((d) => d.kind === 'explicit-default')));
  // A real RSA-PSS (SHA-384, salt 48) chain: VCEK <- SEV-Milan <- ARK-Milan.
  const ark = vcek.find((c) => c.selfIssued)!;
  const r = validatePath(vcek[0]!, vcek.slice(1), TrustStore.fromCertificates([{ certificate: ark, origin: 'ark' }]), { at: AT_2024 });
  assertValid(r, 'AMD VCEK chain');
  assert.equal(r.path.length, 2);
  assert.ok(r.warnings.every((w) => w.code === 'CERT_NON_DER'));
});

test('corpus: vendor CA verdicts match `openssl verify` (expected/cert_chain_checks.txt) except for non-self-signed anchors', (t) => {
  const dir = corpusPath(t, 'certs', 'vendor-ca');
  if (!dir) return;
  // The reference run: -CAfile <tpmcacerts roots + keylime *RT*/NTC*/NUVO*> -untrusted <tpmcacerts intermediates>, on 2026-11-26.
  const anchorFiles = ['tpmcacerts_bundle_roots.pem', ...readdirSync(dir).filter((f) => /^keylime_.*(RT|NTC|NUVO)/.test(f))];
  const { store, problems } = buildTrustStore([
    ...anchorFiles.map((f) => source(join(dir, f), 'anchor', 'ek-ca')),
    source(join(dir, 'tpmcacerts_bundle_intermediates.pem'), 'intermediate'),
  ]);
  assert.deepEqual(problems, []);
  assert.equal(store.intermediates.length, 143);
  const at = new Date('2026-11-26T12:00:00Z');
  const lines = readFileSync(join(CORPUS_DIR, 'expected', 'cert_chain_checks.txt'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('certs/vendor-ca/'));
  assert.ok(lines.length >= 60);
  const differences: string[] = [];
  for (const line of lines) {
    const file = line.slice(0, line.indexOf(':'));
    const opensslOk = /: OK\s*$/.test(line);
    const [target] = certsOf(join(CORPUS_DIR, file));
    const r = validatePath(target!, [], store, { at });
    if (r.valid === opensslOk) continue;
    // OpenSSL (without -partial_chain) insists on a self-signed root; RFC 5280 and we
    // take a configured anchor as the end of the path. Every difference must be that.
    assert.ok(r.valid && !opensslOk, `${file}: openssl OK but ours ${r.valid ? 'valid' : `${r.code} ${r.message}`}`);
    assert.ok(!r.anchor.certificate.selfIssued, `${file}: a difference must come from a non-self-signed anchor`);
    differences.push(file.replace('certs/vendor-ca/', ''));
  }
  // AMD Pluton Global Factory ICA (issued by AMD Root CA R4) and IFX TPM EK Root CA (issued by VeriSign), both in the anchor set.
  assert.ok(differences.includes('tpmcacerts_AMD_AMD-Pluton-Per-Product-Factory-FIPS-EKICA-DFID00B20F00.crt'));
  assert.ok(differences.includes('keylime_IFX_RSA_RT.pem'));
  assert.ok(differences.every((f) => /AMD|IFX/.test(f)), differences.join(', '));
  // The expired IFX intermediate CA 01 fails for the right reason.
  const [ifx01] = certsOf(join(dir, 'keylime_IFX_RSA_01I.pem'));
  const r = validatePath(ifx01!, [], store, { at });
  assert.equal(r.valid ? 'valid' : r.code, 'CHAIN_EXPIRED');
});
