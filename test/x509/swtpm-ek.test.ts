// The EK certificates swtpm_setup --create-ek-cert makes, with a private
// swtpm_localca configuration in a temp folder, validate against the local
// CA that made them: read from the TPM's NV indexes 0x01c00002 (RSA) and
// 0x01c00016 (ECC P-384) with tpm2_nvread, through the library and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseCertificate } from '../../src/x509/certificate.js';
import { splitDerOrPem } from '../../src/x509/pem.js';
import { buildTrustStore } from '../../src/x509/trust-store.js';
import { validatePath } from '../../src/x509/validate.js';
import { runCli } from '../helpers/cli.js';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { makeCert, tempDir } from '../helpers/pki.js';

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

test('swtpm_setup EK certificates (RSA and ECC) validate to the private swtpm-localca root', async (t) => {
  if (!requireSwtpm(t)) return;
  if (!has('swtpm_setup') || !has('swtpm_localca') || !has('tpm2_nvread')) return t.skip('swtpm_setup/swtpm_localca (swtpm-tools) or tpm2_nvread missing; skipping');
  const dir = tempDir('vtpm-swtpm-ek-');
  const state = join(dir, 'state');
  const ca = join(dir, 'ca');
  mkdirSync(state);
  mkdirSync(ca);
  // Private copies of /etc/swtpm_setup.conf and /etc/swtpm-localca.{conf,options}: one CA per run.
  writeFileSync(join(dir, 'swtpm-localca.conf'), `statedir = ${ca}\nsigningkey = ${ca}/signkey.pem\nissuercert = ${ca}/issuercert.pem\ncertserial = ${ca}/certserial\n`);
  writeFileSync(join(dir, 'swtpm-localca.options'), '--platform-manufacturer vtpm-verify-tests\n--platform-version 2.1\n--platform-model swtpm\n');
  writeFileSync(
    join(dir, 'swtpm_setup.conf'),
    `create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = ${dir}/swtpm-localca.conf\ncreate_certs_tool_options = ${dir}/swtpm-localca.options\nactive_pcr_banks = sha256\n`,
  );
  const setup = spawnSync('swtpm_setup', ['--tpm2', '--tpmstate', state, '--create-ek-cert', '--config', join(dir, 'swtpm_setup.conf'), '--overwrite'], { encoding: 'utf8' });
  assert.equal(setup.status, 0, `swtpm_setup failed: ${setup.stdout}${setup.stderr}`);

  const tpm = await Swtpm.start({ stateDir: state });
  try {
    const root = join(ca, 'swtpm-localca-rootca-cert.pem');
    const issuer = join(ca, 'issuercert.pem');
    const { store, problems } = buildTrustStore([
      { origin: root, bytes: readFileSync(root), role: 'anchor', label: 'ek-ca' },
      { origin: issuer, bytes: readFileSync(issuer), role: 'intermediate' },
    ]);
    assert.deepEqual(problems, []);
    for (const [index, key] of [
      ['0x01c00002', 'RSA-2048'],
      ['0x01c00016', 'EC P-384'],
    ] as const) {
      const out = join(dir, `ek-${index}.der`);
      tpm.must('tpm2_nvread', ['-C', 'o', '-o', out, index]);
      const ek = parseCertificate(splitDerOrPem(readFileSync(out), out).ders[0]!);
      assert.equal(ek.subject.text, 'CN=unknown');
      assert.ok(ek.extensions.some((e) => e.oid === '2.5.29.17' && e.critical), 'critical TCG SAN');
      const r = validatePath(ek, [], store, { at: new Date(), requireEku: 'ek', allowedLabels: ['ek-ca'] });
      assert.ok(r.valid, `${index}: ${r.valid ? '' : `${r.code}: ${r.message}`}`);
      assert.equal(r.path.length, 2, 'EK <- swtpm-localca <- root');
      assert.equal(r.anchor.certificate.subject.text, 'CN=swtpm-localca-rootca');
      assert.equal(r.tcg?.manufacturer, 'id:00001014');
      assert.equal(r.tcg?.model, 'swtpm');
      assert.equal(r.tcg?.version, 'id:20191023');
      assert.equal(`${ek.publicKey.algorithm === 'rsa' ? 'RSA-' : 'EC '}${ek.publicKey.algorithm === 'rsa' ? ek.publicKey.bits : ek.publicKey.curve}`, key);

      // The same through the CLI, as an operator would run it.
      const cli = await runCli(['certs', out, '--trust', `ek-ca=${root}`, '--intermediates', issuer, '--require-eku', 'ek', '--json']);
      assert.equal(cli.code, 0, cli.stdout + cli.stderr);
      assert.equal(cli.json?.ok, true);
      assert.equal(cli.json?.result.results[0].tcg.model, 'swtpm');
    }
    // Against another CA's root the same EK does not validate.
    const stranger = await makeCert({ subject: 'CN=swtpm-localca-rootca', ca: true });
    const other = buildTrustStore([
      { origin: 'stranger', bytes: stranger.der, role: 'anchor', label: 'ek-ca' },
      { origin: issuer, bytes: readFileSync(issuer), role: 'intermediate' },
    ]);
    const ek = parseCertificate(splitDerOrPem(readFileSync(join(dir, 'ek-0x01c00002.der')), 'ek').ders[0]!);
    const r = validatePath(ek, [], other.store, { at: new Date() });
    assert.equal(r.valid ? 'valid' : r.code, 'CHAIN_BAD_SIGNATURE', 'same root name, other key');
    assert.equal(r.valid ? null : r.certificate?.index, 1);
  } finally {
    await tpm.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
