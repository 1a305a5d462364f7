// The HTTP parser's limits hold whatever NODE_OPTIONS say: node lets the environment raise the
// response-header limit (--max-http-header-size) and make its parser lenient (--insecure-http-parser,
// which takes a response with both Content-Length and Transfer-Encoding, the stuff of response
// smuggling). The real binary against raw TCP servers on 127.0.0.1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { startTcp } from './servers.js';

const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;

/** Any anchor: the requests fail before a certificate is looked at, but attest wants --trust. */
function trustFile(dir: string): string {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=unused anchor'], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return join(dir, 'ca.pem');
}

test('NODE_OPTIONS=--insecure-http-parser does not make the client take a response with Content-Length and Transfer-Encoding', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const trust = trustFile(tempDir(t));
  const server = await startTcp((s) => {
    s.on('error', () => {});
    s.once('data', () => s.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n'));
  });
  try {
    const run = await runCli(['attest', `${server.url}/a`, '--trust', trust, '--timeout', '10000', '--json'], { env: { NODE_OPTIONS: '--insecure-http-parser' } });
    assert.equal(run.json?.error?.code, 'TRANSPORT_PROTOCOL', run.stdout + run.stderr);
    assert.equal(run.code, 3);
  } finally {
    await server.close();
  }
});

test('NODE_OPTIONS=--max-http-header-size does not lift the 16 KiB response-header limit', async (t) => {
  if (!hasOpenssl) return t.skip('openssl is not installed');
  const trust = trustFile(tempDir(t));
  let offered = 0;
  const server = await startTcp((s) => {
    s.on('error', () => {});
    s.once('data', () => {
      // 64 KiB of headers, then nothing: a client that takes them waits for its total timeout
      s.write('HTTP/1.1 200 OK\r\n');
      for (let i = 0; i < 64; i++) s.write(`X-Pad-${i}: ${'a'.repeat(1000)}\r\n`);
      offered = 64 * 1000;
    });
  });
  try {
    const run = await runCli(['attest', `${server.url}/a`, '--trust', trust, '--timeout', '5000', '--json'], { env: { NODE_OPTIONS: '--max-http-header-size=1048576' } });
    assert.ok(offered > 16 * 1024);
    assert.equal(run.json?.error?.code, 'TRANSPORT_PROTOCOL', run.stdout + run.stderr);
    assert.match(run.json!.error!.message, /header/i);
    assert.equal(run.code, 3);
  } finally {
    await server.close();
  }
});
