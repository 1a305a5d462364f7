// Layer facts of a known-good VM → VMM → physical host chain, as the walker
// would hand them to the evaluator, and small helpers to change one thing.
// Digests are SHA-256 of readable labels so failures are easy to read.

import { createHash } from 'node:crypto';
import type { HashName } from '../../src/tpm/constants.js';
import type { PcrValues } from '../../src/tpm/pcrs.js';
import type { EvaluationInput, LayerFacts } from '../../src/policy/evidence.js';
import { loadPolicy, type LoadOptions } from '../../src/policy/load.js';
import type { Policy } from '../../src/policy/compile.js';

export const sha256 = (label: string): string => createHash('sha256').update(label).digest('hex');
export const sha1 = (label: string): string => createHash('sha1').update(label).digest('hex');

export function pcrs(bank: HashName, values: Record<number, string>): PcrValues {
  return new Map([[bank, new Map(Object.entries(values).map(([i, hex]) => [Number(i), Buffer.from(hex, 'hex')]))]]);
}

/** The value of PCR i on a layer, as the fixtures compute it. */
export const pcrValue = (layer: number, i: number): string => sha256(`layer${layer}-pcr${i}`);

function pcrRange(layer: number, indexes: number[]): Record<number, string> {
  return Object.fromEntries(indexes.map((i) => [i, pcrValue(layer, i)]));
}

export const NOW = new Date('2026-11-26T12:00:00Z');

export function vmLayer(): LayerFacts {
  // PCR 12 (where systemd-boot measures command lines) at its initial value: nothing was measured there
  const values = { ...pcrRange(0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), 12: '00'.repeat(32) };
  return {
    position: 0,
    uri: 'https://web-1.example:8443',
    kind: 'virtual',
    instanceId: sha256('instance web-1'),
    akName: `000b${sha256('ak web-1')}`,
    certificate: {
      subject: 'CN=web-1,O=Acme',
      issuer: 'CN=Acme vPlatform CA,O=Acme',
      anchor: { label: 'acme-vplatform-ca', subject: 'CN=Acme vPlatform Root,O=Acme', vouchesFor: 'vplatform-ca' },
      ekus: ['2.23.133.8.3'],
      tcg: { manufacturer: 'id:4D534654', model: 'vTPM', version: '1.0' },
    },
    quote: { clock: 123_456_789n, resetCount: 3, restartCount: 0, safe: true, firmwareVersion: 0x0001000200030004n, pcrs: pcrs('sha256', values) },
    eventLog: {
      replayMatched: true,
      replayedPcrs: pcrs('sha256', pcrRange(0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])),
      secureBoot: true,
      bootApplications: [
        { pcr: 4, digests: { sha256: sha256('shimx64.efi') }, path: '\\EFI\\BOOT\\BOOTX64.EFI' },
        { pcr: 4, digests: { sha256: sha256('grubx64.efi') }, path: '\\EFI\\ubuntu\\grubx64.efi' },
        { pcr: 4, digests: { sha256: sha256('vmlinuz-6.8.0') } },
      ],
      kernelCmdlines: ['BOOT_IMAGE=/vmlinuz-6.8.0 root=UUID=0b1c ro console=ttyS0'],
      crtmVersions: ['OVMF 2024.02'],
      dbx: { sha256: [sha256('revoked grub 2.02'), sha256('revoked shim 15')], certSha256: [sha256('revoked cert')] },
      quirksApplied: [],
    },
    ima: {
      replayMatched: true,
      entries: [
        { path: 'boot_aggregate', digest: sha256('boot_aggregate'), algo: 'sha256', template: 'ima-ng' },
        { path: '/usr/bin/bash', digest: sha256('bash 5.2'), algo: 'sha256', template: 'ima-ng' },
        { path: '/usr/lib/x86_64-linux-gnu/libc.so.6', digest: sha256('libc 2.39'), algo: 'sha256', template: 'ima-ng' },
        { path: '/usr/bin/bash', digest: sha256('bash 5.2'), algo: 'sha256', template: 'ima-ng' },
        { path: '.ima', digest: sha256('keyring key'), algo: 'sha256', template: 'ima-buf' },
      ],
    },
    binding: { nonceChain: 'not-applicable', hostedInstance: 'not-applicable', issuer: 'not-applicable' },
  };
}

export function vmmLayer(): LayerFacts {
  return {
    position: 1,
    uri: 'https://host-7.example:9443',
    kind: 'virtual',
    instanceId: sha256('instance vmm host-7'),
    certificate: {
      subject: 'CN=vmm.host-7,O=Acme',
      issuer: 'CN=Acme Host CA,O=Acme',
      anchor: { label: 'acme-host-ca', subject: 'CN=Acme Host Root,O=Acme', vouchesFor: 'vplatform-ca' },
      ekus: ['2.23.133.8.3'],
    },
    quote: { clock: 987_654_321n, resetCount: 1, restartCount: 0, safe: true, firmwareVersion: 0x0002000000000000n, pcrs: pcrs('sha256', pcrRange(1, [0, 1, 2, 3, 4, 5, 6, 7, 23])) },
    binding: { nonceChain: 'pass', hostedInstance: 'pass', issuer: 'pass' },
  };
}

export function hostLayer(): LayerFacts {
  return {
    position: 2,
    uri: 'https://host-7.example:9444',
    kind: 'physical',
    certificate: {
      subject: '',
      issuer: 'CN=Infineon OPTIGA(TM) TPM 2.0 RSA CA 042,O=Infineon Technologies AG',
      anchor: { label: 'ifx-rsa-root', subject: 'CN=Infineon OPTIGA(TM) RSA Root CA,O=Infineon Technologies AG', vouchesFor: 'tpm-vendor' },
      ekus: ['2.23.133.8.3'],
      tcg: { manufacturer: 'id:49465800', model: 'SLB9670', version: 'id:0007003D' },
    },
    quote: { clock: 55_555n, resetCount: 10, restartCount: 2, safe: true, firmwareVersion: 0x0007005500000000n, pcrs: pcrs('sha256', pcrRange(2, [0, 1, 2, 3, 4, 5, 6, 7])) },
    binding: { nonceChain: 'pass', hostedInstance: 'pass', issuer: 'pass' },
  };
}

export function chain(): LayerFacts[] {
  return [vmLayer(), vmmLayer(), hostLayer()];
}

export function input(layers: LayerFacts[] = chain(), extra: Partial<EvaluationInput> = {}): EvaluationInput {
  return { layers, now: NOW, ...extra };
}

/** A policy from YAML text; includes are served from `files` (name → text). */
export function policy(yaml: string, files: Record<string, string> = {}, path = 'test/policy.yaml'): Policy {
  const opts: LoadOptions = { path, readFile: (p) => {
    const key = Object.keys(files).find((k) => p.endsWith(k));
    if (key === undefined) throw new Error(`test fixture has no file ${p}`);
    return files[key]!;
  } };
  return loadPolicy(yaml, opts);
}

/** A policy with one layer rule set (indented under `layers: - name: r`), selecting every layer unless `select` is given. */
export function layerPolicy(body: string, head = ''): Policy {
  const indented = body
    .trim()
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
  return policy(`apiVersion: vtpm-verify/v1\nname: t\n${head}layers:\n  - name: r\n${indented}\n`);
}
