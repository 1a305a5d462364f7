// A result's size, bounded before it is stored or written into a report. A
// failing check shows what it found (`actual`), and what it found comes from
// the attester: every check lists a bounded number of entries and cuts long
// texts, but a rule that someday quotes a hostile value whole would make a
// result of tens of megabytes, copied into every VM's result through that
// layer, the state file and each report (a 57 MB result once stopped an
// audit's state file with an error, and every other VM's result with it).
// This is the net under those rules: past the cap, long strings are cut and
// long lists in the free-form values (expected, actual, details) shortened;
// past it still, those values are replaced by a note. Verdict, statuses,
// codes and ids stay as they were, and the starts of messages and reasons.

import type { AttestationResult } from '../verify/result.js';
import { toJsonText } from '../cli/output.js';

/** JSON characters one result may take in the state file and the reports (results are ~20 KB; failures listing their caps' worth, ~250 KB). */
export const RESULT_JSON_CAP = 4 * 1024 * 1024;
/** characters of one string kept, once a result is over the cap */
const STRING_KEPT = 4096;
/** items of one list in a free-form value kept, once a result is over the cap */
const ITEMS_KEPT = 20;

const FREE_FORM = new Set(['expected', 'actual', 'details']);

/** Strings cut everywhere; lists cut only inside free-form values (elsewhere the report schema says what items are). */
function shrink(value: unknown, freeForm: boolean, replaceFreeForm: boolean, why: string): unknown {
  if (typeof value === 'string') return value.length > STRING_KEPT ? `${value.slice(0, STRING_KEPT)}… (${value.length} characters; ${why})` : value;
  if (Array.isArray(value)) {
    const kept = freeForm && value.length > ITEMS_KEPT ? value.slice(0, ITEMS_KEPT) : value;
    const out = kept.map((v) => shrink(v, freeForm, replaceFreeForm, why));
    if (kept.length < value.length) out.push(`… and ${value.length - kept.length} more (${why})`);
    return out;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const inner = freeForm || FREE_FORM.has(k);
      out[k] = replaceFreeForm && !freeForm && FREE_FORM.has(k) ? replaced(k, v, why) : shrink(v, inner, replaceFreeForm, why);
    }
    return out;
  }
  return value;
}

/**
 * A free-form value replaced by a note. An error's `details` stays an object (the report schema says so, and the
 * reports list its members): its scalar members are kept (strings cut), its lists and objects replaced.
 */
function replaced(key: string, value: unknown, why: string): unknown {
  const note = `(not kept: ${why})`;
  if (key !== 'details' || value === null || typeof value !== 'object' || Array.isArray(value)) return note;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = v !== null && typeof v === 'object' ? note : shrink(v, true, false, why);
  return out;
}

/** The result and its JSON (toJsonText(result, 0)), bounded to RESULT_JSON_CAP characters as far as its free-form values allow. */
export function boundResult(result: AttestationResult, json: string = toJsonText(result, 0), cap = RESULT_JSON_CAP): { result: AttestationResult; json: string; cut: boolean } {
  if (json.length <= cap) return { result, json, cut: false };
  const why = `the result was ${json.length} characters, over the ${cap} kept`;
  // cut from its JSON, not from the object: bytes, bigints and dates (toJSON) are as toJsonText writes them
  const plain = JSON.parse(json) as AttestationResult;
  for (const replace of [false, true]) {
    const smaller = shrink(plain, false, replace, why) as AttestationResult;
    const text = toJsonText(smaller, 0);
    if (text.length <= cap || replace) return { result: smaller, json: text, cut: true };
  }
  /* c8 ignore next */
  throw new Error('unreachable');
}
