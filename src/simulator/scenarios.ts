// Named migration scenarios for the simulator: a platform of two hosts (each
// with a VMM; the VM starts on host-a's), a Migration Controller, and steps
// that move, clone, reboot or restore the VM. Tests run the steps
// programmatically; `simulate --scenario NAME` serves them, running each step
// on `POST {origin}/admin/step` (or every --step-every).
//
// Each scenario states what a watcher with the baseline policy must report
// once every step ran (for a clone: once each copy answered twice, since the
// clock findings need the two histories to alternate).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { UsageError } from '../errors.js';
import type { MigrationEvent } from '../transport/migration-stream.js';
import type { SimMigrations } from './migration.js';
import type { MountedService } from './service.js';
import type { SoftTpmState } from './soft-tpm.js';
import type { Topology } from './topology.js';

/** Two hosts, a VMM on each, the VM on host-a's. */
export const SCENARIO_TOPOLOGY: Topology = {
  hosts: [
    { name: 'host-a', vmms: [{ name: 'vmm-a', vms: ['vm'] }] },
    { name: 'host-b', vmms: [{ name: 'vmm-b' }] },
  ],
};

/** Migrations in the burst scenario. */
export const BURST_MIGRATIONS = 1000;

export interface ScenarioStep {
  description: string;
  /** does the step; returns the events the controller published */
  run(m: SimMigrations): MigrationEvent[];
}

export interface ScenarioExpectation {
  /** the verdict of the attestation after the last step (a clone: after both copies answered) */
  verdict: 'trusted' | 'not-trusted';
  /** codes the watcher reports (findings, source checks), each at least once */
  codes: string[];
}

export interface ScenarioSpec {
  name: string;
  summary: string;
  expect: ScenarioExpectation;
  steps: ScenarioStep[];
}

type ScenarioFactory = () => ScenarioSpec & { prepare?: (m: SimMigrations) => void };

const alternate = (m: SimMigrations, n: number): MigrationEvent[] => {
  const out: MigrationEvent[] = [];
  for (let i = 0; i < n; i++) out.push(m.migrate('vm', m.platform.layer('vm').host!.name === 'vmm-a' ? 'vmm-b' : 'vmm-a'));
  return out;
};

const FACTORIES: Record<string, ScenarioFactory> = {
  'live-migration': () => ({
    name: 'live-migration',
    summary: 'the VM moves live from vmm-a to vmm-b: the vTPM state moves (Clock continues), vmm-a records migrate-out, vmm-b migrate-in, a new AK certificate names vmm-b',
    expect: { verdict: 'trusted', codes: [] },
    steps: [{ description: 'migrate vm from vmm-a to vmm-b', run: (m) => [m.migrate('vm', 'vmm-b')] }],
  }),
  clone: () => ({
    name: 'clone',
    summary: 'a copy of the VM\'s vTPM runs on vmm-b (recorded there as hosted, no notification); the VM\'s address answers in turn from the copy and the original',
    expect: { verdict: 'not-trusted', codes: ['VPLATFORM_HOSTED_TWICE', 'CLONE_HOSTED_TWICE', 'CLOCK_WENT_BACK', 'CLONE_INTERLEAVED_CLOCKS'] },
    steps: [{ description: 'start a copy of vm\'s vTPM on vmm-b, its Clock 60 s ahead', run: (m) => (m.clone('vm', 'vmm-b'), []) }],
  }),
  'restore-backup': () => {
    let backup: SoftTpmState | null = null;
    return {
      name: 'restore-backup',
      summary: 'a backup of the vTPM is taken; the VM reboots (accepted); then the old backup is restored on vmm-b: Clock and resetCount go back',
      expect: { verdict: 'not-trusted', codes: ['CLOCK_RESET_COUNT_DECREASED', 'RESTORE_FROM_BACKUP'] },
      prepare: (m) => {
        backup = m.backup('vm');
      },
      steps: [
        { description: 'reboot vm (resetCount + 1, restartCount 0)', run: (m) => (m.reboot('vm'), []) },
        { description: 'restore the backup taken at the start on vmm-b (migrating there)', run: (m) => [m.migrate('vm', 'vmm-b', { state: backup! })] },
      ],
    };
  },
  'source-still-hosts': () => ({
    name: 'source-still-hosts',
    summary: 'the VM moves to vmm-b but vmm-a records no migrate-out: a duplicate is left behind',
    expect: { verdict: 'not-trusted', codes: ['VPLATFORM_STILL_HOSTED', 'CLONE_HOSTED_TWICE'] },
    steps: [{ description: 'migrate vm to vmm-b, vmm-a keeping it hosted', run: (m) => [m.migrate('vm', 'vmm-b', { sourceRecordsMigrateOut: false })] }],
  }),
  'stream-drop': () => ({
    name: 'stream-drop',
    summary: 'the first notification stream is cut in the middle of its second event; the VM moves three times; a client resumes with Last-Event-ID and sees each move once',
    expect: { verdict: 'trusted', codes: [] },
    prepare: (m) => m.controller.dropNextStream(1),
    steps: [{ description: 'migrate vm vmm-a → vmm-b → vmm-a → vmm-b', run: (m) => alternate(m, 3) }],
  }),
  burst: () => ({
    name: 'burst',
    summary: `the VM moves ${BURST_MIGRATIONS} times between vmm-a and vmm-b at once: ${BURST_MIGRATIONS} notifications in a burst`,
    expect: { verdict: 'trusted', codes: [] },
    steps: [{ description: `migrate vm ${BURST_MIGRATIONS} times between vmm-a and vmm-b`, run: (m) => alternate(m, BURST_MIGRATIONS) }],
  }),
};

