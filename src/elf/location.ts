// DWARF location descriptions (DWARF 5 section 2.6) and location lists (.debug_loclists, .debug_loc):
// where a variable lives at a PC — memory, a register, a computed value, pieces — or that it does
// not exist there. Evaluation is pure over a context the caller supplies (a frame's registers, the
// target's memory); anything this evaluator cannot know makes the value "optimized out", never a
// guess.
import { Reader } from './reader';

export type Location =
  | { kind: 'memory'; address: bigint }
  | { kind: 'register'; register: number }
  | { kind: 'value'; value: bigint }
  | { kind: 'implicit'; bytes: Uint8Array }
  /** `incomplete`: the expression failed after these pieces (the value is not known at all). */
  | { kind: 'pieces'; pieces: { location: Location; size: number }[]; incomplete?: boolean }
  | { kind: 'optimized'; why: string };

export interface LocationContext {
  /** A register of the frame by DWARF number (0–30 = x0–x30, 31 = sp); undefined = not recovered. */
  register(n: number): bigint | undefined;
  read(address: bigint, size: number): Promise<bigint>;
  /** The frame's DW_AT_frame_base, evaluated (for DW_OP_fbreg). */
  frameBase?(): Promise<bigint | undefined>;
  /** The frame's canonical frame address (for DW_OP_call_frame_cfa). */
  cfa?: bigint;
  /** The value a DW_OP_entry_value sub-expression had on entry to the function, when knowable. */
  entryValue?(expr: Uint8Array): Promise<bigint | undefined>;
  /** .debug_addr entries of the unit (DW_OP_addrx, DW_OP_constx). */
  addrx?(index: number): bigint | undefined;
}

export class NotAvailable extends Error {}

/** Why a DW_OP_implicit_pointer value has no bits (gdb prints it `<synthetic pointer>`). */
export const SYNTHETIC_POINTER = 'synthetic pointer (the object it points to has no address)';

const MASK = (1n << 64n) - 1n;
const signed = (v: bigint) => BigInt.asIntN(64, v);

