// The measured boot of a simulated machine: a TCG PC Client crypto-agile
// firmware log shaped like a UEFI + shim + GRUB boot (what OVMF and server
// firmware write), so policies have something real to read: the S-CRTM
// version, Secure Boot on with PK/KEK/db/dbx, boot options, the boot
// applications with their image digests, GRUB's commands and the kernel
// command line. The same profile gives the same bytes every run: the
// certificates in PK/KEK/db are signed deterministically (RFC 6979), so
// golden PCR values and reference lists stay valid across runs.
//
// Simulated: image "digests" are hashes of a label, not Authenticode hashes
// of real PE files; the test certificates are the simulator's own.

import { p256 } from '@noble/curves/nist.js';
import { hash, type KeyObject } from 'node:crypto';
import { EV } from '../eventlog/event-types.js';
import { GUID, guidToBytes } from '../eventlog/decode/guid.js';
import { bankAlg, digest } from '../eventlog/hash.js';
import { EventLogWriter, encodeFilePathDevicePath, encodeVariableData, type PcrExtend, type WriterEvent } from '../eventlog/writer.js';
import type { HashName } from '../tpm/constants.js';
import { invalidArgument } from './codes.js';
import { encodeName, encodeTbs, keyIdentifier, serialFor, signTbs, type TbsSigner } from './pki.js';
import { seededEcKey, type SoftTpm } from './soft-tpm.js';
import { subjectPublicKeyInfo } from './spki.js';
import { formatImaLine, imaNgTemplateData, ImaMeasurementList, type ImaEntry } from './ima.js';
import { OID } from '../x509/oids.js';
import { boolean, implicitPrimitive, namedBits, octetString, oid, sequence } from './der.js';

export type MachineRole = 'physical' | 'vmm' | 'vm';

export interface BootApplication {
  /** EFI file path in the device path */
  path: string;
  /** what the image digest stands for (hashed per bank) */
  image: string;
}

export interface FirmwareProfile {
  role: MachineRole;
  /** EV_S_CRTM_VERSION text */
  crtmVersion: string;
  /** EV_POST_CODE strings in PCR 0 */
  postCodes: string[];
  bootOption: { number: number; description: string; path: string };
  bootApplications: BootApplication[];
  grubCommands: string[];
  kernelCmdline: string;
  /** files GRUB reads, measured in PCR 9 (EV_IPL, digest of the file) */
  kernelFiles: string[];
}

const KERNEL = 'vmlinuz-6.1.0-31-amd64';
const INITRD = 'initrd.img-6.1.0-31-amd64';

function grubFor(cmdline: string): string[] {
  return ['set root=(hd0,gpt2)', "search --no-floppy --fs-uuid --set=root 9c1b7a52-3e4d-4f0b-8a7e-2d5c6b1f0e93", 'insmod gzio', `linux /boot/${KERNEL} ${cmdline}`, `initrd /boot/${INITRD}`];
}

const SHIM = { path: '\\EFI\\BOOT\\BOOTX64.EFI', image: 'shim 15.8 (shimx64.efi)' };
const GRUB = { path: '\\EFI\\debian\\grubx64.efi', image: 'grub 2.06-13 (grubx64.efi)' };
const KERNEL_APP = { path: `\\boot\\${KERNEL}`, image: `linux ${KERNEL}` };

function profile(role: MachineRole, crtmVersion: string, postCodes: string[], cmdline: string): FirmwareProfile {
  return {
    role,
    crtmVersion,
    postCodes,
    bootOption: { number: 1, description: role === 'physical' ? 'debian (NVMe SSD)' : 'debian', path: SHIM.path },
    bootApplications: [SHIM, GRUB, KERNEL_APP],
    grubCommands: grubFor(cmdline),
    // as GRUB measures it: the kernel's path and the arguments (the BOOT_IMAGE= it gives the kernel is not measured)
    kernelCmdline: `/boot/${KERNEL} ${cmdline}`,
    kernelFiles: ['/boot/grub/grub.cfg', `/boot/${KERNEL}`, `/boot/${INITRD}`],
  };
}

