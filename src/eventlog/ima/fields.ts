// Template fields: from the bytes the kernel hashes to decoded values, and
// from the ASCII list's text back to those bytes. Field formats
// (ima_template_lib.c):
//   d       raw digest (SHA-1 or MD5), no algorithm name
//   d-ng    "<alg>:" NUL <digest>        (no prefix on very old kernels)
//   d-ngv2  "<type>:<alg>:" NUL <digest> (type: ima or verity)
//   n       the name, no NUL (legacy template)
//   n-ng    the name and its NUL
//   sig, buf, modsig, d-modsig: raw bytes

import { ParseError } from '../../errors.js';
import { IMA_DIGEST_SIZES } from './templates.js';
import type { ImaFields } from './types.js';

const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

function fieldError(where: Record<string, unknown>, field: string, message: string): ParseError {
  const at = where['line'] !== undefined ? `line ${String(where['line'])}` : `entry ${String(where['entry'])}`;
  return new ParseError('IMA_FIELD_INVALID', `IMA ${at}: field ${field}: ${message}`, { ...where, field });
}

function hexBytes(text: string, where: Record<string, unknown>, field: string): Buffer {
  if (!HEX_RE.test(text)) throw fieldError(where, field, `not hex: ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`);
  return Buffer.from(text, 'hex');
}

function checkDigestSize(alg: string, digest: Uint8Array, where: Record<string, unknown>, field: string): void {
  const size = IMA_DIGEST_SIZES[alg];
  if (size !== undefined && size !== digest.length) throw fieldError(where, field, `a ${alg} digest has ${size} bytes, not ${digest.length}`);
}

/** Decodes the fields of a template; unknown field ids are left undecoded. */
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
        const prefix = nul > 0 ? Buffer.from(f.subarray(0, nul)).toString('latin1') : '';
        if (nul > 0 && prefix.endsWith(':')) {
          const parts = prefix.slice(0, -1).split(':');
          out.digestAlgorithm = parts[parts.length - 1]!;
          if (id === 'd-ngv2' && parts.length > 1) out.digestType = parts[0]!;
          out.digest = f.subarray(nul + 1);
          checkDigestSize(out.digestAlgorithm, out.digest, where, id);
        } else {
          out.digest = f;
          out.digestAlgorithm = f.length === 16 ? 'md5' : 'sha1';
        }
        break;
      }
      case 'n':
        out.name = Buffer.from(f).toString('utf8');
        break;
      case 'n-ng': {
        const end = f.length > 0 && f[f.length - 1] === 0 ? f.length - 1 : f.length;
        out.name = Buffer.from(f.subarray(0, end)).toString('utf8');
        break;
      }
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

/** Rebuilds a field's bytes from its text in an ASCII list. */
export function fieldFromText(id: string, text: string, where: Record<string, unknown>): Buffer {
  switch (id) {
    case 'd':
      return hexBytes(text, where, id);
    case 'd-ng':
    case 'd-ngv2': {
      const colon = text.lastIndexOf(':');
      if (colon < 0) return hexBytes(text, where, id);
      const prefix = text.slice(0, colon + 1);
      if (!/^[a-z0-9_-]+(?::[a-z0-9_-]+)?:$/i.test(prefix)) throw fieldError(where, id, `bad algorithm prefix "${prefix}"`);
      const digest = hexBytes(text.slice(colon + 1), where, id);
      const alg = prefix.slice(0, -1).split(':').pop()!;
      checkDigestSize(alg, digest, where, id);
      return Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.from([0]), digest]);
    }
    case 'n':
      return Buffer.from(text, 'utf8');
    case 'n-ng':
      return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])]);
    default:
      return hexBytes(text, where, id);
  }
}
