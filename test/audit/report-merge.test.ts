// `vtpm-verify report` over real audits: a simulated fleet with a seeded
// fault plan audited whole and as three shards by the real CLI; the merged
// shard reports say what the whole audit says, VM by VM, in every report
// format and in the exit code. Then what does not add up to one fleet: a
// shard missing (REPORT_INCOMPLETE, exit 3, its VMs named), the same report
// twice, a relabelled shard, a truncated file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AUDIT_REPORT_SCHEMA_PATH, type AuditReport } from '../../src/report/json-report.js';
import { generateFaultPlan } from '../../src/simulator/fleet.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { assertValidJunit, haveXmllint, xpath } from '../helpers/xmllint.js';
import { fleetOnDisk } from './fleet-on-disk.js';

const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO_ROOT, AUDIT_REPORT_SCHEMA_PATH), 'utf8')) as object);
const readReport = (file: string): AuditReport => JSON.parse(readFileSync(file, 'utf8')) as AuditReport;

/** A result in the fault plan's terms: verdict, first failing layer and its code. */
function finding(r: AttestationResult): string {
  const layer = r.layers.find((l) => l.status === 'not-trusted' || l.status === 'unreachable');
  return `${r.verdict} ${layer?.position ?? '-'} ${layer?.error?.code ?? '-'}`;
}

test('the shards of an audit, merged, say what the whole audit says: VM by VM, in JSON, JUnit and HTML, and in the exit code', async (t) => {
  const topology = { hosts: 6, vmmsPerHost: 1, vmsPerVmm: 10 };
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology, faultPlan: generateFaultPlan(topology, { seed: 'report merge', faultyFraction: 0.15, unreachableFraction: 0.05 }) }, 'vtpm-report-');
  const audit = (args: string[]) => runCli(['audit', inventory, '--trust', sim.trustDir, '--retries', '0', ...args], { timeoutMs: 120_000 });

  const whole = await audit(['--json', join(dir, 'whole.json')]);
  assert.equal(whole.code, 1, whole.stderr);
  const shards = await Promise.all([0, 1, 2].map((i) => audit(['--shard', `${i}/3`, '--json', join(dir, `shard-${i}.json`)])));
  const shardFiles = [0, 1, 2].map((i) => join(dir, `shard-${i}.json`));
  const files = { json: join(dir, 'fleet.json'), junit: join(dir, 'fleet.xml'), html: join(dir, 'fleet.html') };

  const merged = await runCli(['report', ...shardFiles, '--inventory', inventory, '--json', files.json, '--junit', files.junit, '--html', files.html]);
  assert.equal(merged.code, 1, merged.stderr + merged.stdout);
  assert.match(merged.stdout, /Read 3 reports, shards 0, 1, 2 of 3: audited /);
  assert.match(merged.stdout, /Audit summary: 60 VMs/);

  // --- JSON: schema-valid, the inventory's order, each VM's finding the whole audit's
  const expected = readReport(join(dir, 'whole.json'));
  const report = readReport(files.json);
  assert.ok(validate(report), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
  assert.deepEqual(report.results.map((r) => r.name), sim.inventory().map((e) => e.name));
  assert.deepEqual(report.results.map(finding), expected.results.map(finding));
  const counts = (r: AuditReport) => ({ total: r.summary.total, trusted: r.summary.trusted, notTrusted: r.summary.notTrusted, unreachable: r.summary.unreachable, failureCodes: r.summary.failureCodes });
  assert.deepEqual(counts(report), counts(expected));
  assert.ok(report.summary.notTrusted >= 5 && report.summary.unreachable >= 1, JSON.stringify(counts(report)));
  assert.equal(report.run.exitCode, 1);
  assert.deepEqual(report.run.merged?.reports.map((r) => [r.file, r.shard?.index, r.exitCode]), shardFiles.map((f, i) => [f, i, shards[i]!.code]));
  assert.deepEqual(report.run.merged?.reports.map((r) => r.results), shardFiles.map((f) => readReport(f).results.length));
  assert.equal(report.run.merged?.missingShards, undefined);
  assert.equal(report.run.merged?.missingVms, undefined);

  // --- the envelope: the same failures as the whole audit's, the fleet covered
  const env = await runCli(['report', ...shardFiles, '--json']);
  assert.equal(env.code, 1);
  assert.equal(env.json?.error?.code, 'AUDIT_NOT_TRUSTED');
  const result = env.json?.result as { complete: boolean; failures: { name: string; code: string }[] };
  assert.equal(result.complete, true);
  const failing = expected.results.filter((r) => r.verdict !== 'trusted');
  assert.deepEqual(result.failures.map((f) => f.name).sort(), failing.map((r) => r.name!).sort());

  // --- JUnit: one testcase per VM; HTML: the merged run and every failing VM
  await t.test('JUnit', (tt) => {
    if (!haveXmllint(tt)) return;
    assertValidJunit(files.junit);
    assert.equal(xpath(files.junit, 'count(//testcase)'), '60');
    assert.equal(xpath(files.junit, 'count(//testcase[failure])'), String(expected.summary.notTrusted));
    assert.equal(xpath(files.junit, 'count(//testcase[error])'), String(expected.summary.unreachable));
    assert.equal(xpath(files.junit, 'string(//property[@name="merged"]/@value)'), '3 reports, shards 0, 1, 2 of 3');
  });
  const page = readFileSync(files.html, 'utf8');
  assert.match(page, /merged from 3 reports, shards 0, 1, 2 of 3/);
  assert.doesNotMatch(page, /id="coverage"/);
  for (const r of failing) assert.ok(page.includes(`>${r.name}<`), `${r.name} on the page`);

  // --- one shard missing: said exactly, and never "all trusted"
  const partial = await runCli(['report', shardFiles[0]!, shardFiles[2]!, '--inventory', inventory, '--json']);
  const missing = readReport(shardFiles[1]!).results.map((r) => r.name!);
  const pm = (partial.json?.result as { merged: { missingShards: number[]; missingVms: { count: number; names: string[] } } }).merged;
  assert.deepEqual(pm.missingShards, [1]);
  assert.deepEqual(pm.missingVms, { count: missing.length, names: sim.inventory().map((e) => e.name).filter((n) => missing.includes(n)) });
  assert.equal(partial.code, [shardFiles[0]!, shardFiles[2]!].some((f) => readReport(f).summary.notTrusted > 0) ? 1 : 3);
});