export const SCENARIO_NAMES: readonly string[] = Object.keys(FACTORIES);

/** One run of a scenario on a platform with a controller: steps done one at a time. */
export class ScenarioRun {
  readonly spec: ScenarioSpec;
  readonly migrations: SimMigrations;
  private done = 0;

  constructor(spec: ScenarioSpec, migrations: SimMigrations) {
    this.spec = spec;
    this.migrations = migrations;
  }

  get remaining(): number {
    return this.spec.steps.length - this.done;
  }

  /** Runs the next step; null when none is left. */
  step(): { index: number; description: string; events: MigrationEvent[] } | null {
    const step = this.spec.steps[this.done];
    if (!step) return null;
    const index = this.done++;
    return { index, description: step.description, events: step.run(this.migrations) };
  }

  /** Runs every step left; returns every event published. */
  runAll(): MigrationEvent[] {
    const events: MigrationEvent[] = [];
    for (let s = this.step(); s; s = this.step()) events.push(...s.events);
    return events;
  }
}

/** Prepares scenario `name` on a platform built from SCENARIO_TOPOLOGY with a controller (startSimulator({topology: SCENARIO_TOPOLOGY, migrationController: true})). */
export function startScenario(name: string, migrations: SimMigrations): ScenarioRun {
  const factory = FACTORIES[name];
  if (!factory) throw new UsageError('USAGE', `unknown scenario ${JSON.stringify(name)} (${SCENARIO_NAMES.join(', ')})`, { scenario: name, known: SCENARIO_NAMES });
  for (const layer of ['vm', 'vmm-a', 'vmm-b']) migrations.platform.layer(layer);
  const { prepare, ...spec } = factory();
  prepare?.(migrations);
  return new ScenarioRun(spec, migrations);
}

/** `POST /admin/step` runs a scenario's next step; `GET /admin` says where it stands. */
export class ScenarioAdmin implements MountedService {
  readonly run: ScenarioRun;
  /** called after each step (the simulate command prints it) */
  onStep: ((step: NonNullable<ReturnType<ScenarioRun['step']>>) => void) | null = null;

  constructor(run: ScenarioRun) {
    this.run = run;
  }

  handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    req.resume(); // a body, if any, is not read
    if (path === '' || path === '/') {
      if (req.method !== 'GET') return reply(res, 405, { error: 'GET /admin, POST /admin/step' });
      return reply(res, 200, this.status());
    }
    if (path !== '/step') return reply(res, 404, { error: 'the admin endpoint serves /admin and /admin/step' });
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return reply(res, 405, { error: 'POST /admin/step runs the next step' });
    }
    const step = this.run.step();
    if (!step) return reply(res, 409, { error: 'every step of the scenario has run', ...this.status() });
    this.onStep?.(step);
    reply(res, 200, { step: step.index, description: step.description, events: step.events.length, lastSeq: step.events.at(-1)?.seq ?? null, remaining: this.run.remaining });
  }

  close(): void {}

  status(): { scenario: string; summary: string; steps: string[]; remaining: number; expect: ScenarioExpectation } {
    const s = this.run.spec;
    return { scenario: s.name, summary: s.summary, steps: s.steps.map((x) => x.description), remaining: this.run.remaining, expect: s.expect };
  }
}

function reply(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
}
