// The audit's V8 tiering flags (src/cli/v8-tuning.ts) take effect at run
// time, and VTPM_NO_V8_TUNING=1 leaves V8 alone: observed in a child process
// through V8's own tier query (--allow-natives-syntax), on a function
// compiled after the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';

const MODULE = join(REPO_ROOT, 'dist', 'src', 'cli', 'v8-tuning.js');

function tierAfterTuning(env: Record<string, string>): { applied: boolean; sparkplug: boolean } {
  const script = `
    const { tuneV8ForAudit } = await import(${JSON.stringify(MODULE)});
    const applied = tuneV8ForAudit();
    const f = new Function('a', 'return a + 1');
    f(1);
    console.log(JSON.stringify({ applied, sparkplug: eval('%ActiveTierIsSparkplug(f)') }));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { env: { ...process.env, VTPM_NO_V8_TUNING: '', ...env }, encoding: 'utf8' });
  return JSON.parse(out) as { applied: boolean; sparkplug: boolean };
}

test('tuneV8ForAudit: a function first called after it runs as baseline (Sparkplug) code at once', () => {
  assert.deepEqual(tierAfterTuning({}), { applied: true, sparkplug: true });
});

test('VTPM_NO_V8_TUNING=1 keeps V8 defaults: the same function is still interpreted', () => {
  assert.deepEqual(tierAfterTuning({ VTPM_NO_V8_TUNING: '1' }), { applied: false, sparkplug: false });
});
