// Policy patterns are matched against values the attester chooses. Alternatives
// inside a repetition that can match the same text, (.|\s)* say, backtrack
// exponentially although their star height is 1, which safe-regex2 tests:
// ro(.|\s)*quiet against "ro" and 30 spaces took 12 s in `policy evaluate`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPolicy } from '../../src/policy/load.js';
import { hasAmbiguousRepeatedAlternation } from '../../src/policy/regex-ambiguity.js';

function policyWith(pattern: string): string {
  return [
    'apiVersion: vtpm-verify/v1',
    'name: p',
    'layers:',
    '  - name: vm',
    '    select: { position: 0 }',
    '    eventLog:',
    '      kernelCmdlines:',
    `        patterns: [${JSON.stringify(pattern)}]`,
    '',
  ].join('\n');
}

test('a pattern whose repeated alternatives can match the same text is refused at load, where it stands', () => {
  for (const pattern of ['ro(.|\\s)*quiet', '(\\w|\\d)+', 'x(a|aa)*', '(?:[a-z]|x){0,40}', '((a|b)|a)*']) {
    const { policy, issues } = checkPolicy(policyWith(pattern), { path: 'p.yaml' });
    assert.equal(policy, undefined, pattern);
    assert.equal(issues.length, 1, pattern);
    assert.equal(issues[0]!.code, 'POLICY_REGEX');
    assert.equal(`${issues[0]!.line}:${issues[0]!.column}`, '8:20');
    assert.match(issues[0]!.message, /exponential time on a crafted value \(alternatives inside a repetition that can match the same text/);
  }
});

test('alternatives that exclude each other, or are not repeated, are accepted', () => {
  for (const pattern of [
    '( quiet| splash)*', // told apart by their second character
    '(foo|bar|baz)+',
    '([a-z]|[0-9])+',
    '(\\S|\\s)*',
    '(a|a)',
    '(a|aa){1}',
    'console=ttyS0 root=UUID=[0-9a-f-]+ ro( quiet)?',
    '/tmp/.*',
  ]) {
    assert.equal(hasAmbiguousRepeatedAlternation(pattern), false, pattern);
    const { policy, issues } = checkPolicy(policyWith(pattern), { path: 'p.yaml' });
    assert.deepEqual(issues, [], pattern);
    assert.ok(policy, pattern);
  }
});
