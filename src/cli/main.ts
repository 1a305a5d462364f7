// Process entry: runs the CLI and sets the exit code. Only this file touches
// process.exitCode.
import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2));
