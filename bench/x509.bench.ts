// X.509 path validation: 3-certificate chains (leaf <- intermediate <- root)
// validated per second, cold (parse + validate, nothing cached) and with a
// ValidationCache of parsed certificates and verified links, next to
// `openssl verify` on the same chain in the same run, and the parsers the
// design could have used.
import 'reflect-metadata';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import * as peculiar from '@peculiar/x509';
import { ValidationCache } from '../src/x509/cache.js';
import { parseCertificate } from '../src/x509/certificate.js';
import { buildTrustStore } from '../src/x509/trust-store.js';
import { validateChain, validatePath } from '../src/x509/validate.js';
import { makeChain, tempDir, type Chain, type KeyKind } from '../test/helpers/pki.js';
import { commandWallMs, fmt, hasCommand, opsPerSecond, opsPerSecondAsync, table } from './util.js';

const AT = new Date('2025-06-01T00:00:00Z');

function measureChain(chain: Chain): { cold: number; anchorsReady: number; warm: number } {
  const rootDer = chain.root.der;
  const evidence = [chain.leaf.der, chain.intermediate.der];
  // Cold: parse all three certificates, build the store, validate; nothing survives the call.
  const cold = opsPerSecond(() => {
    const { store } = buildTrustStore([{ origin: 'root', bytes: rootDer, role: 'anchor', label: 'ek-ca' }]);
    const r = validateChain(evidence, store, { at: AT });
    if (!r.valid) throw new Error(r.message);
  });
  // The trust store loaded once (as every command does), evidence parsed and verified each time.
  const { store } = buildTrustStore([{ origin: 'root', bytes: rootDer, role: 'anchor', label: 'ek-ca' }]);
  const anchorsReady = opsPerSecond(() => {
    const r = validateChain(evidence, store, { at: AT });
    if (!r.valid) throw new Error(r.message);
  });
  // A fleet audit: one cache across validations (parsed certificates and verified links).
  const cache = new ValidationCache();
  const warm = opsPerSecond(() => {
    const r = validateChain(evidence, store, { at: AT, cache });
    if (!r.valid) throw new Error(r.message);
  });
  return { cold, anchorsReady, warm };
}

async function pkijsChainOps(chain: Chain): Promise<number> {
  const toPkijs = (der: Uint8Array): pkijs.Certificate => pkijs.Certificate.fromBER(Uint8Array.from(der));
  return opsPerSecondAsync(
    async () => {
      const engine = new pkijs.CertificateChainValidationEngine({
        trustedCerts: [toPkijs(chain.root.der)],
        certs: [toPkijs(chain.leaf.der), toPkijs(chain.intermediate.der)],
        checkDate: AT,
      });
      const r = await engine.verify();
      if (!r.result) throw new Error(r.resultMessage);
    },
    400,
    3,
  );
}

export default async function (): Promise<void> {
  peculiar.cryptoProvider.set(globalThis.crypto as unknown as Parameters<typeof peculiar.cryptoProvider.set>[0]);
  const chains: [string, KeyKind][] = [
    ['ECDSA P-256', 'p256'],
    ['RSA-2048', 'rsa'],
  ];
  const rows: (string | number)[][] = [['3-certificate chain', 'cold (parse+validate) /s', 'anchors loaded once /s', 'with ValidationCache /s']];
  let p256: Chain | undefined;
  for (const [name, kind] of chains) {
    const chain = await makeChain({ kind, leaf: { eku: ['2.23.133.8.3'] } });
    if (kind === 'p256') p256 = chain;
    const m = measureChain(chain);
    rows.push([name, fmt(m.cold), fmt(m.anchorsReady), fmt(m.warm)]);
  }
  table(rows);

  const chain = p256!;
  console.log('\nsame P-256 chain, other implementations:');
  const others: (string | number)[][] = [['implementation', 'chains/s', 'ms per chain']];
  const pk = await pkijsChainOps(chain);
  others.push(['pkijs CertificateChainValidationEngine', fmt(pk), fmt(1000 / pk, 2)]);
  if (hasCommand('openssl')) {
    const dir = tempDir('vtpm-bench-x509-');
    writeFileSync(join(dir, 'root.pem'), chain.root.pem);
    writeFileSync(join(dir, 'inter.pem'), chain.intermediate.pem);
    writeFileSync(join(dir, 'leaf.pem'), chain.leaf.pem);
    const ms = commandWallMs('openssl', ['verify', '-attime', String(AT.getTime() / 1000), '-CAfile', join(dir, 'root.pem'), '-untrusted', join(dir, 'inter.pem'), join(dir, 'leaf.pem')], 15);
    others.push(['openssl verify (one process per chain, wall time)', fmt(1000 / ms), fmt(ms, 2)]);
  }
  table(others);

  console.log('\nparsing one certificate (the P-256 leaf):');
  const der = chain.leaf.der;
  const parse: (string | number)[][] = [['parser', 'certificates/s', 'µs each']];
  const add = (name: string, fn: () => void): void => {
    const ops = opsPerSecond(fn, 300, 3);
    parse.push([name, fmt(ops), fmt(1e6 / ops, 1)]);
  };
  add('vtpm-verify strict DER (+ SHA-256 fingerprint)', () => parseCertificate(der));
  add("node X509Certificate (OpenSSL)", () => new NodeX509(der));
  add('asn1js fromBER (BER tree only)', () => asn1js.fromBER(der));
  add('pkijs Certificate.fromBER', () => pkijs.Certificate.fromBER(der));
  add('@peculiar/x509 X509Certificate', () => new peculiar.X509Certificate(der));
  table(parse);

  // Sanity: the validation above really validated.
  const { store } = buildTrustStore([{ origin: 'root', bytes: chain.root.der, role: 'anchor' }]);
  const r = validatePath(parseCertificate(chain.leaf.der), [parseCertificate(chain.intermediate.der)], store, { at: AT, requireEku: 'ak' });
  console.log(`\ncheck: the benchmarked chain is ${r.valid ? 'valid' : `INVALID (${r.code})`} with ${r.checks.length} checks`);
}
