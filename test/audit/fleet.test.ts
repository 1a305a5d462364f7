// The acceptance audit: a simulated fleet of 1,000 VMs on 50 VMMs on 50
// physical hosts, a few percent of them faulty in varied ways and some
// unreachable (a plan generated from a seed), audited by the real CLI in a
// child process. Its findings equal the fault plan exactly, VM by VM
// (verdict, failing layer, code); the JSON report validates against its
// schema, the JUnit file against a JUnit XSD with one testcase per VM, the
// HTML report shows the failing VMs in a real Chromium, and the state file
// holds every result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AUDIT_REPORT_SCHEMA_PATH, type AuditReport } from '../../src/report/json-report.js';
import { generateFaultPlan, inventoryYaml } from '../../src/simulator/fleet.js';
import { startSimulator } from '../../src/simulator/start.js';
import { openState } from '../../src/state/index.js';
import type { AttestationResult } from '../../src/verify/result.js';
import { openInChromium, visibleNames } from '../helpers/browser.js';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { assertValidJunit, haveXmllint, xpath } from '../helpers/xmllint.js';

/** What a result says in the fault plan's terms: the verdict, and the first failing layer with its code. */
function finding(r: AttestationResult): { verdict: string; position: number | null; code: string | null } {
  const layer = r.layers.find((l) => l.status === 'not-trusted' || l.status === 'unreachable');
  return { verdict: r.verdict, position: layer?.position ?? null, code: layer?.error?.code ?? null };
}

