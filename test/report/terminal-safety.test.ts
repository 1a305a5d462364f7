// What vtpm-verify prints to a terminal from input it did not write (error
// messages quoting names and file names, failure codes, parser snippets) goes
// through terminalSafe: no escape sequence, C1 control or bidi override of a
// hostile report or server reaches the terminal raw. And a summary with any
// number of failure codes renders (no spread of a huge array into Math.max).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError } from '../../src/errors.js';
import { PLAIN, renderError } from '../../src/cli/output.js';
import { renderFailures } from '../../src/report/failures.js';
import { renderSummary, type AuditSummary } from '../../src/report/summary.js';

// ends in characters drawn as nothing (a combining grapheme joiner, a Hangul filler, a variation selector)
const HOSTILE = 'x\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\n✓ trusted\u034f\u3164\ufe0f';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u034f\u3164\ufe0f]/;

test('error messages and details are printed with control and bidi characters escaped', () => {
  const text = renderError(new ParseError('REPORT_MISMATCH', `the VM ${HOSTILE} is in two reports`, { file: HOSTILE, actual: HOSTILE, nested: { k: HOSTILE } }), PLAIN);
  assert.doesNotMatch(text, RAW);
  assert.match(text, /\\u001b\]0;pwned\\u0007/);
  // the hostile newline cannot fake a line of output
  assert.doesNotMatch(text, /^✓ trusted/m);
});

test('the failure list escapes the code as well as the name and message', () => {
  const lines = renderFailures([{ name: HOSTILE, target: HOSTILE, verdict: 'not-trusted', code: HOSTILE, layer: 0, message: HOSTILE, reason: HOSTILE, attempts: 1 }], PLAIN, false);
  assert.doesNotMatch(lines.join('\n'), RAW);
});

test('a summary with 150,000 distinct failure codes renders the 40 most frequent', () => {
  const failureCodes = Array.from({ length: 150_000 }, (_, i) => ({ code: `CODE_${i}${i === 7 ? HOSTILE : ''}`, count: 1 }));
  const s: AuditSummary = { total: 150_000, trusted: 0, notTrusted: 150_000, unreachable: 0, failureCodes, slowest: [], timing: null };
  const text = renderSummary(s, PLAIN);
  assert.match(text, /CODE_39 +1\n {2}\.\.\. and 149960 more codes/);
  assert.doesNotMatch(text, RAW);
});

test('eventlog: variable names and image paths from a log are printed escaped', async (t) => {
  const { EventLogWriter } = await import('../../src/eventlog/writer.js');
  const { EV } = await import('../../src/eventlog/event-types.js');
  const { GUID } = await import('../../src/eventlog/decode/guid.js');
  const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runCli } = await import('../helpers/cli.js');
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-ts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const w = new EventLogWriter({ banks: ['sha256'] });
  w.addVariable(7, EV.EFI_VARIABLE_DRIVER_CONFIG, GUID.EFI_GLOBAL_VARIABLE, `Secure${HOSTILE}`, Buffer.from([1]));
  w.addImageLoad(4, EV.EFI_BOOT_SERVICES_APPLICATION, { sha256: Buffer.alloc(32, 9) }, `\\EFI\\${HOSTILE}.efi`);
  writeFileSync(join(dir, 'log.bin'), w.toBytes());
  const r = await runCli(['eventlog', join(dir, 'log.bin')]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /Secure/);
  assert.doesNotMatch(r.stdout, RAW);
});

test('policy evaluate and explain: values from the facts and text from the policy are printed escaped', async () => {
  const { renderEvaluation } = await import('../../src/cli/actions/policy-render.js');
  const text = renderEvaluation(
    {
      policy: 'p',
      verdict: 'not-trusted',
      counts: { pass: 0, fail: 1, warn: 0, notApplicable: 0 },
      layers: [{ position: 0, uri: HOSTILE, kind: 'vm', ruleSets: [], verdict: 'not-trusted', rules: [{ id: 'r', status: 'fail', message: HOSTILE, code: 'C', expected: HOSTILE, actual: [HOSTILE] }] }],
      chain: [],
    } as unknown as Parameters<typeof renderEvaluation>[0],
    PLAIN,
    true,
  );
  assert.doesNotMatch(text, RAW);
});

