// Every command of the CLI, in the order --help lists them. Each module only
// declares its options; its implementation is imported when it runs.

import type { CommandDefinition } from '../command.js';
import { historyCommand } from './history.js';
import { inspectCommand } from './inspect.js';
import { quoteCommand } from './quote.js';

import { policyCommand } from './policy.js';

import { certsCommand } from './certs.js';

import { eventlogCommand } from './eventlog.js';
import { attestCommand, verifyCommand } from './attest.js';

import { simulateCommand } from './simulate.js';
import { auditCommand } from './audit.js';

export const COMMANDS: CommandDefinition[] = [attestCommand, verifyCommand, auditCommand, quoteCommand, eventlogCommand, inspectCommand, certsCommand, policyCommand, historyCommand, simulateCommand];