/** The three machines of the simulated platform. */
export const FIRMWARE_PROFILES: Record<MachineRole, FirmwareProfile> = {
  physical: profile('physical', 'SIM-BIOS 2.19.1', ['ACPI DATA', 'SMBIOS DATA'], 'root=UUID=9c1b7a52-3e4d-4f0b-8a7e-2d5c6b1f0e93 ro intel_iommu=on kvm-intel.nested=1 quiet'),
  vmm: profile('vmm', 'edk2-stable202302 OVMF', [], 'root=/dev/vda2 ro console=ttyS0 kvm-intel.nested=1'),
  vm: profile('vm', 'edk2-stable202302 OVMF', [], 'root=/dev/vda2 ro console=ttyS0 ima_policy=tcb ima_template=ima-ng quiet'),
};

/** Owner GUID of the simulator's Secure Boot keys (SignatureOwner). */
export const SIM_SIGNATURE_OWNER = '5afe7e57-0000-4000-8000-76747076f001';

// ---------------------------------------------------------------------------
// Secure Boot databases

export interface SecureBootKeys {
  /** DER certificates */
  pk: Buffer;
  kek: Buffer;
  db: Buffer;
  /** SHA-256 image hashes revoked in dbx */
  dbxHashes: Buffer[];
}

const SECURE_BOOT_SEED = Buffer.from('vtpm-verify simulator secure boot keys v1');

/** RFC 6979 ECDSA: the same key and bytes give the same signature, so the certificates are the same each run. */
function deterministicSigner(key: KeyObject): TbsSigner {
  const d = Buffer.from(key.export({ format: 'jwk' }).d!, 'base64url');
  return (tbs) => Buffer.from(p256.sign(tbs, d, { format: 'der', prehash: true }));
}

function firmwareCertificate(commonName: string, key: KeyObject, issuer: { name: Buffer; key: KeyObject; keyId: Buffer } | null): Buffer {
  const spki = subjectPublicKeyInfo(key);
  const name = encodeName([
    ['O', 'vtpm-verify simulator firmware'],
    ['CN', commonName],
  ]);
  const ca = sequence(oid(OID.basicConstraints), boolean(true), octetString(sequence(boolean(true))));
  const ku = sequence(oid(OID.keyUsage), boolean(true), octetString(namedBits([0, 5, 6])));
  const ski = sequence(oid(OID.subjectKeyIdentifier), octetString(octetString(keyIdentifier(spki))));
  const extensions = [ca, ku, ski];
  if (issuer) extensions.push(sequence(oid(OID.authorityKeyIdentifier), octetString(sequence(implicitPrimitive(0, issuer.keyId)))));
  const tbs = encodeTbs({ serial: serialFor(`firmware/${commonName}`), issuerName: issuer?.name ?? name, subjectName: name, spki, extensions });
  return signTbs(tbs, deterministicSigner(issuer?.key ?? key));
}

let secureBootKeys: SecureBootKeys | undefined;

/** The simulator's PK, KEK and db certificates and dbx hashes (made once per process, identical every run). */
export function simSecureBootKeys(): SecureBootKeys {
  if (secureBootKeys) return secureBootKeys;
  const pkKey = seededEcKey(SECURE_BOOT_SEED, 'PK', 'p256');
  const kekKey = seededEcKey(SECURE_BOOT_SEED, 'KEK', 'p256');
  const dbKey = seededEcKey(SECURE_BOOT_SEED, 'db', 'p256');
  const pkName = encodeName([
    ['O', 'vtpm-verify simulator firmware'],
    ['CN', 'Sim Platform Key'],
  ]);
  const kekName = encodeName([
    ['O', 'vtpm-verify simulator firmware'],
    ['CN', 'Sim KEK CA'],
  ]);
  const pk = firmwareCertificate('Sim Platform Key', pkKey, null);
  const kek = firmwareCertificate('Sim KEK CA', kekKey, { name: pkName, key: pkKey, keyId: keyIdentifier(subjectPublicKeyInfo(pkKey)) });
  const db = firmwareCertificate('Sim UEFI CA', dbKey, { name: kekName, key: kekKey, keyId: keyIdentifier(subjectPublicKeyInfo(kekKey)) });
  // dbx: revoked bootloaders (stand-ins for the published revocation lists)
  const dbxHashes = Array.from({ length: 24 }, (_, i) => hash('sha256', `revoked bootloader ${i}`, 'buffer'));
  secureBootKeys = { pk, kek, db, dbxHashes };
  return secureBootKeys;
}

