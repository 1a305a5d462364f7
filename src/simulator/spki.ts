// SubjectPublicKeyInfo DER of a node key, fast for the keys fleets are made
// of. OpenSSL 3's SPKI encoder costs ~240 µs a call here (most of creating a
// soft TPM); a P-256 SPKI is a fixed 26-byte header and the uncompressed
// point, which the JWK export (~12 µs) gives.

import { createPublicKey, type KeyObject } from 'node:crypto';

/** SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) 04 || x || y } up to the point. */
const P256_SPKI_HEADER = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

export function subjectPublicKeyInfo(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  if (pub.asymmetricKeyType === 'ec' && pub.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    const jwk = pub.export({ format: 'jwk' });
    if (jwk.x && jwk.y) return Buffer.concat([P256_SPKI_HEADER, Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  }
  return pub.export({ type: 'spki', format: 'der' });
}
