// Template fields: from the bytes the kernel hashes to decoded values, and
// from the ASCII list's text back to those bytes. Field formats
// (ima_template_lib.c):
//   d       raw digest (SHA-1 or MD5), no algorithm name
//   d-ng    "<alg>:" NUL <digest>        (no prefix on very old kernels)
//   d-ngv2  "<type>:<alg>:" NUL <digest> (type: ima or verity)
//   n       the name, no NUL (legacy template)
//   n-ng    the name and its NUL
//   sig, buf, modsig, d-modsig: raw bytes
// The ASCII path builds each entry's template data in one buffer, fields as
// views into it: IMA lists run to hundreds of thousands of entries and the
// allocations, not the parsing, would dominate.

import { ParseError } from '../../errors.js';
import { LEGACY_NAME_FIELD_BYTES, imaDigestSize } from './templates.js';
import type { ImaFields } from './types.js';

function fieldError(where: Record<string, unknown>, field: string, message: string): ParseError {
  const at = where['line'] !== undefined ? `line ${String(where['line'])}` : `entry ${String(where['entry'])}`;
  return new ParseError('IMA_FIELD_INVALID', `IMA ${at}: field ${field}: ${message}`, { ...where, field });
}

function checkDigestSize(alg: string, size: number, where: Record<string, unknown>, field: string): void {
  const want = imaDigestSize(alg);
  if (want !== undefined && want !== size) throw fieldError(where, field, `a ${alg} digest has ${want} bytes, not ${size}`);
}

function text(b: Uint8Array, encoding: 'latin1' | 'utf8'): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString(encoding);
}

/** Decodes the fields of a template from their bytes; unknown field ids are left undecoded. */
export function decodeFields(ids: readonly string[] | undefined, data: readonly Uint8Array[], where: Record<string, unknown>): ImaFields {
  const out: ImaFields = {};
  if (!ids) return out;
  ids.forEach((id, i) => {
    const f = data[i]!;
    switch (id) {
      case 'd':
        out.digest = f;
        out.digestAlgorithm = f.length === 16 ? 'md5' : 'sha1';
        break;
      case 'd-ng':
      case 'd-ngv2': {
        const nul = f.indexOf(0);
        const prefix = nul > 0 ? text(f.subarray(0, nul), 'latin1') : '';
        if (nul > 0 && prefix.endsWith(':')) {
          const parts = prefix.slice(0, -1).split(':');
          out.digestAlgorithm = parts[parts.length - 1]!;
          // The kernel writes "<type>:<alg>:" only in d-ngv2, but a template name is not in the template hash: an
          // ima-ngv2 entry relabelled ima-ng keeps its type here, or an fs-verity digest would pass for a content hash.
          if (parts.length > 1) out.digestType = parts[0]!;
          out.digest = f.subarray(nul + 1);
          checkDigestSize(out.digestAlgorithm, out.digest.length, where, id);
        } else {
          out.digest = f;
          out.digestAlgorithm = f.length === 16 ? 'md5' : 'sha1';
        }
        break;
      }
      case 'n':
        out.name = text(f, 'utf8');
        break;
      case 'n-ng':
        out.name = text(f.length > 0 && f[f.length - 1] === 0 ? f.subarray(0, f.length - 1) : f, 'utf8');
        break;
      case 'sig':
        out.signature = f;
        break;
      case 'buf':
        out.buffer = f;
        break;
    }
  });
  return out;
}

/** The legacy "ima" template's hash input: digest, then the name zero-padded to 256 bytes. */
export function legacyTemplateData(digest: Uint8Array, name: Uint8Array, where: Record<string, unknown>): { templateData: Buffer; digest: Buffer } {
  // The kernel names at most IMA_EVENT_NAME_LEN_MAX (255) bytes here (a longer path gives its last component), so
  // the hash input is always digest + 256 bytes. A longer name would make any template data of 276 bytes or more
  // read as a legacy entry: an ima-ng entry relabelled "ima" would replay as it did, with a "digest" cut from its
  // own bytes, and pass ima.denied.
  if (name.length >= LEGACY_NAME_FIELD_BYTES) throw fieldError(where, 'n', `a legacy "ima" name has at most ${LEGACY_NAME_FIELD_BYTES - 1} bytes, not ${name.length}`);
  const templateData = Buffer.alloc(digest.length + Math.max(name.length, LEGACY_NAME_FIELD_BYTES));
  templateData.set(digest, 0);
  templateData.set(name, digest.length);
  return { templateData, digest: templateData.subarray(0, digest.length) };
}

/** What the ASCII builders return; templateHash is undefined when its hex is not hex. */
export interface BuiltTemplate {
  templateData: Buffer;
  templateHash: Buffer | undefined;
  /** set by the legacy builder, which has them at hand; otherwise decoded on first use */
  fields?: ImaFields;
}

/**
 * The legacy "ima" template from text: a 40-hex SHA-1 (or 32-hex MD5) digest
 * and the name. Texts here are latin1 (one char per byte of the list), so any
 * byte sequence the kernel wrote, UTF-8 or not, is rebuilt exactly.
 */
