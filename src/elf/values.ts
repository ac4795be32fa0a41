// Values of C types: bytes read from where a location says, and their text as gdb prints it
// (decimal integers, `0x… <symbol>` pointers, `{x = 1, y = 2}` aggregates, enum names, strings for
// char pointers and arrays, `<optimized out>`), so the Variables view and the Debug Console read like
// gdb and the tests can compare with it. Pure: memory and symbols come from the caller.
import { SYNTHETIC_POINTER, type Location } from './location';
import { DW_ATE, sizeOf, strip, typeName, type CType, type Member } from './types';
import { escapeChar, formatString, readCString, repeats } from './valueText';

export const OPTIMIZED_OUT = '<optimized out>';

/** A value: its type, its bytes (undefined = optimized out) and, for an lvalue in memory, its address. */
export interface Value {
  type: CType;
  bytes?: Uint8Array;
  address?: bigint;
  /** Register number when the value lives in a register. */
  register?: number;
  why?: string;
  /**
   * A value only partly known (pieces of which some are optimized out or in a register this frame
   * cannot recover): `bytes` is then undefined and this holds what is known, byte by byte
   * (`known[i]` = 1). Aggregates show their known members and elements, as gdb does; a scalar with
   * any byte unknown is `<optimized out>` (gdb's rule), so a partial value is never read as a number.
   */
  partial?: { bytes: Uint8Array; known: Uint8Array; synthetic?: Uint8Array };
  /** For a value in a register: the byte of the register where it starts (a member of a small struct). */
  registerByte?: number;
  /** A value computed by the location expression (DW_OP_stack_value, implicit): nowhere to write it. */
  computed?: boolean;
  /** For a value made of pieces: where each lives (register or memory), by byte offset in the value. */
  origins?: PieceOrigin[];
}

/** One piece of a value: `size` bytes at `offset` of the value, held by a register or memory. */
export interface PieceOrigin {
  offset: number;
  size: number;
  register?: number;
  /** A piece computed by the expression (DW_OP_stack_value, implicit value): nowhere to write. */
  computed?: boolean;
  /** For a register piece: the register's byte where the piece starts (0: its low bytes). */
  registerByte?: number;
  address?: bigint;
}

export interface ValueMemory {
  read(address: bigint, size: number): Promise<Uint8Array>;
}

export interface FormatContext extends ValueMemory {
  /** `name` or `name+off` for an address inside a data or code symbol (gdb's `<table+8>`). */
  symbolFor(address: bigint): string | undefined;
}

const le = (v: bigint, size: number) => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
};

export function toBigInt(bytes: Uint8Array, signed = false): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return signed && bytes.length ? BigInt.asIntN(bytes.length * 8, v) : v;
}

/** Reads a value of `type` from `loc` (a register's low bytes, memory, a computed value, pieces). */
export async function readValue(
  type: CType,
  loc: Location,
  mem: ValueMemory,
  register: (n: number) => bigint | undefined,
): Promise<Value> {
  const size = sizeOf(type);
  switch (loc.kind) {
    case 'optimized':
      return { type, why: loc.why };
    case 'memory':
      try {
        return { type, address: loc.address, bytes: await mem.read(loc.address, size) };
      } catch (e) {
        return { type, address: loc.address, why: `cannot read memory: ${(e as Error).message}` };
      }
    case 'register': {
      const v = register(loc.register);
      if (v === undefined || size > 8)
        return { type, why: `register ${loc.register} is not known in this frame` };
      return { type, register: loc.register, bytes: le(v, size) };
    }
    case 'value':
      return { type, bytes: le(loc.value, Math.min(size, 8)), computed: true };
    case 'implicit':
      return { type, bytes: loc.bytes.subarray(0, size), computed: true };
    case 'pieces': {
      const out = new Uint8Array(size);
      const known = new Uint8Array(size);
      // Bytes of a synthetic pointer (DW_OP_implicit_pointer): unknown, and printed as gdb does.
      const synthetic = new Uint8Array(size);
      let at = 0;
      let why: string | undefined;
      const origins: PieceOrigin[] = [];
      for (const p of loc.pieces) {
        const part = await readValue(
          { kind: 'array', element: BYTE, count: p.size },
          p.location,
          mem,
          register,
        );
        const n = Math.max(0, Math.min(p.size, size - at));
        if (n > 0 && p.location.kind === 'register' && part.bytes)
          origins.push({ offset: at, size: n, register: p.location.register });
        else if (n > 0 && p.location.kind === 'memory')
          origins.push({ offset: at, size: n, address: p.location.address });
        else if (n > 0 && part.computed) origins.push({ offset: at, size: n, computed: true });
        if (part.bytes) {
          out.set(part.bytes.subarray(0, n), at);
          known.fill(1, at, at + n);
        } else {
          why ??= part.why ?? 'a piece is optimized out';
          if (part.why === SYNTHETIC_POINTER) synthetic.fill(1, at, at + n);
        }
        at += p.size;
      }
      // Pieces of an expression that failed after them: the value is not shown at all (gdb gives
      // up on the whole value too). Pieces that simply cover less than the type (rustc describes
      // a slice iterator by its first pointer alone) leave the rest unknown.
      if (at < size && loc.incomplete) return { type, why: 'part of the value is not known here' };
      if (at < size) why ??= 'the location describes only part of the value';
      if (why === undefined) return { type, bytes: out, origins };
      // Some pieces are unknown (empty, a synthetic pointer, a register not recovered): what the
      // others hold is still shown member by member, never as a whole number.
      if (!known.includes(1)) return synthetic.includes(0) ? { type, why } : { type, why: SYNTHETIC_POINTER };
      return {
        type,
        why,
        partial: { bytes: out, known, ...(synthetic.includes(1) ? { synthetic } : {}) },
        origins,
      };
    }
  }
}

