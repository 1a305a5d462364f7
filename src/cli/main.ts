// Process entry: runs the CLI and sets the exit code. Only this file touches
// process.exitCode.
import { main } from './index.js';
import { EXIT_CODES } from '../errors.js';

const EXIT_OK: number = EXIT_CODES.OK;
import { exitCodeAfterOutput, exitCodeAfterOutputError, stderrFailed, stdoutIsGone, stdoutWentAway } from './output.js';

// A reader that goes away (`vtpm-verify ... | head`, `2>&1 | grep -q ...`) is
// not an error of ours: no EPIPE crash, and no exit code other than the
// outcome's. The command finishes, what it would still print is dropped, and
// it exits with its verdict: a command not trusted does not exit 0 because
// nobody read it, nor because its warnings' reader left before the verdict.
// Any other failure to write (a full disk) is IO_ERROR: at once for stdout; for
// stderr once the command finished (its outcome's code when it failed).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // a command that took it as its own error (watch) stops cleanly and decides its exit code; other listeners
    // (one waiting for a 'drain' that will not come) do not count
    if (stream === process.stdout && stdoutIsGone()) return;
    if (err.code === 'EPIPE') {
      if (stream === process.stdout) stdoutWentAway();
      return;
    }
    // stderr that cannot be written (a full disk) loses diagnostics, not the verdict: the command
    // finishes (an audit writes its reports) and exits with its outcome's code, or 3 for an ok one
    if (stream === process.stderr) {
      stderrFailed(err);
      return;
    }
    // an exit code of 0 set already is no verdict to keep: --help or --version printed by Commander to a full
    // disk, whose error arrives once main() has returned, must not exit 0 with nothing written
    const code = process.exitCode;
    process.exit(code !== undefined && code !== EXIT_OK ? code : exitCodeAfterOutputError('stdout', err));
  });
}

process.exitCode = exitCodeAfterOutput(await main(process.argv.slice(2)));