export function buildLegacyTemplate(hashHex: string, digestHex: string, name: string, where: Record<string, unknown>): BuiltTemplate {
  if (digestHex.length !== 40 && digestHex.length !== 32) throw fieldError(where, 'd', `a legacy digest has 32 or 40 hex digits, not ${digestHex.length}`);
  const digest = Buffer.from(digestHex, 'hex');
  if (digest.length * 2 !== digestHex.length) throw fieldError(where, 'd', 'not hex');
  const nameBytes = Buffer.from(name, 'latin1');
  const built = legacyTemplateData(digest, nameBytes, where);
  const templateHash = Buffer.from(hashHex, 'hex');
  return { templateData: built.templateData, templateHash: templateHash.length * 2 === hashHex.length ? templateHash : undefined, fields: { digest: built.digest, digestAlgorithm: digest.length === 16 ? 'md5' : 'sha1', name: nameBytes.toString('utf8') } };
}

interface DigestPrefix {
  ok: boolean;
  algorithm: string;
  type?: string;
}

const PREFIX_RE = /^[a-z0-9_-]+(?::[a-z0-9_-]+)?:$/i;
/** "sha256:" and friends, parsed once: lists repeat a handful of prefixes hundreds of thousands of times */
const prefixes = new Map<string, DigestPrefix>();

function digestPrefix(prefix: string): DigestPrefix {
  let p = prefixes.get(prefix);
  if (!p) {
    const parts = prefix.slice(0, -1).split(':');
    p = { ok: PREFIX_RE.test(prefix), algorithm: parts[parts.length - 1]! };
    if (parts.length > 1) p.type = parts[0]!;
    if (prefixes.size < 1000) prefixes.set(prefix, p);
  }
  return p;
}

/** hex digit value by char code; -1 for anything else */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX_VALUE[0x41 + i] = HEX_VALUE[0x61 + i] = 10 + i;

/**
 * Writes the hex digits s[start, end) as bytes at buf[at]; false when one is
 * not a hex digit. A plain loop: for the short digests of IMA lines it beats
 * Buffer.write's argument handling, and it needs no substring.
 */
export function writeHex(buf: Uint8Array, at: number, s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i += 2) {
    const hi = s.charCodeAt(i);
    const lo = s.charCodeAt(i + 1);
    const h = hi < 128 ? HEX_VALUE[hi]! : -1;
    const l = lo < 128 ? HEX_VALUE[lo]! : -1;
    if (h < 0 || l < 0) return false;
    buf[at++] = (h << 4) | l;
  }
  return true;
}

let lastPrefix = '';
let lastPrefixInfo: DigestPrefix | undefined;

/** digestPrefix for t[0, colon], without a substring when it is the same prefix as last time */
function prefixOf(t: string, colon: number): DigestPrefix {
  if (lastPrefixInfo && colon === lastPrefix.length - 1 && t.startsWith(lastPrefix)) return lastPrefixInfo;
  lastPrefix = t.slice(0, colon + 1);
  return (lastPrefixInfo = digestPrefix(lastPrefix));
}

// Scratch for the two passes below (field sizes, colon positions); no allocation per line.
const SIZE = new Int32Array(16);
const COLON = new Int32Array(16);

/**
 * Rebuilds an entry's template data, (le32 length, field) pairs, from the
 * texts of its fields, in one buffer that also holds the listed template
 * hash; the hash, the data and the decoded fields are views into it. Not for
 * the legacy "ima" template (buildLegacyTemplate).
 */
export function buildTemplate(hashHex: string, ids: readonly string[], texts: readonly string[], where: () => Record<string, unknown>): BuiltTemplate {
  const hashLen = hashHex.length / 2;
  let total = hashLen;
  for (let i = 0; i < ids.length; i++) {
    const t = texts[i]!;
    const id = ids[i]!;
    let size: number;
    if (id === 'd-ng' || id === 'd-ngv2') {
      const colon = t.lastIndexOf(':');
      COLON[i] = colon;
      const hexLen = t.length - colon - 1;
      if (hexLen % 2) throw fieldError(where(), id, 'odd number of hex digits');
      if (colon >= 0) {
        const p = prefixOf(t, colon);
        if (!p.ok) throw fieldError(where(), id, `bad algorithm prefix "${t.slice(0, colon + 1)}"`);
        checkDigestSize(p.algorithm, hexLen / 2, where(), id);
        size = colon + 2 + hexLen / 2;
      } else size = hexLen / 2;
    } else if (id === 'n-ng') {
      size = t.length + 1; // latin1 text: one char per byte
    } else {
      if (t.length % 2) throw fieldError(where(), id, 'odd number of hex digits');
      size = t.length / 2;
    }
    SIZE[i] = size;
    total += 4 + size;
  }
  const buf = Buffer.allocUnsafe(total);
  const hashOk = writeHex(buf, 0, hashHex, 0, hashHex.length);
  let at = hashLen;
  for (let i = 0; i < ids.length; i++) {
    const t = texts[i]!;
    const id = ids[i]!;
    const size = SIZE[i]!;
    buf.writeUInt32LE(size, at);
    at += 4;
    if (id === 'd-ng' || id === 'd-ngv2') {
      const colon = COLON[i]!;
      let hexAt = at;
      if (colon >= 0) {
        buf.write(t, at, colon + 1, 'latin1');
        buf[at + colon + 1] = 0;
        hexAt = at + colon + 2;
      }
      if (!writeHex(buf, hexAt, t, colon + 1, t.length)) throw fieldError(where(), id, 'not hex');
    } else if (id === 'n-ng') {
      buf.write(t, at, 'latin1');
      buf[at + size - 1] = 0;
    } else if (!writeHex(buf, at, t, 0, t.length)) {
      throw fieldError(where(), id, 'not hex');
    }
    at += size;
  }
  return { templateData: buf.subarray(hashLen), templateHash: hashOk ? buf.subarray(0, hashLen) : undefined };
}
