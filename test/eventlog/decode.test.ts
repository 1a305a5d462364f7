// Decoding of event data, held against tpm2_eventlog's own decoding of every
// event it parsed, against the Secure Boot certificates shipped in the
// corpus, and against specific real logs' contents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import { parseEventLog } from '../../src/eventlog/parse.js';
import { EV, eventTypeName } from '../../src/eventlog/event-types.js';
import { EventLogWriter } from '../../src/eventlog/writer.js';
import type { LogEvent, UnverifiedEventLog } from '../../src/eventlog/types.js';
import type { EventContent } from '../../src/eventlog/decode/content.js';
import { decodeDevicePath } from '../../src/eventlog/decode/device-path.js';
import { guidToBytes, guidToString } from '../../src/eventlog/decode/guid.js';
import { corpusPath } from '../helpers/paths.js';

function load(t: Parameters<typeof corpusPath>[0], name: string): UnverifiedEventLog | undefined {
  const p = corpusPath(t, 'eventlogs', name);
  return p ? parseEventLog(readFileSync(p)) : undefined;
}

function ofKind<K extends EventContent['kind']>(log: UnverifiedEventLog, kind: K): (LogEvent & { content: Extract<EventContent, { kind: K }> })[] {
  return log.events.filter((e) => e.content.kind === kind) as (LogEvent & { content: Extract<EventContent, { kind: K }> })[];
}

interface YamlEvent {
  EventNum: number;
  PCRIndex: number;
  EventType: string;
  Digest?: string;
  Digests?: { AlgorithmId: string; Digest: string }[];
  EventSize: number;
  Event?: { UnicodeName?: string; VariableDataLength?: number; ImageLocationInMemory?: number; BlobBase?: number };
}

test('every event tpm2_eventlog decoded has our PCR, type, digests, size, variable name and image/blob addresses', (t) => {
  const dir = corpusPath(t, 'eventlogs');
  if (!dir) return;
  const unknownToTpm2Tools = new Set(['EV_UNKNOWN_0x00008401', 'EV_EFI_HCRTM_EVENT']);
  let compared = 0;
  const problems: string[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin'))) {
    const yamlPath = join(dir, '..', 'expected', f.replace(/\.bin$/, '.yaml'));
    if (!existsSync(yamlPath)) continue;
    const doc = YAML.parse(readFileSync(yamlPath, 'utf8'), { uniqueKeys: false }) as { events?: YamlEvent[] } | null;
    if (!doc?.events?.length) continue;
    let log: UnverifiedEventLog;
    try {
      log = parseEventLog(readFileSync(join(dir, f)));
    } catch {
      continue; // the typed errors are the corpus-logs test's business
    }
    for (const y of doc.events) {
      const e = log.events[y.EventNum];
      compared++;
      const where = `${f}#${y.EventNum}`;
      if (!e) {
        problems.push(`${where}: missing`);
        continue;
      }
      if (e.pcrIndex !== y.PCRIndex >>> 0) problems.push(`${where}: PCR ${e.pcrIndex} vs ${y.PCRIndex}`);
      const type = eventTypeName(e.eventType);
      if (type !== y.EventType && !(unknownToTpm2Tools.has(type) && y.EventType === 'Unknown event type')) problems.push(`${where}: ${type} vs ${y.EventType}`);
      const theirs = y.Digests ? y.Digests.map((d) => d.Digest) : [y.Digest];
      const ours = e.digests.map((d) => Buffer.from(d.digest).toString('hex'));
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) problems.push(`${where}: digests differ`);
      if (e.data.length !== y.EventSize) problems.push(`${where}: size ${e.data.length} vs ${y.EventSize}`);
      const ev = y.Event;
      if (ev?.UnicodeName !== undefined) {
        if (e.content.kind !== 'efi-variable' || e.content.name !== ev.UnicodeName) problems.push(`${where}: variable name`);
        else if (ev.VariableDataLength !== undefined && e.content.value.length !== ev.VariableDataLength) problems.push(`${where}: variable length`);
      }
      if (ev?.ImageLocationInMemory !== undefined && (e.content.kind !== 'efi-image-load' || e.content.imageLocation !== BigInt(ev.ImageLocationInMemory))) problems.push(`${where}: image location`);
      // tpm2_eventlog reads any 16+ byte EV_S_CRTM_CONTENTS as a blob, even the text "Boot Guard Measured S-CRTM"
      const textCrtm = e.eventType === EV.S_CRTM_CONTENTS && e.content.kind === 'text';
      if (ev?.BlobBase !== undefined && !textCrtm && (e.content.kind !== 'firmware-blob' || e.content.base !== BigInt(ev.BlobBase))) problems.push(`${where}: blob base`);
    }
    if (log.events.length !== doc.events.length) problems.push(`${f}: ${log.events.length} events vs ${doc.events.length}`);
  }
  t.diagnostic(`${compared} events compared with tpm2_eventlog`);
  assert.ok(compared > 2500, `only ${compared} events compared`);
  assert.deepEqual(problems, []);
});