/** EFI_SIGNATURE_LIST of same-sized entries, each EFI_SIGNATURE_DATA = owner GUID || data. */
export function signatureList(type: string, owner: string, entries: readonly Uint8Array[]): Buffer {
  if (entries.length === 0) return Buffer.alloc(0);
  const size = 16 + entries[0]!.length;
  if (entries.some((e) => 16 + e.length !== size)) throw invalidArgument('EFI_SIGNATURE_LIST entries must have one size', {});
  const header = Buffer.alloc(28);
  guidToBytes(type).copy(header, 0);
  header.writeUInt32LE(28 + size * entries.length, 16); // SignatureListSize
  header.writeUInt32LE(0, 20); // SignatureHeaderSize
  header.writeUInt32LE(size, 24); // SignatureSize
  const ownerBytes = guidToBytes(owner);
  return Buffer.concat([header, ...entries.flatMap((e) => [ownerBytes, Buffer.from(e)])]);
}

/** EFI_LOAD_OPTION: UINT32 Attributes; UINT16 FilePathListLength; CHAR16 Description[]; device path. */
function loadOption(description: string, path: string): Buffer {
  const dp = encodeFilePathDevicePath(path);
  const head = Buffer.alloc(6);
  head.writeUInt32LE(1, 0); // LOAD_OPTION_ACTIVE
  head.writeUInt16LE(dp.length, 4);
  return Buffer.concat([head, Buffer.from(`${description}\0`, 'utf16le'), dp]);
}

// ---------------------------------------------------------------------------
// The log

export interface FirmwareLog {
  profile: FirmwareProfile;
  banks: readonly HashName[];
  /** the events as written, in order (Spec ID event excluded) */
  events: readonly WriterEvent[];
  bytes: Buffer;
  /** what the TPM is extended with */
  extends: readonly PcrExtend[];
}

/** The digest a simulated boot application is measured with (for golden lists in policies). */
export function imageDigest(bank: HashName, image: string): Buffer {
  return digest(bankAlg(bank), Buffer.from(`sim PE image: ${image}`, 'utf8'));
}

function imageDigests(banks: readonly HashName[], image: string): Partial<Record<HashName, Buffer>> {
  return Object.fromEntries(banks.map((b) => [b, imageDigest(b, image)]));
}

function digestsOf(banks: readonly HashName[], bytes: Uint8Array): Partial<Record<HashName, Buffer>> {
  return Object.fromEntries(banks.map((b) => [b, digest(bankAlg(b), bytes)]));
}

