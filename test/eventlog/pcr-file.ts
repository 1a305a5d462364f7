// Reads the PCR values file `tpm2_quote -o` writes (default "serialized"
// format, swtpm-notes.md): a little-endian C-struct dump of TPML_PCR_SELECTION
// (UINT32 count; 16 x {UINT16 hash; UINT8 sizeofSelect; UINT8 pcrSelect[4];
// pad}) = 132 bytes, a UINT32 count of TPML_DIGEST blocks, then blocks of 532
// bytes (UINT32 count; 8 x {UINT16 size; BYTE buffer[64]}). Values come in
// selection order: bank by bank, PCRs ascending. Test-only.
import { TpmReader } from '../../src/tpm/reader.js';
import { hashById } from '../../src/tpm/constants.js';
import type { PcrValues } from '../../src/tpm/pcrs.js';

export function readTpm2ToolsPcrFile(bytes: Uint8Array): PcrValues {
  const r = new TpmReader(bytes, 'tpm2_quote PCR file');
  const count = r.u32le('pcrSelections.count');
  const selection: { alg: NonNullable<ReturnType<typeof hashById>>; pcrs: number[] }[] = [];
  for (let i = 0; i < 16; i++) {
    const hashAlg = r.u16le('hash');
    const size = r.u8('sizeofSelect');
    const bits = r.bytes(4, 'pcrSelect');
    r.skip(1, 'padding');
    if (i >= count) continue;
    const pcrs: number[] = [];
    for (let p = 0; p < size * 8; p++) if (bits[p >> 3]! & (1 << (p & 7))) pcrs.push(p);
    selection.push({ alg: hashById(hashAlg)!, pcrs });
  }
  const blocks = r.u32le('digest block count');
  const digests: Uint8Array[] = [];
  for (let b = 0; b < blocks; b++) {
    const block = r.sub(532, 'TPML_DIGEST');
    const n = block.u32le('count');
    for (let i = 0; i < 8; i++) {
      const size = block.u16le('size');
      const buf = block.bytes(64, 'buffer');
      if (i < n) digests.push(buf.subarray(0, size));
    }
  }
  r.end();
  const out: PcrValues = new Map();
  let k = 0;
  for (const s of selection) out.set(s.alg.name, new Map(s.pcrs.map((p) => [p, Buffer.from(digests[k++]!)])));
  return out;
}