test('Secure Boot keys decode to the certificates the corpus ships (GCE PK, Microsoft KEK, db CAs)', (t) => {
  const log = load(t, 'goattest_ubuntu_2104_shielded_vm_no_secure_boot.bin');
  const certDir = corpusPath(t, 'certs', 'secureboot');
  if (!log || !certDir) return;
  const sha = (name: string): string => createHash('sha256').update(readFileSync(join(certDir, name))).digest('hex');
  const dbs = new Map(
    ofKind(log, 'efi-variable')
      .filter((e) => e.eventType === EV.EFI_VARIABLE_DRIVER_CONFIG && e.content.signatureLists)
      .map((e) => [e.content.name, e.content.signatureLists!.flatMap((l) => l.signatures.map((s) => ({ type: l.typeName, sha256: createHash('sha256').update(s.data).digest('hex') })))]),
  );
  assert.deepEqual(dbs.get('PK')!.map((s) => s.sha256), [sha('gotpmtools_GcePk.crt')]);
  assert.ok(dbs.get('KEK')!.some((s) => s.sha256 === sha('gotpmtools_MicCorKEKCA2011_2011-06-24.crt')));
  const db = dbs.get('db')!.map((s) => s.sha256);
  assert.ok(db.includes(sha('gotpmtools_MicCorUEFCA2011_2011-06-27.crt')));
  assert.ok(db.includes(sha('gotpmtools_MicWinProPCA2011_2011-10-19.crt')));
  const dbx = dbs.get('dbx')!;
  assert.equal(dbx.length, 186);
  assert.ok(dbx.every((s) => s.type === 'EFI_CERT_SHA256' || s.type === 'EFI_CERT_X509'));
  const sb = ofKind(log, 'efi-variable').find((e) => e.content.name === 'SecureBoot')!;
  assert.equal(sb.content.enabled, false);
});

test('the dbx a log measured holds the hashes of the official dbx update it was provisioned from', (t) => {
  const log = load(t, 'goattest_ubuntu_2104_shielded_vm_no_secure_boot.bin');
  const upd = corpusPath(t, 'certs', 'secureboot', 'gotpmtools_dbxupdate_x64-2020-10-12.bin');
  if (!log || !upd) return;
  const dbx = ofKind(log, 'efi-variable').find((e) => e.content.name === 'dbx')!.content.signatureLists!;
  const ours = new Set(dbx.filter((l) => l.typeName === 'EFI_CERT_SHA256').flatMap((l) => l.signatures.map((s) => Buffer.from(s.data).toString('hex'))));
  // The update is EFI_VARIABLE_AUTHENTICATION_2: EFI_TIME (16 bytes), WIN_CERTIFICATE (dwLength first), then the lists.
  const bytes = readFileSync(upd);
  const lists = bytes.subarray(16 + bytes.readUInt32LE(16));
  const sha256Type = Buffer.from('2616c4c14c509240aca941f936934328', 'hex');
  const theirs: string[] = [];
  for (let at = 0; at < lists.length; ) {
    const size = lists.readUInt32LE(at + 16);
    const sigSize = lists.readUInt32LE(at + 24);
    if (lists.subarray(at, at + 16).equals(sha256Type)) for (let s = at + 28 + lists.readUInt32LE(at + 20); s < at + size; s += sigSize) theirs.push(lists.subarray(s + 16, s + sigSize).toString('hex'));
    at += size;
  }
  assert.ok(theirs.length > 100);
  assert.deepEqual(theirs.filter((h) => !ours.has(h)), []);
});

