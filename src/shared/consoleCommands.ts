// The Debug Console's command words, one list: the adapter completes them and `help` lists them, and
// the Memory view's address box refuses them (they are commands, not addresses). Pure: no `vscode`.

/** Every console command, as `help` lists them. */
export const CONSOLE_COMMANDS = [
  'pte',
  'translate',
  'x',
  'mem',
  'guard',
  'ownership',
  'watch-pte',
  'monitor',
  'help',
] as const;

/** The command words and their short forms (`mon` for `monitor`). */
export const CONSOLE_WORDS: ReadonlySet<string> = new Set<string>([...CONSOLE_COMMANDS, 'mon']);
