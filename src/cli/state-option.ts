// The --state FILE option, shared by every command that keeps or reads state
// (attest, watch, history). Only declares it: the store is opened lazily.

import type { Command } from 'commander';

export const STATE_OPTION_HELP =
  'the state file: clock baselines, hosting periods and attestation history (default $XDG_STATE_HOME/vtpm-verify/state.db, else ~/.local/state/vtpm-verify/state.db)';

export function withStateOption(cmd: Command): Command {
  return cmd.option('--state <file>', STATE_OPTION_HELP);
}
