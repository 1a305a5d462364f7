// The TrustedLayer extension as an @peculiar/x509 Extension, for building AK
// certificates with X509CertificateGenerator (simulator, tests):
//
//   import 'reflect-metadata';   // @peculiar/x509 2.x needs it first
//   const ext = await trustedLayerX509Extension({ kind: 'virtual', instanceId, deepAttestation });
//   await x509.X509CertificateGenerator.create({ ..., extensions: [ext, ...] });
//
// @peculiar/x509 is imported lazily: it costs ~350 ms at start-up.

import type { Extension } from '@peculiar/x509';
import { encodeTrustedLayer, type TrustedLayerInput } from './trusted-layer-encode.js';
import { TRUSTED_LAYER_OID } from './trusted-layer.js';

export async function trustedLayerX509Extension(input: TrustedLayerInput): Promise<Extension> {
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  return new x509.Extension(TRUSTED_LAYER_OID, false, encodeTrustedLayer(input));
}
