// Parses a TCG PC Client event log (binary_bios_measurements) into an
// UnverifiedEventLog. The layouts (PFP 10.2.1/10.2.2, all little-endian):
//
//   TCG_PCR_EVENT   UINT32 pcrIndex; UINT32 eventType; BYTE digest[20];
//                   UINT32 eventDataSize; BYTE event[eventDataSize]
//   TCG_PCR_EVENT2  UINT32 pcrIndex; UINT32 eventType;
//                   TPML_DIGEST_VALUES digests (UINT32 count; {UINT16 hashAlg;
//                   BYTE digest[size from the Spec ID table]}[count]);
//                   UINT32 eventSize; BYTE event[eventSize]
//
// Every log starts with a TCG_PCR_EVENT. When it is the "Spec ID Event03"
// EV_NO_ACTION event, the rest are TCG_PCR_EVENT2 with the digest sizes its
// algorithm table declares; otherwise the whole log is TCG_PCR_EVENT (SHA-1).
// Structural faults throw a ParseError naming the event and offset; event
// *content* that does not decode is kept raw with a note.

import { ParseError, VtpmError } from '../errors.js';
import { TpmReader } from '../tpm/reader.js';
import { hashById, type HashAlg } from '../tpm/constants.js';
import { EVENTLOG_CAPS, listEntryBudget } from './caps.js';
import { decodeEvent, type DecodeContext } from './decode/index.js';
import { EV } from './event-types.js';
import { identifyForeignFormat } from './foreign-formats.js';
import { isSpecIdEvent00, isSpecIdEvent03, parseSpecIdEvent00, parseSpecIdEvent03, parseStartupLocality } from './spec-id.js';
import type { EventDigest, LogEvent, LogFormat, LogPadding, RegisterKind, SpecIdInfo, UnverifiedEventLog } from './types.js';

export type EventLogCaps = { -readonly [K in keyof typeof EVENTLOG_CAPS]: number };

export interface ParseEventLogOptions {
  /** override caps (tests use small ones); defaults are EVENTLOG_CAPS */
  caps?: Partial<EventLogCaps>;
  /**
   * Called with the count of events parsed so far, every MEMORY_CHECK_EVERY events: it may throw (a typed error)
   * to stop a log that would not fit the memory the caller has (a deep attestation keeps every layer's logs).
   */
  checkMemory?: (events: number) => void;
}

/** How often (in events) ParseEventLogOptions.checkMemory is called. */
const EVENTLOG_MEMORY_CHECK_EVERY = 1 << 13;

const SHA1: HashAlg = hashById(0x0004)!;

interface Header {
  pcrIndex: number;
  eventType: number;
  digests: EventDigest[];
  data: Uint8Array;
}