test('watch: the closing summary escapes the first failure\'s reason and the error that ended the watch', async () => {
  const { renderSummary: renderWatchSummary } = await import('../../src/cli/actions/watch.js');
  const base = {
    target: 'https://vm.example',
    instance: null,
    platformPath: [],
    lastVerdict: 'not-trusted' as const,
    attestations: 1,
    byTrigger: { initial: 1, interval: 0, migration: 0 },
    failures: 1,
    notifications: 0,
    sourceChecks: 0,
    controllerAttestations: 0,
    coalescer: { coalesced: 0 },
    stateFile: 'w.db',
    signal: null,
  } as unknown as Parameters<typeof renderWatchSummary>[0];
  // an IMA path quoted by a policy rule: the VM chose it
  const failed = renderWatchSummary({ ...base, stoppedBy: 'failure', firstFailure: { target: HOSTILE, verdict: 'not-trusted', reason: `not in the allow-list (first: ${HOSTILE})` } }, undefined, PLAIN);
  assert.doesNotMatch(failed, RAW);
  assert.doesNotMatch(failed, /^✓ trusted/m);
  const errored = renderWatchSummary({ ...base, stoppedBy: 'error', firstFailure: null }, HOSTILE, PLAIN);
  assert.doesNotMatch(errored, RAW);
});

