// Every command of the CLI, in the order --help lists them. Each module only
// declares its options; its implementation is imported when it runs.

import type { CommandDefinition } from '../command.js';
import { attestCommand, verifyCommand } from './attest.js';
import { auditCommand } from './audit.js';
import { certsCommand } from './certs.js';
import { demoCommand } from './demo.js';
import { eventlogCommand } from './eventlog.js';
import { historyCommand } from './history.js';
import { inspectCommand } from './inspect.js';
import { policyCommand } from './policy.js';
import { pruneCommand } from './prune.js';
import { quoteCommand } from './quote.js';
import { reportCommand } from './report.js';
import { simulateCommand } from './simulate.js';
import { watchCommand } from './watch.js';

/** By name, so that running one command defines only that one (start-up time). */
export const COMMANDS: ReadonlyArray<readonly [name: string, define: CommandDefinition]> = [
  ['demo', demoCommand],
  ['attest', attestCommand],
  ['verify', verifyCommand],
  ['watch', watchCommand],
  ['audit', auditCommand],
  ['report', reportCommand],
  ['quote', quoteCommand],
  ['eventlog', eventlogCommand],
  ['inspect', inspectCommand],
  ['certs', certsCommand],
  ['policy', policyCommand],
  ['history', historyCommand],
  ['prune', pruneCommand],
  ['simulate', simulateCommand],
];

