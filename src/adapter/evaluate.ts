// The Debug Console / watch language: registers (`$x0`, `$TTBR0_EL1`, `pc`), symbols, integer
// arithmetic (+ - only, as addresses need), memory (`*(u64*)ADDR`, `*(u32*)p:ADDR` physical) and
// commands (`pte ADDR`, `translate ADDR [--write|--exec]`, `x/FMT ADDR`, `guard`, `monitor CMD`).
// Parsing is pure; the session supplies the lookups.
import { MEM_USAGE } from './memoryViewConsole';

export type Expression =
  | { kind: 'value'; expr: AddressExpr }
  | { kind: 'deref'; width: 1 | 2 | 4 | 8; physical: boolean; address: AddressExpr }
  | { kind: 'pte'; address: AddressExpr }
  | { kind: 'translate'; address: AddressExpr; access?: TranslateAccess }
  | {
      kind: 'examine';
      unit: 1 | 2 | 4 | 8;
      count: number;
      format: ExamineFormat;
      physical: boolean;
      address: AddressExpr;
    }
  | { kind: 'guard' }
  | { kind: 'ownership' }
  | { kind: 'watchPte'; address?: AddressExpr; fault?: true; level?: number; clear?: boolean }
  | { kind: 'help' }
  | { kind: 'mem'; physical: boolean; address: AddressExpr }
  | { kind: 'monitor'; command: string };

/** The access `translate` checks (the CLI's `--write` / `--exec`); a read when absent. */
export type TranslateAccess = 'write' | 'exec';

/** How `x` prints each unit: hex (x), unsigned (u) or signed (d) decimal. */
export type ExamineFormat = 'x' | 'u' | 'd';

/** The most bytes one `x` command reads (a page: enough to see a table's 512 entries in two goes). */
export const EXAMINE_MAX_BYTES = 4096;

export type Term =
  { kind: 'number'; value: bigint } | { kind: 'register'; name: string } | { kind: 'symbol'; name: string };

/** A sum of signed terms. */
export interface AddressExpr {
  terms: { sign: 1 | -1; term: Term }[];
  text: string;
}

export class ExpressionError extends Error {}

const WIDTHS: Record<string, 1 | 2 | 4 | 8> = {
  u8: 1,
  u16: 2,
  u32: 4,
  u64: 8,
  uint8_t: 1,
  uint16_t: 2,
  uint32_t: 4,
  uint64_t: 8,
};

function parseTerm(t: string): Term {
  const s = t.trim();
  if (!s) throw new ExpressionError('missing operand');
  if (/^0x[0-9a-f_]+$/i.test(s)) return { kind: 'number', value: BigInt(s.replace(/_/g, '')) };
  if (/^[0-9][0-9_]*$/.test(s)) return { kind: 'number', value: BigInt(s.replace(/_/g, '')) };
  if (s.startsWith('$')) {
    const name = s.slice(1);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new ExpressionError(`bad register name '${s}'`);
    return { kind: 'register', name };
  }
  if (/^[A-Za-z_.][A-Za-z0-9_.$]*$/.test(s)) return { kind: 'symbol', name: s };
  throw new ExpressionError(`cannot parse '${s}'`);
}

export function parseAddressExpr(text: string): AddressExpr {
  const src = text.trim();
  if (!src) throw new ExpressionError('expected an address');
  const terms: AddressExpr['terms'] = [];
  let sign: 1 | -1 = 1;
  let cur = '';
  for (const ch of src) {
    if (ch === '+' || ch === '-') {
      if (cur.trim()) {
        terms.push({ sign, term: parseTerm(cur) });
        cur = '';
      } else if (terms.length > 0 || cur.trim()) throw new ExpressionError(`unexpected '${ch}'`);
      sign = ch === '-' ? -1 : 1;
    } else cur += ch;
  }
  terms.push({ sign, term: parseTerm(cur) });
  return { terms, text: src };
}