test('boot applications: digest plus readable device and file path', (t) => {
  const log = load(t, 'tpm2tools_event-sd-boot-fedora37.bin');
  if (!log) return;
  const boot = ofKind(log, 'efi-variable').filter((e) => e.content.loadOption);
  assert.equal(boot[0]!.content.name, 'Boot0001');
  assert.equal(boot[0]!.content.loadOption!.description, 'Linux Boot Manager');
  assert.equal(boot[0]!.content.loadOption!.devicePath, 'HD(1,GPT,3cb9643c-6c08-4fe5-852d-17e1ae701158,0x800,0x100000)/\\EFI\\systemd\\systemd-bootx64.efi');
  assert.equal(boot[0]!.content.loadOption!.filePath, '\\EFI\\systemd\\systemd-bootx64.efi');
  assert.deepEqual(ofKind(log, 'efi-variable').find((e) => e.content.bootOrder)!.content.bootOrder, [1, 2, 0, 3]);
  const app = load(t, 'gotpmtools_ubuntu-2104-no-dbx.bin')!;
  const images = ofKind(app, 'efi-image-load').filter((e) => e.eventType === EV.EFI_BOOT_SERVICES_APPLICATION);
  assert.deepEqual(
    images.map((e) => [e.content.filePath, e.content.devicePath]),
    [
      ['\\EFI\\ubuntu\\shimx64.efi', 'PciRoot(0x0)/Pci(0x3,0x0)/Scsi(0x1,0x0)/HD(15,GPT,6ea6f740-25ef-4269-838d-1a6f21ebf27f,0x2800,0x35000)/\\EFI\\ubuntu\\shimx64.efi'],
      ['\\EFI\\ubuntu\\grubx64.efi', '\\EFI\\ubuntu\\grubx64.efi'],
    ],
  );
  assert.ok(images.every((e) => e.binding === null), 'an image digest is not a hash of the event data');
});

test('EV_IPL: GRUB commands and kernel command lines in UTF-8, systemd-boot command lines in UTF-16 with their spaces', (t) => {
  const fedora = load(t, 'tpm2tools_event-sd-boot-fedora37.bin');
  const ubuntu = load(t, 'tcglogparser_binary_bios_measurements.bin');
  const rhel = load(t, 'gotpmtools_rhel8-uefi.bin');
  if (!fedora || !ubuntu || !rhel) return;
  const sd = ofKind(fedora, 'ipl').filter((e) => e.content.role === 'kernel-cmdline');
  assert.equal(sd.length, 2);
  assert.equal(sd[0]!.content.encoding, 'utf-16le');
  assert.equal(sd[0]!.content.value, ' console=ttyS0 console=tty0 efi=debug ');
  assert.equal(sd[0]!.binding!.banks.sha256, true);
  const ipl = ofKind(ubuntu, 'ipl');
  assert.equal(ipl.length, 78);
  assert.equal(ipl.filter((e) => e.content.role === 'grub-command').length, 64);
  assert.deepEqual(
    ipl.filter((e) => e.content.role === 'kernel-cmdline').map((e) => e.content.value),
    ['/vmlinuz-5.11.0-22-generic root=/dev/mapper/vgubuntu-root ro quiet splash mem_sleep_default=deep i915.enable_dpcd_backlight=1 vt.handoff=7'],
  );
  assert.ok(ipl.filter((e) => e.content.role !== 'string').every((e) => e.binding!.banks.sha1 && e.binding!.banks.sha256));
  // rhboot GRUB: "grub_cmd " and "grub_kernel_cmdline " without colons, digests with and without the NUL
  const r = ofKind(rhel, 'ipl').filter((e) => e.content.role !== 'string');
  assert.ok(r.length > 40);
  assert.ok(r.every((e) => e.binding!.banks.sha256 === true));
  assert.match(r.find((e) => e.content.role === 'kernel-cmdline')!.content.value, /^\(hd0,gpt2\)\/boot\/vmlinuz-4\.18\.0-240\.22\.1\.el8_3\.x86_64 root=UUID=/);
});

