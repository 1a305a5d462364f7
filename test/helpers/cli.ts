// Runs the real vtpm-verify binary in a child process, as users and CI do.
import { spawn } from 'node:child_process';
import { BIN, REPO_ROOT } from './paths.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** the parsed --json envelope, when stdout is one */
  json?: { ok: boolean; result: any; error: { code: string; message: string; details: any } | null };
}

/**
 * `fileSizeLimitKiB`: no file the command writes may grow beyond this (`ulimit -f`): a write past it fails
 * with EFBIG, as one to a full disk fails with ENOSPC (node ignores SIGXFSZ), on any machine, without root.
 */
export function runCli(args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number; fileSizeLimitKiB?: number; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const [command, argv] =
      opts.fileSizeLimitKiB === undefined ? [process.execPath, [BIN, ...args]] : ['sh', ['-c', `ulimit -f ${opts.fileSizeLimitKiB * 2} && exec "$0" "$@"`, process.execPath, BIN, ...args]];
    const child = spawn(command, argv, {
      cwd: opts.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const run: CliRun = { code, stdout, stderr };
      if (args.includes('--json')) {
        try {
          run.json = JSON.parse(stdout);
        } catch {
          // left undefined: the test asserting on it will fail with stdout shown
        }
      }
      resolvePromise(run);
    });
    child.stdin.end(opts.input ?? '');
  });
}
