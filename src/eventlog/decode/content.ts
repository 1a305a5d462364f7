// Decoded event data, one variant per kind of event. Every variant may carry
// notes (what could not be decoded); an event whose data cannot be decoded at
// all is { kind: 'raw' } with a note, never a parse failure.

import type { SpecIdInfo } from '../types.js';

interface Base {
  notes?: string[];
}

export interface SpecIdContent extends Base {
  kind: 'spec-id';
  specId: SpecIdInfo;
}

export interface StartupLocalityContent extends Base {
  kind: 'startup-locality';
  locality: number;
}

/** Other EV_NO_ACTION events: SP800-155 reference manifests, NvIndexInstance, Windows trailers. */
export interface NoActionContent extends Base {
  kind: 'no-action';
  /** the NUL-terminated signature at the start of the data, when there is one */
  signature: string | undefined;
}

/** One EFI_SIGNATURE_DATA of an EFI_SIGNATURE_LIST. */
export interface EfiSignature {
  owner: string;
  /** X.509 certificates keep their DER; hashes their raw digest */
  data: Uint8Array;
}

export interface EfiSignatureList {
  /** SignatureType GUID */
  type: string;
  /** EFI_CERT_X509, EFI_CERT_SHA256, ... when known */
  typeName: string | undefined;
  signatures: EfiSignature[];
}

/** EFI_LOAD_OPTION of a Boot#### variable. */
export interface EfiLoadOption {
  attributes: number;
  description: string;
  devicePath: string;
  filePath: string | undefined;
  optionalData: Uint8Array;
}

/** UEFI_VARIABLE_DATA: EV_EFI_VARIABLE_DRIVER_CONFIG, _BOOT, _BOOT2 and _AUTHORITY. */
export interface EfiVariableContent extends Base {
  kind: 'efi-variable';
  /** VariableName GUID (the vendor namespace) */
  guid: string;
  name: string;
  value: Uint8Array;
  /** bytes the UEFI_VARIABLE_DATA frame occupies, when the event data has more after it */
  frameLength?: number;
  /** SecureBoot, DeployedMode, AuditMode, SetupMode: one byte, 1 = on */
  enabled?: boolean;
  /** PK, KEK, db, dbx, dbt, dbr, MokList...: the EFI_SIGNATURE_LISTs */
  signatureLists?: EfiSignatureList[];
  /** EV_EFI_VARIABLE_AUTHORITY: the db entry (or shim certificate) that verified an image */
  authority?: EfiSignature;
  bootOrder?: number[];
  loadOption?: EfiLoadOption;
  /** SbatLevel and other textual values */
  text?: string;
}

/** UEFI_IMAGE_LOAD_EVENT: EV_EFI_BOOT_SERVICES_APPLICATION/_DRIVER, EV_EFI_RUNTIME_SERVICES_DRIVER. */
export interface ImageLoadContent extends Base {
  kind: 'efi-image-load';
  imageLocation: bigint;
  imageLength: bigint;
  linkTimeAddress: bigint;
  /** the device path in UEFI text form: PciRoot(0x0)/Pci(0x3,0x0)/.../\EFI\BOOT\BOOTX64.EFI */
  devicePath: string;
  /** the file path nodes joined: \EFI\BOOT\BOOTX64.EFI, when the path has any */
  filePath: string | undefined;
}

export type IplRole = 'grub-command' | 'kernel-cmdline' | 'module-cmdline' | 'string';

/** EV_IPL strings: GRUB commands and command lines, systemd-boot command lines, file names. */
export interface IplContent extends Base {
  kind: 'ipl';
  text: string;
  encoding: 'utf-8' | 'utf-16le';
  role: IplRole;
  /** for commands and command lines: the text without GRUB's "grub_cmd: " style prefix */
  value: string;
}

export interface SeparatorContent extends Base {
  kind: 'separator';
  /** 0x00000000 (or the legacy 0xFFFFFFFF) normally; 0x00000001 for an error separator */
  value: number;
  error: boolean;
  /** an error separator's data: implementation-defined error information */
  errorInfo?: Uint8Array;
}

export interface TextContent extends Base {
  kind: 'text';
  text: string;
  encoding: 'utf-8' | 'utf-16le';
}

/** EV_S_CRTM_VERSION */
export interface VersionContent extends Base {
  kind: 'version';
  version: string;
  /** how the version was written: text, a GUID (EDK2), or opaque bytes shown as hex */
  form: 'utf-8' | 'utf-16le' | 'guid' | 'hex';
}

export interface FirmwareBlobContent extends Base {
  kind: 'firmware-blob';
  base: bigint;
  length: bigint;
  description?: string;
}

export interface GptPartition {
  typeGuid: string;
  uniqueGuid: string;
  firstLba: bigint;
  lastLba: bigint;
  attributes: bigint;
  name: string;
}

export interface GptContent extends Base {
  kind: 'gpt';
  diskGuid: string;
  partitions: GptPartition[];
}

export interface HandoffTablesContent extends Base {
  kind: 'handoff-tables';
  description?: string;
  tables: { guid: string; name: string | undefined; address: bigint }[];
}

export interface TaggedEvent {
  id: number;
  name: string | undefined;
  data: Uint8Array;
  /** when the tag's data is text (Linux load options, systemd) */
  text?: string;
}

export interface EventTagContent extends Base {
  kind: 'event-tag';
  tags: TaggedEvent[];
}

/** Unknown event types, and data that could not be decoded (see notes). */
export interface RawContent extends Base {
  kind: 'raw';
}

export type EventContent =
  | SpecIdContent
  | StartupLocalityContent
  | NoActionContent
  | EfiVariableContent
  | ImageLoadContent
  | IplContent
  | SeparatorContent
  | TextContent
  | VersionContent
  | FirmwareBlobContent
  | GptContent
  | HandoffTablesContent
  | EventTagContent
  | RawContent;
