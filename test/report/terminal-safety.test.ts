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

const HOSTILE = 'x\u001b]0;pwned\u0007\u001b[2J\u009b31m\u202eevil\n✓ trusted';
const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

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
