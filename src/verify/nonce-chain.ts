// Nonces of a deep attestation (protocol.md section 3).
//
// The top nonce is 32 bytes from a CSPRNG, hashed together with the time the
// challenger started and the top layer's URI as asked:
// N_top = SHA-256(random || ascii(ISO-8601 time) || SHA-256(utf8(target))). It
// is as unpredictable as the random bytes, and it binds the start time and the
// target of a saved evidence bundle to the top quote, so a bundle whose time
// was edited, or that was relabelled as another VM's (its target and first
// URI edited together), no longer verifies (its quote carries another nonce).
// The target goes in as a hash, of fixed length after the time, so no split of
// the bytes between the time and the target gives the same input.
//
// Each lower layer k must quote N_k = SHA-256(N_{k+1} || SHA-256(message_{k+1})),
// so every lower quote provably came after the one above it.

import { createHash, randomBytes } from 'node:crypto';
import { InternalError } from '../errors.js';

export interface TopNonce {
  /** the 32 bytes the top layer must quote */
  nonce: Buffer;
  /** the CSPRNG bytes it was derived from */
  random: Buffer;
  /** the time it is bound to, ISO-8601 with milliseconds */
  time: string;
}

export function topNonceFrom(random: Uint8Array, time: string, target: string): Buffer {
  const targetHash = createHash('sha256').update(target, 'utf8').digest();
  return createHash('sha256').update(random).update(time, 'ascii').update(targetHash).digest();
}

/**
 * Draws a fresh top nonce bound to `now` and to the top layer's URI. With a
 * `challenge` (32 bytes a relying party chose, `attest --challenge`) those
 * bytes are the random part instead: whoever saves a bundle also chooses its
 * time, so only a challenge the verifier chose shows the quotes came after it.
 */
export function drawTopNonce(now: Date, target: string, challenge?: Uint8Array): TopNonce {
  if (challenge !== undefined && challenge.length !== 32) throw new InternalError(`a challenge is 32 bytes, not ${challenge.length}`, { length: challenge.length });
  const random = challenge !== undefined ? Buffer.from(challenge) : randomBytes(32);
  const time = now.toISOString();
  return { nonce: topNonceFrom(random, time, target), random, time };
}

/** N_k from the nonce of the layer above and that layer's raw TPMS_ATTEST. */
export function nextNonce(upperNonce: Uint8Array, upperMessage: Uint8Array): Buffer {
  const messageHash = createHash('sha256').update(upperMessage).digest();
  return createHash('sha256').update(upperNonce).update(messageHash).digest();
}
