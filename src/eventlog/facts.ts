// The facts a policy needs, taken only from a verified log. Content-derived
// facts (Secure Boot state, key databases, command lines, versions) come
// only from events whose digest is the hash of their data in a verified
// bank; digest facts (boot application image hashes) need only the verified
// digest, and say that the path next to them is not attested. Verified
// events whose content is not attested are listed, not interpreted.

import { X509Certificate, createHash } from 'node:crypto';
import type { HashName } from '../tpm/constants.js';
import { toHex } from '../util/bytes.js';
import type { EfiSignature, EfiSignatureList, EventContent } from './decode/content.js';
import { GUID } from './decode/guid.js';
import { EV, eventTypeName } from './event-types.js';
import { digest as hashOf, bankAlg } from './hash.js';
import { VARIABLE_VALUE_ONLY } from './decode/binding.js';
import { decodeEvent, type DecodeContext } from './decode/index.js';
import { listEntryBudget } from './caps.js';
import { SEPARATOR_ERROR_VALUE } from './decode/separator.js';
import type { VerifiedImaList } from './ima/verified.js';
import type { VerifiedEvent, VerifiedEventLog } from './verified.js';
import type { LogEvent } from './types.js';

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
  /** the event type as logged (a label: an unbound PCR 4 event of any type counts as an application) */
  type: string;
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
  /** verified PCR 8 and 12 events whose text is not attested (a command line could hide in one): the rule fails on them */
  kernelCommandLinesUnattested: number[];
  /**
   * the digests of every other verified event whose digest is not the hash of its data (firmware blobs, and
   * anything relabelled as one): a forbidden image hash is looked for here too, since an event's type is a label
   */
  unboundDigests: { pcr: number; type: string; digests: Partial<Record<HashName, string>> }[];
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
const BOOT_APPLICATION_PCR = 4;
const GRUB_PCR = 8;
const SYSTEMD_CMDLINE_PCR = 12;
/** GRUB measures a kernel's command line starting with the kernel's path: /boot/vmlinuz-..., (hd0,gpt2)/vmlinuz */
const KERNEL_PATH_START = /^[/(]/;

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
    kernelCommandLinesUnattested: [],
    unboundDigests: [],
    grubCommands: [],
    crtmVersions: [],
    postCodes: [],
    efiActions: [],
    separators: [],
    unattested: [],
  };
  // A digest covers an event's data, never its type (nor GRUB's prefix): anyone who rewrites the log can relabel
  // an event. So firmware separators are found by their digest, the Secure Boot configuration and GRUB's texts
  // are read by what their bytes are, and whatever cannot be read that way makes the fact unknown, not absent.
  // PCR 7's variables are decoded again here: under the same per-log cap as the parser's reading (a log of
  // small signatures would otherwise decode to millions of objects, held with the facts)
  const ctx: DecodeContext = { uintnBytes: verified.source.specId?.uintnSize === 1 ? 4 : 8, listEntries: listEntryBudget() };
  const separatorAt = firmwareSeparators(verified.events);
  const beforeSeparator = (e: LogEvent): boolean => {
    const at = separatorAt.get(e.pcrIndex);
    return at !== undefined && e.index < at;
  };

  readSecureBootConfiguration(verified.events, ctx, separatorAt.get(7), facts);
  readGrubTexts(verified.events, ctx, facts);
  readSystemdCmdlines(verified.events, ctx, facts);

  for (const v of verified.events) {
    const e = v.event;
    const c = e.content;
    const src = sourceOf(v);
    const type = eventTypeName(e.eventType);
    const unattested = (reason: string): void => {
      facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type, reason });
    };
    // read above, by content
    if ((e.pcrIndex === 7 && beforeSeparator(e)) || e.pcrIndex === GRUB_PCR) continue;
    // PCR 12 was read above for command lines; an image hash there still counts for the forbid rule
    if (e.pcrIndex === SYSTEMD_CMDLINE_PCR) {
      if (!v.contentBound) facts.unboundDigests.push({ pcr: e.pcrIndex, type, digests: verifiedDigests(v) });
      continue;
    }

    // Boot applications: the verified digest is the fact, the path beside it only a label. Image loads count in any
    // PCR (an extra one can only make the allow and forbid rules stricter), and so does every PCR 4 event whose
    // digest is not the hash of its data, whatever its type says: relabelling an application must not hide it.
    const imageLoad = c.kind === 'efi-image-load' && IMAGE_LOAD_TYPES.has(e.eventType);
    if (imageLoad || (e.pcrIndex === BOOT_APPLICATION_PCR && !v.contentBound)) {
      const digests = verifiedDigests(v);
      const path = c.kind === 'efi-image-load' ? { devicePath: c.devicePath, filePath: c.filePath } : { devicePath: undefined, filePath: undefined };
      facts.bootApplications.push({ type, digests, ...path, pathAttested: false, source: src });
      continue;
    }
    if (!v.contentBound) facts.unboundDigests.push({ pcr: e.pcrIndex, type, digests: verifiedDigests(v) });
    if (e.binding === null) continue; // no content claim to make (blobs, handoff tables, file names...)
    if (!v.contentBound) {
      unattested(`the digest is not the hash of the ${e.binding.measured}`);
      continue;
    }
    if (c.kind === 'efi-variable' && v.banks.some((b) => e.binding!.measuredIn[b] === VARIABLE_VALUE_ONLY) && !v.banks.some((b) => e.binding!.measuredIn[b] === 'event data')) {
      // only the value is hashed: the name and GUID that say which variable it is could be any
      unattested(`only the variable's value is hashed, not its name ${JSON.stringify(c.name)} and GUID`);
      continue;
    }

    switch (c.kind) {
      case 'efi-variable':
        if (e.eventType === EV.EFI_VARIABLE_DRIVER_CONFIG) {
          unattested(e.pcrIndex === 7 ? (separatorAt.has(7) ? "measured after PCR 7's separator: not the Secure Boot configuration the firmware booted with" : 'PCR 7 has no separator in this log: the Secure Boot configuration is unknown') : `measured in PCR ${e.pcrIndex}: the Secure Boot configuration is read only from PCR 7, before its separator`);
        } else if (e.eventType === EV.EFI_VARIABLE_AUTHORITY) {
          if (e.pcrIndex !== 7) {
            unattested(`measured in PCR ${e.pcrIndex}: authorities are read only from PCR 7`);
            break;
          }
          const a: BootFacts['authorities'][number] = { variable: c.name, guid: c.guid, source: src };
          if (c.authority) a.certificate = certificateFact(c.authority);
          if (c.text !== undefined) a.text = c.text;
          if (c.enabled !== undefined) a.enabled = c.enabled;
          facts.authorities.push(a);
        } else if (c.loadOption || c.bootOrder) {
          if (e.pcrIndex !== 1 && e.pcrIndex !== 5) {
            unattested(`measured in PCR ${e.pcrIndex}: boot options are read only from PCR 1 (PCR 5 in TCG EFI 1.2-era logs)`);
          } else if (c.loadOption) {
            facts.bootOptions.push({ variable: c.name, description: c.loadOption.description, devicePath: c.loadOption.devicePath, filePath: c.loadOption.filePath, source: src });
          } else facts.bootOrder ??= c.bootOrder;
        }
        break;
      case 'ipl':
        // command lines are read above, by content, from GRUB's PCR 8 and systemd's PCR 12
        break;
      case 'version':
        if (e.pcrIndex !== 0 || !beforeSeparator(e)) {
          const where = e.pcrIndex !== 0 ? `in PCR ${e.pcrIndex}` : separatorAt.has(0) ? "in PCR 0 after its separator" : 'in PCR 0, which has no separator in this log';
          unattested(`measured ${where}: CRTM versions are read only from PCR 0, before its separator`);
        } else facts.crtmVersions.push({ version: c.version, form: c.form, source: src });
        break;
      case 'text':
        if (e.eventType === EV.EFI_ACTION || e.eventType === EV.ACTION) facts.efiActions.push({ text: c.text, source: src });
        else if (e.eventType === EV.POST_CODE && e.pcrIndex === 0) facts.postCodes.push({ text: c.text, source: src });
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

/** An event's digests in the banks the quote verified, hex. */
function verifiedDigests(v: VerifiedEvent): Partial<Record<HashName, string>> {
  const digests: Partial<Record<HashName, string>> = {};
  for (const d of v.event.digests) if (d.alg && v.banks.includes(d.alg.name)) digests[d.alg.name] = toHex(d.digest);
  return digests;
}

const IMAGE_LOAD_TYPES: ReadonlySet<number> = new Set([EV.EFI_BOOT_SERVICES_APPLICATION, EV.EFI_BOOT_SERVICES_DRIVER, EV.EFI_RUNTIME_SERVICES_DRIVER]);

/**
 * Per firmware PCR (0-7), the log index of its separator: the first verified event whose digest is a separator's
 * (the hash of 0x00000000, or of 0x00000001 after an error) and which is one: its data is that value, or it is
 * typed EV_SEPARATOR. By its bytes, so relabelling the separator does not move the end of the firmware's part;
 * by them too, so a firmware event that merely shares the digest (a POST code some firmware logs with it) does not.
 */
function firmwareSeparators(events: readonly VerifiedEvent[]): Map<number, number> {
  const at = new Map<number, number>();
  for (const v of events) {
    const e = v.event;
    if (e.pcrIndex > 7 || at.has(e.pcrIndex)) continue;
    const value = SEPARATOR_VALUES.find((s) => Buffer.from(e.data).equals(s));
    const separator = e.digests.some((d) => {
      if (!d.alg || !v.banks.includes(d.alg.name)) return false;
      const [ok, error] = separatorDigests(d.alg.name);
      return (value !== undefined || e.eventType === EV.SEPARATOR) && (ok!.equals(d.digest) || error!.equals(d.digest));
    });
    if (separator) at.set(e.pcrIndex, e.index);
  }
  return at;
}

const SEPARATOR_VALUES: readonly Buffer[] = [Buffer.alloc(4), Buffer.from(SEPARATOR_ERROR_VALUE)];

const separatorDigestsByBank = new Map<HashName, Buffer[]>();

/** The digests of a separator's data in a bank: 0x00000000, or 0x00000001 when the firmware met an error. */
function separatorDigests(bank: HashName): Buffer[] {
  let known = separatorDigestsByBank.get(bank);
  if (!known) {
    known = SEPARATOR_VALUES.map((d) => hashOf(bankAlg(bank), d));
    separatorDigestsByBank.set(bank, known);
  }
  return known;
}

/**
 * The Secure Boot configuration: every PCR 7 event before its separator must be a UEFI variable whose digest is
 * the hash of its whole UEFI_VARIABLE_DATA (read as one, whatever its type says), or an attested text (an EFI
 * action). Then SecureBoot, the modes and the key databases are the first of each. Anything else there (an event
 * whose content is not attested, a variable hashed by value only, no separator) leaves the configuration unknown:
 * no Secure Boot fact, no dbx, which the policy's rules fail.
 */
function readSecureBootConfiguration(events: readonly VerifiedEvent[], ctx: DecodeContext, separator: number | undefined, facts: BootFacts): void {
  const pcr7 = events.filter((v) => v.event.pcrIndex === 7 && (separator === undefined || v.event.index < separator));
  const unknown = (event: number | undefined, reason: string): void => {
    facts.unattested.push({ event: event ?? -1, pcr: 7, type: 'Secure Boot configuration', reason: `${reason}: the Secure Boot configuration is unknown` });
  };
  if (separator === undefined) {
    if (pcr7.length) unknown(undefined, 'PCR 7 has no separator (no event with a separator\'s digest), so the firmware\'s measurements cannot be told from later ones');
    return;
  }
  const variables: { v: VerifiedEvent; c: Extract<EventContent, { kind: 'efi-variable' }> }[] = [];
  for (const v of pcr7) {
    const e = v.event;
    const refused = ctx.listEntries?.refused ?? 0;
    const read = decodeEvent(7, EV.EFI_VARIABLE_DRIVER_CONFIG, e.data, e.digests, ctx);
    if ((ctx.listEntries?.refused ?? 0) > refused) {
      // its signature lists were left undecoded: what it holds (a dbx, a db) is unknown, and so is the configuration
      return unknown(e.index, `PCR 7 event ${e.index} holds more signatures than the ${ctx.listEntries!.cap} a log may decode in all`);
    }
    // whole data in a bank the quote verified: a bank it did not verify could say anything
    const whole = read.content.kind === 'efi-variable' && v.banks.some((b) => read.binding?.measuredIn[b] === 'event data');
    if (whole && read.content.kind === 'efi-variable') variables.push({ v, c: read.content });
    else if (v.contentBound && e.content.kind === 'text') {
      // an attested text (e.g. "DMA Protection Disabled") is kept as an action, and says nothing of the variables
      if (e.eventType === EV.EFI_ACTION || e.eventType === EV.ACTION) facts.efiActions.push({ text: e.content.text, source: sourceOf(v) });
    } else return unknown(e.index, `PCR 7 event ${e.index} (${eventTypeName(e.eventType)}) before the separator is not a UEFI variable whose whole data its digest covers`);
  }
  for (const { v, c } of variables) {
    const src = sourceOf(v);
    if (c.enabled !== undefined && c.guid === GUID.EFI_GLOBAL_VARIABLE) {
      if (c.name === 'SecureBoot') facts.secureBoot ??= { enabled: c.enabled, source: src };
      else facts.secureBootModes[c.name] ??= { enabled: c.enabled, source: src };
    }
    if (c.signatureLists) {
      const db: SignatureDatabaseFact = { name: c.name, guid: c.guid, ...splitLists(c.signatureLists), source: src };
      facts.signatureDatabases.push(db);
      if (c.name === 'dbx') facts.dbx ??= { hashes: db.hashes.filter((h) => h.type === 'EFI_CERT_SHA256').map((h) => h.digest), certificates: db.certificates };
    }
  }
}

/**
 * GRUB's texts in PCR 8, read as EV_IPL text whatever their type says. GRUB hashes the text after its
 * "kernel_cmdline: " / "grub_cmd: " prefix, so the prefix is a label: a text that starts with a path (/boot/vmlinuz,
 * (hd0,gpt2)/vmlinuz: how GRUB measures a kernel's command line) is a command line whatever its prefix says, and
 * a UTF-16 one is systemd-boot's (older versions measured it here). A verified PCR 8 event whose text is not
 * attested could be a hidden command line: it is listed, and the command-line rule fails on it.
 */
function readGrubTexts(events: readonly VerifiedEvent[], ctx: DecodeContext, facts: BootFacts): void {
  readAttestedTexts(events, GRUB_PCR, ctx, facts, (c, src) => {
    if (c.encoding === 'utf-16le') facts.kernelCommandLines.push({ text: c.value, origin: 'systemd-boot', source: src });
    else if (c.role === 'kernel-cmdline' || KERNEL_PATH_START.test(c.value)) facts.kernelCommandLines.push({ text: c.value, origin: 'grub', source: src });
    else if (c.role === 'grub-command') facts.grubCommands.push({ text: c.value, source: src });
  });
}

/**
 * systemd-boot's and sd-stub's command lines in PCR 12, read as EV_IPL text whatever their type says (a type is a
 * label: the command line relabelled as an EFI action would otherwise not be one). A verified PCR 12 event whose
 * text its digest does not cover could be the command line that booted, its data rewritten (and the allowed line
 * extended by root after boot): it is listed with PCR 8's, and the command-line rule fails on it. sd-stub also
 * measures credentials, system extensions and devicetrees there, hashing the file and not its name: with those
 * the rule fails too (pin PCR 12 instead).
 */
function readSystemdCmdlines(events: readonly VerifiedEvent[], ctx: DecodeContext, facts: BootFacts): void {
  readAttestedTexts(events, SYSTEMD_CMDLINE_PCR, ctx, facts, (c, src) => facts.kernelCommandLines.push({ text: c.value, origin: 'systemd-boot', source: src }));
}

/**
 * Every verified event of `pcr` read as EV_IPL text: `onText` gets each one whose digest covers its text; the others
 * are listed as unattested (a kernel command line could hide in one), and the command-line rule fails on them.
 */
function readAttestedTexts(
  events: readonly VerifiedEvent[],
  pcr: number,
  ctx: DecodeContext,
  facts: BootFacts,
  onText: (content: Extract<ReturnType<typeof decodeEvent>['content'], { kind: 'ipl' }>, source: FactSource) => void,
): void {
  for (const v of events) {
    const e = v.event;
    if (e.pcrIndex !== pcr) continue;
    const read = decodeEvent(pcr, EV.IPL, e.data, e.digests, ctx);
    const c = read.content;
    const bound = c.kind === 'ipl' && read.binding !== null && v.banks.some((b) => read.binding!.banks[b] === true);
    if (!bound || c.kind !== 'ipl') {
      facts.kernelCommandLinesUnattested.push(e.index);
      facts.unattested.push({ event: e.index, pcr: e.pcrIndex, type: eventTypeName(e.eventType), reason: `a PCR ${pcr} event whose text its digest does not cover: a kernel command line could hide in it` });
      continue;
    }
    onText(c, sourceOf(v));
  }
}

export interface ImaMeasurementFact {
  entry: number;
  pcr: number;
  template: string;
  /** file path, or the buffer's name for ima-buf */
  path: string;
  digestAlgorithm: string;
  /** d-ngv2 (ima-ngv2, ima-sigv2): "ima" (a hash of the file's content) or "verity" (its fs-verity digest); absent: a content hash */
  digestType?: string;
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
  /**
   * verified entries that are not violations but whose file name or digest could not be read: a binary list's
   * template name is not in the template hash, so an entry relabelled with a name this verifier does not know
   * (or a custom template) replays as it did, and its measurement must not vanish from the facts
   */
  undecoded: { entry: number; pcr: number; template: string }[];
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
  const undecoded: ImaFacts['undecoded'] = [];
  for (const e of verified.entries) {
    if (e.violation) {
      violations.push({ entry: e.index, pcr: e.pcr, path: e.fields.name });
      continue;
    }
    if (e.fields.name === undefined || e.fields.digest === undefined) {
      undecoded.push({ entry: e.index, pcr: e.pcr, template: e.templateName });
      continue;
    }
    const m: ImaMeasurementFact = {
      entry: e.index,
      pcr: e.pcr,
      template: e.templateName,
      path: e.fields.name,
      digestAlgorithm: e.fields.digestAlgorithm ?? 'unknown',
      digest: toHex(e.fields.digest),
    };
    if (e.fields.digestType !== undefined) m.digestType = e.fields.digestType;
    if (e.fields.signature && e.fields.signature.length) m.signature = toHex(e.fields.signature);
    if (e.fields.buffer) m.buffer = toHex(e.fields.buffer);
    if (e.templateName === 'ima-buf' && !bufferMeasured(e.fields.buffer, m.digestAlgorithm, e.fields.digest)) m.templateAttested = false;
    measurements.push(m);
    const same = byPath.get(m.path);
    if (same) same.push(m);
    else byPath.set(m.path, [m]);
  }
  return { bank: verified.bank, measurements, byPath, violations, undecoded };
}
