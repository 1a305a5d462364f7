// Where the state file lives by default: $XDG_STATE_HOME/vtpm-verify/state.db,
// else ~/.local/state/vtpm-verify/state.db (XDG Base Directory: state is data
// that should persist between runs but is not worth backing up as documents).

import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export const STATE_FILE_NAME = 'state.db';

export function defaultStatePath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env['XDG_STATE_HOME'];
  // The spec says a relative XDG_STATE_HOME is invalid and must be ignored.
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.local', 'state');
  return join(base, 'vtpm-verify', STATE_FILE_NAME);
}

/** The state file a command uses: --state FILE when given, else the default. */
export function resolveStatePath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return explicit ? resolve(explicit) : defaultStatePath(env);
}