test('a clean fleet: whole coverage exits 0, a missing shard exits 3 (REPORT_INCOMPLETE) unless --allow-partial; reports that do not belong together exit 2', async (t) => {
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 8 } }, 'vtpm-report-');
  const shardFiles = [0, 1].map((i) => join(dir, `shard-${i}.json`));
  for (const [i, file] of shardFiles.entries()) {
    const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--shard', `${i}/2`, '--json', file]);
    assert.equal(r.code, 0, r.stderr);
  }

  const both = await runCli(['report', ...shardFiles, '--inventory', inventory, '--json']);
  assert.equal(both.code, 0, both.stdout);
  assert.equal(both.json?.ok, true);

  const one = await runCli(['report', shardFiles[0]!, '--json']);
  assert.equal(one.code, 3);
  assert.equal(one.json?.error?.code, 'REPORT_INCOMPLETE');
  assert.deepEqual(one.json?.error?.details?.['missingShards'], [1]);
  const text = await runCli(['report', shardFiles[0]!, '--inventory', inventory]);
  assert.equal(text.code, 3);
  assert.match(text.stdout, /Not the whole fleet: no report for shard 1 of 2; \d+ VM\(s\) of the inventory have no result/);
  const allowed = await runCli(['report', shardFiles[0]!, '--allow-partial', '--json']);
  assert.equal(allowed.code, 0);

  // --json before the reports takes the first one as the output: refused, the file untouched
  const before = readFileSync(shardFiles[0]!, 'utf8');
  const over = await runCli(['report', '--json', shardFiles[0]!, shardFiles[1]!]);
  assert.equal(over.code, 2);
  assert.match(over.stderr + over.stdout, /--json .*shard-0\.json comes before reports to read/);
  assert.equal(readFileSync(shardFiles[0]!, 'utf8'), before);
  // and a merged report written over one of its own inputs
  const self = await runCli(['report', ...shardFiles, '--json', shardFiles[1]!]);
  assert.equal(self.code, 2);
  assert.match(self.stderr + self.stdout, /shard-1\.json is one of the reports to read: writing the report there would destroy it/);
  const written = await runCli(['report', ...shardFiles, `--json=${join(dir, 'merged.json')}`]);
  assert.equal(written.code, 0, written.stderr + written.stdout);

  // the same report twice; a shard relabelled; a truncated copy; no report at all
  const twice = await runCli(['report', shardFiles[0]!, shardFiles[0]!, '--json']);
  assert.equal(twice.code, 2);
  assert.equal(twice.json?.error?.code, 'REPORT_MISMATCH');
  assert.match(twice.json?.error?.message ?? '', /shard-0\.json is given twice/);
  const twoNames = await runCli(['report', shardFiles[0]!, shardFiles[1]!, `${dir}/../${basename(dir)}/shard-0.json`, '--json']);
  assert.equal(twoNames.code, 2);
  assert.match(twoNames.json?.error?.message ?? '', /shard-0\.json and .*shard-0\.json are one file, given twice/);
  const lines = readFileSync(shardFiles[0]!, 'utf8').split('\n');
  const relabelled = join(dir, 'relabelled.json');
  writeFileSync(relabelled, [lines[0], lines[1]!.replace('"shard":{"index":0,"count":2}', '"shard":{"index":1,"count":2}'), ...lines.slice(2)].join('\n'));
  const rel = await runCli(['report', relabelled, '--json']);
  assert.equal(rel.code, 2);
  assert.equal(rel.json?.error?.code, 'REPORT_MISMATCH');
  assert.equal(rel.json?.error?.details?.['check'], 'vm.shard');
  const truncated = join(dir, 'truncated.json');
  writeFileSync(truncated, lines.slice(0, 6).join('\n'));
  const cut = await runCli(['report', truncated, '--json']);
  assert.equal(cut.code, 2);
  assert.equal(cut.json?.error?.code, 'REPORT_INVALID');
  const none = await runCli(['report', join(dir, 'nope.json'), '--json']);
  assert.equal(none.code, 2);
  assert.equal(none.json?.error?.code, 'FILE_UNREADABLE');

  // an earlier merge's reports do not survive a merge that fails: they would be published as its own
  const out = { junit: join(dir, 'merged.xml'), html: join(dir, 'merged.html') };
  const good = await runCli(['report', ...shardFiles, '--junit', out.junit, '--html', out.html]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(readFileSync(out.junit, 'utf8'), /<testsuites /);
  const bad = await runCli(['report', truncated, '--junit', out.junit, '--html', out.html]);
  assert.equal(bad.code, 2);
  assert.equal(existsSync(out.junit), false);
  assert.equal(existsSync(out.html), false);
  assert.match(bad.stderr, /warning: removed .*merged\.xml, a JUnit report this run did not write/);
});

