// The facts a policy needs, taken only from a verified log. Content-derived
// facts (Secure Boot state, key databases, command lines, versions) come
// only from events whose digest is the hash of their data in a verified
// bank; digest facts (boot application image hashes) need only the verified
// digest, and say that the path next to them is not attested. Verified
// events whose content is not attested are listed, not interpreted.

import { X509Certificate, createHash } from 'node:crypto';
import type { HashName } from '../tpm/constants.js';
import { toHex } from '../util/bytes.js';
import type { EfiSignature, EfiSignatureList } from './decode/content.js';
import { GUID } from './decode/guid.js';
import { EV, eventTypeName } from './event-types.js';
import { digest as hashOf, bankAlg } from './hash.js';
import { VARIABLE_VALUE_ONLY } from './decode/binding.js';
import type { VerifiedImaList } from './ima/verified.js';
import type { VerifiedEvent, VerifiedEventLog } from './verified.js';

/** Where a fact came from. */
export interface FactSource {
  event: number;
  pcr: number;
  /** banks in which the event's digest was verified */
  banks: readonly HashName[];
}

export interface CertificateFact {
  /** SHA-256 of the DER, hex */
  sha256: string;
  subject?: string;
  issuer?: string;
  serialNumber?: string;
  notAfter?: string;
  /** the EFI_SIGNATURE_DATA owner GUID */
  owner: string;
  der: Uint8Array;
}

export interface SignatureDatabaseFact {
  /** PK, KEK, db, dbx, dbt, dbr (or MokList... when shim measures them in PCR 7) */
  name: string;
  guid: string;
  certificates: CertificateFact[];
  /** hash entries (EFI_CERT_SHA256 and friends), hex, with their type name */
  hashes: { type: string; digest: string; owner: string }[];
  source: FactSource;
}

export interface BootApplicationFact {
  type: 'EV_EFI_BOOT_SERVICES_APPLICATION' | 'EV_EFI_BOOT_SERVICES_DRIVER' | 'EV_EFI_RUNTIME_SERVICES_DRIVER';
  /** the image's Authenticode digest per verified bank (attested) */
  digests: Partial<Record<HashName, string>>;
  /** from the event data: NOT attested (the digest covers the image, not its path) */
  devicePath: string | undefined;
  filePath: string | undefined;
  pathAttested: false;
  source: FactSource;
}

export interface BootFacts {
  /** bank -> PCRs whose replay matched the quote */
  verifiedPcrs: Record<string, number[]>;
  /** quirks needed for a PCR to match */
  quirks: string[];
  startupLocality: number | undefined;
  /** the SecureBoot variable measured in PCR 7; undefined when no attested event says */
  secureBoot: { enabled: boolean; source: FactSource } | undefined;
  /** SetupMode, AuditMode, DeployedMode when measured */
  secureBootModes: Record<string, { enabled: boolean; source: FactSource }>;
  /** PK, KEK, db, dbx... as measured in PCR 7 */
  signatureDatabases: SignatureDatabaseFact[];
  /** convenience: the dbx hashes (sha256 entries, hex) and certificates, when dbx was measured */
  dbx: { hashes: string[]; certificates: CertificateFact[] } | undefined;
  /** EV_EFI_VARIABLE_AUTHORITY: the certificates (or shim settings) that verified loaded images */
  authorities: { variable: string; guid: string; certificate?: CertificateFact; text?: string; enabled?: boolean; source: FactSource }[];
  bootApplications: BootApplicationFact[];
  /** Boot#### and BootOrder as measured (EV_EFI_VARIABLE_BOOT) */
  bootOptions: { variable: string; description: string; devicePath: string; filePath: string | undefined; source: FactSource }[];
  bootOrder: number[] | undefined;
  /** GRUB's kernel_cmdline and systemd-boot's PCR 12 command line (the EFI stub's PCR 9 one is hashed, not logged) */
  kernelCommandLines: { text: string; origin: 'grub' | 'systemd-boot'; source: FactSource }[];
  grubCommands: { text: string; source: FactSource }[];
  crtmVersions: { version: string; form: string; source: FactSource }[];
  postCodes: { text: string; source: FactSource }[];
  efiActions: { text: string; source: FactSource }[];
  separators: { pcr: number; error: boolean; source: FactSource }[];
  /** verified events whose content is not attested: listed so a policy can see them, never interpreted */
  unattested: { event: number; pcr: number; type: string; reason: string }[];
}

