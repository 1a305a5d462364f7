// A watcher over the real parts: the simulated platform with its Migration
// Controller on 127.0.0.1, live deep attestations through a real SQLite state
// file, the real notification stream. Only the interval is the test's: it
// fires when the test calls tick(). Reconnection backoff is immediate.
// Waits are on lines the watcher prints, never on time.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createWatchDeps } from '../../src/cli/actions/watch.js';
import { setupVerifier } from '../../src/cli/verifier-setup.js';
import { loadPolicy } from '../../src/policy/index.js';
import { openState, type StateStore } from '../../src/state/index.js';
import { SCENARIO_TOPOLOGY, startScenario, type ScenarioRun } from '../../src/simulator/scenarios.js';
import { startSimulator, type RunningSimulator, type StartSimulatorOptions } from '../../src/simulator/start.js';
import { EvidenceClient } from '../../src/transport/evidence-client.js';
import type { WatchLine } from '../../src/watch/lines.js';
import { watch, type WatchDeps, type WatchOptions, type WatchOutcome } from '../../src/watch/watcher.js';
import { tempDir } from '../state/tmp.js';

export class LineLog {
  readonly lines: WatchLine[] = [];
  private readonly waiters: { cond: () => boolean; resolve: () => void }[] = [];

  push = (line: WatchLine): void => {
    this.lines.push(line);
    for (const w of [...this.waiters]) {
      if (w.cond()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };

  of<T extends WatchLine['type']>(type: T): Extract<WatchLine, { type: T }>[] {
    return this.lines.filter((l): l is Extract<WatchLine, { type: T }> => l.type === type);
  }

  /** Resolves once a printed line makes `cond` true. */
  until(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ cond, resolve }));
  }

  /**
   * Resolves with the n-th (1-based) attested line once printed and the lines
   * that follow it (migrated, source, finding) too: the watcher prints them
   * without I/O in between, so one turn of the event loop later they are all out.
   */
  async attested(n: number): Promise<Extract<WatchLine, { type: 'attested' }>> {
    await this.until(() => this.of('attested').length >= n);
    await new Promise((r) => setImmediate(r));
    return this.of('attested')[n - 1]!;
  }

  /** Like until(), then one turn of the event loop for the lines that follow. */
  async settled(cond: () => boolean): Promise<void> {
    await this.until(cond);
    await new Promise((r) => setImmediate(r));
  }
}

export interface LiveWatch {
  sim: RunningSimulator;
  run: ScenarioRun;
  store: StateStore;
  stateFile: string;
  lines: LineLog;
  /** fires the interval: the watcher asks for an attestation */
  tick(): Promise<void>;
  /** attestations in flight at most, measured around the real attest */
  readonly maxInFlight: number;
  /** attestations of the VM asked for */
  readonly attestCalls: number;
  stop(): Promise<WatchOutcome>;
}

export async function liveWatch(
  t: TestContext,
  scenario: string,
  options: { policyYaml?: string; controllerPolicyYaml?: string; sim?: Partial<StartSimulatorOptions>; watch?: Partial<WatchOptions>; wrap?: (deps: WatchDeps) => WatchDeps } = {},
): Promise<LiveWatch> {
  const dir = tempDir(t);
  const sim = await startSimulator({ topology: SCENARIO_TOPOLOGY, migrationController: true, ...options.sim });
  t.after(() => sim.close());
  const run = startScenario(scenario, sim.migrations!);
  const stateFile = join(dir, 'state.db');
  const store = await openState(stateFile);
  let policy: string | undefined;
  if (options.policyYaml) writeFileSync((policy = join(dir, 'policy.yaml')), options.policyYaml);
  const setup = await setupVerifier({ trust: [sim.trustDir], ...(policy ? { policy } : {}) });
  const client = new EvidenceClient({ timeoutMs: 15_000 });
  const lines = new LineLog();
  const ticks: (() => void)[] = [];
  let tickWaiter: (() => void) | null = null;
  const controllerPolicy = options.controllerPolicyYaml ? { policy: loadPolicy(options.controllerPolicyYaml, { path: '<controller policy>' }), source: { source: 'test', builtin: false } } : undefined;
  const real = await createWatchDeps({ url: sim.topUrl, setup, client, store, controllerPolicy, emit: lines.push, stream: { sleep: async () => {}, random: () => 0 } });
  let inFlight = 0;
  const live = {
    maxInFlight: 0,
    attestCalls: 0,
  };
  let deps: WatchDeps = {
    ...real,
    attest: async (input) => {
      live.attestCalls++;
      live.maxInFlight = Math.max(live.maxInFlight, ++inFlight);
      try {
        return await real.attest(input);
      } finally {
        inFlight--;
      }
    },
    sleep: (_ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
        ticks.push(resolve);
        tickWaiter?.();
      }),
  };
  if (options.wrap) deps = options.wrap(deps);
  const ac = new AbortController();
  const migration = setup.policy.spec.migration;
  const done = watch(
    {
      target: sim.topUrl,
      intervalMs: 60_000,
      exitOnFailure: false,
      reattestOnNotification: migration.reattestOnNotification,
      requireTrustedController: migration.requireTrustedController,
      ...options.watch,
    },
    deps,
    ac.signal,
  );
  let stopped: Promise<WatchOutcome> | null = null;
  const stop = (): Promise<WatchOutcome> => {
    if (!stopped) {
      ac.abort();
      stopped = done.finally(() => {
        client.close();
        store.close();
      });
    }
    return stopped;
  };
  t.after(() => stop());
  return {
    sim,
    run,
    store,
    stateFile,
    lines,
    get maxInFlight() {
      return live.maxInFlight;
    },
    get attestCalls() {
      return live.attestCalls;
    },
    tick: async () => {
      if (ticks.length === 0) await new Promise<void>((r) => (tickWaiter = r));
      tickWaiter = null;
      ticks.shift()!();
    },
    stop,
  };
}

/** Codes of every failed or warned finding and source check across the lines. */
export function reportedCodes(lines: LineLog): Set<string> {
  const codes = new Set<string>();
  for (const l of lines.lines) {
    if (l.type === 'attested') for (const c of l.findings) codes.add(c);
    if ((l.type === 'finding' || l.type === 'source') && l.code) codes.add(l.code);
  }
  return codes;
}
