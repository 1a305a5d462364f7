// How a bundle's fields are read. Its time as attest writes it: ISO 8601 with a zone. Date.parse alone also
// took "1", "Sat Nov 28 2026 12:00:00" and times without a zone, which it reads in the verifier's own time zone:
// the same bundle (its time string bound into the top nonce, so it verified) was judged at instants hours apart
// on machines in different zones, and its certificates and freshness rule with them. Its hex in either case.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertThrowsCode } from '../helpers/assert.js';
import { parseBundle } from '../../src/verify/bundle.js';
import { runCli } from '../helpers/cli.js';
import { savedBundle } from '../helpers/saved-bundle.js';

function bundleAt(time: string): string {
  return JSON.stringify({
    format: 'vtpm-verify/evidence-bundle',
    version: 2,
    tool: 'test',
    target: 'http://127.0.0.1:1/l/vm',
    time,
    random: '00'.repeat(32),
    layers: [{ position: 0, uri: 'http://127.0.0.1:1/l/vm', nonce: '11'.repeat(32), pcrs: ['sha256:0,1'] }],
  });
}

test('a bundle time is ISO 8601 with a zone, of a real date: nothing read in the verifier\'s time zone or rolled over', () => {
  for (const time of ['2026-11-28T11:58:18.631Z', '2026-11-28T11:58:18Z', '2026-11-28T12:58:18.631+01:00', '+010000-01-01T00:00:00.000Z']) {
    assert.equal(parseBundle(bundleAt(time)).time, time, time);
  }
  for (const time of ['2026-11-28T12:00:00', '2026-11-28 12:00:00Z', '1', 'Sat Nov 28 2026 12:00:00', 'Sat Nov 28 2026 12:00:00 GMT', '2026-11-28', '2026-02-30T00:00:00Z', '2026-11-28T24:00:00Z', ' 2026-11-28T11:58:18Z']) {
    assert.match(assertThrowsCode(() => parseBundle(bundleAt(time)), 'BUNDLE_INVALID').message, /^evidence bundle: time: not an ISO 8601 time with a zone/, time);
  }
});

test('a bundle\'s target is an http or https URL with a host, as attest takes: not a name or a path under which any VM\'s evidence verified', () => {
  const withTarget = (target: string) => bundleAt('2026-11-28T11:58:18Z').replace('"target":"http://127.0.0.1:1/l/vm"', `"target":${JSON.stringify(target)}`);
  assert.equal(parseBundle(withTarget('https://vm.example:8443/l/vm')).target, 'https://vm.example:8443/l/vm');
  // a query of the target's own is taken, as attest takes it; one setting a parameter the protocol reserves is not
  assert.equal(parseBundle(withTarget('https://vm.example:8443/l/vm?tenant=a')).target, 'https://vm.example:8443/l/vm?tenant=a');
  for (const target of ['prod-db-1', '/etc/passwd', 'file:///tmp/x', 'ftp://h/x', 'http://', '', 'https://u:p@vm.example/l/vm', 'http://vm.example:0/', 'https://vm.example/l/vm?nonce=00', 'https://vm.example/?a=1&instance=ab']) {
    assert.match(assertThrowsCode(() => parseBundle(withTarget(target)), 'BUNDLE_INVALID').message, /target: not an http or https URL with a host/, target);
  }
});

test('a bundle\'s nonces and instances in uppercase hex are the same bytes: the walk finds its layers', async (t) => {
  const { sim, read, write } = await savedBundle(t, 2);
  const b = read();
  for (const layer of b.layers) {
    layer.nonce = layer.nonce.toUpperCase();
    if (layer.instance) layer.instance = layer.instance.toUpperCase();
  }
  assert.ok(b.layers.some((l: { instance?: string }) => l.instance), 'a layer records the instance it asked for');
  const edited = write('edited.bundle.json', b);
  const run = await runCli(['verify', edited, '--trust', sim.trustDir, '--json']);
  assert.equal(run.code, 0, run.stdout.slice(0, 600));
});

test('a layer whose evidence a bundle does not hold is BUNDLE_MISSING_LAYER (exit 3), said as the bundle\'s word: it may have been removed since', async (t) => {
  const { sim, read, write } = await savedBundle(t, 2);
  const b = read();
  delete b.layers[1].evidence;
  const edited = write('edited.bundle.json', b);
  const run = await runCli(['verify', edited, '--trust', sim.trustDir, '--json']);
  assert.equal(run.code, 3, run.stdout.slice(0, 600));
  const envelope = JSON.parse(run.stdout) as { error: { code: string; message: string } };
  assert.equal(envelope.error.code, 'BUNDLE_MISSING_LAYER');
  assert.match(envelope.error.message, /^layer 1 \(.*\): the bundle holds no evidence for it \(the layer was unreachable when the bundle was saved, or its evidence was removed since\)/);
});