export function parseEventLog(bytes: Uint8Array, opts: ParseEventLogOptions = {}): UnverifiedEventLog {
  const caps: EventLogCaps = { ...EVENTLOG_CAPS, ...opts.caps };
  if (bytes.length === 0) throw new ParseError('EVENTLOG_EMPTY', 'the event log is empty (0 bytes)', {});
  if (bytes.length > caps.maxLogBytes) {
    throw new ParseError('EVENTLOG_TOO_LARGE', `the event log is ${bytes.length} bytes, more than the ${caps.maxLogBytes}-byte cap`, { size: bytes.length, cap: caps.maxLogBytes });
  }
  const r = new TpmReader(bytes, 'TCG event log');
  const notes: string[] = [];

  // The first event is always a TCG_PCR_EVENT.
  let first: Header;
  try {
    first = readEvent(r, 0, 'sha1', undefined, caps);
  } catch (err) {
    throw identifyForeignFormat(bytes) ?? err;
  }

  let format: LogFormat = 'sha1';
  let specId: SpecIdInfo | undefined;
  let registers: RegisterKind = 'pcr';
  if (first.eventType === EV.NO_ACTION && isSpecIdEvent03(first.data)) {
    format = 'crypto-agile';
    specId = parseSpecIdEvent03(first.data);
    if (first.pcrIndex !== 0) {
      registers = 'cc-mr';
      notes.push(
        `the Spec ID event is in register ${first.pcrIndex}, not PCR 0: this is a confidential-computing event log (e.g. TDX CCEL); indexes are CC measurement registers (1..4 = RTMR0..3)`,
      );
    }
  } else if (first.eventType === EV.NO_ACTION && isSpecIdEvent00(first.data)) {
    specId = parseSpecIdEvent00(first.data);
  }
  if (specId && (specId.uintnSize < 1 || specId.uintnSize > 2)) notes.push(`Spec ID uintnSize ${specId.uintnSize} is neither 1 (32-bit) nor 2 (64-bit); assuming 64-bit`);

  const algorithms = specId && format === 'crypto-agile' ? specId.algorithms : [{ id: SHA1.id, digestSize: 20, alg: SHA1 }];
  const banks = algorithms.filter((a) => a.alg !== undefined).map((a) => a.alg!);
  const unsupportedAlgorithms = algorithms.filter((a) => a.alg === undefined).map((a) => a.id);
  if (unsupportedAlgorithms.length) {
    notes.push(`the log carries digests for algorithm(s) ${unsupportedAlgorithms.map((id) => `0x${id.toString(16).padStart(4, '0')}`).join(', ')} that vtpm-verify cannot replay`);
  }
  const ctx: DecodeContext = { uintnBytes: specId?.uintnSize === 1 ? 4 : 8, listEntries: listEntryBudget(caps.maxListEntriesPerLog) };

  const events: LogEvent[] = [];
  let startupLocality: number | undefined;
  let partialDigestEvents = 0;
  const addEvent = (h: Header, offset: number): void => {
    if (format === 'crypto-agile' && events.length > 0 && h.digests.length < algorithms.length) partialDigestEvents++;
    const decoded = decodeEvent(h.pcrIndex, h.eventType, h.data, h.digests, ctx);
    events.push({
      index: events.length,
      offset,
      pcrIndex: h.pcrIndex,
      eventType: h.eventType,
      digests: h.digests,
      data: h.data,
      raw: bytes.subarray(offset, r.offset),
      content: decoded.content,
      binding: decoded.binding,
    });
    if (h.eventType === EV.NO_ACTION) {
      const locality = parseStartupLocality(h.data);
      if (locality !== undefined) {
        if (h.pcrIndex !== 0) notes.push(`event ${events.length - 1}: StartupLocality logged in PCR ${h.pcrIndex}, not PCR 0; ignored`);
        else if (startupLocality !== undefined) notes.push(`event ${events.length - 1}: a second StartupLocality event; the first one (${startupLocality}) is used`);
        else startupLocality = locality;
      }
    }
  };
  addEvent(first, 0);

  let padding: LogPadding | undefined;
  // pcrIndex, eventType, [digest count,] digests, eventSize
  const minHeader = format === 'crypto-agile' ? 16 + algorithms.reduce((n, a) => n + 2 + a.digestSize, 0) : 32;
  const agileTable = format === 'crypto-agile' ? algorithms : undefined;
  const fillStart = trailingRunStart(bytes);
  while (r.remaining > 0) {
    padding = detectPadding(bytes, r.offset, minHeader, fillStart);
    if (padding) {
      notes.push(`${padding.length} byte(s) of 0x${padding.byte.toString(16).padStart(2, '0')} padding after the last event (offset ${padding.offset})`);
      break;
    }
    if (events.length >= caps.maxEvents) {
      throw new ParseError('EVENTLOG_TOO_MANY_EVENTS', `the log holds more than ${caps.maxEvents} events (the cap)`, { cap: caps.maxEvents, offset: r.offset });
    }
    if (opts.checkMemory && events.length % EVENTLOG_MEMORY_CHECK_EVERY === 0) opts.checkMemory(events.length);
    const offset = r.offset;
    addEvent(readEvent(r, events.length, format, agileTable, caps), offset);
  }

  if (partialDigestEvents > 0) {
    notes.push(`${partialDigestEvents} event(s) carry digests for fewer banks than the Spec ID event declares; those banks were not extended by them`);
  }
  return {
    trust: 'unverified',
    format,
    registers,
    specId,
    banks,
    unsupportedAlgorithms,
    startupLocality,
    events,
    padding,
    notes,
    raw: bytes,
  };
}

