// The policy commands, run as users run them: exit codes, --json envelopes,
// and the init → check → evaluate round trip on files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { factsToJson } from '../../src/policy/evidence-json.js';
import { toJsonText } from '../../src/cli/output.js';
import { NOW, chain, sha256 } from './fixtures.js';

function tmp(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-policy-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const factsText = (layers = chain()) => toJsonText(factsToJson({ layers, now: NOW }));

test('policy check: the example policies are valid (exit 0)', async () => {
  const r = await runCli(['policy', 'check', 'policies/production.yaml', 'policies/lab.yaml', 'policies/ci-gate.yaml', 'policies/demo.yaml', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json?.ok, true);
  assert.deepEqual(r.json?.result.files.map((f: { valid: boolean }) => f.valid), [true, true, true, true]);
  assert.deepEqual(r.json?.result.files[0].includes, ['policies/golden/web-vm-pcrs.yaml', 'policies/golden/web-vm-boot-apps.yaml', 'policies/golden/web-vm-ima.json']);
});

test('policy check: an invalid policy exits 2 listing every error with file:line:column', async (t) => {
  const dir = tmp(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, 'apiVersion: vtpm-verify/v1\nname: bad\nchain:\n  maxDepht: 3\nlayers:\n  - name: vm\n    pcr: {}\n');
  const human = await runCli(['policy', 'check', bad, 'policies/demo.yaml']);
  assert.equal(human.code, 2);
  assert.match(human.stdout, new RegExp(`${bad}:4:3 POLICY_UNKNOWN_KEY chain: unknown key "maxDepht" \\(did you mean "maxDepth"\\?\\)`));
  assert.match(human.stdout, new RegExp(`${bad}:7:5 POLICY_UNKNOWN_KEY layers\\[0\\]: unknown key "pcr" \\(did you mean "pcrs"\\?\\)`));
  assert.match(human.stdout, /valid policies\/demo\.yaml/);
  const json = await runCli(['policy', 'check', bad, '--json']);
  assert.equal(json.code, 2);
  assert.equal(json.json?.error?.code, 'POLICY_INVALID');
  assert.deepEqual(
    json.json?.result.files[0].issues.map((i: { line: number; column: number; code: string }) => [i.line, i.column, i.code]),
    [
      [4, 3, 'POLICY_UNKNOWN_KEY'],
      [7, 5, 'POLICY_UNKNOWN_KEY'],
    ],
  );
  const missing = await runCli(['policy', 'check', join(dir, 'nope.yaml'), '--json']);
  assert.equal(missing.code, 2);
  assert.equal(missing.json?.error?.code, 'FILE_UNREADABLE');
});

test('policy explain: what a policy demands, layer by layer; the baseline too', async () => {
  const r = await runCli(['policy', 'explain', 'policies/production.yaml']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /web-vm: layer 0 \(the top: the VM\)/);
  assert.match(r.stdout, /physical-host: the lowest layer/);
  assert.match(r.stdout, /every measured file must be in an allow-list of 4 path\(s\)/);
  assert.match(r.stdout, /the TPM manufacturer must be IFX \(id:49465800\)/);
  // patterns as written in the policy (not counted only, not JSON-escaped)
  assert.ok(r.stdout.includes('must match one of 1 pattern(s) ("/boot/vmlinuz-6\\.8\\.0-[0-9]+-generic root=UUID=[0-9a-f-]{36} ro console=ttyS0( quiet)?")'), r.stdout);
  assert.ok(r.stdout.includes('except paths matching "/tmp/.*", "/var/lib/apt/lists/.*"'), r.stdout);
  const baseline = await runCli(['policy', 'explain', '--baseline', '--json']);
  assert.equal(baseline.code, 0);
  assert.equal(baseline.json?.result.name, 'baseline');
  const both = await runCli(['policy', 'explain', 'policies/demo.yaml', '--baseline', '--json']);
  assert.equal(both.code, 2);
  assert.equal(both.json?.error?.code, 'USAGE');
});

test('policy schema prints exactly policies/schema.json', async () => {
  const r = await runCli(['policy', 'schema']);
  assert.equal(r.code, 0);
  assert.equal(r.stdout, readFileSync(join(REPO_ROOT, 'policies', 'schema.json'), 'utf8'));
  const md = await runCli(['policy', 'schema', '--markdown']);
  assert.match(md.stdout, /^\| key \| type \| default \| meaning \| example \|/);
});

test('policy init → check → evaluate: the golden policy accepts its evidence and rejects a changed boot application or IMA file', async (t) => {
  const dir = tmp(t);
  const facts = join(dir, 'known-good.json');
  writeFileSync(facts, factsText());
  const out = join(dir, 'golden.yaml');
  const init = await runCli(['policy', 'init', '--from', facts, '-o', out, '--json']);
  assert.equal(init.code, 0, init.stderr);
  assert.deepEqual(init.json?.result.written, [join(dir, 'golden.layer0-ima.json'), out]);
  assert.match(readFileSync(out, 'utf8'), /# boot application, PCR 4/);

  const check = await runCli(['policy', 'check', out]);
  assert.equal(check.code, 0, check.stdout);

  const ok = await runCli(['policy', 'evaluate', out, '--facts', facts, '--json']);
  assert.equal(ok.code, 0, ok.stdout);
  assert.equal(ok.json?.result.verdict, 'trusted');
  // --now: an ISO 8601 time with a zone, or a date; one that does not exist is refused, not rolled over
  assert.equal((await runCli(['policy', 'evaluate', out, '--facts', facts, '--now', '2026-11-26T12:00:00Z'])).code, 0);
  for (const bad of ['2026-02-30', '2026-11-26T24:00:00Z', 'Nov 26 2026', '2026-11-26T12:00:00']) {
    const r = await runCli(['policy', 'evaluate', out, '--facts', facts, '--now', bad, '--json']);
    assert.equal(r.code, 2, bad);
    assert.equal(r.json?.error?.code, 'USAGE', bad);
  }

  const boot = chain();
  boot[0]!.eventLog!.bootApplications[0]!.digests.sha256 = sha256('another shim');
  writeFileSync(join(dir, 'boot.json'), factsText(boot));
  const r1 = await runCli(['policy', 'evaluate', out, '--facts', join(dir, 'boot.json'), '--json']);
  assert.equal(r1.code, 1);
  assert.equal(r1.json?.error?.code, 'POLICY_NOT_TRUSTED');
  assert.deepEqual(r1.json?.error?.details.failed, ['layer[0].eventLog.bootApplications.allowed']);

  const ima = chain();
  ima[0]!.ima!.entries[2]!.digest = sha256('libc patched');
  writeFileSync(join(dir, 'ima.json'), factsText(ima));
  const r2 = await runCli(['policy', 'evaluate', out, '--facts', join(dir, 'ima.json')]);
  assert.equal(r2.code, 1);
  assert.match(r2.stdout, /NOT TRUSTED under policy golden/);
  assert.match(r2.stdout, /FAIL layer\[0\]\.ima\.allowList \(layer-0\): 1 file\(s\) with a digest the allow-list does not give \(first: \/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6\) \[POLICY_IMA_DIGEST\]/);

  const again = await runCli(['policy', 'init', '--from', facts, '-o', out, '--json']);
  assert.equal(again.code, 2);
  assert.equal(again.json?.error?.code, 'USAGE');
  assert.equal((await runCli(['policy', 'init', '--from', facts, '-o', out, '--force'])).code, 0);
});

test('policy init -o that cannot be a file is bad usage (exit 2) before any work, as attest --save', async (t) => {
  const dir = tmp(t);
  const facts = join(dir, 'f.json');
  writeFileSync(facts, factsText());
  mkdirSync(join(dir, 'a-folder'));
  const fifo = join(dir, 'pipe.yaml');
  if (process.platform !== 'win32') execFileSync('mkfifo', [fifo]);
  const cases: [string, RegExp][] = [
    ['', /--output: the file name is empty/],
    [join(dir, 'a-folder'), /is a folder/],
    [join(dir, 'no-such-folder', 'golden.yaml'), /does not exist/],
    ...(process.platform !== 'win32' ? ([[fifo, /is not a regular file/]] as [string, RegExp][]) : []),
  ];
  for (const [out, message] of cases) {
    // --force: an existing folder or FIFO is not a policy to overwrite
    const r = await runCli(['policy', 'init', '--from', facts, '-o', out, '--force', '--json'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, `${out}: ${r.stdout}${r.stderr}`);
    assert.equal(r.json?.error?.code, 'USAGE', out);
    assert.match(r.json?.error?.message ?? '', message);
  }
});

test('policy init without -o prints the policy; raw evidence and bad facts are refused', async (t) => {
  const dir = tmp(t);
  const facts = join(dir, 'f.json');
  writeFileSync(facts, factsText());
  const r = await runCli(['policy', 'init', '--from', facts, '--name', 'web']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# Golden policy generated by `vtpm-verify policy init` from f\.json/);
  assert.match(r.stdout, /\nname: "web"\n/);
  assert.ok(!existsSync(join(dir, 'golden.yaml')));
  // a name the policy language refuses is bad usage (exit 2), not an internal error
  const badName = await runCli(['policy', 'init', '--from', facts, '--name', 'web prod', '--json']);
  assert.equal(badName.code, 2, badName.stderr);
  assert.equal(badName.json?.error?.code, 'USAGE');
  assert.match(badName.json?.error?.message ?? '', /--name "web prod"/);

  const raw = join(dir, 'evidence.json');
  writeFileSync(raw, JSON.stringify({ version: 1, quote: { message: 'AA==', signature: 'AA==' }, pcrs: {} }));
  const refused = await runCli(['policy', 'init', '--from', raw, '--json']);
  assert.equal(refused.code, 2);
  assert.match(refused.json?.error?.message ?? '', /raw evidence/);

  writeFileSync(join(dir, 'bad.json'), '{"layers": [{"position": 0}]}');
  const bad = await runCli(['policy', 'evaluate', 'policies/demo.yaml', '--facts', join(dir, 'bad.json'), '--json']);
  assert.equal(bad.code, 2);
  assert.equal(bad.json?.error?.code, 'POLICY_FACTS_INVALID');
  assert.equal(bad.json?.error?.details.issues[0].line, 1);
});

test('policy init from facts holding what a policy cannot state (a trust label the language refuses): POLICY_INIT_UNREPRESENTABLE, exit 2, nothing written', async (t) => {
  const dir = tmp(t);
  const layers = chain();
  layers[0]!.certificate.anchor = { ...layers[0]!.certificate.anchor!, label: '__proto__', vouchesFor: '__proto__' };
  const facts = join(dir, 'odd.json');
  writeFileSync(facts, factsText(layers));
  const out = join(dir, 'p.yaml');
  const r = await runCli(['policy', 'init', '--from', facts, '-o', out, '--json']);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.equal(r.json?.error?.code, 'POLICY_INIT_UNREPRESENTABLE');
  assert.match(r.json?.error?.message, /odd\.json: the facts hold what a policy cannot state, so no policy was written/);
  assert.ok(Array.isArray(r.json?.error?.details?.issues) && r.json.error.details.issues.length > 0);
  assert.equal(existsSync(out), false);
});