/** Evaluates a location expression to where the value is. */
export async function evaluateLocation(expr: Uint8Array, ctx: LocationContext): Promise<Location> {
  if (expr.length === 0) return { kind: 'optimized', why: 'empty location' };
  const pieces: { location: Location; size: number }[] = [];
  const r = new Reader(expr);
  const stack: bigint[] = [];
  let current: Location | undefined;
  const pop = () => {
    const v = stack.pop();
    if (v === undefined) throw new NotAvailable('DWARF expression stack underflow');
    return v;
  };
  const reg = (n: number) => {
    const v = ctx.register(n);
    if (v === undefined) throw new NotAvailable(`register ${n} is not recovered in this frame`);
    return v;
  };
  try {
    while (!r.atEnd) {
      const op = r.u8();
      if (op >= 0x30 && op <= 0x4f) stack.push(BigInt(op - 0x30));
      else if (op >= 0x50 && op <= 0x6f) current = { kind: 'register', register: op - 0x50 };
      else if (op >= 0x70 && op <= 0x8f) stack.push((reg(op - 0x70) + r.sleb()) & MASK);
      else
        switch (op) {
          case 0x03:
            stack.push(r.u64());
            break;
          case 0x06:
            stack.push(await ctx.read(pop(), 8));
            break;
          case 0x08:
            stack.push(BigInt(r.u8()));
            break;
          case 0x09:
            stack.push(BigInt(r.i8()) & MASK);
            break;
          case 0x0a:
            stack.push(BigInt(r.u16()));
            break;
          case 0x0b:
            stack.push(BigInt(r.i16()) & MASK);
            break;
          case 0x0c:
            stack.push(BigInt(r.u32()));
            break;
          case 0x0d:
            stack.push(BigInt(r.i32()) & MASK);
            break;
          case 0x0e:
            stack.push(r.u64());
            break;
          case 0x0f:
            stack.push(r.i64() & MASK);
            break;
          case 0x10:
            stack.push(r.uleb());
            break;
          case 0x11:
            stack.push(r.sleb() & MASK);
            break;
          case 0x12:
            stack.push(stack[stack.length - 1] ?? pop());
            break;
          case 0x13:
            pop();
            break;
          case 0x14:
            stack.push(stack[stack.length - 2] ?? pop());
            break;
          case 0x15: {
            const i = r.u8();
            const v = stack[stack.length - 1 - i];
            if (v === undefined) throw new NotAvailable('DW_OP_pick outside the stack');
            stack.push(v);
            break;
          }
          case 0x16: {
            const a = pop();
            const b = pop();
            stack.push(a, b);
            break;
          }
          case 0x17: {
            const a = pop();
            const b = pop();
            const c = pop();
            stack.push(a, c, b);
            break;
          }
          case 0x19: {
            const a = signed(pop());
            stack.push((a < 0n ? -a : a) & MASK);
            break;
          }
          case 0x1f:
            stack.push(-signed(pop()) & MASK);
            break;
          case 0x20:
            stack.push(~pop() & MASK);
            break;
          case 0x23:
            stack.push((pop() + r.uleb()) & MASK);
            break;
          case 0x28: {
            const off = r.i16();
            if (pop() !== 0n) r.pos += off;
            break;
          }
          case 0x2f:
            r.pos += r.i16();
            break;
          case 0x90:
            current = { kind: 'register', register: r.ulebn() };
            break;
          case 0x91: {
            const off = r.sleb();
            const fb = await ctx.frameBase?.();
            if (fb === undefined) throw new NotAvailable('no frame base');
            stack.push((fb + off) & MASK);
            break;
          }
          case 0x92: {
            const n = r.ulebn();
            stack.push((reg(n) + r.sleb()) & MASK);
            break;
          }
          case 0x93: {
            const size = r.ulebn();
            const loc: Location =
              current ??
              (stack.length ? { kind: 'memory', address: pop() } : { kind: 'optimized', why: 'piece' });
            pieces.push({ location: loc, size });
            current = undefined;
            break;
          }
          case 0x94: {
            const size = r.u8();
            stack.push(await ctx.read(pop(), size));
            break;
          }
          case 0x96:
            break;
          case 0x9c:
            if (ctx.cfa === undefined) throw new NotAvailable('no CFA for this frame');
            stack.push(ctx.cfa);
            break;
          case 0x9e: {
            const n = r.ulebn();
            const start = r.pos;
            r.skip(n);
            current = { kind: 'implicit', bytes: r.bytes.subarray(start, start + n) };
            break;
          }
          case 0x9f:
            current = { kind: 'value', value: pop() };
            break;
          case 0xa0:
          case 0xf2:
            // DW_OP_implicit_pointer (GNU): a pointer to an object that has no address (gdb's
            // `<synthetic pointer>`). Its bits are not known: never shown as a made-up address.
            r.skip(4); // the DIE reference (32-bit DWARF)
            r.sleb();
            current = { kind: 'optimized', why: SYNTHETIC_POINTER };
            break;
          case 0xa1:
          case 0xa2: {
            const v = ctx.addrx?.(r.ulebn());
            if (v === undefined) throw new NotAvailable('no .debug_addr entry');
            stack.push(v);
            break;
          }
          case 0xa3:
          case 0xf3: {
            const n = r.ulebn();
            const start = r.pos;
            r.skip(n);
            const v = await ctx.entryValue?.(r.bytes.subarray(start, start + n));
            if (v === undefined)
              throw new NotAvailable('the value on entry to the function is not known here');
            stack.push(v);
            break;
          }
          default:
            if (op >= 0x1a && op <= 0x2e) binary(op, stack, pop);
            else throw new NotAvailable(`DWARF operation 0x${op.toString(16)} is not supported`);
        }
    }
  } catch (e) {
    if (e instanceof NotAvailable || (e as Error).name === 'ElfFormatError')
      return pieces.length
        ? { kind: 'pieces', pieces, incomplete: true }
        : { kind: 'optimized', why: (e as Error).message };
    // A memory read that failed: the value cannot be shown.
    return { kind: 'optimized', why: `unreadable: ${(e as Error).message}` };
  }
  if (pieces.length) return { kind: 'pieces', pieces };
  if (current) return current;
  const top = stack.pop();
  return top === undefined ? { kind: 'optimized', why: 'empty location' } : { kind: 'memory', address: top };
}

