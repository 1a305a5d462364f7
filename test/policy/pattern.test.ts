// What README's "Patterns" bullet says of RE2 against JavaScript's RegExp, on
// the engine the policy uses: each claim, and the common syntax that differs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patternProblem, wholeMatch } from '../../src/policy/pattern.js';

const js = (p: string, v: string): boolean => new RegExp(`^(?:${p})$`, 'u').test(v);

test('patterns: the differences from RegExp that README lists', () => {
  for (const p of ['(a)\\1', '(?=a)a', '(?!a)b', '(?<=a)b', '(?<!a)b', '\\u00e9']) assert.match(patternProblem(p) ?? '', /not a valid RE2 pattern/, p);
  for (const v of ['\v', '\u00a0', '\ufeff', '\u2028', '\u3000']) {
    assert.equal(wholeMatch('\\s').test(v), false, JSON.stringify(v));
    assert.equal(wholeMatch('\\S').test(v), true, JSON.stringify(v));
    assert.equal(js('\\s', v), true, JSON.stringify(v));
  }
  for (const v of ['\r', '\u2028', '\u2029']) {
    assert.equal(wholeMatch('.').test(v), true, JSON.stringify(v));
    assert.equal(js('.', v), false, JSON.stringify(v));
  }
  assert.equal(wholeMatch('console=ttyS0.*').test('console=ttyS0\r init=/bin/sh'), true);
  assert.equal(wholeMatch('.').test('\n'), false);
  for (const [p, v] of [['\\d', '\u0663'], ['\\w', 'é'], ['a\\b', 'a']] as const) assert.equal(wholeMatch(p).test(v), js(p, v), p);
  assert.equal(wholeMatch('\\x{e9}').test('é'), true);
  assert.equal(wholeMatch('(?i)quiet').test('QUIET'), true);
  assert.equal(wholeMatch('[[:alpha:]]+').test('abc'), true);
  assert.equal(wholeMatch('\\pL\\p{Greek}').test('éα'), true);
  // whole value, whatever the anchors, alternations and flags inside
  for (const [p, v, want] of [
    ['a|b', 'ab', false], ['a|', '', true], ['^a$', 'a', true], ['(?m)a$', 'a\nb', false], ['(?m)^b', 'a\nb', false], ['\\Aa\\z|b', 'ab', false],
    ['.', '😀', true], ['..', '😀', false], ['\\Qa.b', 'a.b', true], ['\\Qa.b', 'axb', false],
  ] as const) assert.equal(wholeMatch(p).test(v), want, `${p} on ${JSON.stringify(v)}`);
});