/** The events of a boot with this profile, in firmware order. */
function bootEvents(p: FirmwareProfile, banks: readonly HashName[]): WriterEvent[] {
  const keys = simSecureBootKeys();
  const w = (pcr: number, type: number, data: Uint8Array, digests?: Partial<Record<HashName, Buffer>>): WriterEvent => (digests ? { pcr, type, data, digests } : { pcr, type, data });
  const variable = (guid: string, name: string, value: Uint8Array) => encodeVariableData(guid, name, value);
  const separator = (pcr: number) => w(pcr, EV.SEPARATOR, Buffer.alloc(4));
  const bootVar = (name: string, value: Buffer) => w(1, EV.EFI_VARIABLE_BOOT, variable(GUID.EFI_GLOBAL_VARIABLE, name, value), digestsOf(banks, value));
  const bootOrder = Buffer.alloc(2);
  bootOrder.writeUInt16LE(p.bootOption.number);
  const bootName = `Boot${p.bootOption.number.toString(16).toUpperCase().padStart(4, '0')}`;
  const imageLoad = (app: BootApplication): WriterEvent => {
    const path = encodeFilePathDevicePath(app.path);
    const data = Buffer.concat([Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8), Buffer.alloc(8), path]);
    data.writeBigUInt64LE(BigInt(path.length), 24); // ImageLocationInMemory, ImageLengthInMemory, ImageLinkTimeAddress, LengthOfDevicePath
    return w(4, EV.EFI_BOOT_SERVICES_APPLICATION, data, imageDigests(banks, app.image));
  };
  const grub = (prefix: string, text: string) => w(8, EV.IPL, Buffer.from(`${prefix}${text}\0`, 'utf8'), digestsOf(banks, Buffer.from(text, 'utf8')));

  const events: WriterEvent[] = [w(0, EV.S_CRTM_VERSION, Buffer.from(`${p.crtmVersion}\0`, 'utf16le'))];
  for (const code of p.postCodes) events.push(w(0, EV.POST_CODE, Buffer.from(code, 'latin1')));
  events.push(
    w(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable(GUID.EFI_GLOBAL_VARIABLE, 'SecureBoot', Buffer.from([1]))),
    w(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable(GUID.EFI_GLOBAL_VARIABLE, 'PK', signatureList(GUID.EFI_CERT_X509, SIM_SIGNATURE_OWNER, [keys.pk]))),
    w(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable(GUID.EFI_GLOBAL_VARIABLE, 'KEK', signatureList(GUID.EFI_CERT_X509, SIM_SIGNATURE_OWNER, [keys.kek]))),
    w(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable(GUID.EFI_IMAGE_SECURITY_DATABASE, 'db', signatureList(GUID.EFI_CERT_X509, SIM_SIGNATURE_OWNER, [keys.db]))),
    w(7, EV.EFI_VARIABLE_DRIVER_CONFIG, variable(GUID.EFI_IMAGE_SECURITY_DATABASE, 'dbx', signatureList(GUID.EFI_CERT_SHA256, SIM_SIGNATURE_OWNER, keys.dbxHashes))),
    separator(7),
    bootVar('BootOrder', bootOrder),
    bootVar(bootName, loadOption(p.bootOption.description, p.bootOption.path)),
    w(4, EV.EFI_ACTION, Buffer.from('Calling EFI Application from Boot Option', 'latin1')),
    ...[0, 1, 2, 3, 4, 5, 6].map(separator),
    // db's certificate verified shim
    w(7, EV.EFI_VARIABLE_AUTHORITY, variable(GUID.EFI_IMAGE_SECURITY_DATABASE, 'db', Buffer.concat([guidToBytes(SIM_SIGNATURE_OWNER), keys.db]))),
  );
  const [shim, grubApp, ...rest] = p.bootApplications;
  if (shim) events.push(imageLoad(shim));
  if (grubApp) events.push(imageLoad(grubApp));
  for (const cmd of p.grubCommands) events.push(grub('grub_cmd: ', cmd));
  events.push(grub('kernel_cmdline: ', p.kernelCmdline));
  for (const file of p.kernelFiles) events.push(w(9, EV.IPL, Buffer.from(`${file}\0`, 'utf8'), digestsOf(banks, Buffer.from(`sim file content: ${file}`, 'utf8'))));
  for (const app of rest) events.push(imageLoad(app));
  events.push(w(5, EV.EFI_ACTION, Buffer.from('Exit Boot Services Invocation', 'latin1')), w(5, EV.EFI_ACTION, Buffer.from('Exit Boot Services Returned with Success', 'latin1')));
  return events;
}

function writeLog(banks: readonly HashName[], events: readonly WriterEvent[]): { bytes: Buffer; extends: PcrExtend[] } {
  const writer = new EventLogWriter({ banks });
  for (const e of events) writer.add(e);
  return { bytes: writer.toBytes(), extends: writer.extends() };
}

const logCache = new WeakMap<FirmwareProfile, Map<string, FirmwareLog>>();

/** The firmware log of a boot with this profile (cached: every machine of a role boots the same way). */
export function firmwareLog(profile: FirmwareProfile, banks: readonly HashName[]): FirmwareLog {
  let byBanks = logCache.get(profile);
  if (!byBanks) logCache.set(profile, (byBanks = new Map()));
  const key = banks.join(',');
  const cached = byBanks.get(key);
  if (cached) return cached;
  const events = bootEvents(profile, banks);
  const log: FirmwareLog = { profile, banks, events, ...writeLog(banks, events) };
  byBanks.set(key, log);
  return log;
}