// Where the PC Client PFP, GRUB and systemd-boot measure what facts are read from. The OS can extend most PCRs
// at locality 0 and log whatever it likes for them: a fact read from any other PCR would be anyone's claim.
const BOOT_APPLICATION_PCRS: readonly number[] = [4];
/** firmware volume drivers (PCR 0) and option ROM / driver images (PCR 2) */
const DRIVER_PCRS: readonly number[] = [0, 2];
const GRUB_PCR = 8;
const SYSTEMD_CMDLINE_PCR = 12;
/** GRUB's Linux loaders build the command line they measure as "BOOT_IMAGE=<kernel> <arguments>" */
const GRUB_CMDLINE_START = 'BOOT_IMAGE=';

function sourceOf(v: VerifiedEvent): FactSource {
  return { event: v.event.index, pcr: v.event.pcrIndex, banks: v.banks };
}

type CertificateNames = Pick<CertificateFact, 'subject' | 'issuer' | 'serialNumber' | 'notAfter'>;

/**
 * Decoded names by the DER's SHA-256: the same db/KEK certificates appear in
 * every log of a fleet, and decoding one costs far more than hashing it.
 */
const namesByHash = new Map<string, CertificateNames>();
const NAMES_CACHED = 1024;

function certificateNames(der: Uint8Array, sha256: string): CertificateNames {
  const known = namesByHash.get(sha256);
  if (known) return known;
  const names: CertificateNames = {};
  try {
    const c = new X509Certificate(Buffer.from(der));
    names.subject = c.subject.replace(/\n/g, ', ');
    names.issuer = c.issuer.replace(/\n/g, ', ');
    names.serialNumber = c.serialNumber.toLowerCase();
    names.notAfter = new Date(c.validTo).toISOString();
  } catch {
    // not DER a certificate parser accepts: kept as bytes with its hash
  }
  if (namesByHash.size >= NAMES_CACHED) namesByHash.delete(namesByHash.keys().next().value!);
  namesByHash.set(sha256, names);
  return names;
}

/** A certificate summary with node's X509Certificate; the DER is kept whatever happens. */
export function certificateFact(sig: EfiSignature): CertificateFact {
  const sha256 = toHex(hashOf(bankAlg('sha256'), sig.data));
  return { sha256, owner: sig.owner, der: sig.data, ...certificateNames(sig.data, sha256) };
}

const CERT_TYPES = new Set<string>([GUID.EFI_CERT_X509]);

function splitLists(lists: EfiSignatureList[]): { certificates: CertificateFact[]; hashes: SignatureDatabaseFact['hashes'] } {
  const certificates: CertificateFact[] = [];
  const hashes: SignatureDatabaseFact['hashes'] = [];
  for (const l of lists) {
    for (const s of l.signatures) {
      if (CERT_TYPES.has(l.type)) certificates.push(certificateFact(s));
      else hashes.push({ type: l.typeName ?? l.type, digest: toHex(s.data), owner: s.owner });
    }
  }
  return { certificates, hashes };
}

