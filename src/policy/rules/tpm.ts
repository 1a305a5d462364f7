// Rules on the quote's TPM fields: firmwareVersion (vPlatform versions differ
// per VM and field upgrades change them, so an allow-list or a minimum) and
// the clock's safe flag.

import type { LayerFacts } from '../evidence.js';
import type { RuleSink } from '../result.js';
import type { TpmSpec } from '../schema.js';

export const fwHex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

export function evaluateTpm(spec: TpmSpec | undefined, layer: LayerFacts, sink: RuleSink): void {
  if (!spec) return;
  const fw = layer.quote.firmwareVersion;
  if (spec.firmwareVersions) {
    sink.check(spec.firmwareVersions.includes(fw), 'tpm.firmwareVersions', 'POLICY_FIRMWARE_VERSION', `firmwareVersion ${fwHex(fw)} is allowed`, `firmwareVersion ${fwHex(fw)} is not one of ${spec.firmwareVersions.map(fwHex).join(', ')}`, {
      expected: spec.firmwareVersions.map(fwHex),
      actual: fwHex(fw),
    });
  }
  if (spec.minFirmwareVersion !== undefined) {
    const min = spec.minFirmwareVersion;
    sink.check(fw >= min, 'tpm.minFirmwareVersion', 'POLICY_FIRMWARE_VERSION', `firmwareVersion ${fwHex(fw)} is at least ${fwHex(min)}`, `firmwareVersion ${fwHex(fw)} is below the minimum ${fwHex(min)}`, { expected: `>= ${fwHex(min)}`, actual: fwHex(fw) });
  }
  if (spec.requireSafeClock) {
    sink.check(layer.quote.safe, 'tpm.requireSafeClock', 'POLICY_CLOCK_UNSAFE', 'the TPM clock is safe', 'the quote marks the TPM clock not safe: it may have gone back (power loss or a restored state)', { expected: true, actual: layer.quote.safe });
  }
}

export function explainTpm(spec: TpmSpec | undefined): string[] {
  if (!spec) return [];
  const out: string[] = [];
  if (spec.firmwareVersions) out.push(`the TPM firmwareVersion must be ${spec.firmwareVersions.map(fwHex).join(' or ')}`);
  if (spec.minFirmwareVersion !== undefined) out.push(`the TPM firmwareVersion must be at least ${fwHex(spec.minFirmwareVersion)}`);
  if (spec.requireSafeClock) out.push('the quote must mark the TPM clock safe');
  return out;
}
