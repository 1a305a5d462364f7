// Offline tpm2-tools (tpm2_checkquote, tpm2_print) and openssl for tests:
// reference tools that need no TPM. Tests skip with a clear message when a
// tool is missing, as requireSwtpm() does for the real software TPM.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Skips the test with a clear message unless every tool is installed. */
export function requireTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => !hasCommand(tool));
  if (missing.length === 0) return true;
  t.skip(`${missing.join(', ')} not installed (apt-get install -y tpm2-tools openssl); skipping reference-tool test`);
  return false;
}

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** A temporary folder for a tool's input files; remove() when done. */
export class ToolDir {
  readonly dir = mkdtempSync(join(tmpdir(), 'vtpm-tools-'));

  /** Writes a file and returns its path. */
  file(name: string, data: Uint8Array | string): string {
    const p = join(this.dir, name);
    writeFileSync(p, data);
    return p;
  }

  run(tool: string, args: string[]): ToolRun {
    const r = spawnSync(tool, args, { cwd: this.dir, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The "key: value" lines of tpm2_print's YAML-like output, flattened with dotted paths ("clockInfo.clock"). */
export function printedFields(yaml: string): Map<string, string> {
  const out = new Map<string, string>();
  const stack: { indent: number; key: string }[] = [];
  for (const line of yaml.split('\n')) {
    const m = /^(\s*)([^:]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const indent = m[1]!.length;
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const path = [...stack.map((s) => s.key), m[2]!.trim()].join('.');
    if (m[3] === '') stack.push({ indent, key: m[2]!.trim() });
    else out.set(path, m[3]!.trim());
  }
  return out;
}