/** What `help` answers in the Debug Console: every command, its syntax, an example. */
export const CONSOLE_HELP = [
  'Debug Console commands (pvmfw MMU):',
  '  pte ADDRESS          the entry that maps ADDRESS, decoded, with its guard state and pvmfw verdict',
  '                       e.g. pte 0x9010000',
  '  translate ADDRESS [--write|--exec]',
  '                       the walk of ADDRESS, both stages when stage 2 is on: VA -> IPA -> PA; with',
  '                       --write or --exec the permissions are checked for that access (as the CLI)',
  '                       e.g. translate $FAR_EL1, translate _start --write',
  '  x/NFU ADDRESS        dump N units of U (b 1, h 2, w 4, g 8 bytes) as F (x hex, u, d decimal),',
  '                       like gdb; p:ADDRESS reads physically. At most 4096 bytes',
  '                       e.g. x/16gx pt_root, x/32bx $sp, x/8wx p:0x9000000',
  '  mem ADDRESS          open the Memory view there (hex and ASCII, changes since the previous stop);',
  '                       p:ADDRESS opens it physical. e.g. mem pt_root, mem $sp, mem p:0x40200000',
  '  guard                MMIO guard: tracked regions, page states, the last guard calls, anomalies',
  '  ownership            pKVM: who owns which pages (the host stage 2, the hypervisor tables)',
  '  watch-pte ADDRESS|fault [--level N]',
  '                       stop when the descriptor of the entry mapping ADDRESS is written, and show',
  "                       the old and new descriptor decoded; fault: the entry the last exception's",
  "                       walk of FAR ended on (the Fault scope's); watch-pte lists, watch-pte clear",
  '                       removes. e.g. watch-pte 0x9010000, watch-pte fault --level 2',
  '  *(u64*)ADDRESS       read 1, 2, 4 or 8 bytes (u8 u16 u32 u64); *(u32*)p:ADDRESS reads physically',
  '                       e.g. *(u64*)pt_root, *(u32*)p:0x9000000 (device reads have side effects)',
  '  $REGISTER, NAME      a register ($x0, $pc, $TTBR0_EL1) or a symbol (handle_mmio_fault); + and - work',
  '  monitor COMMAND      a QEMU monitor command, echoed first (e.g. monitor info mtree -f)',
  '  help                 this list (Tab completes commands, options, registers and symbols)',
].join('\n');

export function parseExpression(input: string): Expression {
  const text = input.trim();
  const cmd = /^(\S+)(?:\s+([\s\S]*))?$/.exec(text);
  const word = cmd?.[1] ?? '';
  const rest = (cmd?.[2] ?? '').trim();
  if (word === 'monitor' || word === 'mon') {
    if (!rest) throw new ExpressionError('usage: monitor <QEMU monitor command>');
    return { kind: 'monitor', command: rest };
  }
  if (word === 'guard' && !rest) return { kind: 'guard' };
  if (word === 'ownership' && !rest) return { kind: 'ownership' };
  if ((word === 'help' || word === '?') && !rest) return { kind: 'help' };
  if (word === 'pte') {
    if (!rest) throw new ExpressionError('usage: pte ADDRESS');
    return { kind: word, address: parseAddressExpr(rest) };
  }
  if (word === 'translate') return parseTranslate(rest);
  if (word === 'mem') {
    const m = /^(p:|v:)?\s*(\S[\s\S]*)$/i.exec(rest);
    if (!m) throw new ExpressionError(MEM_USAGE);
    return { kind: 'mem', physical: m[1]?.toLowerCase() === 'p:', address: parseAddressExpr(m[2]) };
  }
  if (word === 'watch-pte') {
    if (!rest) return { kind: 'watchPte' };
    if (rest === 'clear') return { kind: 'watchPte', clear: true };
    // `--level N`: the entry of that level on the walk (a table entry), instead of the last one.
    const lv = /\s--level\s+([0-3])\s*$/.exec(` ${rest}`);
    const addr = lv ? ` ${rest}`.slice(0, lv.index).trim() : rest;
    if (/--/.test(addr))
      throw new ExpressionError('usage: watch-pte ADDRESS|fault [--level 0-3] | watch-pte clear');
    // `fault`: the entry of the last exception's walk (FAR), as the Fault scope lists it.
    if (addr === 'fault') return { kind: 'watchPte', fault: true, ...(lv ? { level: Number(lv[1]) } : {}) };
    return { kind: 'watchPte', address: parseAddressExpr(addr), ...(lv ? { level: Number(lv[1]) } : {}) };
  }
  if (word === 'x' || word.startsWith('x/')) return parseExamine(word, rest);
  const deref =
    /^\*\s*\(\s*(u8|u16|u32|u64|uint8_t|uint16_t|uint32_t|uint64_t)\s*\*\s*\)\s*(p:)?\s*([\s\S]+)$/.exec(
      text,
    );
  if (deref) {
    let addr = deref[3].trim();
    if (addr.startsWith('(') && addr.endsWith(')')) addr = addr.slice(1, -1);
    return {
      kind: 'deref',
      width: WIDTHS[deref[1]],
      physical: deref[2] !== undefined,
      address: parseAddressExpr(addr),
    };
  }
  if (text.startsWith('*'))
    throw new ExpressionError(
      'memory reads look like *(u64*)ADDRESS (u8, u16, u32, u64; p:ADDRESS for physical)',
    );
  return { kind: 'value', expr: parseAddressExpr(text) };
}