test('verify and watch: trust-store warnings (file names, untrusted intermediates) are printed escaped', async (t) => {
  const { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { runCli } = await import('../helpers/cli.js');
  const { startSimulator } = await import('../../src/simulator/start.js');
  const sim = await startSimulator({ topology: { layers: 2 } });
  const dir = mkdtempSync(join(tmpdir(), 'vtpm-ts-'));
  t.after(async () => {
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const bundle = join(dir, 'b.json');
  assert.equal((await runCli(['attest', sim.topUrl, '--trust', sim.trustDir, '--save', bundle, '--json'])).code, 0);
  // an "intermediate" whose notBefore holds a C1 CSI: the time error quotes it (JSON.stringify keeps C1 as it is)
  const caDir = join(sim.trustDir, 'ak-ca');
  const pem = readFileSync(join(caDir, readdirSync(caDir)[0]!), 'latin1');
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
  const time = der.indexOf(Buffer.from([0x17, 0x0d]));
  der[time + 2] = 0x9b;
  const bad = join(dir, `x\u001b]0;pwned\u0007.der`);
  writeFileSync(bad, der);
  const verify = await runCli(['verify', bundle, '--trust', sim.trustDir, '--intermediates', bad]);
  assert.equal(verify.code, 0, verify.stderr);
  assert.match(verify.stderr, /^warning: trust: .*\\u001b\]0;pwned\\u0007\.der: .*time "\\u009b/m);
  assert.doesNotMatch(verify.stderr, RAW);
  // the state file is a folder: watch stops after the warnings
  const watch = await runCli(['watch', sim.topUrl, '--trust', sim.trustDir, '--intermediates', bad, '--state', dir]);
  assert.notEqual(watch.code, 0);
  assert.match(watch.stderr, /^warning: trust: /m);
  assert.doesNotMatch(watch.stderr, RAW);
});

test('certs: names, check messages and trust-store problems are printed escaped', async () => {
  const { makeChain, tempDir, writeTemp } = await import('../helpers/pki.js');
  const { runCli } = await import('../helpers/cli.js');
  // RFC 4514 escaping of names leaves bidi marks (RLM, ALM) as they are
  const chain = await makeChain({ leaf: { subject: 'CN=ak\u200f\u061cx' } });
  const dir = tempDir('vtpm-ts-');
  const root = writeTemp(dir, 'root.pem', chain.root.pem);
  const leaf = writeTemp(dir, 'leaf.pem', chain.leaf.pem + chain.intermediate.pem);
  // an untrusted intermediate whose notBefore holds a C1 CSI
  const der = Buffer.from(chain.intermediate.der);
  der[der.indexOf(Buffer.from([0x17, 0x0d])) + 2] = 0x9b;
  const bad = writeTemp(dir, 'bad.der', der);
  const r = await runCli(['certs', leaf, '--trust', root, '--intermediates', bad, '--at', '2025-06-01', '--verbose']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /CN=ak\\u200f\\u061cx/);
  assert.match(r.stdout, /trust store: CERT_BAD_TIME: .*\\u009b/);
  assert.doesNotMatch(r.stdout, RAW);
  assert.doesNotMatch(r.stdout, /[\u200f\u061c]/);
});

test('text a reader would not see is shown: zero-width characters, BOM, soft hyphen and TAG characters past U+FFFF', async () => {
  const { terminalSafe } = await import('../../src/util/terminal-safe.js');
  // "/usr/bin/tool" followed by hidden TAG text ("AB"), a zero-width space and joiner, a BOM
  assert.equal(terminalSafe('/usr/bin/tool\u{e0041}\u{e0042}\u200b\u200d\ufeff\u00ad'), '/usr/bin/tool\\u{e0041}\\u{e0042}\\u200b\\u200d\\ufeff\\u00ad');
  assert.equal(terminalSafe('é ✓ 😀 \u00a0 日本'), 'é ✓ 😀 \u00a0 日本', 'visible text, emoji included, is left as it is');
  assert.equal(terminalSafe(HOSTILE).includes('\u001b'), false);
  // an unpaired surrogate would print as U+FFFD: two such names would look alike
  assert.equal(terminalSafe('x\ud800 x\udfff x\ud83d\ude00'), 'x\\ud800 x\\udfff x\ud83d\ude00');
});

/** `attest URL --trust ROOT ...extra` against a real endpoint on 127.0.0.1 answering 500 with `serverError`. */
async function attestFailingServer(t: import('node:test').TestContext, serverError: string, extra: string[]) {
  const { createServer } = await import('node:http');
  const { makeChain, tempDir, writeTemp } = await import('../helpers/pki.js');
  const { runCli } = await import('../helpers/cli.js');
  const server = createServer((_req, res) => {
    res.writeHead(500, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: serverError }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as import('node:net').AddressInfo;
  const chain = await makeChain();
  const root = writeTemp(tempDir('vtpm-ts-'), 'root.pem', chain.root.pem);
  return runCli(['attest', `http://127.0.0.1:${port}/vm`, '--trust', root, ...extra]);
}

test('attest --ear: server text in the printed EAR (the reason) has its bidi, zero-width and TAG characters \\u escaped, and parses back the same', async (t) => {
  // a real endpoint on 127.0.0.1 whose error message would show "evil" reversed and hide text
  const serverError = 'down \u202eevil\u202c\u200b\u{e0041}\u{e0042}';
  const r = await attestFailingServer(t, serverError, ['--ear']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /[\u202a-\u202e\u2066-\u2069\u200b-\u200f\u{e0000}-\u{e007f}]/u, r.stdout);
  assert.match(r.stdout, /down \\u202eevil\\u202c\\u200b\\udb40\\udc41\\udb40\\udc42/);
  const ear = JSON.parse(r.stdout) as { 'vtpm-verify.result': { reason: string } };
  assert.ok(ear['vtpm-verify.result'].reason.includes(serverError), ear['vtpm-verify.result'].reason);
});

test('attest --json: the envelope on stdout has the bidi, zero-width and TAG characters of server text \\u escaped, and parses back the same', async (t) => {
  // JSON.stringify leaves these raw (C1 controls the server-text sanitizer turns into spaces already)
  const serverError = 'down \u202eevil\u202c\u200b\u{e0041}';
  const r = await attestFailingServer(t, serverError, ['--json']);
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /[\u0080-\u009f\u202a-\u202e\u2066-\u2069\u200b-\u200f\u{e0000}-\u{e007f}]/u, r.stdout);
  assert.match(r.stdout, /\\u202eevil\\u202c\\u200b\\udb40\\udc41/);
  assert.ok(JSON.stringify(JSON.parse(r.stdout)).includes(JSON.stringify(serverError).slice(1, -1)), 'the same text once parsed');
});
