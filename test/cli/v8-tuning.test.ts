// The audit's V8 tiering flags (src/cli/v8-tuning.ts) take effect at run
// time, and VTPM_NO_V8_TUNING=1 leaves V8 alone: observed in a child process
// through V8's own optimization status (--allow-natives-syntax), on a
// function compiled after the call. Compilation is made synchronous in the
// child (--no-concurrent-recompilation) so the call count is deterministic.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../helpers/paths.js';
import { AUDIT_V8_MAJOR, tuneV8ForAudit } from '../../src/cli/v8-tuning.js';

const MODULE = join(REPO_ROOT, 'dist', 'src', 'cli', 'v8-tuning.js');

/** How many calls of a small hot function V8 makes before it runs TurboFan code, after tuneV8ForAudit(). */
function callsUntilOptimized(env: Record<string, string>): { applied: boolean; calls: number } {
  const script = `
    const { tuneV8ForAudit } = await import(${JSON.stringify(MODULE)});
    const applied = tuneV8ForAudit();
    const f = new Function('a', 'let s = 0; for (let i = 0; i < 50; i++) s += a * i; return s;');
    const turbofanned = new Function('f', 'return (%GetOptimizationStatus(f) & 64) !== 0');
    let calls = 0;
    while (calls < 100000 && !turbofanned(f)) f(calls++);
    console.log(JSON.stringify({ applied, calls }));`;
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--no-concurrent-recompilation', '--input-type=module', '-e', script], {
    env: { ...process.env, VTPM_NO_V8_TUNING: '', ...env },
    encoding: 'utf8',
  });
  return JSON.parse(out) as { applied: boolean; calls: number };
}

test('tuneV8ForAudit: a hot function is optimized after far fewer calls; VTPM_NO_V8_TUNING=1 keeps V8 defaults', () => {
  const tuned = callsUntilOptimized({});
  const defaults = callsUntilOptimized({ VTPM_NO_V8_TUNING: '1' });
  assert.equal(tuned.applied, true);
  assert.equal(defaults.applied, false);
  assert.ok(defaults.calls < 100000, 'optimized at all with V8 defaults');
  assert.ok(tuned.calls * 3 < defaults.calls, `TurboFan after ${tuned.calls} calls tuned, ${defaults.calls} with V8 defaults`);
});

test('tuneV8ForAudit leaves another V8 major version alone (the flags were measured on one)', () => {
  assert.equal(tuneV8ForAudit({}, `${AUDIT_V8_MAJOR + 1}.0.0`), false);
  assert.equal(tuneV8ForAudit({ VTPM_NO_V8_TUNING: '1' }), false);
});