test('separators, CRTM versions, post codes, EFI actions, GPT, handoff tables, event tags, unknown types', (t) => {
  const gce = load(t, 'gotpmtools_gce-cos-85-no-nonce.bin');
  const post = load(t, 'tpm2tools_event-postcode.bin');
  const coreos = load(t, 'goattest_coreos_36_shielded_vm_no_secure_boot.bin');
  const dell = load(t, 'secboot_dell_embedded_box_pc_3000.bin');
  const snp = load(t, 'gotpmtools_ubuntu-2404-amd-sevsnp.bin');
  const rust = load(t, 'rustkeylime_uefi_log.bin');
  const edk = load(t, 'goattest_crypto_agile.bin');
  if (!gce || !post || !coreos || !dell || !snp || !rust || !edk) return;
  const seps = ofKind(gce, 'separator');
  assert.deepEqual(seps.map((e) => e.pcrIndex).sort(), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.ok(seps.every((e) => e.content.value === 0 && !e.content.error && e.binding!.banks.sha384 === true));
  assert.deepEqual(ofKind(gce, 'version').map((e) => e.content.version), ['GCE Virtual Firmware v1']);
  assert.deepEqual(ofKind(edk, 'version').map((e) => [e.content.version, e.content.form]), [['546bfb1e-1d0c-4055-a4ad-4ef4bf17b83a', 'guid']]);
  const blob = post.events.find((e) => e.eventType === EV.POST_CODE)!;
  assert.deepEqual(blob.content.kind === 'firmware-blob' && [blob.content.base, blob.content.length], [0xff130000n, 0xa7f000n]);
  assert.deepEqual(ofKind(gce, 'text').filter((e) => e.eventType === EV.EFI_ACTION).map((e) => e.content.text)[0], 'Calling EFI Application from Boot Option');
  const gpt = ofKind(coreos, 'gpt')[0]!;
  assert.equal(gpt.content.diskGuid, '00000000-0000-4000-a000-000000000001');
  assert.deepEqual(gpt.content.partitions.map((p) => p.name), ['BIOS-BOOT', 'EFI-SYSTEM', 'boot', 'root']);
  assert.equal(gpt.content.partitions[1]!.typeGuid, 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  assert.equal(gpt.binding!.banks.sha256, true);
  const handoff = ofKind(dell, 'handoff-tables');
  assert.equal(handoff[handoff.length - 1]!.content.tables[0]!.name, 'SMBIOS_TABLE');
  assert.match(handoff[0]!.content.notes![0]!, /8-byte UINTN/);
  const tag = ofKind(snp, 'event-tag')[0]!;
  assert.equal(tag.pcrIndex, 9);
  assert.deepEqual(tag.content.tags.map((x) => [x.name, x.text]), [['LINUX_LOAD_OPTIONS', 'LOADED_IMAGE::LoadOptions']]);
  assert.equal(tag.binding, null, "the EFI stub's tag describes what was hashed; it is not it");
  const unknown = rust.events.find((e) => e.eventType === 0x8401)!;
  assert.equal(unknown.content.kind, 'raw');
  assert.match(unknown.content.notes![0]!, /unknown event type 0x00008401/);
  assert.equal(unknown.data.length > 0, true);
});

test('an error separator is recognised by its digest and keeps its error information', () => {
  const w = new EventLogWriter({ banks: ['sha1', 'sha256'] });
  w.addSeparator(4, true).addSeparator(5);
  const log = parseEventLog(w.toBytes());
  const [err, ok] = ofKind(log, 'separator');
  assert.equal(err!.content.error, true);
  assert.equal(Buffer.from(err!.content.errorInfo!).toString('latin1'), 'error');
  assert.equal(err!.binding!.banks.sha256, true);
  assert.equal(ok!.content.error, false);
});

test('device paths render in UEFI text form; malformed ones keep the nodes before the fault and say why', () => {
  const pciRoot = Buffer.from('02010c00d041030a00000000', 'hex');
  const pci = Buffer.from('01010600' + '0302', 'hex');
  const sata = Buffer.from('03120a00000000000000', 'hex');
  const file = Buffer.concat([Buffer.from([4, 4]), Buffer.from([0x0e, 0]), Buffer.from('\\a.efi\0', 'utf16le').subarray(0, 10)]);
  const end = Buffer.from('7fff0400', 'hex');
  const ok = decodeDevicePath(Buffer.concat([pciRoot, pci, sata, file, end]));
  assert.equal(ok.text, 'PciRoot(0x0)/Pci(0x2,0x3)/Sata(0x0,0x0,0x0)/\\a.ef');
  assert.deepEqual(ok.notes, []);
  const acpi = decodeDevicePath(Buffer.from('02010c00d041010500000000', 'hex'));
  assert.equal(acpi.text, 'Acpi(PNP0501,0x0)');
  const broken = decodeDevicePath(Buffer.concat([pciRoot, Buffer.from('0101ff00', 'hex')]));
  assert.equal(broken.text, 'PciRoot(0x0)');
  assert.match(broken.notes[0]!, /impossible length 255/);
  const unknownNode = decodeDevicePath(Buffer.from('0a0b0600abcd', 'hex'));
  assert.equal(unknownNode.text, 'Path(10,11,abcd)');
});

test('GUIDs print 8-4-4-4-12 with the first three fields little-endian, and round-trip', () => {
  const bytes = Buffer.from('61dfe48bca93d211aa0d00e098032b8c', 'hex');
  assert.equal(guidToString(bytes), '8be4df61-93ca-11d2-aa0d-00e098032b8c');
  assert.equal(guidToString(Buffer.concat([Buffer.of(0xee), bytes]).subarray(1)), '8be4df61-93ca-11d2-aa0d-00e098032b8c');
  for (let i = 0; i < 64; i++) {
    const g = createHash('sha256').update(String(i)).digest().subarray(0, 16);
    assert.deepEqual(guidToBytes(guidToString(g)), g);
  }
});
