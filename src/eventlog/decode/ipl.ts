// EV_IPL (PFP 10.4.1, "used by the OS loader"): GRUB logs each command
// ("grub_cmd: ..."), the kernel and module command lines ("kernel_cmdline: ...")
// in PCR 8 and file names in PCR 9 (digest: the file); systemd-boot logs the kernel command line
// in PCR 12 as UTF-16LE; shim logs variable names in PCR 14 (digest: the
// variable). GRUB's digest is of the text after the prefix (rhboot GRUB: with
// its NUL); systemd's of the UTF-16 text.

import type { IplContent, IplRole } from './content.js';
import { decodeText } from './text.js';

// Upstream GRUB writes "grub_cmd: ", the rhboot GRUB of Fedora/RHEL "grub_cmd " (and hashes the NUL too).
const PREFIXES: [string, IplRole][] = [
  ['grub_cmd: ', 'grub-command'],
  ['kernel_cmdline: ', 'kernel-cmdline'],
  ['module_cmdline: ', 'module-cmdline'],
  ['grub_cmd ', 'grub-command'],
  ['kernel_cmdline ', 'kernel-cmdline'],
  ['module_cmdline ', 'module-cmdline'],
  ['grub_kernel_cmdline ', 'kernel-cmdline'],
];

/** systemd-boot and sd-stub measure the kernel command line into PCR 12. */
const SYSTEMD_CMDLINE_PCR = 12;

export function decodeIpl(pcrIndex: number, data: Uint8Array): IplContent | undefined {
  const t = decodeText(data);
  if (!t) return undefined;
  let content: IplContent = { kind: 'ipl', text: t.text, encoding: t.encoding, role: 'string', value: t.text };
  const prefixed = PREFIXES.find(([prefix]) => t.text.startsWith(prefix));
  if (prefixed) content = { ...content, role: prefixed[1], value: t.text.slice(prefixed[0].length) };
  else if (t.encoding === 'utf-16le' && pcrIndex === SYSTEMD_CMDLINE_PCR) content.role = 'kernel-cmdline';
  if (t.notes) content.notes = t.notes;
  return content;
}
