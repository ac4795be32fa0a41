// The Debug Console / watch language: registers (`$x0`, `$TTBR0_EL1`, `pc`), symbols, integer
// arithmetic (+ - only, as addresses need), memory (`*(u64*)ADDR`, `*(u32*)p:ADDR` physical) and
// commands (`pte ADDR`, `translate ADDR`, `guard`, `monitor CMD`). Parsing is pure; the session
// supplies the lookups.

export type Expression =
  | { kind: 'value'; expr: AddressExpr }
  | { kind: 'deref'; width: 1 | 2 | 4 | 8; physical: boolean; address: AddressExpr }
  | { kind: 'pte'; address: AddressExpr }
  | { kind: 'translate'; address: AddressExpr }
  | { kind: 'guard' }
  | { kind: 'help' }
  | { kind: 'monitor'; command: string };

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
  '  translate ADDRESS    the walk of ADDRESS, both stages when stage 2 is on: VA -> IPA -> PA',
  '                       e.g. translate $FAR_EL1',
  '  guard                MMIO guard: tracked regions, page states, the last guard calls, anomalies',
  '  *(u64*)ADDRESS       read 1, 2, 4 or 8 bytes (u8 u16 u32 u64); *(u32*)p:ADDRESS reads physically',
  '                       e.g. *(u64*)pt_root, *(u32*)p:0x9000000 (device reads have side effects)',
  '  $REGISTER, NAME      a register ($x0, $pc, $TTBR0_EL1) or a symbol (handle_mmio_fault); + and - work',
  '  monitor COMMAND      a QEMU monitor command, echoed first (e.g. monitor info mtree -f)',
  '  help                 this list',
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
  if ((word === 'help' || word === '?') && !rest) return { kind: 'help' };
  if (word === 'pte' || word === 'translate') {
    if (!rest) throw new ExpressionError(`usage: ${word} ADDRESS`);
    return { kind: word, address: parseAddressExpr(rest) };
  }
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