export function extractBootFacts(verified: VerifiedEventLog): BootFacts {
  const facts: BootFacts = {
    verifiedPcrs: Object.fromEntries([...verified.matchedPcrs].map(([b, p]) => [b, [...p]])),
    quirks: [...verified.quirks],
    startupLocality: verified.startupLocality,
    secureBoot: undefined,
    secureBootModes: {},
    signatureDatabases: [],
    dbx: undefined,
    authorities: [],
    bootApplications: [],
    bootOptions: [],
    bootOrder: undefined,
    kernelCommandLines: [],
    grubCommands: [],
    crtmVersions: [],
    postCodes: [],
    efiActions: [],
    separators: [],
    unattested: [],
  };

  // PCR 7's separator ends the Secure Boot configuration: what is measured as driver configuration after it
  // (by a loader or the OS, which can extend PCR 7 at locality 0) is not the configuration the firmware booted with.
  let pcr7Separated = false;
  for (const v of verified.events) {
    const e = v.event;
    const c = e.content;
    const src = sourceOf(v);
    const type = eventTypeName(e.eventType);
    const elsewhere = (expected: readonly number[]): boolean => {
      if (expected.includes(e.pcrIndex)) return false;
      facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type, reason: `measured in PCR ${e.pcrIndex}: this kind of fact is read only from PCR ${expected.join(' or ')}, where the firmware or loader measures it` });
      return true;
    };
    if (e.eventType === EV.SEPARATOR && e.pcrIndex === 7) pcr7Separated = true;

    // Digest facts: the verified digest is the fact; the data beside it is only a label.
    if (c.kind === 'efi-image-load' && (e.eventType === EV.EFI_BOOT_SERVICES_APPLICATION || e.eventType === EV.EFI_BOOT_SERVICES_DRIVER || e.eventType === EV.EFI_RUNTIME_SERVICES_DRIVER)) {
      if (elsewhere(e.eventType === EV.EFI_BOOT_SERVICES_APPLICATION ? BOOT_APPLICATION_PCRS : DRIVER_PCRS)) continue;
      const digests: Partial<Record<HashName, string>> = {};
      for (const d of e.digests) if (d.alg && v.banks.includes(d.alg.name)) digests[d.alg.name] = toHex(d.digest);
      facts.bootApplications.push({ type: type as BootApplicationFact['type'], digests, devicePath: c.devicePath, filePath: c.filePath, pathAttested: false, source: src });
      continue;
    }
    if (e.binding === null) continue; // no content claim to make (blobs, handoff tables, file names...)
    if (!v.contentBound) {
      facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type, reason: `the digest is not the hash of the ${e.binding.measured}` });
      continue;
    }
    if (c.kind === 'efi-variable' && e.binding.measured === VARIABLE_VALUE_ONLY) {
      // only the value is hashed: the name and GUID that say which variable it is could be any
      facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type, reason: `only the variable's value is hashed, not its name ${JSON.stringify(c.name)} and GUID` });
      continue;
    }

    switch (c.kind) {
      case 'efi-variable':
        if (e.eventType === EV.EFI_VARIABLE_DRIVER_CONFIG) {
          if (elsewhere([7])) break;
          if (pcr7Separated) {
            facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type, reason: 'measured after PCR 7\'s separator: not the Secure Boot configuration the firmware booted with' });
            break;
          }
          if (c.enabled !== undefined && c.guid === GUID.EFI_GLOBAL_VARIABLE) {
            if (c.name === 'SecureBoot') facts.secureBoot ??= { enabled: c.enabled, source: src };
            else facts.secureBootModes[c.name] ??= { enabled: c.enabled, source: src };
          }
          if (c.signatureLists) {
            const db: SignatureDatabaseFact = { name: c.name, guid: c.guid, ...splitLists(c.signatureLists), source: src };
            facts.signatureDatabases.push(db);
            // the firmware measures dbx once; a later "dbx" would only be someone else's claim
            if (c.name === 'dbx') {
              facts.dbx ??= {
                hashes: db.hashes.filter((h) => h.type === 'EFI_CERT_SHA256').map((h) => h.digest),
                certificates: db.certificates,
              };
            }
          }
        } else if (e.eventType === EV.EFI_VARIABLE_AUTHORITY) {
          if (elsewhere([7])) break;
          const a: BootFacts['authorities'][number] = { variable: c.name, guid: c.guid, source: src };
          if (c.authority) a.certificate = certificateFact(c.authority);
          if (c.text !== undefined) a.text = c.text;
          if (c.enabled !== undefined) a.enabled = c.enabled;
          facts.authorities.push(a);
        } else if ((c.loadOption || c.bootOrder) && elsewhere([1])) {
          break;
        } else if (c.loadOption) {
          facts.bootOptions.push({ variable: c.name, description: c.loadOption.description, devicePath: c.loadOption.devicePath, filePath: c.loadOption.filePath, source: src });
        } else if (c.bootOrder) {
          facts.bootOrder ??= c.bootOrder;
        }
        break;
      case 'ipl': {
        const systemd = c.encoding === 'utf-16le';
        // GRUB hashes the text after its prefix, so the prefix (which says what the text is) is not attested:
        // a command line relabelled as a command is still one, known by the BOOT_IMAGE= GRUB starts it with.
        const cmdline = c.role === 'kernel-cmdline' || (!systemd && c.value.startsWith(GRUB_CMDLINE_START));
        if (!cmdline && c.role !== 'grub-command') break;
        if (elsewhere(systemd ? [SYSTEMD_CMDLINE_PCR] : [GRUB_PCR])) break;
        if (cmdline) facts.kernelCommandLines.push({ text: c.value, origin: systemd ? 'systemd-boot' : 'grub', source: src });
        else facts.grubCommands.push({ text: c.value, source: src });
        break;
      }
      case 'version':
        if (elsewhere([0])) break;
        facts.crtmVersions.push({ version: c.version, form: c.form, source: src });
        break;
      case 'text':
        if (e.eventType === EV.EFI_ACTION || e.eventType === EV.ACTION) facts.efiActions.push({ text: c.text, source: src });
        else if (e.eventType === EV.POST_CODE && !elsewhere([0])) facts.postCodes.push({ text: c.text, source: src });
        break;
      case 'separator':
        facts.separators.push({ pcr: e.pcrIndex, error: c.error, source: src });
        break;
      default:
        break;
    }
  }
  return facts;
}