test("--run-label ties the shards of one run: tonight's shards merge, last night's shard left on the volume is refused", async (t) => {
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-label-');
  const shard = (i: number, label: string, file = join(dir, `audit-${i}.json`)) =>
    runCli(['audit', inventory, '--trust', sim.trustDir, '--shard', `${i}/2`, '--run-label', label, '--json', file, '--state', join(dir, 'state.db')]);
  // last night: both shards; tonight: only shard 0 ran, shard 1's file is last night's
  for (const r of await Promise.all([shard(0, 'audit-29000794'), shard(1, 'audit-29000794')])) assert.equal(r.code, 0, r.stderr);
  const lastNight = readReport(join(dir, 'audit-1.json'));
  assert.equal(lastNight.run.label, 'audit-29000794');
  assert.equal(validate(lastNight), true, JSON.stringify(validate.errors));
  assert.equal((await shard(0, 'audit-29001234')).code, 0);

  const mixed = await runCli(['report', join(dir, 'audit-0.json'), join(dir, 'audit-1.json'), '--json']);
  assert.equal(mixed.code, 2);
  assert.equal(mixed.json?.error?.code, 'REPORT_MISMATCH');
  assert.equal(mixed.json?.error?.details?.['check'], 'run.label');

  assert.equal((await shard(1, 'audit-29001234')).code, 0);
  const whole = await runCli(['report', join(dir, 'audit-0.json'), join(dir, 'audit-1.json'), '--run-label', 'audit-29001234', '--json', join(dir, 'fleet.json')]);
  assert.equal(whole.code, 0, whole.stderr);
  assert.match(whole.stdout, /run label audit-29001234/);
  const merged = readReport(join(dir, 'fleet.json'));
  assert.equal(merged.run.label, 'audit-29001234');
  assert.equal(validate(merged), true, JSON.stringify(validate.errors));

  // the state file's runs carry their labels too
  const runs = await runCli(['history', '--runs', '--state', join(dir, 'state.db'), '--json']);
  assert.deepEqual(
    (runs.json?.result.runs as { shard: string; label: string | null }[]).map((r) => `${r.shard} ${r.label}`).sort(),
    ['0/2 audit-29000794', '0/2 audit-29001234', '1/2 audit-29000794', '1/2 audit-29001234'],
  );
  const table = await runCli(['history', '--runs', '--state', join(dir, 'state.db')]);
  // shard and label in columns of their own, each under its header
  const lines = table.stdout.split('\n');
  const header = lines.find((l) => /\bSHARD +LABEL +VMS\b/.test(l));
  assert.ok(header, table.stdout);
  const row = lines.find((l) => /1\/2 +audit-29001234/.test(l));
  assert.ok(row, table.stdout);
  assert.equal(row.indexOf('audit-29001234'), header.indexOf('LABEL'));
  assert.equal(row.indexOf('1/2'), header.indexOf('SHARD'));
  const wrong = await runCli(['report', join(dir, 'audit-0.json'), join(dir, 'audit-1.json'), '--run-label', 'audit-29000794', '--json']);
  assert.equal(wrong.json?.error?.code, 'REPORT_MISMATCH');
  for (const bad of ['', 'a\u0001b', 'é', 'x'.repeat(129)]) {
    const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--run-label', bad, '--json']);
    assert.equal(r.code, 2, JSON.stringify(bad));
    assert.equal(r.json?.error?.code, 'USAGE');
  }
});