function binary(op: number, stack: bigint[], pop: () => bigint): void {
  const b = pop();
  const a = pop();
  const cmp = (x: boolean): void => void stack.push(x ? 1n : 0n);
  switch (op) {
    case 0x1a:
      return void stack.push(a & b);
    case 0x1b:
      if (b === 0n) throw new NotAvailable('division by zero');
      return void stack.push((signed(a) / signed(b)) & MASK);
    case 0x1c:
      return void stack.push((a - b) & MASK);
    case 0x1d:
      if (b === 0n) throw new NotAvailable('division by zero');
      return void stack.push(a % b);
    case 0x1e:
      return void stack.push((a * b) & MASK);
    case 0x21:
      return void stack.push(a | b);
    case 0x22:
      return void stack.push((a + b) & MASK);
    case 0x24:
      return void stack.push((a << b) & MASK);
    case 0x25:
      return void stack.push(a >> b);
    case 0x26:
      return void stack.push(BigInt.asUintN(64, signed(a) >> b));
    case 0x27:
      return void stack.push(a ^ b);
    case 0x29:
      return cmp(signed(a) === signed(b));
    case 0x2a:
      return cmp(signed(a) >= signed(b));
    case 0x2b:
      return cmp(signed(a) > signed(b));
    case 0x2c:
      return cmp(signed(a) <= signed(b));
    case 0x2d:
      return cmp(signed(a) < signed(b));
    case 0x2e:
      return cmp(signed(a) !== signed(b));
  }
  throw new NotAvailable(`DWARF operation 0x${op.toString(16)} is not supported`);
}

export interface LocationListQuery {
  version: number;
  /** The unit's base address (its low_pc). */
  base: bigint;
  addrx?(index: number): bigint | undefined;
}

/**
 * The expression of a location list entry that covers `pc`: .debug_loclists (DWARF 5, at `offset`)
 * or .debug_loc (DWARF 2–4). Undefined when no entry covers it: the variable does not exist there.
 */
export function locationListAt(
  sections: { debugLoc?: Uint8Array; debugLoclists?: Uint8Array },
  offset: number,
  q: LocationListQuery,
  pc: bigint,
): Uint8Array | undefined {
  let base = q.base;
  const block = (r: Reader, n: number) => {
    const start = r.pos;
    r.skip(n);
    return r.bytes.subarray(start, start + n);
  };
  if (q.version >= 5) {
    if (!sections.debugLoclists) return undefined;
    const r = new Reader(sections.debugLoclists, offset);
    const addrx = (i: number) => {
      const v = q.addrx?.(i);
      if (v === undefined) throw new NotAvailable('no .debug_addr');
      return v;
    };
    let fallback: Uint8Array | undefined;
    for (let n = 0; n < 100_000 && !r.atEnd; n++) {
      const kind = r.u8();
      let low: bigint;
      let high: bigint;
      switch (kind) {
        case 0:
          return fallback;
        case 1:
          base = addrx(r.ulebn());
          continue;
        case 2:
          low = addrx(r.ulebn());
          high = addrx(r.ulebn());
          break;
        case 3:
          low = addrx(r.ulebn());
          high = low + r.uleb();
          break;
        case 4:
          low = base + r.uleb();
          high = base + r.uleb();
          break;
        case 5:
          // DW_LLE_default_location: where the value is when no bounded entry covers the PC.
          fallback = block(r, r.ulebn());
          continue;
        case 6:
          base = r.u64();
          continue;
        case 7:
          low = r.u64();
          high = r.u64();
          break;
        case 8:
          low = r.u64();
          high = low + r.uleb();
          break;
        default:
          return undefined;
      }
      const e = block(r, r.ulebn());
      if (pc >= low && pc < high) return e;
    }
    return fallback;
  }
  if (!sections.debugLoc) return undefined;
  const r = new Reader(sections.debugLoc, offset);
  for (let n = 0; n < 100_000 && !r.atEnd; n++) {
    const a = r.u64();
    const b = r.u64();
    if (a === 0n && b === 0n) return undefined;
    if (a === MASK) {
      base = b;
      continue;
    }
    const e = block(r, r.u16());
    if (pc >= base + a && pc < base + b) return e;
  }
  return undefined;
}