export interface ImaMeasurementFact {
  entry: number;
  pcr: number;
  template: string;
  /** file path, or the buffer's name for ima-buf */
  path: string;
  digestAlgorithm: string;
  digest: string;
  /** the IMA signature (ima-sig), hex, when present */
  signature?: string;
  /** the measured buffer (ima-buf), hex */
  buffer?: string;
  /**
   * false when the template name is not borne out by the entry: the name is not in the template hash, and
   * ima-sig and ima-buf data look alike, so an "ima-buf" whose digest is not the hash of its buffer is a file
   * measurement relabelled. Absent: nothing contradicts the name.
   */
  templateAttested?: false;
}

export interface ImaFacts {
  bank: HashName;
  measurements: ImaMeasurementFact[];
  /** path -> every verified digest measured for it, in list order */
  byPath: Map<string, ImaMeasurementFact[]>;
  /** verified violation entries: the path was measured while open for write (ToMToU/open-writers) */
  violations: { entry: number; pcr: number; path: string | undefined }[];
}

/** Is the digest the hash of the buffer, as IMA measures an ima-buf entry? */
function bufferMeasured(buffer: Uint8Array | undefined, algorithm: string, digest: Uint8Array): boolean {
  if (!buffer) return false;
  try {
    return createHash(algorithm).update(buffer).digest().equals(digest);
  } catch {
    return false; // an algorithm node does not know: nothing bears the name out
  }
}

export function extractImaFacts(verified: VerifiedImaList): ImaFacts {
  const measurements: ImaMeasurementFact[] = [];
  const byPath = new Map<string, ImaMeasurementFact[]>();
  const violations: ImaFacts['violations'] = [];
  for (const e of verified.entries) {
    if (e.violation) {
      violations.push({ entry: e.index, pcr: e.pcr, path: e.fields.name });
      continue;
    }
    if (e.fields.name === undefined || e.fields.digest === undefined) continue;
    const m: ImaMeasurementFact = {
      entry: e.index,
      pcr: e.pcr,
      template: e.templateName,
      path: e.fields.name,
      digestAlgorithm: e.fields.digestAlgorithm ?? 'unknown',
      digest: toHex(e.fields.digest),
    };
    if (e.fields.signature && e.fields.signature.length) m.signature = toHex(e.fields.signature);
    if (e.fields.buffer) m.buffer = toHex(e.fields.buffer);
    if (e.templateName === 'ima-buf' && !bufferMeasured(e.fields.buffer, m.digestAlgorithm, e.fields.digest)) m.templateAttested = false;
    measurements.push(m);
    const same = byPath.get(m.path);
    if (same) same.push(m);
    else byPath.set(m.path, [m]);
  }
  return { bank: verified.bank, measurements, byPath, violations };
}
