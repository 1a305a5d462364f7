// Builders of clock readings for the state tests.
import type { ClockReading } from '../../src/state/clock-findings.js';
import type { Observation } from '../../src/state/store.js';

export const P = ['aa01', 'ff00'];
export const Q = ['bb02', 'ff00'];
export const T0 = Date.UTC(2026, 10, 26, 12, 0, 0);

export interface R {
  clock: bigint | number;
  reset?: number;
  restart?: number;
  safe?: boolean;
  fw?: bigint;
  path?: readonly string[];
  /** seconds after T0 */
  at: number;
  /** seconds the request took; default 0.1 */
  took?: number;
}

export function reading(r: R): ClockReading {
  const time = T0 + Math.round(r.at * 1000);
  return {
    clockInfo: { clock: BigInt(r.clock), resetCount: r.reset ?? 0, restartCount: r.restart ?? 0, safe: r.safe ?? true },
    firmwareVersion: r.fw ?? 0x2016051100162800n,
    platformPath: r.path ?? P,
    time,
    receivedAt: time + Math.round((r.took ?? 0.1) * 1000),
  };
}

/** What the store's observe() takes: the instance's reading of `clock`, `s` seconds after 1_700_000_000_000, seen through `platformPath`. */
export function observation(instanceId: string, akName: string, clock: number, s: number, platformPath: string[], hostingEpoch?: string): Observation {
  return {
    instanceId,
    akName,
    clockInfo: { clock: BigInt(clock), resetCount: 1, restartCount: 0, safe: true },
    firmwareVersion: 1n,
    platformPath,
    time: 1_700_000_000_000 + s * 1000,
    target: 'https://vm.example/',
    ...(hostingEpoch !== undefined ? { hostingEpoch } : {}),
  };
}
