// A real software TPM for tests: a fresh swtpm (TPM 2.0) on two consecutive
// free loopback ports with its own temporary state, driven with tpm2-tools.
//
// Facts this relies on (../shared/design/swtpm-notes.md): the tss2 swtpm TCTI
// uses port+1 for control; without a resource manager every tool leaves its
// loaded objects behind and libtpms has only 3 slots, so run() flushes
// transient objects after each command; we stop only the swtpm we started.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export function swtpmAvailable(): boolean {
  return ['swtpm', 'tpm2_startup', 'tpm2_quote', 'tpm2_checkquote'].every(
    (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0,
  );
}

export const SWTPM_SKIP_MESSAGE = 'swtpm and tpm2-tools are not installed (apt-get install -y swtpm swtpm-tools tpm2-tools); skipping real-TPM test';

/** Skips the test with a clear message unless swtpm and tpm2-tools are installed. */
export function requireSwtpm(t: TestContext): boolean {
  if (swtpmAvailable()) return true;
  t.skip(SWTPM_SKIP_MESSAGE);
  return false;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function twoFreePorts(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    if (port < 65535 && (await portFree(port + 1))) return port;
  }
  throw new Error('no two consecutive free ports on 127.0.0.1');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export class Swtpm {
  readonly port: number;
  readonly dir: string;
  private readonly child: ChildProcess;
  readonly env: NodeJS.ProcessEnv;

  private constructor(port: number, dir: string, child: ChildProcess) {
    this.port = port;
    this.dir = dir;
    this.child = child;
    this.env = { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` };
  }

  /**
   * Starts a fresh swtpm. `stateDir` lets a caller provision state first
   * (e.g. with swtpm_setup); otherwise a new empty temp folder is used.
   */
  static async start(opts: { stateDir?: string } = {}): Promise<Swtpm> {
    const dir = mkdtempSync(join(tmpdir(), 'vtpm-swtpm-'));
    const state = opts.stateDir ?? dir;
    for (let attempt = 0; ; attempt++) {
      const port = await twoFreePorts();
      const child = spawn(
        'swtpm',
        [
          'socket',
          '--tpm2',
          '--server', `type=tcp,port=${port},bindaddr=127.0.0.1`,
          '--ctrl', `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
          '--tpmstate', `dir=${state}`,
          '--flags', 'not-need-init,startup-clear',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      let exited = false;
      child.once('exit', () => (exited = true));
      // Readiness: poll until the TPM port accepts a connection, or the process dies.
      for (let i = 0; i < 200 && !exited; i++) {
        if (await canConnect(port)) {
          const tpm = new Swtpm(port, dir, child);
          return tpm;
        }
        await new Promise((r) => setTimeout(r, 10));
      }
      child.kill('SIGKILL');
      if (attempt >= 3) throw new Error('swtpm did not start');
    }
  }

  /** Runs a tpm2-tools command against this TPM, then flushes transient objects. */
  run(tool: string, args: string[], opts: { flush?: boolean } = {}): ToolResult {
    const r = spawnSync(tool, args, { env: this.env, encoding: 'utf8', cwd: this.dir });
    if (opts.flush !== false) spawnSync('tpm2_flushcontext', ['-t'], { env: this.env, stdio: 'ignore' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like run(), but throws with the tool's stderr when it fails. */
  must(tool: string, args: string[], opts: { flush?: boolean } = {}): string {
    const r = this.run(tool, args, opts);
    if (r.status !== 0) throw new Error(`${tool} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  }

  /** A path inside this TPM's temporary folder. */
  path(name: string): string {
    return join(this.dir, name);
  }

  /** Stops the swtpm this object started (by its PID) and removes its temp folder. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const done = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
