// --shard I/N: every VM in exactly one shard, the split independent of the
// inventory's order, stable when VMs come and go, and moving few VMs when N
// changes; and over the real CLI, three shards of a simulated fleet audit
// the fleet exactly once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseShard, selectShard, shardOf } from '../../src/audit/shard.js';
import { inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import { assertThrowsCode } from '../helpers/assert.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const vms = (n: number, prefix = 'vm') => Array.from({ length: n }, (_, i) => ({ key: `${prefix}-${String(i).padStart(5, '0')}` }));

/** A fixed permutation (no Math.random in tests). */
function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  let s = 12345;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

test('I/N for N = 3 covers the inventory exactly once, in inventory order, roughly evenly', () => {
  const all = vms(3000);
  const shards = [0, 1, 2].map((index) => selectShard(all, { index, count: 3 }));
  const seen = shards.flat().map((v) => v.key);
  assert.equal(seen.length, all.length);
  assert.deepEqual(new Set(seen), new Set(all.map((v) => v.key)));
  for (const s of shards) {
    assert.ok(s.length > 900 && s.length < 1100, `shard size ${s.length}`);
    assert.deepEqual(s, all.filter((v) => s.includes(v)), 'in inventory order');
  }
  assert.deepEqual(selectShard(all, { index: 0, count: 1 }), all);
});

test('stable under reordering, adding and removing VMs; changing N moves only a fair share', () => {
  const all = vms(2000);
  const home = new Map(all.map((v) => [v.key, shardOf(v.key, 3)]));
  // reordered: the same VMs in the same shards
  for (let index = 0; index < 3; index++) {
    const reordered = selectShard(shuffled(all), { index, count: 3 }).map((v) => v.key).sort();
    assert.deepEqual(reordered, all.filter((v) => home.get(v.key) === index).map((v) => v.key).sort());
  }
  // VMs added and removed: no other VM moves
  const changed = [...all.slice(100), ...vms(300, 'new')];
  for (const v of changed) if (home.has(v.key)) assert.equal(shardOf(v.key, 3), home.get(v.key));
  // 3 → 4 shards: about a quarter move (hash-mod-N would move about three quarters)
  const moved = all.filter((v) => shardOf(v.key, 4) !== home.get(v.key)).length;
  assert.ok(moved > 0.2 * all.length && moved < 0.3 * all.length, `${moved} of ${all.length} moved`);
  // and those that moved went to the new shard
  assert.ok(all.every((v) => shardOf(v.key, 4) === home.get(v.key) || shardOf(v.key, 4) === 3));
});

test('--shard syntax: 0-based I of N', () => {
  assert.deepEqual(parseShard('0/3'), { index: 0, count: 3 });
  assert.deepEqual(parseShard(' 2/3 '), { index: 2, count: 3 });
  for (const bad of ['3/3', '1/0', '-1/3', '1', '1/3/4', 'a/b', '1/100000', '']) assertThrowsCode(() => parseShard(bad), 'USAGE');
});

test('CLI: three shards of a simulated fleet audit every VM exactly once, and the same VMs whatever the inventory order', async (t) => {
  const sim = await startSimulator({ topology: { hosts: 3, vmmsPerHost: 1, vmsPerVmm: 10 } });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-shard-');
  const entries = sim.inventory();
  writeFileSync(join(dir, 'fleet.yaml'), inventoryYaml(entries));
  writeFileSync(join(dir, 'reordered.yaml'), inventoryYaml(shuffled(entries)));
  const audited = async (file: string, index: number): Promise<string[]> => {
    const r = await runCli(['audit', join(dir, file), '--trust', sim.trustDir, '--shard', `${index}/3`, '--json=' + join(dir, `${file}-${index}.json`), '--unreachable-ok']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const { readFileSync } = await import('node:fs');
    const report = JSON.parse(readFileSync(join(dir, `${file}-${index}.json`), 'utf8')) as { run: { shard: unknown }; results: { name: string; verdict: string }[] };
    assert.deepEqual(report.run.shard, { index, count: 3 });
    assert.ok(report.results.every((x) => x.verdict === 'trusted'));
    return report.results.map((x) => x.name);
  };
  const shards = await Promise.all([0, 1, 2].map((i) => audited('fleet.yaml', i)));
  assert.deepEqual(shards.flat().sort(), entries.map((e) => e.name).sort());
  assert.ok(shards.every((s) => s.length > 0));
  const again = await Promise.all([0, 1, 2].map((i) => audited('reordered.yaml', i)));
  assert.deepEqual(again.map((s) => [...s].sort()), shards.map((s) => [...s].sort()));
});
