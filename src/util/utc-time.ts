// Calendar fields to a time, refusing what is not a real date and clock time.
// Date.UTC and Date.parse roll over instead of refusing (2024-02-30 becomes
// March 1, T24:00:00 the next day), and Date.UTC reads years 0-99 as
// 1900-1999: a certificate's GeneralizedTime 00010101000000Z (Go's zero
// time) or a typo on the command line would silently become another time.

/**
 * Milliseconds since the epoch of a UTC date and time (month 1-12), or NaN
 * when the fields name no real one. Leap seconds (second 60) are not real
 * here: neither RFC 5280 nor ECMAScript times have them.
 */
export function utcTime(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  if (hour > 23 || minute > 59 || second > 59) return NaN;
  const d = new Date(0);
  // setUTCFullYear takes years 0-99 as they are, where Date.UTC adds 1900.
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  // A day that does not exist rolls over into another month: a real date survives the round trip.
  if (d.getUTCFullYear() !== year || d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day) return NaN;
  return d.getTime();
}
