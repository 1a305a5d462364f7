// V8 tiering for the long, hot runs of `audit`.
//
// A fleet audit runs the same few thousand functions for every VM, but a
// cron-driven audit of 1,000 VMs lasts only a few seconds, and with V8's
// default lazy tiering a large part of that is spent in the bytecode
// interpreter before the hot code is compiled: measured on a 2-core machine,
// the first 500 VMs of a fresh process cost about twice the CPU per VM of a
// warm process. Two flags shorten that warm-up: compile straight to
// baseline (Sparkplug) code instead of interpreting first, and allocate type
// feedback on first call so optimization can start sooner. bench/audit.bench.ts
// measures the audit with and without them.
//
// They are set at run time (node:v8 setFlagsFromString), before the audit's
// code first runs; they only change how V8 compiles, never what the code
// does. VTPM_NO_V8_TUNING=1 leaves V8's defaults alone.

import { setFlagsFromString } from 'node:v8';

export const AUDIT_V8_FLAGS = ['--always-sparkplug', '--no-lazy-feedback-allocation'] as const;

let applied = false;

/** Applies AUDIT_V8_FLAGS once per process, unless VTPM_NO_V8_TUNING is set; returns whether they are on. */
export function tuneV8ForAudit(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['VTPM_NO_V8_TUNING']) return applied;
  if (!applied) {
    for (const flag of AUDIT_V8_FLAGS) setFlagsFromString(flag);
    applied = true;
  }
  return applied;
}
