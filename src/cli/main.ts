// Process entry: runs the CLI and sets the exit code. Only this file touches
// process.exitCode.
import { main } from './index.js';
import { exitCodeAfterOutput, exitCodeAfterOutputError, stdoutIsGone } from './output.js';

// A reader that goes away (`vtpm-verify ... | head`) is not an error of ours:
// stop quietly, as Unix tools do, instead of crashing on EPIPE, with the exit
// code of the outcome being printed (a verdict does not become 0 because
// nobody read it). Any other failure to write (a full disk) is IO_ERROR.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // a command that took it as its own error (watch) stops cleanly and decides its exit code; other listeners
    // (one waiting for a 'drain' that will not come) do not count
    if (stream === process.stdout && stdoutIsGone()) return;
    process.exit(process.exitCode ?? exitCodeAfterOutputError(stream === process.stdout ? 'stdout' : 'stderr', err));
  });
}

process.exitCode = exitCodeAfterOutput(await main(process.argv.slice(2)));
