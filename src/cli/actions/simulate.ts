// Implementation of `vtpm-verify simulate`: builds and serves the simulated
// platform, prints where (and how to attest it), and keeps serving until
// SIGINT or SIGTERM. The outcome is printed once the service is up; the open
// server keeps the process alive after the CLI's main() has returned, and the
// signal handlers close it so the process ends with exit code 0.

import { makeDirs } from '../../util/make-dirs.js';
import { resolve } from 'node:path';
import { EXIT_CODES, TransportError, UsageError } from '../../errors.js';
import { checkOutputFile, readInputText, writeFileAtomic } from '../../util/files.js';
import { expectedCode, FAULTS, parseTamper } from '../../simulator/faults.js';
import { inventoryJson, inventoryYaml, parseFaultPlan, parseFleetFile, type FaultPlan } from '../../simulator/fleet.js';
import type { PlacedFault } from '../../simulator/platform.js';
import { startSimulator, type RunningSimulator } from '../../simulator/start.js';
import type { Topology } from '../../simulator/topology.js';
import { SCENARIO_NAMES, SCENARIO_TOPOLOGY, ScenarioAdmin, startScenario } from '../../simulator/scenarios.js';
import { parseInterval } from './watch.js';
import type { CommandOutcome, Style } from '../output.js';

export interface SimulateOptions {
  port: string;
  layers?: string | undefined;
  fleet?: string | undefined;
  hosts?: string | undefined;
  vmmsPerHost: string;
  vmsPerVmm?: string | undefined;
  faultPlan?: string | undefined;
  tamper: string[];
  trustOut?: string | undefined;
  inventoryOut?: string | undefined;
  seed?: string | undefined;
  /** a migration scenario (scenarios.ts): its two-host platform, a Migration Controller, steps on POST /admin/step */
  scenario?: string | undefined;
  /** also run the scenario's next step this often (e.g. 10s) */
  stepEvery?: string | undefined;
  json: boolean;
}

/** Listing every layer stops being useful beyond this; the inventory has them all. */
const MAX_LAYERS_LISTED = 64;

function wholeNumber(text: string, option: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError('USAGE', `${option} must be a whole number ${min}..${max}, got "${text.slice(0, 20)}"`, { option, value: text.slice(0, 20) });
  return Number(text);
}

function topologyFrom(o: SimulateOptions): Topology {
  const given = [o.layers !== undefined && '--layers', o.fleet !== undefined && '--fleet', o.hosts !== undefined && '--hosts', o.scenario !== undefined && '--scenario'].filter(Boolean);
  if (given.length > 1) throw new UsageError('USAGE', `give one of --layers, --fleet, --hosts and --scenario (got ${given.join(', ')})`, { options: given });
  if (o.scenario !== undefined) return SCENARIO_TOPOLOGY;
  if (o.fleet !== undefined) return parseFleetFile(readInputText(o.fleet, 'fleet file', 16 * 1024 * 1024), o.fleet);
  if (o.hosts !== undefined) {
    if (o.vmsPerVmm === undefined) throw new UsageError('USAGE', '--hosts needs --vms-per-vmm', {});
    return { hosts: wholeNumber(o.hosts, '--hosts', 1, 10_000), vmmsPerHost: wholeNumber(o.vmmsPerHost, '--vmms-per-host', 0, 1_000), vmsPerVmm: wholeNumber(o.vmsPerVmm, '--vms-per-vmm', 0, 10_000) };
  }
  return { layers: wholeNumber(o.layers ?? '3', '--layers', 1, 16) };
}