const BYTE: CType = { kind: 'base', name: 'unsigned char', size: 1, encoding: DW_ATE.unsigned_char };
const VOID_BYTE: CType = { kind: 'base', name: 'u8', size: 1, encoding: DW_ATE.unsigned };

/** The integer a scalar value holds (pointers, enums, integers, bools). */
export function scalar(v: Value): bigint | undefined {
  if (!v.bytes) return undefined;
  const t = strip(v.type);
  const signed =
    (t.kind === 'base' && (t.encoding === DW_ATE.signed || t.encoding === DW_ATE.signed_char)) ||
    (t.kind === 'enum' && t.signed);
  return toBigInt(v.bytes, signed);
}

export function isCharType(t: CType): boolean {
  const s = strip(t);
  return (
    s.kind === 'base' &&
    s.size === 1 &&
    (s.encoding === DW_ATE.signed_char || s.encoding === DW_ATE.unsigned_char || /char/.test(s.name))
  );
}

/** Elements of an array value, or members of a struct/union, as values. */
export function children(v: Value): { name: string; value: Value }[] {
  const t = strip(v.type);
  if (t.kind === 'array') {
    const es = sizeOf(t.element);
    const n = Math.min(t.count ?? 0, 10_000);
    const out: { name: string; value: Value }[] = [];
    for (let i = 0; i < n; i++) out.push({ name: `[${i}]`, value: sub(v, t.element, i * es, es) });
    return out;
  }
  if (t.kind === 'struct' && t.variants) {
    const active = activeVariant(v);
    return active ? children(active) : [];
  }
  if (t.kind === 'struct' || t.kind === 'union') {
    return t.members.map((m) => {
      const size = sizeOf(m.type);
      const child = sub(v, m.type, m.offset, size);
      const storage =
        m.bitSize !== undefined
          ? bytesAt(v, m.offset, Math.ceil(((m.bitOffset ?? 0) + m.bitSize) / 8))
          : undefined;
      if (m.bitSize !== undefined && !storage) {
        delete child.bytes;
        delete child.partial;
        child.why = v.why ?? OPTIMIZED_OUT;
      }
      if (m.bitSize !== undefined && storage) {
        const raw = toBigInt(storage);
        const bits = (raw >> BigInt(m.bitOffset ?? 0)) & ((1n << BigInt(m.bitSize)) - 1n);
        child.bytes = le(bits, size);
        // A bit-field's bits are not a unit of storage this can write alone.
        delete child.address;
        delete child.register;
        delete child.origins;
        child.computed = true;
      }
      return { name: m.name, value: child };
    });
  }
  return [];
}

/**
 * A Rust enum's variant for the value's discriminant, as a value of the variant's own struct type
 * (`rust_opt::Shape::Rect`); undefined when the discriminant is unknown or names no variant.
 */
