// Host names whose resolution hangs must not stall the rest of the audit. node resolves names with
// getaddrinfo on libuv's thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise), which the audit
// also needs for signature checks and file I/O; a lookup that hangs holds its thread until the resolver
// gives up, whatever the request's timeout. Four VMs whose names a silent resolver never answers held every
// thread, and every other VM of the audit, healthy and named in /etc/hosts, timed out waiting for its own
// lookup (exit 3). The launcher (bin/vtpm-verify.js, CommonJS so that it runs before libuv starts the pool)
// now asks for a larger pool, and lookups are bounded (src/transport/lookup.ts). The scenario runs in a private
// network and mount namespace (unshare, as root) with a resolv.conf naming a resolver on 127.0.0.1 that takes
// queries and never answers.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/tmp.js';
import { REPO_ROOT } from '../helpers/paths.js';

function namespacesUsable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  const probe = spawnSync('unshare', ['-m', '-n', 'sh', '-c', 'ip link set lo up && mount --bind /etc/hostname /etc/hostname'], { stdio: 'ignore' });
  return probe.status === 0;
}

async function runScenario(t: TestContext, hung: number, healthyHost: string): Promise<{ code: number; queries: number; results: { host: string; verdict: string; code?: string }[] }> {
  const dir = tempDir(t, 'vtpm-dns-stall-');
  const resolv = join(dir, 'resolv.conf');
  writeFileSync(resolv, 'nameserver 127.0.0.1\noptions timeout:3 attempts:1\n');
  const scenario = join(REPO_ROOT, 'dist', 'test', 'audit', 'dns-stall-scenario.js');
  const env = { ...process.env };
  delete env['UV_THREADPOOL_SIZE'];
  const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn('unshare', ['-m', '-n', 'sh', '-c', `ip link set lo up && mount --bind "$0" /etc/resolv.conf && exec "$1" "$2" "$3" "$4" "$5"`, resolv, process.execPath, scenario, dir, String(hung), healthyHost], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  assert.equal(out.code, 0, out.stderr + out.stdout);
  return JSON.parse(out.stdout) as { code: number; queries: number; results: { host: string; verdict: string; code?: string }[] };
}

const SKIP = !namespacesUsable() && 'needs root and unshare (private network and mount namespaces) with ip';

test('VMs whose host names never resolve do not stall the others: the healthy VMs (localhost) are trusted', { skip: SKIP }, async (t) => {
  const { code, queries, results } = await runScenario(t, 4, 'localhost');
  assert.ok(queries > 0, 'the hung names were asked of the silent resolver');
  assert.deepEqual(
    results.filter((r) => r.host !== 'localhost').map((r) => [r.verdict, r.code]),
    Array.from({ length: 4 }, () => ['incomplete', 'TRANSPORT_TIMEOUT']),
  );
  assert.deepEqual(results.filter((r) => r.host === 'localhost').map((r) => [r.verdict, r.code]), Array.from({ length: 4 }, () => ['trusted', undefined]), JSON.stringify(results));
  assert.equal(code, 3);
});
