// TLS settings from the inventory reach the VMs they are for: a group's CA
// bundle and client certificate (paths relative to the inventory) let its
// VMs through a mutual-TLS endpoint; a VM without them fails the handshake
// (unreachable, TRANSPORT_TLS); --ca/--cert/--key serve the VMs whose
// inventory sets no tls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AuditReport } from '../../src/report/json-report.js';
import { startSimulator } from '../../src/simulator/start.js';
import { runCli } from '../helpers/cli.js';
import { makeTlsFixture, startHttps } from '../transport/servers.js';
import { forwarder } from './front.js';

test('per-group TLS (CA bundle, client certificate) from the inventory; command-line TLS for the others', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 } });
  t.after(() => sim.close());
  const tls = makeTlsFixture();
  t.after(() => tls.remove());
  const upstream = forwarder(sim.origin);
  const front = await startHttps({ key: tls.serverKey, cert: tls.serverCert, ca: tls.caPem, requestCert: true, rejectUnauthorized: true }, upstream.forward);
  t.after(async () => {
    upstream.close();
    await front.close();
  });
  // the inventory sits next to the TLS files and names them relatively
  const inventory = join(tls.dir, 'fleet.yaml');
  writeFileSync(
    inventory,
    `groups:
  mtls: { tls: { ca: ca.pem, cert: client.pem, key: client.key } }
vms:
  - { name: vm-0001, url: "${front.url}/l/vm-0001", group: mtls }
  - { name: vm-0002, url: "${front.url}/l/vm-0002", group: mtls }
  - { name: vm-0003, url: "${front.url}/l/vm-0003" }
`,
  );
  const report = join(tls.dir, 'report.json');
  const run = await runCli(['audit', inventory, '--trust', sim.trustDir, '--retries', '0', `--json=${report}`]);
  assert.equal(run.code, 3, run.stderr + run.stdout);
  const results = (JSON.parse((await import('node:fs')).readFileSync(report, 'utf8')) as AuditReport).results;
  assert.deepEqual(
    results.map((r) => [r.name, r.verdict, r.error?.code ?? null]),
    [
      ['vm-0001', 'trusted', null],
      ['vm-0002', 'trusted', null],
      ['vm-0003', 'incomplete', 'TRANSPORT_TLS'],
    ],
  );
  // the server's certificate refused (vm-0003 has no CA bundle: the system roots): retrying meets the same
  // certificate, so it is not retried, --retries or not; the cause names what OpenSSL refused
  const retried = join(tls.dir, 'retried.json');
  const again = await runCli(['audit', inventory, '--trust', sim.trustDir, '--retries', '2', `--json=${retried}`]);
  assert.equal(again.code, 3, again.stderr + again.stdout);
  const vm3 = (JSON.parse((await import('node:fs')).readFileSync(retried, 'utf8')) as AuditReport).results.find((r) => r.name === 'vm-0003')!;
  assert.equal(vm3.error?.code, 'TRANSPORT_TLS');
  assert.match(String(vm3.error?.details?.['cause']), /^[A-Z_]+$/);
  assert.equal(vm3.attempts, 1, 'a refused server certificate is not tried again');
  const withCli = await runCli(['audit', inventory, '--trust', sim.trustDir, '--retries', '0', '--ca', join(tls.dir, 'ca.pem'), '--cert', join(tls.dir, 'client.pem'), '--key', join(tls.dir, 'client.key'), '--json']);
  assert.equal(withCli.code, 0, withCli.stderr);
  assert.equal(withCli.json?.result.summary.trusted, 3);
});
