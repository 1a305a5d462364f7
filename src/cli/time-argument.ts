// Times given on the command line (certs --at, policy evaluate --now): ISO 8601
// with a zone, or a bare date (midnight UTC); a day or clock time that does not
// exist is refused rather than rolled over.

import { UsageError } from '../errors.js';
import { utcTime } from '../util/utc-time.js';

/** ISO 8601 date or date-time (Z or an offset); a bare date is midnight UTC. */
export function parseTimeArgument(text: string, option: string): number {
  const t = text.trim();
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2}))?$/.exec(t);
  if (m && Number.isNaN(utcTime(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)))) {
    // Date.parse would roll it over (2024-02-30 to March 1, T24:00:00 to the next day) and validate at a time nobody asked for.
    throw new UsageError('USAGE', `${option}: ${JSON.stringify(text)} is not a real date and time`, { option, value: text });
  }
  const ms = m ? Date.parse(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : t.replace(' ', 'T')) : NaN;
  if (!m || Number.isNaN(ms)) {
    throw new UsageError('USAGE', `${option}: ${JSON.stringify(text)} is not an ISO 8601 time (2024-06-01 or 2024-06-01T12:00:00Z)`, { option, value: text });
  }
  return ms;
}