export async function runSimulate(o: SimulateOptions): Promise<CommandOutcome> {
  const port = wholeNumber(o.port, '--port', 0, 65_535);
  const topology = topologyFrom(o);
  const faults: PlacedFault[] = o.tamper.map((t) => {
    const spec = parseTamper(t);
    return { ...spec.fault, layer: spec.layer };
  });
  let faultPlan: FaultPlan | undefined;
  if (o.faultPlan !== undefined) faultPlan = parseFaultPlan(readInputText(o.faultPlan, 'fault plan', 16 * 1024 * 1024), o.faultPlan);
  // before the platform starts: a FIFO would block the write for ever, a folder fail after the build
  if (o.inventoryOut !== undefined) checkOutputFile('--inventory-out', o.inventoryOut);
  const trustDir = o.trustOut === undefined ? undefined : resolve(o.trustOut);
  if (trustDir) {
    try {
      makeDirs(trustDir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // a file where the folder should be is the command line's mistake, not an I/O failure
      if (code === 'ENOTDIR' || code === 'EEXIST') throw new UsageError('USAGE', `--trust-out ${o.trustOut}: ${trustDir} or a folder above it is not a folder`, { option: 'trust-out', path: trustDir });
      throw new TransportError('IO_ERROR', `--trust-out: cannot create ${trustDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { path: trustDir }, { cause: err });
    }
  }

  if (o.scenario !== undefined && !SCENARIO_NAMES.includes(o.scenario)) {
    throw new UsageError('USAGE', `--scenario: unknown scenario "${o.scenario}" (${SCENARIO_NAMES.join(', ')})`, { option: 'scenario', value: o.scenario });
  }
  if (o.stepEvery !== undefined && o.scenario === undefined) throw new UsageError('USAGE', '--step-every needs --scenario', { option: 'step-every' });
  const stepEveryMs = o.stepEvery === undefined ? undefined : parseInterval(o.stepEvery, 'step-every');
  const sim = await startSimulator({ topology, port, faults, faultPlan, trustDir, seed: o.seed === 'random' ? null : o.seed, migrationController: o.scenario !== undefined });
  let scenario: ScenarioAdmin | undefined;
  if (o.scenario !== undefined) {
    scenario = new ScenarioAdmin(startScenario(o.scenario, sim.migrations!));
    scenario.onStep = (step) => {
      process.stderr.write(`vtpm-verify simulate: scenario ${o.scenario}: step ${step.index + 1}: ${step.description} (${step.events.length} notification(s))\n`);
    };
    sim.mount('admin', scenario);
  }
  let inventoryFile: string | undefined;
  try {
    if (o.inventoryOut !== undefined) {
      inventoryFile = resolve(o.inventoryOut);
      // *.json: JSON, which audit reads much faster for a large fleet; YAML otherwise
      writeFileAtomic(inventoryFile, (/\.json$/i.test(inventoryFile) ? inventoryJson : inventoryYaml)(sim.inventory()));
    }
  } catch (err) {
    await sim.close();
    throw new TransportError('IO_ERROR', `cannot write the inventory ${o.inventoryOut}: ${(err as Error).message}`, { file: o.inventoryOut }, { cause: err });
  }
  const timer = scenario && stepEveryMs !== undefined ? stepTimer(scenario, stepEveryMs) : undefined;
  stopOnSignals(sim, timer);

  const result = describe(sim, inventoryFile);
  if (scenario) result.scenario = { ...scenario.status(), controller: sim.migrations!.controller.url, stepUrl: `${sim.origin}/admin/step`, ...(stepEveryMs !== undefined ? { stepEveryMs } : {}) };
  return { ok: true, exitCode: EXIT_CODES.OK, result, human: (style) => render(result, sim, style) };
}

/** Runs the scenario's next step every `ms` until none is left. */
function stepTimer(admin: ScenarioAdmin, ms: number): NodeJS.Timeout {
  const timer = setInterval(() => {
    const step = admin.run.step();
    if (step) admin.onStep?.(step);
    if (admin.run.remaining === 0) clearInterval(timer);
  }, ms);
  return timer;
}

function stopOnSignals(sim: RunningSimulator, timer?: NodeJS.Timeout): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    if (timer) clearInterval(timer);
    process.stderr.write(`vtpm-verify simulate: ${signal}: stopping (${sim.stats.evidence} evidence documents served)\n`);
    void sim.close().finally(() => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

interface SimulateResult {
  origin: string;
  port: number;
  topUrl: string;
  urls: string[];
  counts: { hosts: number; vmms: number; vms: number; layers: number };
  layers?: { position?: number; name: string; url: string; role: string; kind: string; host: string | null; instanceId: string }[];
  trustDir: string;
  trustAnchors: { label: string; file: string; subject: string }[];
  inventoryFile?: string;
  faults: { layer: string; fault: string; mode?: string; upper?: string; code: string; status: string }[];
  /** what attesting the first top should find */
  expected: ReturnType<RunningSimulator['expected']>;
  attestCommand: string;
  buildMs: number;
  /** with --scenario: its steps, the controller, where to run the next step */
  scenario?: ReturnType<ScenarioAdmin['status']> & { controller: string; stepUrl: string; stepEveryMs?: number };
}

function describe(sim: RunningSimulator, inventoryFile: string | undefined): SimulateResult {
  const roles = { physical: 0, vmm: 0, vm: 0 };
  for (const l of sim.layers) roles[l.role]++;
  const single = sim.urls.length === 1 && sim.platform.roots.filter((r) => r.listed).length === 1;
  const chain = single ? sim.platform.pathOf(sim.platform.layer(sim.layers.find((l) => l.url === sim.topUrl)!.name)) : [];
  // the vTPM instance expected at the top URL, as --inventory-out pins it: what `expected` says of a relay there (relayed-top) needs it
  const topInstance = sim.inventory().find((e) => e.url === sim.topUrl)?.instanceId;
  const result: SimulateResult = {
    origin: sim.origin,
    port: sim.port,
    topUrl: sim.topUrl,
    urls: sim.urls,
    counts: { hosts: roles.physical, vmms: roles.vmm, vms: roles.vm, layers: sim.layers.length },
    trustDir: sim.trustDir,
    trustAnchors: sim.trustAnchors.map((a) => ({ label: a.label, file: resolve(sim.trustDir, a.label, a.file), subject: a.subject })),
    faults: [...sim.platform.layers.values()].flatMap((l) =>
      l.faults.map((f) => ({
        layer: l.name,
        fault: f.fault,
        ...(f.mode !== undefined ? { mode: f.mode } : {}),
        ...(f.upper !== undefined ? { upper: f.upper } : {}),
        code: expectedCode(f),
        status: FAULTS[f.fault].status,
      })),
    ),
    expected: sim.expected(),
    attestCommand: `vtpm-verify attest ${sim.topUrl} --trust ${sim.trustDir}${topInstance !== undefined ? ` --instance ${topInstance}` : ''}`,
    buildMs: Math.round(sim.buildMs),
  };
  if (sim.layers.length <= MAX_LAYERS_LISTED) {
    const position = new Map(chain.map((l, i) => [l.name, i]));
    result.layers = sim.layers.map((l) => ({ ...(position.has(l.name) ? { position: position.get(l.name)! } : {}), ...l }));
    if (single) result.layers.sort((a, b) => (a.position ?? 0) - (b.position ?? 0));
  }
  if (inventoryFile) result.inventoryFile = inventoryFile;
  return result;
}

function render(r: SimulateResult, sim: RunningSimulator, s: Style): string {
  const lines: string[] = [];
  const what = r.counts.vms <= 1 && r.counts.hosts === 1 ? `${r.counts.layers} layer${r.counts.layers === 1 ? '' : 's'}` : `${r.counts.hosts} hosts, ${r.counts.vmms} VMMs, ${r.counts.vms} VMs`;
  lines.push(`${s.bold('vtpm-verify simulator')}: ${what} on ${r.origin} ${s.dim(`(built in ${r.buildMs} ms)`)}`);
  if (r.layers) {
    const width = Math.max(...r.layers.map((l) => l.name.length));
    const urlWidth = Math.max(...r.layers.map((l) => l.url.length));
    for (const l of r.layers) lines.push(`  ${l.position !== undefined ? `[${l.position}] ` : ''}${l.name.padEnd(width)}  ${l.url.padEnd(urlWidth)}  ${s.dim(l.kind)}`);
  } else {
    for (const url of r.urls.slice(0, 3)) lines.push(`  ${url}`);
    lines.push(s.dim(`  ... ${r.urls.length} VMs in all${r.inventoryFile ? `, listed in ${r.inventoryFile}` : ' (--inventory-out FILE lists them)'}`));
  }
  lines.push(`trust anchors: ${r.trustDir} ${s.dim('(ak-ca/, vplatform-ca/)')}`);
  if (r.faults.length) {
    lines.push(`faults (${r.faults.length}):`);
    for (const f of r.faults.slice(0, 20)) {
      lines.push(`  ${s.warn(`${f.fault}${f.mode ? `:${f.mode}` : ''}`)} on ${f.layer}${f.upper ? ` (for ${f.upper})` : ''}: expect ${s.code(f.code)} there`);
    }
    if (r.faults.length > 20) lines.push(s.dim(`  ... and ${r.faults.length - 20} more`));
  }
  if (r.inventoryFile && r.layers) lines.push(`inventory: ${r.inventoryFile}`);
  if (r.scenario) {
    lines.push(`scenario ${s.bold(r.scenario.scenario)}: ${r.scenario.summary}`);
    r.scenario.steps.forEach((step, i) => lines.push(`  step ${i + 1}: ${step}`));
    lines.push(`  migration controller: ${r.scenario.controller}`);
    lines.push(`  run the next step: curl -X POST ${r.scenario.stepUrl}${r.scenario.stepEveryMs !== undefined ? s.dim(` (also every ${r.scenario.stepEveryMs} ms)`) : ''}`);
    lines.push(`  expect: ${r.scenario.expect.verdict}${r.scenario.expect.codes.length ? ` with ${r.scenario.expect.codes.join(', ')}` : ''}`);
    lines.push('watch it:', `  vtpm-verify watch ${r.topUrl} --trust ${r.trustDir} --state watch.db`);
  }
  lines.push('attest it:', `  ${r.attestCommand}`);
  lines.push(s.dim(`serving until Ctrl-C (SIGINT) or SIGTERM; ${sim.platform.layers.size} layer services`));
  return lines.join('\n');
}
