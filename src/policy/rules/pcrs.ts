// PCR rules: per bank and index, the quoted value must be one of the golden
// values, or equal what the event log replay computed.

import type { LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { PcrsSpec } from '../schema.js';

const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

export function evaluatePcrs(spec: PcrsSpec | undefined, layer: LayerFacts, sink: RuleSink): void {
  if (!spec) return;
  for (const [bank, rules] of spec) {
    for (const [index, rule] of [...rules].sort((a, b) => Number(a[0]) - Number(b[0]))) {
      const id = `pcrs.${bank}.${index}`;
      const quotedBytes = layer.quote.pcrs.get(bank)?.get(Number(index));
      if (!quotedBytes) {
        sink.fail(id, 'POLICY_PCR_NOT_QUOTED', `${bank}:${index} is not covered by the quote`, { expected: `a quoted ${bank}:${index}`, actual: null });
        continue;
      }
      const quoted = hexOf(quotedBytes);
      if (rule === 'replay') {
        const log = layer.eventLog;
        const replayed = log?.replayedPcrs.get(bank)?.get(Number(index));
        if (!log) sink.fail(id, 'POLICY_EVENTLOG_MISSING', `${bank}:${index} must match the event log replay, and the layer sent no event log`, { expected: 'an event log', actual: null });
        // as every rule reading the log: one that does not replay as a whole is not evidence, a PCR of it no more
        // than the rest (its other PCRs' events were altered, or cut)
        else if (!log.replayMatched) sink.fail(id, 'POLICY_EVENTLOG_REPLAY', `${bank}:${index} must match the event log replay, and the event log does not replay to the quoted PCRs, so it cannot be used`, { expected: 'replay matches the quote', actual: 'mismatch' });
        else if (!replayed) sink.fail(id, 'POLICY_PCR_REPLAY', `the event log replay gives no value for ${bank}:${index}`, { expected: quoted, actual: null });
        else {
          const r = hexOf(replayed);
          sink.check(r === quoted, id, 'POLICY_PCR_REPLAY', `${bank}:${index} equals the event log replay`, `${bank}:${index} is ${quoted} but the event log replays to ${r}`, { expected: r, actual: quoted });
        }
      } else {
        sink.check(rule.includes(quoted), id, 'POLICY_PCR_VALUE', `${bank}:${index} is a golden value`, `${bank}:${index} is ${quoted}, not one of the ${rule.length} golden value(s)`, { expected: rule, actual: quoted });
      }
    }
  }
}

export function explainPcrs(spec: PcrsSpec | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  for (const [bank, rules] of spec) {
    const golden = [...rules].filter(([, r]) => r !== 'replay');
    const replay = [...rules].filter(([, r]) => r === 'replay').map(([i]) => i);
    for (const [i, r] of golden) out.push(`PCR ${bank}:${i} must be one of ${r.length} golden value(s)`);
    if (replay.length) out.push(`PCR ${bank}:${replay.join(',')} must equal the event log replay`);
  }
  return out;
}