export function activeVariant(v: Value): Value | undefined {
  const t = strip(v.type);
  if (t.kind !== 'struct' || !t.variants || (!v.bytes && !v.partial)) return undefined;
  const { discr, variants } = t.variants;
  let chosen = variants.length === 1 && !discr ? variants[0] : undefined;
  if (discr) {
    const d = sub(v, discr.type, discr.offset, sizeOf(discr.type));
    const n = scalar(d);
    if (n === undefined) return undefined;
    // Discriminant values are recorded unsigned in the DIE; compare both readings.
    const u = d.bytes ? toBigInt(d.bytes) : n;
    chosen = variants.find((x) => x.value !== undefined && (x.value === n || x.value === u));
    chosen ??= variants.find((x) => x.value === undefined);
  }
  if (!chosen) return undefined;
  return sub(v, chosen.member.type, chosen.member.offset, sizeOf(chosen.member.type));
}

/** A Rust slice or `&str` (a struct of `data_ptr` and `length`, named `&[T]`, `&mut [T]`, `&str`). */
export function rustSlice(t: CType): { ptr: Member; length: Member; str: boolean } | undefined {
  const s = strip(t);
  if (s.kind !== 'struct' || !s.rust || !s.name || !/^&(mut )?(\[|str$)/.test(s.name)) return undefined;
  const ptr = s.members.find((m) => m.name === 'data_ptr');
  const length = s.members.find((m) => m.name === 'length');
  return ptr && length ? { ptr, length, str: /str$/.test(s.name) } : undefined;
}

/** The length of a slice or `&str` value (undefined when unknown or not a slice). */
export function sliceLength(v: Value): bigint | undefined {
  const sl = rustSlice(v.type);
  const b = sl && bytesAt(v, sl.length.offset, 8);
  return b ? toBigInt(b) : undefined;
}

/** The element type of a slice (`u8` for `&str`). */
export function sliceElementType(t: CType): CType {
  const sl = rustSlice(t);
  const ptr = sl && strip(sl.ptr.type);
  return ptr?.kind === 'pointer' ? ptr.target : VOID_BYTE;
}

/** The elements a slice value points at, as an array value in memory (bounded). */
export async function sliceElements(v: Value, mem: ValueMemory, max = 10_000): Promise<Value | undefined> {
  const sl = rustSlice(v.type);
  if (!sl || !v.bytes) return undefined;
  const ptr = strip(sl.ptr.type);
  const el = ptr.kind === 'pointer' ? ptr.target : VOID_BYTE;
  const address = toBigInt(v.bytes.subarray(sl.ptr.offset, sl.ptr.offset + 8));
  const length = Number(toBigInt(v.bytes.subarray(sl.length.offset, sl.length.offset + 8)));
  const count = Math.min(length, max);
  const type: CType = { kind: 'array', element: el, count, rust: true };
  try {
    return { type, address, bytes: await mem.read(address, count * sizeOf(el)) };
  } catch (e) {
    return { type, address, why: `cannot read memory: ${(e as Error).message}` };
  }
}

function sub(v: Value, type: CType, offset: number, size: number): Value {
  const out: Value = { type };
  if (v.address !== undefined) out.address = v.address + BigInt(offset);
  else if (v.register !== undefined) {
    // A member of a small aggregate held in one register: its bytes of that register.
    out.register = v.register;
    out.registerByte = (v.registerByte ?? 0) + offset;
  } else if (v.origins) {
    // Pieces: the member lives where the piece holding all of it lives (else nowhere writable).
    const own = v.origins
      .filter((o) => o.offset < offset + size && offset < o.offset + o.size)
      .map((o) => {
        const lo = Math.max(o.offset, offset);
        const c: PieceOrigin = { offset: lo - offset, size: Math.min(o.offset + o.size, offset + size) - lo };
        // A register piece is the register's low bytes: the member starts `lo - o.offset` into it.
        if (o.register !== undefined) {
          c.register = o.register;
          c.registerByte = (o.registerByte ?? 0) + lo - o.offset;
        }
        if (o.address !== undefined) c.address = o.address + BigInt(lo - o.offset);
        if (o.computed) c.computed = true;
        return c;
      });
    const whole = own.length === 1 && own[0].offset === 0 && own[0].size === size ? own[0] : undefined;
    if (whole?.register !== undefined) {
      out.register = whole.register;
      out.registerByte = whole.registerByte ?? 0;
    } else if (whole?.address !== undefined) out.address = whole.address;
    else if (whole?.computed) out.computed = true;
    else if (own.length) out.origins = own;
  }
  if (v.computed) out.computed = true;
  const bytes = bytesAt(v, offset, size);
  if (bytes) out.bytes = bytes;
  else {
    out.why = v.why ?? OPTIMIZED_OUT;
    const p = v.partial;
    const inside = p !== undefined && offset + size <= p.bytes.length;
    const synthetic = inside ? p.synthetic?.subarray(offset, offset + size) : undefined;
    if (synthetic && !synthetic.includes(0)) out.why = SYNTHETIC_POINTER;
    else if (inside && p.known.subarray(offset, offset + size).includes(1))
      out.partial = {
        bytes: p.bytes.subarray(offset, offset + size),
        known: p.known.subarray(offset, offset + size),
        ...(synthetic?.includes(1) ? { synthetic } : {}),
      };
  }
  return out;
}

/** `size` bytes of a value at `offset` when every one of them is known (else undefined). */
export function bytesAt(v: Value, offset: number, size: number): Uint8Array | undefined {
  if (v.bytes) return offset + size <= v.bytes.length ? v.bytes.subarray(offset, offset + size) : undefined;
  const p = v.partial;
  if (!p || offset + size > p.bytes.length || p.known.subarray(offset, offset + size).includes(0))
    return undefined;
  return p.bytes.subarray(offset, offset + size);
}

/** Element `i` of an array value (its bytes when they are known, partly known, or its address). */
export function elementOf(v: Value, i: number): Value | undefined {
  const t = strip(v.type);
  if (t.kind !== 'array' || i < 0 || (t.count !== undefined && i >= t.count)) return undefined;
  const es = sizeOf(t.element);
  return sub(v, t.element, i * es, es);
}

/**
 * gdb's text for a value. `top`: the outermost value of a `print` (pointers then show their type,
 * `(u32 *) 0x… <table+8>`, except char pointers, which show their string).
 */
export async function formatValue(v: Value, ctx: FormatContext, top = true, depth = 0): Promise<string> {
  const t = strip(v.type);
  if (!v.bytes) {
    if (v.partial) return formatPartial(v, ctx, depth);
    // gdb's text for a pointer to an object that has no address (DW_OP_implicit_pointer).
    return v.why === SYNTHETIC_POINTER && t.kind === 'pointer' ? '<synthetic pointer>' : OPTIMIZED_OUT;
  }
  if ((t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'array') && t.rust)
    return formatRust(v, ctx, depth);
  switch (t.kind) {
    case 'base': {
      if (t.encoding === DW_ATE.boolean) return toBigInt(v.bytes) ? 'true' : 'false';
      if (t.encoding === DW_ATE.float) {
        const dv = new DataView(v.bytes.buffer, v.bytes.byteOffset, v.bytes.length);
        return String(t.size === 4 ? dv.getFloat32(0, true) : dv.getFloat64(0, true));
      }
      const n = scalar(v)!;
      if (isCharType(t)) return `${n} '${escapeChar(Number(n & 0xffn), "'")}'`;
      return n.toString();
    }
    case 'enum': {
      const n = scalar(v)!;
      const e = t.values.find((x) => x.value === n);
      return e ? e.name : n.toString();
    }
    case 'pointer': {
      const a = toBigInt(v.bytes);
      const hex = `0x${a.toString(16)}`;
      if (isCharType(t.target) && a !== 0n) {
        const s = await readCString(ctx, a);
        return s ? `${hex} ${formatString(s)}` : `${hex} <error: Cannot access memory at address ${hex}>`;
      }
      const sym = a !== 0n ? ctx.symbolFor(a) : undefined;
      const text = `${hex}${sym ? ` <${sym}>` : ''}`;
      // gdb's Rust prints every pointer and reference as a raw pointer: `(*mut rust_opt::Tracker)`.
      return top ? `(${typeName(t.rust ? t : v.type)}) ${text}` : text;
    }
    case 'struct':
    case 'union': {
      if (depth > 8) return '{...}';
      const parts: string[] = [];
      for (const c of children(v))
        parts.push(`${c.name} = ${await formatValue(c.value, ctx, false, depth + 1)}`);
      return `{${parts.join(', ')}}`;
    }
    case 'array': {
      if (isCharType(t.element)) {
        // gdb drops trailing NULs of a char array (print null-stop off keeps embedded ones).
        let end = v.bytes.length;
        while (end > 0 && v.bytes[end - 1] === 0) end--;
        return formatString(v.bytes.subarray(0, end));
      }
      if (depth > 8) return '{...}';
      const items = children(v);
      const texts: string[] = [];
      for (const c of items.slice(0, 200)) texts.push(await formatValue(c.value, ctx, false, depth + 1));
      return `{${repeats(texts).join(', ')}${items.length > 200 ? '...' : ''}}`;
    }
    case 'function':
      return `{${typeName(v.type)}} 0x${(v.address ?? 0n).toString(16)}`;
    default:
      return 'void';
  }
}

/**
 * A partly-known value as gdb prints it: the known members and elements, `<optimized out>` for the
 * rest; a scalar (or a Rust slice, `&str`, an enum whose discriminant is unknown) is unknown whole.
 */
async function formatPartial(v: Value, ctx: FormatContext, depth: number): Promise<string> {
  const t = strip(v.type);
  if (depth > 8) return '{...}';
  const inner = (x: Value) => formatValue(x, ctx, false, depth + 1);
  if (t.kind === 'array') {
    const texts: string[] = [];
    const items = children(v);
    for (const c of items.slice(0, 200)) texts.push(await inner(c.value));
    const body = `${repeats(texts).join(', ')}${items.length > 200 ? '...' : ''}`;
    return t.rust ? `[${body}]` : `{${body}}`;
  }
  if (t.kind !== 'struct' && t.kind !== 'union') return OPTIMIZED_OUT;
  if (t.rust) {
    if (rustSlice(t)) return OPTIMIZED_OUT;
    if (t.variants) {
      const active = activeVariant(v);
      return active ? formatRustStruct(active, inner, true) : OPTIMIZED_OUT;
    }
    return formatRustStruct(v, inner, false);
  }
  const parts: string[] = [];
  for (const c of children(v)) parts.push(`${c.name} = ${await inner(c.value)}`);
  return `{${parts.join(', ')}}`;
}

/** gdb's Rust printing: `Name {a: 1}`, `Name(1, 2)`, `Enum::Variant{w: 3}`, `[1, 2]`, `"text"`, `&[T] [..]`. */
async function formatRust(v: Value, ctx: FormatContext, depth: number): Promise<string> {
  const t = strip(v.type);
  if (depth > 8) return '{...}';
  const inner = (x: Value) => formatValue(x, ctx, false, depth + 1);
  if (t.kind === 'enum') {
    const n = scalar(v)!;
    const e = t.values.find((x) => x.value === n);
    return e ? `${t.name ? `${t.name}::` : ''}${e.name}` : n.toString();
  }
  if (t.kind === 'array') {
    const texts: string[] = [];
    const items = children(v);
    for (const c of items.slice(0, 200)) texts.push(await inner(c.value));
    return `[${repeats(texts).join(', ')}${items.length > 200 ? '...' : ''}]`;
  }
  if (t.kind !== 'struct' && t.kind !== 'union') return formatValue({ ...v, type: VOID_BYTE }, ctx, false);
  const sl = rustSlice(t);
  if (sl) {
    const els = await sliceElements(v, ctx, sl.str ? 200 : 10_000);
    if (!els?.bytes) return els?.why ? `<error: ${els.why}>` : OPTIMIZED_OUT;
    if (sl.str) return formatString(els.bytes);
    const n = Number(toBigInt(v.bytes!.subarray(sl.length.offset, sl.length.offset + 8)));
    return `${t.name} ${n === 0 ? '[]' : await inner(els)}`;
  }
  if (t.variants) {
    const active = activeVariant(v);
    if (!active) return `${t.name ?? '?'}::<unknown variant>`;
    return formatRustStruct(active, inner, true);
  }
  return formatRustStruct(v, inner, false);
}

async function formatRustStruct(
  v: Value,
  inner: (x: Value) => Promise<string>,
  variant: boolean,
): Promise<string> {
  const t = strip(v.type);
  const name = t.kind === 'struct' || t.kind === 'union' ? (t.name ?? '') : '';
  const fields = children(v);
  if (!fields.length) return name;
  // Tuple structs and tuple variants have fields __0, __1, …
  if (fields.every((f, i) => f.name === `__${i}`)) {
    const parts: string[] = [];
    for (const f of fields) parts.push(await inner(f.value));
    return `${name}(${parts.join(', ')})`;
  }
  const parts: string[] = [];
  for (const f of fields) parts.push(`${f.name}: ${await inner(f.value)}`);
  // gdb writes an enum's struct variant without the space it puts after a struct's name.
  return `${name}${variant ? '' : ' '}{${parts.join(', ')}}`;
}