test('a fleet of 1,000 VMs (50 VMMs, 50 hosts), faults from a seeded plan: the audit finds exactly the plan, VM by VM, in every report', async (t) => {
  const topology = { hosts: 50, vmmsPerHost: 1, vmsPerVmm: 20 };
  const plan = generateFaultPlan(topology, { seed: 'audit acceptance', downHosts: 1 });
  const sim = await startSimulator({ topology, faultPlan: plan });
  t.after(() => sim.close());
  const dir = tempDir(t, 'vtpm-audit-');
  const inventory = join(dir, 'fleet.yaml');
  writeFileSync(inventory, inventoryYaml(sim.inventory()));
  const files = { json: join(dir, 'audit.json'), junit: join(dir, 'audit.xml'), html: join(dir, 'audit.html'), state: join(dir, 'state.db') };

  const run = await runCli(
    ['audit', inventory, '--trust', sim.trustDir, '--state', files.state, '--json', files.json, '--junit', files.junit, '--html', files.html, '--retries', '1'],
    { timeoutMs: 300_000 },
  );
  assert.equal(run.code, 1, `some VMs are not trusted (1 wins over 3)\n${run.stderr}\n${run.stdout.slice(-3000)}`);

  // --- the JSON report: schema-valid, every VM once, in inventory order
  const report = JSON.parse(readFileSync(files.json, 'utf8')) as AuditReport;
  const validate = new Ajv2020({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(join(REPO_ROOT, AUDIT_REPORT_SCHEMA_PATH), 'utf8')) as object);
  assert.ok(validate(report), JSON.stringify(validate.errors?.slice(0, 5), null, 1));
  const names = sim.inventory().map((e) => e.name);
  assert.deepEqual(report.results.map((r) => r.name), names);
  assert.equal(report.run.exitCode, 1);

  // --- VM by VM: the findings are the plan's
  const expected = new Map(names.map((n) => [n, sim.expected(n)]));
  const mismatches: string[] = [];
  for (const r of report.results) {
    const e = expected.get(r.name!)!;
    const want = { verdict: e.verdict, position: e.faults[0]?.position ?? null, code: e.faults[0]?.code ?? null };
    const got = finding(r);
    if (JSON.stringify(got) !== JSON.stringify(want)) mismatches.push(`${r.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)} (${r.reason})`);
    // verification failures are attempted once; unreachable ones once more (--retries 1)
    assert.equal(r.attempts, r.verdict === 'incomplete' ? 2 : 1, `${r.name} attempts`);
    if (r.verdict === 'trusted') assert.equal(r.layers.length, 3);
    assert.deepEqual(r.tags, sim.inventory().find((x) => x.name === r.name)!.tags);
  }
  assert.deepEqual(mismatches, []);
  const byVerdict = (v: string) => report.results.filter((r) => r.verdict === v).map((r) => r.name!);
  const notTrusted = byVerdict('not-trusted');
  const unreachable = byVerdict('incomplete');
  // the plan is varied: every kind of verification fault, VMs, a VMM and a host down
  assert.equal(notTrusted.length, 40);
  assert.ok(new Set(report.results.map((r) => finding(r).code).filter(Boolean)).size >= 12);
  // VMs whose URL a relay serves (another genuine VM's evidence): caught because the inventory names each VM's instance
  const relayed = notTrusted.filter((n) => expected.get(n)!.faults[0]!.fault === 'relayed-top');
  assert.ok(relayed.length >= 3, `relayed-top VMs in the plan: ${relayed.length}`);
  for (const n of relayed) assert.equal(finding(report.results.find((r) => r.name === n)!).code, 'TARGET_INSTANCE_MISMATCH');
  assert.deepEqual(
    [...new Set(report.results.filter((r) => r.verdict === 'incomplete').map((r) => finding(r).position))].sort(),
    [0, 1, 2],
    'unreachable VMs, VMMs and a host',
  );
  assert.deepEqual(
    { total: report.summary.total, trusted: report.summary.trusted, notTrusted: report.summary.notTrusted, unreachable: report.summary.unreachable },
    { total: 1000, trusted: 1000 - notTrusted.length - unreachable.length, notTrusted: notTrusted.length, unreachable: unreachable.length },
  );

  // --- the terminal summary
  assert.match(run.stdout, /Audit summary: 1000 VMs/);
  assert.match(run.stdout, new RegExp(`✗ not trusted +${notTrusted.length} `));
  assert.match(run.stdout, /Failures by code\n/);
  assert.match(run.stdout, /Slowest hosts\n/);
  assert.match(run.stderr, /audit: 1000\/1000 VMs done/, 'progress lines in a log (no TTY)');
  assert.doesNotMatch(run.stderr, /\(node:\d+\) \w*Warning/, 'no warning from node in an audit\'s log');

  // --- the state file: every result in the history, the file sound
  const store = await openState(files.state, { create: false });
  try {
    assert.equal(store.history({ limit: 5000 }).length, 1000);
    assert.deepEqual(store.integrityCheck(), ['ok']);
  } finally {
    store.close();
  }

  // --- JUnit: valid against the XSD, one testcase per VM, failures and errors with the plan's codes
  await t.test('JUnit', (tt) => {
    if (!haveXmllint(tt)) return;
    assertValidJunit(files.junit);
    assert.equal(xpath(files.junit, 'count(//testcase)'), '1000');
    assert.equal(xpath(files.junit, 'count(//testcase[failure])'), String(notTrusted.length));
    assert.equal(xpath(files.junit, 'count(//testcase[error])'), String(unreachable.length));
    for (const name of [...notTrusted.slice(0, 5), ...unreachable.slice(0, 3)]) {
      const kind = notTrusted.includes(name) ? 'failure' : 'error';
      assert.equal(xpath(files.junit, `string(//testcase[@name="${name}"]/${kind}/@type)`), expected.get(name)!.faults[0]!.code);
    }
  });

  // --- HTML: the failing VMs on the page, first, open, and filterable
  await t.test('HTML in Chromium', async (tt) => {
    const b = await openInChromium(tt, files.html);
    if (!b) return;
    const p = b.page;
    assert.equal(await p.locator('details.vm').count(), 1000);
    const statuses = await p.locator('details.vm').evaluateAll((els) => els.map((e) => e.getAttribute('data-status')));
    const failing = notTrusted.length + unreachable.length;
    assert.ok(statuses.slice(0, failing).every((s) => s !== 'trusted') && statuses.slice(failing).every((s) => s === 'trusted'), 'failures first');
    assert.equal(await p.locator('details.vm[open]').count(), failing);
    await p.locator('input[name=status][value=trusted]').uncheck();
    assert.deepEqual((await visibleNames(p)).sort(), [...notTrusted, ...unreachable].sort());
    // a failure code picks out exactly the VMs the plan broke that way
    const signature = notTrusted.filter((n) => expected.get(n)!.faults[0]!.code === 'QUOTE_BAD_SIGNATURE');
    assert.ok(signature.length > 0);
    await p.selectOption('#code', 'QUOTE_BAD_SIGNATURE');
    assert.deepEqual((await visibleNames(p)).sort(), signature.sort());
    assert.deepEqual(b.requests.filter((u) => !u.startsWith('file:')), [], 'the report loads nothing');
  });
});
