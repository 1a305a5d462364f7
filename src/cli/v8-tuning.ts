// V8 tiering for the short, hot runs of `audit`.
//
// A fleet audit runs the same few thousand functions for every VM, but a
// cron-driven audit of 1,000 VMs lasts only a few seconds. With V8's defaults
// much of that goes to warm-up: the first VMs run in the interpreter, and the
// optimizing compiler (TurboFan) then rebuilds ~350 functions with deep
// inlining on the second core, which the attested machines' agents (or, in
// the benchmark, the simulator) need too. Measured on the 2-core machine of
// bench/audit.bench.ts, a fresh process spends ~3.6 ms of JS-thread CPU per VM
// over 1,000 VMs against ~2.4 ms once warm.
//
// Two flags shorten the warm-up: a smaller interrupt budget, so hot functions
// are optimized after less interpretation, and a smaller cumulative inlining
// budget, so each optimization compiles less. In interleaved A/B runs (10
// rounds, 1,000 VMs) they gave +12% VMs/s in 9 rounds of 10 and ~8% less CPU
// per VM; at 10,000 VMs they were no slower. bench/audit.bench.ts measures the
// audit with and without them in the same run.
//
// They are set at run time (node:v8 setFlagsFromString) before the audit's
// hot code first runs. They only change when and how much V8 optimizes,
// never what the code does. VTPM_NO_V8_TUNING=1 leaves V8's defaults alone,
// and so does any V8 other than the one they were measured on (11.x, Node
// 20): later ones tier differently (Maglev) and may not know the flags.

import { setFlagsFromString } from 'node:v8';

export const AUDIT_V8_FLAGS = ['--interrupt-budget=8192', '--max-inlined-bytecode-size-cumulative=400'] as const;
/** The V8 major version the flags were measured on. */
export const AUDIT_V8_MAJOR = 11;

let applied = false;

/** Applies AUDIT_V8_FLAGS once per process, unless VTPM_NO_V8_TUNING is set or V8 is another major version; returns whether they are on. */
export function tuneV8ForAudit(env: NodeJS.ProcessEnv = process.env, v8Version: string = process.versions.v8): boolean {
  if (env['VTPM_NO_V8_TUNING'] || Number.parseInt(v8Version, 10) !== AUDIT_V8_MAJOR) return applied;
  if (!applied) {
    for (const flag of AUDIT_V8_FLAGS) setFlagsFromString(flag);
    applied = true;
  }
  return applied;
}
