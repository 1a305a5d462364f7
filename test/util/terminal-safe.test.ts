// terminalSafe and terminalSafeJson: what a reader would not see is shown as
// an escape. Beyond the control, format and bidi characters, that includes the
// other default-ignorable code points, which terminals and browsers draw as
// nothing: "/usr/bin/ba\u034fsh" would print exactly like "/usr/bin/bash".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { terminalSafe, terminalSafeJson } from '../../src/util/terminal-safe.js';

// combining grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian and standard variation selectors,
// the halfwidth Hangul filler, and a variation selector past U+FFFF
const INVISIBLE: [string, string][] = [
  ['\u034f', '\\u034f'],
  ['\u115f', '\\u115f'],
  ['\u1160', '\\u1160'],
  ['\u17b4', '\\u17b4'],
  ['\u180b', '\\u180b'],
  ['\u3164', '\\u3164'],
  ['\ufe0f', '\\ufe0f'],
  ['\uffa0', '\\uffa0'],
  ['\u{e0100}', '\\u{e0100}'],
];

test('default-ignorable characters (drawn as nothing) are escaped: two different values never print alike', () => {
  for (const [c, shown] of INVISIBLE) {
    assert.equal(terminalSafe(`/usr/bin/ba${c}sh`), `/usr/bin/ba${shown}sh`, `U+${c.codePointAt(0)!.toString(16)}`);
    assert.notEqual(terminalSafe(`/usr/bin/ba${c}sh`), terminalSafe('/usr/bin/bash'));
  }
});

test('the escapes already promised stay, and visible text is left alone', () => {
  assert.equal(terminalSafe('a\u001b[2J\r\n\u009b\u202e\u200b\ufeff\u2028\ud800\u{e0041}'), 'a\\u001b[2J\\u000d\\u000a\\u009b\\u202e\\u200b\\ufeff\\u2028\\ud800\\u{e0041}');
  const visible = 'é ✓ ✗ – · → 😀 日本 한국어 ㄱ \u00a0 \\EFI\\BOOT';
  assert.equal(terminalSafe(visible), visible);
});

test('JSON text: default-ignorable characters become \\u escapes that parse back to the same string', () => {
  const value = { path: `/usr/bin/ba\u034fsh\ufe0f\u3164\u{e0100}`, ok: 'é ✓ 日本 한국어' };
  const text = terminalSafeJson(JSON.stringify(value));
  assert.doesNotMatch(text, /[\u034f\u3164\ufe0f]|\udb40\udd00/u);
  assert.match(text, /ba\\u034fsh\\ufe0f\\u3164\\udb40\\udd00/);
  assert.deepEqual(JSON.parse(text), value);
});

test('JSON text: the printable-ASCII shortcut skips nothing: one character to escape anywhere in a long ASCII text is escaped, each of C0, DEL, C1 and the unseen ones', () => {
  const ascii = JSON.stringify({ entries: Array.from({ length: 2000 }, (_, i) => ({ i, name: `/usr/lib/x86_64-linux-gnu/lib${i}.so`, hex: 'ab'.repeat(20) })) }, null, 2);
  assert.equal(terminalSafeJson(ascii), ascii);
  for (const [c, shown] of [['\u007f', '\\u007f'], ['\u009b', '\\u009b'], ['\u202e', '\\u202e'], ['\u034f', '\\u034f'], ['\u2028', '\\u2028'], ['\u{e0100}', '\\udb40\\udd00']] as const) {
    for (const at of [0, ascii.length >> 1, ascii.length]) {
      const text = `${ascii.slice(0, at)}${c}${ascii.slice(at)}`;
      assert.equal(terminalSafeJson(text), `${ascii.slice(0, at)}${shown}${ascii.slice(at)}`, `U+${c.codePointAt(0)!.toString(16)} at ${at}`);
    }
  }
  // visible non-ASCII (é, 日本) passes the shortcut's test and is left as it is
  const visible = `${ascii}"é 日本"`;
  assert.equal(terminalSafeJson(visible), visible);
});
