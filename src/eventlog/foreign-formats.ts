// When a file does not parse as a PC Client log, say what it is instead:
// users hand us CEL-TLV logs, the ACPI table that *points at* a log, IMA
// lists and random files, and "truncated at eventSize" would mislead them.

import { ParseError } from '../errors.js';
import { TpmReader } from '../tpm/reader.js';

const ACPI_LOG_TABLES = new Set(['CCEL', 'TCPA', 'TPM2']);

function printableRatio(b: Uint8Array): number {
  let n = 0;
  for (const x of b) if ((x >= 0x20 && x < 0x7f) || x === 0x0a || x === 0x0d || x === 0x09) n++;
  return b.length ? n / b.length : 0;
}

/** A reader positioned at `at` (callers check the length first). */
function at(b: Uint8Array, offset: number): TpmReader {
  return new TpmReader(b, 'format probe', offset);
}

/** A ParseError naming the format the bytes are in, or undefined when they are nothing we recognise. */
export function identifyForeignFormat(bytes: Uint8Array): ParseError | undefined {
  // TCG Canonical Event Log, TLV encoding: a recnum record (type 0, big-endian
  // length 1..8), then an index record: 1 = PCR, 2 = NV index, 108 = CC MR.
  if (bytes.length >= 10 && bytes[0] === 0) {
    const len = at(bytes, 1).u32('CEL record length');
    const next = 5 + len;
    if (len >= 1 && len <= 8 && next < bytes.length && [1, 2, 108].includes(bytes[next]!)) {
      return new ParseError(
        'EVENTLOG_NOT_PC_CLIENT',
        'this is a TCG Canonical Event Log in TLV encoding (CEL-TLV), not a TCG PC Client event log; vtpm-verify does not replay CEL logs',
        { format: 'cel-tlv' },
      );
    }
  }
  if (bytes.length >= 36) {
    const sig = Buffer.from(bytes.subarray(0, 4)).toString('latin1');
    if (ACPI_LOG_TABLES.has(sig) && at(bytes, 4).u32le('ACPI table length') === bytes.length) {
      const details: Record<string, unknown> = { format: `acpi-${sig.toLowerCase()}` };
      let where = '';
      if (sig === 'CCEL' && bytes.length >= 56) {
        const area = at(bytes, 40);
        const laml = area.u64le('LAML'); // log area minimum length
        const lasa = area.u64le('LASA'); // log area start address
        details['logAreaLength'] = laml.toString();
        details['logAreaAddress'] = `0x${lasa.toString(16)}`;
        where = ` (its log area: ${laml} bytes at 0x${lasa.toString(16)})`;
      }
      return new ParseError('EVENTLOG_NOT_PC_CLIENT', `this is the ACPI ${sig} table that points at an event log${where}, not the log itself`, details);
    }
  }
  // binary_runtime_measurements: le32 PCR, a 20-byte template hash, le32 template-name length, the name
  // ("ima-ng", "ima-sig", ...). Probed only after the first event failed to parse: read as a SHA-1 event, the
  // name's first bytes make its event size (761,359,721 for "ima-"), and "too large" would say nothing useful.
  if (bytes.length >= 29) {
    const r = at(bytes, 0);
    const pcr = r.u32le('IMA pcr');
    r.bytes(20, 'IMA template hash');
    const nameLen = r.u32le('IMA template name length');
    if (pcr <= 31 && nameLen >= 1 && nameLen <= 255 && bytes.length >= 28 + nameLen) {
      const name = Buffer.from(bytes.subarray(28, 28 + nameLen)).toString('latin1');
      if (/^[a-z][a-z0-9_-]*$/i.test(name)) {
        return new ParseError(
          'EVENTLOG_NOT_PC_CLIENT',
          `this is a binary IMA measurement list (binary_runtime_measurements, first template "${name}"), not a firmware event log (pass it with --ima)`,
          { format: 'ima-binary', template: name },
        );
      }
    }
  }
  const head = bytes.subarray(0, 4096);
  if (printableRatio(head) > 0.97) {
    const text = Buffer.from(head).toString('latin1');
    if (/^\s*\d+ [0-9a-f]{40,128} \S+/.test(text)) {
      return new ParseError('EVENTLOG_NOT_PC_CLIENT', 'this is an ASCII IMA measurement list, not a firmware event log (pass it with --ima)', { format: 'ima-ascii' });
    }
    return new ParseError('EVENTLOG_NOT_PC_CLIENT', `this is text (${bytes.length} bytes, all printable), not a binary TCG PC Client event log`, { format: 'text' });
  }
  return undefined;
}