/**
 * Fill after the last event: the rest of the buffer is one repeated 0x00 or
 * 0xFF byte (CCEL log areas are padded with 0xFF, ACPI TCPA/TPM2 areas with
 * zeros), at least as long as an event header, so a log cut inside an event
 * is still reported as truncated. Such a header could not be an event (its
 * digest count would be 0 or 0xFFFFFFFF). `fillStart` is where the run of
 * one byte value that ends the buffer starts (trailingRunStart), found once:
 * scanning forward from every event instead is quadratic on a log of
 * all-zero SHA-1 events (32 zero bytes are a valid event) ended by one
 * non-zero byte.
 */
function detectPadding(bytes: Uint8Array, offset: number, minHeader: number, fillStart: number): LogPadding | undefined {
  const byte = bytes[offset]!;
  if ((byte !== 0x00 && byte !== 0xff) || bytes.length - offset < minHeader || offset < fillStart) return undefined;
  return { offset, length: bytes.length - offset, byte };
}

/** The offset where the final run of one repeated byte value starts (bytes.length - 1 when the last two bytes differ). */
function trailingRunStart(bytes: Uint8Array): number {
  let i = bytes.length - 1;
  const last = bytes[i];
  while (i > 0 && bytes[i - 1] === last) i--;
  return i;
}

function readEvent(
  r: TpmReader,
  index: number,
  format: LogFormat,
  table: readonly { id: number; digestSize: number; alg: HashAlg | undefined }[] | undefined,
  caps: EventLogCaps,
): Header {
  const start = r.offset;
  try {
    const pcrIndex = r.u32le('pcrIndex');
    const eventType = r.u32le('eventType');
    const digests: EventDigest[] = [];
    if (format === 'sha1') {
      digests.push({ algId: SHA1.id, alg: SHA1, digest: r.bytes(20, 'digest') });
    } else {
      const count = r.u32le('digests.count');
      // TPM2_PCR_Extend extends only the banks it is given digests for, so an
      // event may carry fewer digests than the Spec ID table lists (Linux and
      // tpm2-tools accept that too); more than the table, or none, is malformed.
      if (count === 0 || count > table!.length) {
        throw new ParseError(
          'EVENTLOG_DIGEST_COUNT_MISMATCH',
          `event ${index} (offset ${start}) has ${count} digest(s); the Spec ID event declares ${table!.length} algorithm(s)`,
          { event: index, offset: start, count, expected: table!.length },
        );
      }
      for (let i = 0; i < count; i++) {
        const algId = r.u16le(`digests[${i}].hashAlg`);
        const entry = table!.find((a) => a.id === algId);
        if (!entry || digests.some((d) => d.algId === algId)) {
          throw new ParseError(
            'EVENTLOG_UNKNOWN_DIGEST_ALG',
            `event ${index} (offset ${start}): digest ${i} is for algorithm 0x${algId.toString(16).padStart(4, '0')}, which the Spec ID event ${entry ? 'lists once but the event repeats' : 'does not list'}`,
            { event: index, offset: start, algorithmId: algId },
          );
        }
        digests.push({ algId, alg: entry.alg, digest: r.bytes(entry.digestSize, `digests[${i}].digest`) });
      }
    }
    const size = r.u32le('eventSize');
    if (size > caps.maxEventDataBytes) {
      throw new ParseError('EVENTLOG_EVENT_TOO_LARGE', `event ${index} (offset ${start}) declares ${size} bytes of data, more than the ${caps.maxEventDataBytes}-byte cap`, {
        event: index,
        offset: start,
        size,
        cap: caps.maxEventDataBytes,
      });
    }
    const data = r.bytes(size, 'event data');
    if (eventType !== EV.NO_ACTION && pcrIndex > caps.maxPcrIndex) {
      throw new ParseError('EVENTLOG_BAD_PCR_INDEX', `event ${index} (offset ${start}) extends PCR ${pcrIndex}; indexes above ${caps.maxPcrIndex} do not exist`, {
        event: index,
        offset: start,
        pcrIndex,
        max: caps.maxPcrIndex,
      });
    }
    return { pcrIndex, eventType, digests, data };
  } catch (err) {
    if (err instanceof VtpmError && err.code === 'TPM_TRUNCATED') {
      const d = err.details;
      throw new ParseError(
        'EVENTLOG_TRUNCATED',
        `event ${index} (offset ${start}) is truncated at ${String(d['field'])}: needs ${String(d['needed'])} byte(s), ${String(d['available'])} left`,
        { event: index, offset: start, field: d['field'], needed: d['needed'], available: d['available'] },
        { cause: err },
      );
    }
    throw err;
  }
}
