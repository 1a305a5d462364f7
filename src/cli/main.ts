// Process entry: runs the CLI and sets the exit code. Only this file touches
// process.exitCode.
import { main } from './index.js';
import { stdoutIsGone } from './output.js';

// A reader that goes away (`vtpm-verify ... | head`) is not an error of ours:
// stop quietly, as Unix tools do, instead of crashing on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') {
      // a command that took it as its own error (watch) stops cleanly and decides its exit code; other listeners
      // (one waiting for a 'drain' that will not come) do not count
      if (stream === process.stdout && stdoutIsGone()) return;
      process.exit(process.exitCode ?? 0);
    }
    throw err;
  });
}

process.exitCode = await main(process.argv.slice(2));
