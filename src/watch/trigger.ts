// Why a watcher attests: at start, every --interval, or after migration
// notifications. Notifications that arrive while an attestation runs are
// folded into one waiting trigger (see coalescer.ts), which keeps only what
// the next attestation needs: how many there were, the seq range (to save the
// resume cursor), the latest one, and the distinct source platforms to check
// for migrate-out, capped so that a burst costs bounded memory and work.

import type { MigrationEvent } from '../transport/migration-stream.js';

/** Distinct source platforms kept per batch; more are counted, not checked. */
export const MAX_SOURCES_PER_BATCH = 8;

export interface EventBatch {
  /** the Migration Controller the events came from */
  service: string;
  count: number;
  /** the seq of the first and of the last event, in the order they arrived */
  firstSeq: number;
  lastSeq: number;
  /** the last event to arrive */
  latest: MigrationEvent;
  /** the events' `from` URIs, distinct, most recent last */
  sources: string[];
  /** distinct sources beyond MAX_SOURCES_PER_BATCH, not kept */
  sourcesDropped: number;
}

export type AttestTrigger = { kind: 'initial' } | { kind: 'interval' } | { kind: 'migration'; batch: EventBatch };

export function batchOf(service: string, event: MigrationEvent): EventBatch {
  return { service, count: 1, firstSeq: event.seq, lastSeq: event.seq, latest: event, sources: [event.from], sourcesDropped: 0 };
}

function mergeBatches(a: EventBatch, b: EventBatch): EventBatch {
  // a batch from another controller (the VM changed controllers) replaces the old one: its seqs are another count
  if (a.service !== b.service) return b;
  const sources = a.sources.filter((s) => !b.sources.includes(s)).concat(b.sources);
  const dropped = Math.max(0, sources.length - MAX_SOURCES_PER_BATCH);
  return {
    service: b.service,
    count: a.count + b.count,
    // in the order they arrived, not by seq: a seq lower than the one before is the controller's count now (one
    // counting again after a reinstall, or one past an injected huge seq, see migrationEvents). By the highest
    // seq, the cursor saved stayed up there, and the 'last notification' was the old count's, its `to` then
    // contradicting the VM's certificate (migration.destination)
    firstSeq: a.firstSeq,
    lastSeq: b.lastSeq,
    latest: b.latest,
    // keep the most recent sources: the last move's source matters most
    sources: sources.slice(dropped),
    sourcesDropped: a.sourcesDropped + b.sourcesDropped + dropped,
  };
}

/** Folds `next` into the waiting trigger: notifications win (an interval attestation adds nothing to one). */
export function mergeTriggers(waiting: AttestTrigger, next: AttestTrigger): AttestTrigger {
  if (waiting.kind === 'migration' && next.kind === 'migration') return { kind: 'migration', batch: mergeBatches(waiting.batch, next.batch) };
  if (waiting.kind === 'migration') return waiting;
  if (next.kind === 'migration') return next;
  return waiting.kind === 'initial' ? waiting : next;
}
