// A small fleet of results for the audit report tests: trusted VMs, PCR
// mismatches at the VMM, unreachable hosts, a baseline VM and a hostile one,
// with names, groups, tags and varied times.
import type { AttestationResult } from '../../src/verify/result.js';
import type { AuditRun } from '../../src/report/json-report.js';
import { T0, baselineResult, hostileResult, pcrMismatchAtVmmResult, trustedResult, unreachablePhysicalResult } from './fixtures.js';

export interface Fleet {
  run: AuditRun;
  results: AttestationResult[];
  /** names of the VMs by verdict, as the fleet was built */
  trusted: string[];
  notTrusted: string[];
  unreachable: string[];
}

export function fleet(size = 24): Fleet {
  const f: Fleet = {
    run: {
      tool: { name: 'vtpm-verify', version: '0.1.0' },
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0 + 7_250).toISOString(),
      inventory: 'inventories/prod.yaml',
      shard: { index: 0, count: 2 },
      concurrency: 8,
      hostname: 'audit-runner-1',
      exitCode: 3,
    },
    results: [],
    trusted: [],
    notTrusted: [],
    unreachable: [],
  };
  for (let i = 0; i < size; i++) {
    const name = `vm-${String(i).padStart(3, '0')}`;
    const meta = { name, group: i % 2 ? 'web' : 'db', tags: [`rack-${i % 4}`], at: i * 10, took: 20 + ((i * 37) % 100) };
    if (i % 6 === 1) {
      f.results.push(pcrMismatchAtVmmResult(meta));
      f.notTrusted.push(name);
    } else if (i % 8 === 3) {
      f.results.push(asWalked(unreachablePhysicalResult({ ...meta, took: 5000 + i })));
      f.unreachable.push(name);
    } else if (i === 4) {
      f.results.push(baselineResult(meta));
      f.trusted.push(name);
    } else {
      f.results.push(trustedResult(meta));
      f.trusted.push(name);
    }
  }
  const evil = hostileResult();
  f.results.push(evil);
  f.notTrusted.push(evil.name!);
  return f;
}

/**
 * As the walker records a walk an unreachable layer cut short: the chain-shape
 * rules are not judged (a failing one would make the result not-trusted), so a
 * report reads back an incomplete result only without one.
 */
function asWalked(r: AttestationResult): AttestationResult {
  for (const c of r.chain) {
    if (c.status !== 'fail') continue;
    c.status = 'not-applicable';
    c.message = `not judged: the walk could not complete (${c.message})`;
    delete c.code;
  }
  return r;
}
