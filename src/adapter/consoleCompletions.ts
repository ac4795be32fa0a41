// Debug Console completions (the DAP `completions` request): command names at the start of a line,
// each command's options and forms after it (`translate ADDR --write`, `x/16gx`, monitor commands),
// `$register` names, and symbols. Pure over the text and the name lists: unit tested.
import type { DebugProtocol } from '@vscode/debugprotocol';
import { CONSOLE_COMMANDS } from '../shared/consoleCommands';

export { CONSOLE_COMMANDS };

const TRANSLATE_OPTIONS = ['--write', '--exec'];
/** gdb's usual examine forms: giant words, words, bytes. */
const EXAMINE_FORMS = ['x/2gx', 'x/16gx', 'x/8wx', 'x/32bx', 'x/4gu'];
const MONITOR_COMMANDS = ['info mtree -f', 'info registers', 'info qtree', 'xp /4gx ', 'gva2gpa '];

export interface CompletionSources {
  registers: readonly string[];
  /** Symbol names starting with `prefix`, at most `limit`. */
  symbols(prefix: string, limit: number): string[];
}

const MAX_TARGETS = 100;

export function consoleCompletions(
  text: string,
  column: number,
  src: CompletionSources,
): DebugProtocol.CompletionItem[] {
  const upto = text.slice(0, Math.max(0, column - 1));
  // The word before the cursor, scanned backwards (a regex anchored at the end is quadratic on long text).
  let from = upto.length;
  while (from > 0 && /[$\w.\-/]/.test(upto[from - 1])) from--;
  let word = upto.slice(from);
  const before = upto.slice(0, from).trimStart();
  const first = /^(\S+)\s/.exec(before)?.[1];
  const out: DebugProtocol.CompletionItem[] = [];
  const add = (label: string, type: DebugProtocol.CompletionItemType, detail?: string): void => {
    if (out.length < MAX_TARGETS && label.toLowerCase().startsWith(word.toLowerCase()))
      out.push({ label, type, start: from, length: word.length, ...(detail ? { detail } : {}) });
  };
  if (before === '') {
    // The command itself: names, and the `x/…` forms once `x/` is typed.
    if (word.startsWith('x/')) for (const f of EXAMINE_FORMS) add(f, 'snippet', 'dump memory (gdb x)');
    else for (const c of CONSOLE_COMMANDS) add(c, 'keyword');
    if (word.includes('/') || word.startsWith('-')) return out;
  } else if (first === 'monitor' || first === 'mon') {
    // Monitor commands have spaces: complete the whole rest of the line.
    const rest = upto.slice(upto.indexOf(first) + first.length).trimStart();
    const start = upto.length - rest.length;
    for (const m of MONITOR_COMMANDS)
      if (m.startsWith(rest) && m !== rest && out.length < MAX_TARGETS)
        out.push({ label: m, type: 'text', start, length: rest.length });
    return out;
  } else if (first === 'translate' && (word.startsWith('-') || word === '')) {
    for (const o of TRANSLATE_OPTIONS) if (!before.includes(o)) add(o, 'property', 'check this access');
    if (word.startsWith('-')) return out;
  }
  // Operands: `p:` is an address space, not part of the name.
  if (word.startsWith('p:')) {
    word = word.slice(2);
    from += 2;
  }
  if (word.startsWith('$')) for (const r of src.registers) add(`$${r}`, 'variable');
  else if (word.length > 0 && !word.includes('/')) for (const n of src.symbols(word, 50)) add(n, 'function');
  return out;
}
