// How a result is stored in the state file: compressed, losslessly.
//
// A fleet audit stores every VM's whole result (~26 KB of JSON for three
// layers), and most of it is the same for every VM of a run: check ids and
// messages, certificate summaries, rule outcomes. Deflate alone makes it ~4.5
// KB; deflate against a dictionary taken from one result of the same run,
// ~1.7 KB, at ~0.2 ms of CPU per result (measured on the results of a
// 1,000-VM simulated fleet over 50 hosts).
//
// The stored value is either TEXT (JSON, as every version before 6 wrote it,
// and still read) or a BLOB whose first byte says how the rest is encoded:
//   0x01  zlib (RFC 1950) deflate of the UTF-8 JSON
//   0x02  the same with the run's dictionary (audit_run.dictionary)
// zlib rather than raw deflate: its header names the dictionary (Adler-32)
// and its trailer checks the data, so a wrong dictionary or a damaged value
// fails to decode instead of decoding to other bytes (6 bytes a result).
// The dictionary is set once per run and never changes, so every result of
// the run decodes with the same bytes; a run is pruned only with its last
// result (StateStore.prune), so it outlives them all.
import { deflateSync, inflateSync } from 'node:zlib';

export const BLOB_DEFLATE = 0x01;
export const BLOB_DEFLATE_RUN_DICTIONARY = 0x02;

/** Deflate's window: only the last 32 KiB of a dictionary can be referred to. */
export const MAX_DICTIONARY_BYTES = 32 * 1024;

/**
 * A result smaller than this is a poor dictionary for the rest of its run
 * (an unreachable VM's result is ~1 KB; a trusted one, the common case, 20+).
 */
export const MIN_DICTIONARY_SOURCE_BYTES = 4 * 1024;

/** A result's JSON as UTF-8 bytes (given as text, or as those bytes already). */
function utf8Of(json: string | Uint8Array): Buffer {
  return typeof json === 'string' ? Buffer.from(json, 'utf8') : Buffer.from(json.buffer, json.byteOffset, json.byteLength);
}

/** The dictionary a result's JSON (text, or its UTF-8 bytes) gives its run: its last 32 KiB, a copy of its own. */
export function dictionaryFrom(json: string | Uint8Array): Buffer {
  const bytes = utf8Of(json);
  return Buffer.from(bytes.length > MAX_DICTIONARY_BYTES ? bytes.subarray(bytes.length - MAX_DICTIONARY_BYTES) : bytes);
}

/** The stored form of a result's JSON (text, or its UTF-8 bytes): with the run's dictionary when there is one. */
export function encodeResultBlob(json: string | Uint8Array, dictionary: Buffer | null): Buffer {
  // level 2: against the dictionary, 1.7 KB a result for 0.19 ms; level 6
  // gives 1.4 KB for 0.32 ms (on the audit's state thread)
  const options = dictionary ? { level: 2, dictionary } : { level: 2 };
  const packed = deflateSync(utf8Of(json), options);
  const out = Buffer.allocUnsafe(packed.length + 1);
  out[0] = dictionary ? BLOB_DEFLATE_RUN_DICTIONARY : BLOB_DEFLATE;
  packed.copy(out, 1);
  return out;
}

/** Why a stored value could not be decoded (the store reports it as STATE_CORRUPT). */
export class ResultBlobError extends Error {}

/**
 * The JSON text of a stored result. `dictionaryOf` is asked only for a value
 * that needs the run's dictionary. Output is capped at `maxBytes`, so a
 * damaged or hostile file cannot make a small value inflate without bound.
 */
export function decodeResultBlob(stored: unknown, maxBytes: number, dictionaryOf: () => Buffer | null): string {
  if (typeof stored === 'string') return stored;
  if (!(stored instanceof Uint8Array)) throw new ResultBlobError(`a stored result is text or bytes, not ${typeof stored}`);
  if (stored.length < 2) throw new ResultBlobError('empty compressed result');
  const format = stored[0];
  if (format !== BLOB_DEFLATE && format !== BLOB_DEFLATE_RUN_DICTIONARY) throw new ResultBlobError(`unknown result encoding 0x${format!.toString(16)}`);
  const body = stored.subarray(1);
  let dictionary: Buffer | null = null;
  if (format === BLOB_DEFLATE_RUN_DICTIONARY) {
    dictionary = dictionaryOf();
    if (!dictionary) throw new ResultBlobError("the result needs its audit run's dictionary, and the run has none");
  }
  try {
    const options = { maxOutputLength: maxBytes, ...(dictionary ? { dictionary } : {}) };
    return inflateSync(body, options).toString('utf8');
  } catch (err) {
    throw new ResultBlobError(`compressed result does not inflate: ${err instanceof Error ? err.message : String(err)}`);
  }
}