const TRANSLATE_USAGE = 'usage: translate ADDRESS [--write|--exec]';

function parseTranslate(rest: string): Expression {
  let access: TranslateAccess | undefined;
  const words: string[] = [];
  for (const w of rest.split(/\s+/).filter(Boolean)) {
    if (!w.startsWith('--')) words.push(w);
    else if (w === '--read') access = undefined;
    else if (w === '--write' || w === '--exec') {
      if (access && access !== w.slice(2))
        throw new ExpressionError(
          `--write and --exec name different accesses: pick one (${TRANSLATE_USAGE})`,
        );
      access = w.slice(2) as TranslateAccess;
    } else throw new ExpressionError(`unknown option '${w}' (${TRANSLATE_USAGE})`);
  }
  if (!words.length) throw new ExpressionError(TRANSLATE_USAGE);
  return { kind: 'translate', address: parseAddressExpr(words.join(' ')), ...(access ? { access } : {}) };
}

const UNITS: Record<string, 1 | 2 | 4 | 8> = { b: 1, h: 2, w: 4, g: 8 };
const EXAMINE_USAGE = 'usage: x/NFU ADDRESS, e.g. x/16gx pt_root (N count; U b h w g; F x u d)';

/** `x/16gx ADDR`: gdb's examine. Count, unit and format may come in any order after the slash. */
function parseExamine(word: string, rest: string): Expression {
  const spec = word.slice(2);
  const m = /^(\d*)([bhwgxud]*)$/.exec(spec);
  if (!m || (word !== 'x' && !word.startsWith('x/'))) throw new ExpressionError(EXAMINE_USAGE);
  let unit: 1 | 2 | 4 | 8 | undefined;
  let format: ExamineFormat | undefined;
  for (const c of m[2]) {
    if (c in UNITS) {
      if (unit) throw new ExpressionError(`two unit sizes in '${word}' (${EXAMINE_USAGE})`);
      unit = UNITS[c];
    } else {
      if (format) throw new ExpressionError(`two formats in '${word}' (${EXAMINE_USAGE})`);
      format = c as ExamineFormat;
    }
  }
  const count = m[1] ? Number(m[1]) : 1;
  unit ??= 8;
  if (count < 1) throw new ExpressionError(`the count must be at least 1 (${EXAMINE_USAGE})`);
  if (count * unit > EXAMINE_MAX_BYTES)
    throw new ExpressionError(
      `x reads at most ${EXAMINE_MAX_BYTES} bytes at a time: ${count} units of ${unit} bytes is ${count * unit}`,
    );
  let text = rest.trim();
  if (!text) throw new ExpressionError(EXAMINE_USAGE);
  const physical = text.startsWith('p:');
  if (physical) text = text.slice(2).trim();
  if (text.startsWith('(') && text.endsWith(')')) text = text.slice(1, -1);
  return { kind: 'examine', unit, count, format: format ?? 'x', physical, address: parseAddressExpr(text) };
}

/** Evaluates an address expression with the given lookups (64-bit wrap-around, like the CPU). */
export async function evalAddress(
  e: AddressExpr,
  lookup: { register(name: string): Promise<bigint | undefined>; symbol(name: string): bigint | undefined },
): Promise<bigint> {
  let sum = 0n;
  for (const { sign, term } of e.terms) {
    let v: bigint | undefined;
    if (term.kind === 'number') v = term.value;
    else if (term.kind === 'register') {
      v = await lookup.register(term.name);
      if (v === undefined) throw new ExpressionError(`register ${term.name} is unavailable`);
    } else {
      v = lookup.symbol(term.name);
      // A bare register name without `$` (pc, x0, sp) is accepted when no symbol has that name.
      if (v === undefined) v = await lookup.register(term.name);
      if (v === undefined) throw new ExpressionError(`no symbol or register named '${term.name}'`);
    }
    sum += sign === 1 ? v : -v;
  }
  return BigInt.asUintN(64, sum);
}