test('shards audited under different rules do not merge: another policy, an inventory edited between shards (REPORT_MISMATCH, run.config)', async (t) => {
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 2, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-config-');
  const shard = (i: number, file: string, extra: string[] = [], inv = inventory) => runCli(['audit', inv, '--trust', sim.trustDir, '--shard', `${i}/2`, '--json', join(dir, file), ...extra]);
  for (const [i, file] of [[0, 'a0.json'], [1, 'a1.json']] as const) assert.equal((await shard(i, file)).code, 0);
  const config = readReport(join(dir, 'a0.json')).run.config?.sha256;
  assert.match(config ?? '', /^[0-9a-f]{64}$/);
  assert.equal(readReport(join(dir, 'a1.json')).run.config?.sha256, config, 'the shards of one audit share their configuration');
  const good = await runCli(['report', join(dir, 'a0.json'), join(dir, 'a1.json'), '--json', join(dir, 'merged.json')]);
  assert.equal(good.code, 0, good.stderr);
  const merged = readReport(join(dir, 'merged.json'));
  assert.equal(merged.run.config?.sha256, config);
  assert.equal(validate(merged), true, JSON.stringify(validate.errors));

  // the same rules named by other paths are the same rules: a --trust with a trailing slash or through a link, a
  // policy named relative to another directory (a shard on another machine, the inventory checked out elsewhere)
  symlinkSync(sim.trustDir, join(dir, 'trust-link'));
  for (const [file, trust] of [['s1.json', `${sim.trustDir}/`], ['l1.json', join(dir, 'trust-link')]] as const) {
    const r = await runCli(['audit', inventory, '--trust', trust, '--shard', '1/2', '--json', join(dir, file)]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(readReport(join(dir, file)).run.config?.sha256, config, `--trust ${trust}`);
  }
  const lab = join(REPO_ROOT, 'policies', 'lab.yaml');
  copyFileSync(lab, join(dir, 'lab.yaml'));
  for (const [file, policy] of [['q0.json', lab], ['q1.json', relative(process.cwd(), join(dir, 'lab.yaml'))]] as const) {
    const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--policy', policy, '--shard', `${file === 'q0.json' ? 0 : 1}/2`, '--json', join(dir, file)]);
    assert.notEqual(r.code, 2, r.stderr);
  }
  const samePolicy = await runCli(['report', join(dir, 'q0.json'), join(dir, 'q1.json'), '--json']);
  assert.notEqual(samePolicy.code, 2, samePolicy.stdout);

  // shard 1 under a policy of its own: trusted by looser (here: other) rules than shard 0's
  const otherPolicy = await shard(1, 'p1.json', ['--policy', join(REPO_ROOT, 'policies', 'lab.yaml')]);
  assert.notEqual(otherPolicy.code, 2, otherPolicy.stderr + otherPolicy.stdout);
  const refused = await runCli(['report', join(dir, 'a0.json'), join(dir, 'p1.json'), '--json']);
  assert.equal(refused.code, 2);
  assert.equal(refused.json?.error?.code, 'REPORT_MISMATCH');
  assert.equal(refused.json?.error?.details?.['check'], 'run.config');
  assert.match(refused.json?.error?.message ?? '', /different configurations/);
  // another --max-depth is another rule too, and the message names it among the causes
  assert.equal((await shard(1, 'd1.json', ['--max-depth', '5'])).code, 0);
  const depth = await runCli(['report', join(dir, 'a0.json'), join(dir, 'd1.json'), '--json']);
  assert.equal(depth.json?.error?.details?.['check'], 'run.config');
  assert.match(depth.json?.error?.message ?? '', /--max-depth/);

  // an inventory edited between the two shards' starts (a comment is enough: the text is what was audited)
  writeFileSync(inventory, `${readFileSync(inventory, 'utf8')}\n# edited\n`);
  assert.equal((await shard(1, 'e1.json')).code, 0);
  const edited = await runCli(['report', join(dir, 'a0.json'), join(dir, 'e1.json'), '--json']);
  assert.equal(edited.json?.error?.details?.['check'], 'run.config');
  // reports written before the digest existed are not compared
  const old = join(dir, 'old1.json');
  const text = readFileSync(join(dir, 'e1.json'), 'utf8');
  assert.match(text, /"config":\{"sha256":"[0-9a-f]{64}"\},/);
  writeFileSync(old, text.replace(/"config":\{"sha256":"[0-9a-f]{64}"\},/, ''));
  assert.equal((await runCli(['report', join(dir, 'a0.json'), old, '--json'])).code, 0);
});
