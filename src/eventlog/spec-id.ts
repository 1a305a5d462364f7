// The first event of a log and the other EV_NO_ACTION payloads (PFP 10.4.5).
//
// TCG_EfiSpecIDEventStruct ("Spec ID Event03", crypto-agile logs):
//   BYTE signature[16]; UINT32 platformClass; UINT8 specVersionMinor;
//   UINT8 specVersionMajor; UINT8 specErrata; UINT8 uintnSize;
//   UINT32 numberOfAlgorithms; TCG_EfiSpecIdEventAlgorithmSize digestSizes[n]
//   (UINT16 algorithmId; UINT16 digestSize); UINT8 vendorInfoSize;
//   BYTE vendorInfo[vendorInfoSize]
// TCG_EfiSpecIdEventStruct of the TCG EFI Protocol 1.2 ("Spec ID Event00",
// SHA-1 logs) has no algorithm table.

import { ParseError, VtpmError } from '../errors.js';
import { TpmReader } from '../tpm/reader.js';
import { HASH_ALGS, hashById } from '../tpm/constants.js';
import { EVENTLOG_CAPS } from './caps.js';
import type { SpecIdAlgorithm, SpecIdInfo } from './types.js';

const SIGNATURE_BYTES = 16;

/** The NUL-terminated ASCII signature at the start of an EV_NO_ACTION event, if it has one. */
export function noActionSignature(data: Uint8Array): string | undefined {
  const head = data.subarray(0, SIGNATURE_BYTES);
  const nul = head.indexOf(0);
  const text = Buffer.from(head.subarray(0, nul < 0 ? head.length : nul)).toString('latin1');
  return text.length >= 4 && /^[\x20-\x7e]+$/.test(text) ? text : undefined;
}

export function isSpecIdEvent03(data: Uint8Array): boolean {
  return data.length >= SIGNATURE_BYTES && Buffer.from(data.subarray(0, SIGNATURE_BYTES)).equals(Buffer.from('Spec ID Event03\0', 'latin1'));
}

export function isSpecIdEvent00(data: Uint8Array): boolean {
  return data.length >= SIGNATURE_BYTES && Buffer.from(data.subarray(0, SIGNATURE_BYTES)).equals(Buffer.from('Spec ID Event00\0', 'latin1'));
}

function invalid(message: string, details: Record<string, unknown> = {}, cause?: unknown): ParseError {
  return new ParseError('EVENTLOG_SPEC_ID_INVALID', `Spec ID event: ${message}`, details, { cause });
}

type SpecIdHeader = Pick<SpecIdInfo, 'platformClass' | 'specVersion' | 'uintnSize'>;

/** The fields both Spec ID structures start with, after the 16-byte signature. */
function readHeader(r: TpmReader): SpecIdHeader {
  r.skip(SIGNATURE_BYTES, 'signature');
  const platformClass = r.u32le('platformClass');
  const minor = r.u8('specVersionMinor');
  const major = r.u8('specVersionMajor');
  const errata = r.u8('specErrata');
  const uintnSize = r.u8('uintnSize');
  return { platformClass, specVersion: { major, minor, errata }, uintnSize };
}

/** Parses "Spec ID Event03"; every size is checked against the event's own size. */
export function parseSpecIdEvent03(data: Uint8Array): SpecIdInfo {
  try {
    const r = new TpmReader(data, 'TCG_EfiSpecIDEventStruct');
    const header = readHeader(r);
    const count = r.u32le('numberOfAlgorithms');
    if (count === 0 || count > EVENTLOG_CAPS.maxSpecIdAlgorithms) {
      throw invalid(`numberOfAlgorithms is ${count}; it must be 1..${EVENTLOG_CAPS.maxSpecIdAlgorithms}`, { numberOfAlgorithms: count });
    }
    const algorithms: SpecIdAlgorithm[] = [];
    for (let i = 0; i < count; i++) {
      const id = r.u16le(`digestSizes[${i}].algorithmId`);
      const digestSize = r.u16le(`digestSizes[${i}].digestSize`);
      const alg = hashById(id);
      if (algorithms.some((a) => a.id === id)) throw invalid(`algorithm 0x${id.toString(16)} is listed twice`, { algorithmId: id });
      if (alg && alg.size !== digestSize) {
        throw invalid(`${alg.name} is declared with digest size ${digestSize}; it is ${alg.size}`, { algorithmId: id, digestSize, expected: alg.size });
      }
      if (digestSize === 0 || digestSize > EVENTLOG_CAPS.maxDigestBytes) {
        throw invalid(`algorithm 0x${id.toString(16)} has digest size ${digestSize}; the cap is ${EVENTLOG_CAPS.maxDigestBytes}`, { algorithmId: id, digestSize });
      }
      algorithms.push({ id, digestSize, alg: alg && HASH_ALGS.includes(alg) ? alg : undefined });
    }
    const vendorInfoSize = r.u8('vendorInfoSize');
    if (vendorInfoSize > r.remaining) {
      throw invalid(`vendorInfoSize is ${vendorInfoSize} but the event has ${r.remaining} byte(s) left (the event size ${data.length} is too small for its own fields)`, {
        vendorInfoSize,
        available: r.remaining,
        eventSize: data.length,
      });
    }
    const vendorInfo = r.bytes(vendorInfoSize, 'vendorInfo');
    if (r.remaining > 0) throw invalid(`${r.remaining} byte(s) after vendorInfo`, { trailing: r.remaining });
    return { signature: 'Spec ID Event03', ...header, algorithms, vendorInfo };
  } catch (err) {
    if (err instanceof VtpmError && err.code === 'EVENTLOG_SPEC_ID_INVALID') throw err;
    throw invalid((err as Error).message, { eventSize: data.length }, err);
  }
}

/** Parses the TCG 1.2 EFI "Spec ID Event00" of a SHA-1 log. */
export function parseSpecIdEvent00(data: Uint8Array): SpecIdInfo {
  try {
    const r = new TpmReader(data, 'TCG_EfiSpecIdEventStruct');
    const header = readHeader(r);
    const vendorInfoSize = r.u8('vendorInfoSize');
    const vendorInfo = r.bytes(vendorInfoSize, 'vendorInfo');
    // The event's data is the structure, as for Event03: bytes after vendorInfo are not part of it.
    if (r.remaining > 0) throw invalid(`${r.remaining} byte(s) after vendorInfo`, { trailing: r.remaining });
    const sha1 = hashById(0x0004)!;
    return { signature: 'Spec ID Event00', ...header, algorithms: [{ id: sha1.id, digestSize: 20, alg: sha1 }], vendorInfo };
  } catch (err) {
    if (err instanceof VtpmError && err.code === 'EVENTLOG_SPEC_ID_INVALID') throw err;
    throw invalid((err as Error).message, { eventSize: data.length }, err);
  }
}

/** "StartupLocality\0" followed by one byte: the locality TPM2_Startup ran at (PFP 10.4.5.3). */
export function parseStartupLocality(data: Uint8Array): number | undefined {
  if (data.length !== 17 || noActionSignature(data) !== 'StartupLocality' || data[15] !== 0) return undefined;
  return data[16];
}
