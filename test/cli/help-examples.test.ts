// Every command's --help has a worked example, and users copy those examples,
// so they must work as written: each `$ vtpm-verify ...` line uses options the
// command it runs really has (with their values), and a line continuation is
// printed as one (a lone `\` before a newline in a template literal vanishes,
// leaving one line with a run of spaces). The quote examples are run as written
// on a real swtpm: tpm2_quote, then the verification with the event log and
// IMA list the TPM was extended with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { Swtpm, requireSwtpm } from '../helpers/swtpm.js';
import { createEk } from '../helpers/tpm-quotes.js';
import { FIRMWARE_PROFILES, VM_IMA_FILES, firmwareLog, simFileContent } from '../../src/simulator/firmware.js';
import { ImaMeasurementList } from '../../src/simulator/ima.js';
import type { SoftTpm } from '../../src/simulator/soft-tpm.js';

const helpCache = new Map<string, Promise<string>>();

function help(path: readonly string[]): Promise<string> {
  const key = path.join(' ');
  let p = helpCache.get(key);
  if (!p) {
    p = runCli([...path, '--help']).then((r) => {
      assert.equal(r.code, 0, `${key} --help: ${r.stderr}`);
      return r.stdout;
    });
    helpCache.set(key, p);
  }
  return p;
}

