// What an audit does with the files around it, from a review: report paths
// are checked before any VM is attested (a folder that is not there, an empty
// name, a report that would overwrite the inventory, the state file or another
// report: exit 2, nothing attested, no state run begun); a report that cannot
// be written at the end does not hide the verdicts or stop the other reports;
// --keep-history never prunes the run that just ran; an interrupted audit says
// so on the terminal; warnings quoting file names are terminal-safe; a report
// the run does not write is removed, so an earlier run's is never taken for it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeUnwrittenReports, reportFilesFound, writeReportFile, writeReports, ResultSpool } from '../../src/cli/audit-reports.js';
import { summarize } from '../../src/report/summary.js';
import { STALE_TEMP_AGE_MS } from '../../src/util/files.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { assertValidJunit, haveXmllint, xpath } from '../helpers/xmllint.js';
import { fleet } from '../report/fleet.js';
import { fleetOnDisk } from './fleet-on-disk.js';

/** A simulated fleet of 3 VMs, its inventory and where its state file would go. */
async function threeVms(t: TestContext) {
  const { sim, dir, inventory } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 3 } }, 'vtpm-files-');
  return { sim, dir, inventory, state: join(dir, 'state.db') };
}

test('report paths are checked before the audit: exit 2, nothing attested, no state run begun', async (t) => {
  const { sim, dir, inventory, state } = await threeVms(t);
  const served = () => sim.stats.evidence;
  const before = served();
  const cases: [string[], RegExp][] = [
    [['--json', join(dir, 'nodir', 'out.json')], /--json .*out\.json: the folder .*nodir does not exist/],
    [['--junit', join(dir, 'fleet.yaml')], /--junit .*fleet\.yaml is the inventory: writing the report there would destroy it/],
    [['--json', state], /--json .*state\.db is the state file/],
    [['--junit', `${state}-wal`], /--junit .*state\.db-wal is the state file's write-ahead log/],
    [['--json', join(dir, 'r.json'), '--html', join(dir, 'r.json')], /--html .*r\.json is the --json report too/],
    [['--json='], /--json: the file name is empty/],
    [['--html', dir], /is a folder/],
  ];
  for (const [extra, message] of cases) {
    const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--state', state, ...extra]);
    assert.equal(r.code, 2, `${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr + r.stdout, message);
  }
  assert.equal(served(), before, 'no evidence was requested');
  assert.equal(existsSync(state), false, 'the state file was not even created');
  assert.match(readFileSync(inventory, 'utf8'), /vm-0001/, 'the inventory is intact');
});

test("a report path naming the state file's -wal through a symbolic link is refused too: SQLite keeps it beside the file the links lead to", async (t) => {
  const { sim, dir, inventory } = await threeVms(t);
  mkdirSync(join(dir, 'data'));
  symlinkSync(join(dir, 'data'), join(dir, 'via'));
  symlinkSync(join(dir, 'data', 'real.db'), join(dir, 'state.db'));
  writeFileSync(join(dir, 'data', 'real.db'), '');
  const before = sim.stats.evidence;
  const cases: [string, string[]][] = [
    // the state file through a linked folder, the report by the real one, and the reverse
    [join(dir, 'via', 'real.db'), ['--json', join(dir, 'data', 'real.db-wal')]],
    [join(dir, 'data', 'real.db'), ['--junit', join(dir, 'via', 'real.db-wal')]],
    // the state file is a link: its WAL is the real file's
    [join(dir, 'state.db'), ['--html', join(dir, 'data', 'real.db-wal')]],
    [join(dir, 'state.db'), ['--json', join(dir, 'via', 'real.db-shm')]],
    [join(dir, 'via', 'real.db'), ['--json', join(dir, 'data', 'real.db')]],
  ];
  for (const [state, extra] of cases) {
    const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--state', state, ...extra]);
    assert.equal(r.code, 2, `--state ${state} ${extra.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /error USAGE: --(json|junit|html) .* is the state file(\'s (write-ahead log|shared-memory index))?: writing the report there would destroy it/);
  }
  assert.equal(sim.stats.evidence, before, 'no evidence was requested');
});

test('a report that cannot be written is reported beside the others, which are written', (t) => {
  const dir = tempDir(t, 'vtpm-files-');
  const f = fleet(6);
  const spool = new ResultSpool(dir, {});
  t.after(() => spool.close());
  f.results.forEach((r, i) => spool.add(r, i));
  mkdirSync(join(dir, 'gone'));
  const files = { json: join(dir, 'gone', 'x.json'), junit: join(dir, 'ok.xml') };
  // the folder vanishes between the check and the write (a full disk fails the same way)
  rmSync(join(dir, 'gone'), { recursive: true });
  const failures = writeReports(files, f.run, summarize(f.results), spool);
  assert.deepEqual(failures.map((x) => [x.report, x.code]), [['json', 'IO_ERROR']]);
  assert.match(readFileSync(files.junit, 'utf8'), /<testsuites /);
});

test('--keep-history never prunes the run that just ran, however short the age; trust warnings quoting file names are terminal-safe', async (t) => {
  const { sim, dir, inventory, state } = await threeVms(t);
  // a trust folder with a file that is not a certificate, named to clear the screen
  const trust = join(dir, 'trust');
  cpSync(sim.trustDir, trust, { recursive: true });
  writeFileSync(join(trust, 'ak-ca', 'x\u001b[2J\u001b[31mRED.pem'), 'not a certificate');

  const [json, junit] = [join(dir, 'first.json'), join(dir, 'first.xml')];
  const first = await runCli(['audit', inventory, '--trust', trust, '--state', state, '--json', json, '--junit', junit]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stderr, /warning: .*x\\u001b\[2J\\u001b\[31mRED\.pem/);
  assert.doesNotMatch(first.stderr + first.stdout, /\u001b/);
  // the reports keep the warning: a skipped trust file is worth knowing when the report is read later
  const kept = (JSON.parse(readFileSync(json, 'utf8')) as { run: { warnings?: string[] } }).run.warnings ?? [];
  assert.equal(kept.length, 1, JSON.stringify(kept));
  assert.match(kept[0]!, /^trust: .*x\u001b\[2J\u001b\[31mRED\.pem/);
  if (haveXmllint(t)) {
    assertValidJunit(junit);
    assert.match(xpath(junit, 'string(/testsuites/testsuite/system-err)'), /^warning: trust: .*x\\u001b\[2J\\u001b\[31mRED\.pem/);
  }

  const second = await runCli(['audit', inventory, '--trust', trust, '--state', state, '--keep-history', '0s', '--json']);
  assert.equal(second.code, 0, second.stderr);
  const pruned = (second.json?.result as { state: { pruned: { results: number } } }).state.pruned;
  assert.equal(pruned.results, 3, "the first run's results, not this one's");
  const runs = await runCli(['history', '--runs', '--state', state, '--json']);
  const listed = (runs.json?.result as { runs: { recorded: number; planned: number }[] }).runs;
  assert.deepEqual(listed.map((r) => [r.recorded, r.planned]), [[3, 3]], 'this run kept whole; the first pruned with its last result');
});

test("a report the audit does not write is removed, so an earlier run's is not taken for this one's", async (t) => {
  const { sim, dir, inventory, state } = await threeVms(t);
  const files = { json: join(dir, 'a.json'), junit: join(dir, 'a.xml'), html: join(dir, 'a.html') };
  const reportArgs = ['--json', files.json, '--junit', files.junit, '--html', files.html];
  const first = await runCli(['audit', inventory, '--trust', sim.trustDir, ...reportArgs]);
  assert.equal(first.code, 0, first.stderr);
  for (const f of Object.values(files)) assert.ok(existsSync(f), f);

  // the state file is damaged: the audit cannot run (exit 3), and yesterday's green reports must not stay
  writeFileSync(state, 'not a database, but long enough for SQLite to look at its header'.repeat(20));
  const failed = await runCli(['audit', inventory, '--trust', sim.trustDir, '--state', state, ...reportArgs]);
  assert.equal(failed.code, 3, failed.stderr);
  assert.match(failed.stderr + failed.stdout, /STATE_CORRUPT/);
  for (const f of Object.values(files)) assert.equal(existsSync(f), false, `${f} removed`);
  assert.match(failed.stderr, /warning: removed .*a\.xml, a JUnit report this run did not write/);

  // an inventory that does not load (exit 2, after the report paths were checked) removes them too
  writeFileSync(files.junit, '<testsuites/>');
  const badInventory = join(dir, 'bad.yaml');
  writeFileSync(badInventory, 'vms: 7\n');
  const bad = await runCli(['audit', badInventory, '--trust', sim.trustDir, '--junit', files.junit]);
  assert.equal(bad.code, 2, bad.stderr);
  assert.equal(existsSync(files.junit), false);

  // a bad report path (exit 2 before anything) touches nothing: the file there may be anything
  writeFileSync(files.json, 'keep me');
  const usage = await runCli(['audit', inventory, '--trust', sim.trustDir, '--json', files.json, '--junit', join(dir, 'nodir', 'x.xml')]);
  assert.equal(usage.code, 2, usage.stderr);
  assert.equal(readFileSync(files.json, 'utf8'), 'keep me');
});

test('of the reports asked for, only those not written are removed; one already gone is no matter', (t) => {
  const dir = tempDir(t, 'vtpm-files-');
  const files = { json: join(dir, 'r.json'), junit: join(dir, 'r.xml'), html: join(dir, 'r.html') };
  writeFileSync(files.json, 'this run');
  writeFileSync(files.html, 'an earlier run');
  removeUnwrittenReports(files, new Set(['json']));
  assert.equal(readFileSync(files.json, 'utf8'), 'this run');
  assert.equal(existsSync(files.html), false);
  assert.equal(existsSync(files.junit), false);
});

test('a report another run renamed into place during this one, or one that appeared meanwhile, is not removed as an earlier run\'s', (t) => {
  const dir = tempDir(t, 'vtpm-files-');
  const files = { json: join(dir, 'r.json'), junit: join(dir, 'r.xml'), html: join(dir, 'r.html') };
  writeFileSync(files.json, 'an earlier run');
  writeFileSync(files.html, 'an earlier run');
  // what this run found when it checked its paths
  const found = reportFilesFound(files);
  // meanwhile a concurrent run (same paths) writes its JSON and JUnit reports, each renamed into place
  writeFileSync(join(dir, '.r.json.tmp'), 'the other run');
  renameSync(join(dir, '.r.json.tmp'), files.json);
  writeFileSync(files.junit, 'the other run');
  // this run fails before writing any
  removeUnwrittenReports(files, new Set(), found);
  assert.equal(readFileSync(files.json, 'utf8'), 'the other run');
  assert.equal(readFileSync(files.junit, 'utf8'), 'the other run');
  // the earlier run's HTML report, still the file found, is removed
  assert.equal(existsSync(files.html), false);
});

test('a process that exits before the command ends (a signal, a second signal) still removes the reports it did not write', (t) => {
  const dir = tempDir(t, 'vtpm-files-');
  const files = { json: join(dir, 'r.json'), junit: join(dir, 'r.xml') };
  writeFileSync(files.json, 'an earlier run');
  writeFileSync(files.junit, 'an earlier run');
  const mod = fileURLToPath(new URL('../../src/cli/audit-reports.js', import.meta.url));
  // what a signal handler does mid-command: process.exit, so no finally runs
  const script = `const { ReportGuard } = await import(${JSON.stringify(mod)});
const guard = new ReportGuard(${JSON.stringify(files)});
guard.written.add('junit');
process.exit(3);`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 3, r.stderr);
  assert.equal(existsSync(files.json), false, r.stderr);
  assert.match(r.stderr, /removed .*r\.json/);
  // the one it wrote stays
  assert.equal(readFileSync(files.junit, 'utf8'), 'an earlier run');
});

test('a spool that cannot be written mid-audit (a full $TMPDIR) does not stop the audit: every VM is attested, the reports that need the spool say why, exit 3', { skip: process.platform === 'win32' && 'no ulimit' }, async (t) => {
  // 40 VMs with HTML cards fill the spool's first 1 MiB write block while VMs are still being attested
  const { dir, inventory, sim } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 40 } }, 'vtpm-files-');
  const files = { junit: join(dir, 'a.xml'), html: join(dir, 'a.html') };
  // a file size limit of 256 KiB fails the spool's write as a full disk would (EFBIG; node ignores SIGXFSZ)
  const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--junit', files.junit, '--html', files.html, '--json'], { env: { TMPDIR: dir }, fileSizeLimitKiB: 256 });
  assert.doesNotMatch(r.stdout + r.stderr, /INTERNAL_ERROR/);
  assert.equal(r.code, 3, r.stderr);
  const envelope = JSON.parse(r.stdout) as { error: { code: string }; result: { summary: { total: number; trusted: number }; reportErrors: { report: string; message: string }[] } };
  assert.equal(envelope.error.code, 'IO_ERROR');
  assert.deepEqual([envelope.result.summary.total, envelope.result.summary.trusted], [40, 40], 'every VM was attested');
  assert.deepEqual(envelope.result.reportErrors.map((e) => e.report), ['html']);
  assert.match(envelope.result.reportErrors[0]!.message, /cannot write the HTML report .*a\.html: the results could not be spooled in .* \(TMPDIR\): EFBIG/);
  // the JUnit report of a fleet all trusted needs nothing read back from the spool
  assert.match(readFileSync(files.junit, 'utf8'), /<testsuites [^>]*tests="40"/);
  assert.equal(existsSync(files.html), false);
});

test('a report the file system takes only part of (a disk filling up, a file size limit) is IO_ERROR, not a truncated report under its name', { skip: process.platform === 'win32' && 'no ulimit' }, (t) => {
  // from a review: the report's writes ignored how much writeSync wrote, so a report of less than 64 KiB (one
  // write) on a disk with less room left was cut short without an error: `audit --json r.json` on a nearly full
  // disk exited 0 saying "JSON report: r.json" over 24 KiB of a 54 KB report. A file size limit makes the
  // kernel write short the same way (then EFBIG; node ignores SIGXFSZ).
  const dir = tempDir(t, 'vtpm-files-');
  const file = join(dir, 'r.json');
  writeFileSync(file, 'the last good report');
  const mod = fileURLToPath(new URL('../../src/cli/audit-reports.js', import.meta.url));
  const script = `const { writeReportFile } = await import(${JSON.stringify(mod)});
try {
  writeReportFile(${JSON.stringify(file)}, 'JSON report', ['{"results":[', '"${'a'.repeat(30_000)}"', ']}']);
  console.log('written');
} catch (err) {
  console.log(err.code + ': ' + err.message);
}`;
  // 16 KiB (ulimit -f counts 512-byte blocks in sh): less than the 30 KB report, written in one call
  const r = spawnSync('sh', ['-c', 'ulimit -f 32 && exec "$0" "$@"', process.execPath, '--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^IO_ERROR: cannot write the JSON report .*r\.json: EFBIG/);
  assert.equal(readFileSync(file, 'utf8'), 'the last good report', 'the earlier report is left whole');
  assert.deepEqual(readdirSync(dir), ['r.json'], 'no temporary file left');
});

test('a report write killed midway (SIGKILL) leaves .NAME.PID.tmp; the next audit writing that report removes it, and only leftovers of processes gone', async (t) => {
  const { dir, inventory, sim } = await fleetOnDisk(t, { topology: { hosts: 1, vmmsPerHost: 1, vmsPerVmm: 1 } }, 'vtpm-files-');
  const report = join(dir, 'r.json');
  // a process killed while it writes the report: its chunks block once the temporary file holds the first
  const mod = fileURLToPath(new URL('../../src/cli/audit-reports.js', import.meta.url));
  const script = `import { writeSync } from 'node:fs';
const { writeReportFile } = await import(${JSON.stringify(mod)});
function* chunks() {
  yield '{"results":[' + '"${'a'.repeat(70_000)}"';
  writeSync(1, 'writing\\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0); // blocks until killed
}
writeReportFile(${JSON.stringify(report)}, 'JSON report', chunks());`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line === 'writing') {
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error('the writer ended before it wrote')));
  });
  assert.equal(await exited, 'SIGKILL');
  const leftover = `.r.json.${child.pid}.tmp`;
  assert.ok(readdirSync(dir).includes(leftover), `the kill left ${leftover}: ${readdirSync(dir).join(', ')}`);
  // the next run comes later (a cron job): a leftover as old as STALE_TEMP_AGE_MS or older
  const old = new Date(Date.now() - STALE_TEMP_AGE_MS - 60_000);
  utimesSync(join(dir, leftover), old, old);

  // what must stay: the temporary file of a process alive (this one), another report's, a name not ours, a link
  const gone = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has ended
  const kept = [`.r.json.${process.pid}.tmp`, `.other.json.${child.pid}.tmp`, '.r.json.tmp', `.r.json.${child.pid}.tmp.bak`, `.r.json.x${child.pid}.tmp`];
  for (const name of kept) {
    writeFileSync(join(dir, name), 'not a leftover of a process gone');
    utimesSync(join(dir, name), old, old);
  }
  // a process gone by its PID here, but written just now: a writer in another PID namespace sharing the folder
  const recent = `.r.json.${gone}.tmp`;
  writeFileSync(join(dir, recent), 'a live writer of another PID namespace');
  const goneToo = spawnSync(process.execPath, ['-e', '']).pid!;
  symlinkSync(join(dir, 'elsewhere'), join(dir, `.r.json.${goneToo}.tmp`));
  kept.push(recent, `.r.json.${goneToo}.tmp`);

  const r = await runCli(['audit', inventory, '--trust', sim.trustDir, '--json', report]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(JSON.parse(readFileSync(report, 'utf8')).results.length, 1);
  const left = readdirSync(dir);
  assert.equal(left.includes(leftover), false, 'the killed write left its temporary file for good');
  for (const name of kept) assert.ok(left.includes(name), `${name} was removed`);
});

test('a link planted at a report\'s temporary name is not written through: the file it points to is left as it was', (t) => {
  const dir = tempDir(t, 'vtpm-files-');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'untouched\n');
  const file = join(dir, 'r.json');
  // in a shared folder, another user can plant links at every name .r.json.PID.tmp
  symlinkSync(victim, join(dir, `.r.json.${process.pid}.tmp`));
  writeReportFile(file, 'JSON report', ['{"results":[]}']);
  assert.equal(readFileSync(victim, 'utf8'), 'untouched\n', 'the report was written into the file the link names');
  assert.equal(readFileSync(file, 'utf8'), '{"results":[]}');
  assert.deepEqual(readdirSync(dir).sort(), ['r.json', 'victim']);
});

test('with --json, the removal of a report this run did not write is in the one envelope too: the result\'s warnings, or the error\'s details when there is no result', async (t) => {
  const { sim, dir, inventory, state } = await threeVms(t);
  const junit = join(dir, 'a.xml');
  const html = join(dir, 'a.html');
  const removed = (file: string, what: string) => new RegExp(`^removed .*${file.replace('.', '\\.')}, an? ${what} this run did not write`);

  // an inventory that does not load: exit 2 with its issues as the result; the removals join that result
  writeFileSync(junit, '<testsuites/>');
  writeFileSync(html, '<html>yesterday</html>');
  const badInventory = join(dir, 'bad.yaml');
  writeFileSync(badInventory, 'vms: 7\n');
  const bad = await runCli(['audit', badInventory, '--trust', sim.trustDir, '--junit', junit, '--html', html, '--json']);
  assert.equal(bad.code, 2, bad.stderr);
  const badEnvelope = JSON.parse(bad.stdout) as { ok: boolean; result: { valid: boolean; warnings?: string[] }; error: { code: string } };
  assert.deepEqual([badEnvelope.ok, badEnvelope.result.valid, badEnvelope.error.code], [false, false, 'INVENTORY_INVALID']);
  assert.equal(badEnvelope.result.warnings?.length, 2, bad.stdout);
  assert.match(badEnvelope.result.warnings![0]!, removed('a.xml', 'JUnit report'));
  assert.match(badEnvelope.result.warnings![1]!, removed('a.html', 'HTML report'));
  assert.match(bad.stderr, /warning: removed .*a\.xml, a JUnit report this run did not write/, 'stderr says it too, for people');
  assert.equal(existsSync(junit), false);

  // a failure with no result (the state file unusable): the removals go to the error's details, after what
  // loading the inventory's files warned about (a trust file that is not a certificate)
  const trust = join(dir, 'trust');
  cpSync(sim.trustDir, trust, { recursive: true });
  writeFileSync(join(trust, 'ak-ca', 'notes.pem'), 'not a certificate');
  writeFileSync(junit, '<testsuites/>');
  writeFileSync(state, 'not a database, but long enough for SQLite to look at its header'.repeat(20));
  const failed = await runCli(['audit', inventory, '--trust', trust, '--state', state, '--junit', junit, '--json']);
  assert.equal(failed.code, 3, failed.stderr);
  const failedEnvelope = JSON.parse(failed.stdout) as { result: unknown; error: { code: string; details: { warnings?: string[] } } };
  assert.deepEqual([failedEnvelope.result, failedEnvelope.error.code], [null, 'STATE_CORRUPT']);
  assert.equal(failedEnvelope.error.details.warnings?.length, 2, failed.stdout);
  assert.match(failedEnvelope.error.details.warnings![0]!, /^trust: .*notes\.pem/);
  assert.match(failedEnvelope.error.details.warnings![1]!, removed('a.xml', 'JUnit report'));
  assert.match(failed.stderr, /warning: trust: .*notes\.pem/);

  // report (merging shards) does the same: an input that is not there fails it, and the earlier merged report goes
  writeFileSync(junit, '<testsuites/>');
  const merge = await runCli(['report', join(dir, 'missing.json'), '--junit', junit, '--json']);
  assert.notEqual(merge.code, 0, merge.stderr);
  const mergeEnvelope = JSON.parse(merge.stdout) as { result: { warnings?: string[] } | null; error: { details: { warnings?: string[] } } };
  const mergeWarnings = mergeEnvelope.result?.warnings ?? mergeEnvelope.error.details.warnings;
  assert.equal(mergeWarnings?.length, 1, merge.stdout);
  assert.match(mergeWarnings![0]!, removed('a.xml', 'JUnit report'));
});
