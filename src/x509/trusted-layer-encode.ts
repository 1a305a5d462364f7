// Encodes the TrustedLayer extension (protocol.md section 4) with asn1js, for
// the simulator that mints AK certificates and for tests. Kept apart from the
// decoder so that validating certificates never loads asn1js.

import * as asn1js from 'asn1js';
import { fromHex } from '../util/bytes.js';
import { checkTrustedLayer, TRUSTED_LAYER_OID, type LayerKind, type TrustedLayerValue } from './trusted-layer.js';

export interface TrustedLayerInput {
  kind: LayerKind;
  /** 32 bytes, or 64 hex digits */
  instanceId?: Uint8Array | string;
  deepAttestation?: string;
  migrationService?: string;
}

function implicitPrimitive(tagNumber: number, bytes: Uint8Array): asn1js.Primitive {
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber }, valueHex: Uint8Array.from(bytes).buffer });
}

export function toTrustedLayerValue(input: TrustedLayerInput): TrustedLayerValue {
  const value: TrustedLayerValue = { kind: input.kind };
  if (input.instanceId !== undefined) value.instanceId = typeof input.instanceId === 'string' ? fromHex(input.instanceId, 'instanceId') : input.instanceId;
  if (input.deepAttestation !== undefined) value.deepAttestation = input.deepAttestation;
  if (input.migrationService !== undefined) value.migrationService = input.migrationService;
  return value;
}

/**
 * DER of the extension's value (what goes inside extnValue). Throws
 * ParseError LAYER_EXT_* for values the decoder would reject.
 */
export function encodeTrustedLayer(input: TrustedLayerInput): Uint8Array {
  const value = toTrustedLayerValue(input);
  checkTrustedLayer(value);
  const fields: asn1js.AsnType[] = [new asn1js.Enumerated({ value: value.kind === 'virtual' ? 1 : 0 })];
  if (value.instanceId) fields.push(implicitPrimitive(0, value.instanceId));
  if (value.deepAttestation !== undefined) fields.push(implicitPrimitive(1, Buffer.from(value.deepAttestation, 'latin1')));
  if (value.migrationService !== undefined) fields.push(implicitPrimitive(2, Buffer.from(value.migrationService, 'latin1')));
  return new Uint8Array(new asn1js.Sequence({ value: fields }).toBER(false));
}

/** The whole Extension (SEQUENCE { extnID, extnValue }), non-critical as protocol.md requires. */
export function encodeTrustedLayerExtension(input: TrustedLayerInput): Uint8Array {
  const ext = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: TRUSTED_LAYER_OID }), new asn1js.OctetString({ valueHex: Uint8Array.from(encodeTrustedLayer(input)).buffer })],
  });
  return new Uint8Array(ext.toBER(false));
}
