// Every command of the CLI, in the order --help lists them. Each module only
// declares its options; its implementation is imported when it runs.

import type { CommandDefinition } from '../command.js';
import { eventlogCommand } from './eventlog.js';

export const COMMANDS: CommandDefinition[] = [eventlogCommand];
