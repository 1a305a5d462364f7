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
import { quoteCommand } from './quote.js';
import { simulateCommand } from './simulate.js';
import { watchCommand } from './watch.js';

export const COMMANDS: CommandDefinition[] = [
  demoCommand,
  attestCommand,
  verifyCommand,
  watchCommand,
  auditCommand,
  quoteCommand,
  eventlogCommand,
  inspectCommand,
  certsCommand,
  policyCommand,
  historyCommand,
  simulateCommand,
];