/** Extends a TPM as the boot of this log did. */
export function measureBoot(tpm: SoftTpm, log: FirmwareLog): void {
  for (const e of log.extends) for (const [bank, d] of Object.entries(e.digests)) if (d) tpm.extend(bank as HashName, e.pcr, d);
}

/**
 * The log with the first event of `pcr` altered (its last data byte changed)
 * and its digests made consistent with the new data, as someone editing a log
 * to hide what was measured would: every event still checks against its own
 * data, but the log no longer replays to the quoted PCR. Events whose digest
 * is not of their data (images) get their digests changed instead.
 */
export function alteredLogBytes(log: FirmwareLog, pcr: number): Buffer {
  const index = log.events.findIndex((e) => e.pcr === pcr && e.type !== EV.NO_ACTION && e.data.length > 0);
  if (index < 0) throw invalidArgument(`log-event fault: the firmware log has no event in PCR ${pcr}`, { pcr });
  const events = log.events.map((e) => ({ ...e }));
  const target = events[index]!;
  const data = Buffer.from(target.data);
  data[data.length - 1]! ^= 0x01;
  const hashedData = target.digests === undefined;
  target.data = data;
  target.digests = hashedData
    ? digestsOf(log.banks, data)
    : Object.fromEntries(Object.entries(target.digests!).map(([b, d]) => [b, Buffer.from(d!.map((x, i) => (i === 0 ? x ^ 0x01 : x)))]));
  return writeLog(log.banks, events).bytes;
}

// ---------------------------------------------------------------------------
// IMA (the VM's runtime measurements)

/** Files the simulated VM's IMA policy measured (ima_policy=tcb: executables and libraries run as root). */
export const VM_IMA_FILES: readonly string[] = [
  '/usr/lib/systemd/systemd',
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/usr/lib/x86_64-linux-gnu/libsystemd-shared-252.so',
  '/usr/lib/systemd/systemd-journald',
  '/usr/lib/systemd/systemd-udevd',
  '/usr/lib/systemd/systemd-networkd',
  '/usr/lib/systemd/systemd-resolved',
  '/usr/sbin/sshd',
  '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  '/usr/bin/bash',
  '/usr/bin/ls',
  '/usr/bin/cat',
  '/usr/bin/python3.11',
  '/usr/sbin/nginx',
  '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  '/usr/local/bin/attestation-agent',
];

/** The content the simulator says a measured file had (so golden digests are reproducible). */
export function simFileContent(path: string): Buffer {
  return Buffer.from(`sim file content: ${path}`, 'utf8');
}

export interface ImaListTemplate {
  entries: readonly ImaEntry[];
  text: string;
}

/**
 * Measures the VM's IMA list into `tpm`, which has booted (measureBoot):
 * boot_aggregate over its PCRs 0-9, then the files. Other VMs of the same
 * boot replay the returned list with measureIma.
 */
export function measureImaList(tpm: SoftTpm, files: readonly string[] = VM_IMA_FILES): ImaListTemplate {
  const list = new ImaMeasurementList(tpm);
  list.addBootAggregate();
  for (const f of files) list.measureFile(f, simFileContent(f));
  return { entries: list.entries, text: list.toText() };
}

export function measureIma(tpm: SoftTpm, list: ImaListTemplate): void {
  for (const e of list.entries) for (const [bank, d] of e.extended) tpm.extend(bank, e.pcr, d);
}

/**
 * The list's text with one file's digest changed and its template hash made
 * consistent, as an edited list would be: each line checks, but the list no
 * longer replays to the quoted PCR 10.
 */
export function alteredImaText(list: ImaListTemplate): string {
  const lines = list.text.split('\n');
  // the last measured file; boot_aggregate (line 0) is left alone
  const i = lines.length - 2;
  const e = list.entries[i]!;
  const altered = Buffer.from(e.fileDigest);
  altered[0]! ^= 0x01;
  const templateData = imaNgTemplateData(e.fileHash, altered, e.path);
  lines[i] = formatImaLine({ ...e, fileDigest: altered, templateData, templateHash: hash('sha1', templateData, 'buffer') });
  return lines.join('\n');
}