/** A section of a help text: the lines after `Title:` up to the next blank line. */
function section(text: string, title: string): string[] {
  const m = new RegExp(`(?:^|\\n)${title}:\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(text);
  return m ? m[1]!.split('\n') : [];
}

function subcommands(text: string): string[] {
  return section(text, 'Commands')
    .map((l) => /^ {2}([a-z][\w-]*)/.exec(l)?.[1])
    .filter((n): n is string => n !== undefined && n !== 'help');
}

/** Option name -> whether it takes a value ('required' | 'optional' | 'none'), from the Options section. */
function options(text: string): Map<string, 'required' | 'optional' | 'none'> {
  const out = new Map<string, 'required' | 'optional' | 'none'>();
  for (const line of section(text, 'Options')) {
    const m = /^ {2}(?:(-\w), )?(--[\w-]+)(?: ([<[]))?/.exec(line);
    if (!m) continue;
    const arity = m[3] === '<' ? 'required' : m[3] === '[' ? 'optional' : 'none';
    out.set(m[2]!, arity);
    if (m[1]) out.set(m[1], arity);
  }
  return out;
}

/** The example commands of a help text: `$ ...` lines, continuations joined. */
function exampleCommands(text: string): string[] {
  const at = text.search(/\nExamples?:\n/);
  if (at < 0) return [];
  const lines = text.slice(at).split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*\$ (.*)$/.exec(lines[i]!);
    if (!m) continue;
    let cmd = m[1]!;
    while (cmd.endsWith(' \\') && i + 1 < lines.length) cmd = `${cmd.slice(0, -2)} ${lines[++i]!.trim()}`;
    out.push(cmd);
  }
  return out;
}

/** Shell words of a command (double quotes grouped; a trailing `# comment` and a `> file` redirection dropped). */
function words(cmd: string): string[] {
  const noComment = cmd.replace(/\s+#\s.*$/, '');
  const out: string[] = [];
  for (const m of noComment.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  const redirect = out.indexOf('>');
  return redirect >= 0 ? out.slice(0, redirect) : out;
}

async function allCommandPaths(): Promise<string[][]> {
  const paths: string[][] = [[]];
  for (const name of subcommands(await help([]))) {
    paths.push([name]);
    for (const sub of subcommands(await help([name]))) paths.push([name, sub]);
  }
  return paths;
}

test('every command and subcommand --help has a worked example, and every example line parses as the command it runs', async () => {
  const paths = await allCommandPaths();
  // the commands the help lists, and the policy subcommands
  for (const p of [['attest'], ['quote'], ['simulate'], ['policy', 'init'], ['policy', 'schema']]) {
    assert.ok(paths.some((q) => q.join(' ') === p.join(' ')), `${p.join(' ')} missing from the help listings`);
  }
  let checked = 0;
  for (const path of paths) {
    const name = ['vtpm-verify', ...path].join(' ');
    const text = await help(path);
    const examples = exampleCommands(text);
    assert.ok(examples.some((e) => e.startsWith('vtpm-verify ')), `${name} --help has no worked example`);
    for (const example of examples) {
      assert.doesNotMatch(example.replace(/\s+#\s.*$/, ''), / {2,}/, `${name} --help: a run of spaces in "${example}" (a line continuation lost?)`);
      const w = words(example);
      if (w[0] !== 'vtpm-verify') continue; // tpm2-tools, curl
      const target = w[1] === 'policy' && w[2] && !w[2].startsWith('-') ? w.slice(1, 3) : w.slice(1, 2);
      const targetHelp = await help(target);
      const known = options(targetHelp);
      known.set('--help', 'none').set('-h', 'none');
      for (let i = 1 + target.length; i < w.length; i++) {
        const word = w[i]!;
        if (!word.startsWith('-') || word === '-') continue;
        const opt = word.split('=')[0]!;
        const arity = known.get(opt);
        assert.ok(arity !== undefined, `${name} --help: "${example}": ${['vtpm-verify', ...target].join(' ')} has no option ${opt}`);
        if (arity === 'required' && !word.includes('=')) {
          const value = w[i + 1];
          assert.ok(value !== undefined && !/^--\w/.test(value), `${name} --help: "${example}": ${opt} needs a value`);
          i++;
        }
      }
      checked++;
    }
  }
  assert.ok(checked >= 40, `only ${checked} example lines checked`);
});

test('the quote examples work as written on a real swtpm quote, with the event log and IMA list the TPM was extended with', async (t) => {
  if (!requireSwtpm(t)) return;
  const text = await help(['quote']);
  const examples = exampleCommands(text).map(words);
  const tpm2Quote = examples.find((w) => w[0] === 'tpm2_quote');
  assert.ok(tpm2Quote, 'quote --help shows how tpm2_quote writes the files');
  const verifications = examples.filter((w) => w[0] === 'vtpm-verify' && w[1] === 'quote');
  assert.ok(verifications.some((w) => w.includes('--eventlog') && w.includes('--ima')), 'an example with --eventlog and --ima');

  const tpm = await Swtpm.start();
  try {
    // the boot the logs record: a simulated VM's firmware log and IMA list, extended into the real TPM
    const fw = firmwareLog(FIRMWARE_PROFILES.vm, ['sha256']);
    const specs = fw.extends.flatMap((e) => (e.digests.sha256 ? [`${e.pcr}:sha256=${e.digests.sha256.toString('hex')}`] : []));
    const ima = new ImaMeasurementList({ banks: ['sha256'], extend: () => {} } as unknown as SoftTpm);
    for (const f of VM_IMA_FILES) ima.measureFile(f, simFileContent(f));
    for (const e of ima.entries) specs.push(`${e.pcr}:sha256=${e.extended.get('sha256')!.toString('hex')}`);
    for (let i = 0; i < specs.length; i += 16) tpm.must('tpm2_pcrextend', specs.slice(i, i + 16));
    writeFileSync(tpm.path('binary_bios_measurements'), fw.bytes);
    writeFileSync(tpm.path('ascii_runtime_measurements'), ima.toText());
    // the AK files the examples name: ak.ctx for tpm2_quote, ak.pub (TPM2B_PUBLIC) for vtpm-verify
    const ek = createEk(tpm);
    tpm.must('tpm2_createak', ['-C', ek, '-c', tpm.path('ak.ctx'), '-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa', '-u', tpm.path('ak.pub'), '-n', tpm.path('ak.name')]);
    tpm.must(tpm2Quote[0]!, tpm2Quote.slice(1)); // runs in the TPM's folder: the file names as written

    for (const w of verifications) {
      // file names as written, found in the TPM's folder (the event log's /sys path included)
      const args = w.slice(1).map((a) => (!a.startsWith('-') && existsSync(tpm.path(basename(a))) ? tpm.path(basename(a)) : a));
      const r = await runCli(args);
      assert.equal(r.code, 0, `vtpm-verify ${w.slice(1).join(' ')}:\n${r.stdout}${r.stderr}`);
      assert.match(r.stdout, /^quote VALID\n/);
    }
  } finally {
    await tpm.stop();
  }
});
