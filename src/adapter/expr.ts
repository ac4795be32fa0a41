// C-like expressions over the program's variables and types, for the Debug Console, watches and
// hovers: `a->b.c[2]`, `*p`, `&x`, casts to the program's types, `sizeof`, arithmetic and
// comparisons, registers as `$x0`; and in Rust frames Rust's forms of them: paths
// (`rust_opt::TABLE`, `crate::`/`self::`), `.` through references, slice and `&str` indexing with
// bounds, `.len()`/`.is_empty()`, `x as u64`, literal suffixes (`3u8`), `bool` comparisons. Parsing is a small precedence climber over tokens; evaluation works
// on src/elf Values (bytes + type + address), reading memory only through the scope it is given.
import { DW_ATE, sizeOf, strip, typeName, VOID, type CType } from '../elf/types';
import {
  BOOL,
  BUILTIN,
  CExpressionError,
  INT,
  LONG,
  RUST_PRIMITIVES,
  tokenize,
  TYPE_WORDS,
  ULONG,
  USIZE,
  type Tok,
} from './exprTokens';
import {
  bytesAt,
  children,
  elementOf,
  rustSlice,
  scalar,
  sliceElementType,
  sliceLength,
  toBigInt,
  type Value,
} from '../elf/values';

export { CExpressionError, tokenize };

export interface ExprScope {
  /** A variable visible in the frame, or a global. Undefined = no such variable. */
  variable(name: string): Promise<Value | undefined>;
  register(name: string): Promise<bigint | undefined>;
  /** A type by C name (`struct region`, `u32`, `unsigned int`). */
  type(name: string): CType | undefined;
  read(address: bigint, size: number): Promise<Uint8Array>;
  /** Rust: results print as gdb's Rust (`true`, `(*mut T) 0x…`), `.len()` and slices index. */
  rust?: boolean;
}

const le = (v: bigint, size: number) => {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
};
const intValue = (v: bigint, type: CType = LONG): Value => ({ type, bytes: le(v, sizeOf(type)) });
const pointerTo = (target: CType): CType => ({ kind: 'pointer', size: 8, target });
/** A Rust raw pointer as gdb's Rust prints it (`*mut T`). */
const rustPointerTo = (target: CType): CType => ({ kind: 'pointer', size: 8, target, rust: true });

export class CExpression {
  private pos = 0;
  private constructor(
    private readonly toks: Tok[],
    private readonly scope: ExprScope,
  ) {}

  static async evaluate(text: string, scope: ExprScope): Promise<Value> {
    const e = new CExpression(tokenize(text), scope);
    const v = await e.binary(0);
    if (e.pos < e.toks.length) throw new CExpressionError(`unexpected '${e.show(e.toks[e.pos])}'`);
    return v;
  }

  private show(t: Tok): string {
    return t.t === 'reg' ? `$${t.v}` : String(t.v);
  }
  private peek(v: string): boolean {
    const t = this.toks[this.pos];
    return t?.t === 'op' && t.v === v;
  }
  private expect(v: string): void {
    if (!this.peek(v)) throw new CExpressionError(`expected '${v}'`);
    this.pos++;
  }

  private static PREC: Record<string, number> = {
    '||': 1,
    '&&': 2,
    '|': 3,
    '^': 4,
    '&': 5,
    '==': 6,
    '!=': 6,
    '<': 7,
    '>': 7,
    '<=': 7,
    '>=': 7,
    '<<': 8,
    '>>': 8,
    '+': 9,
    '-': 9,
    '*': 10,
    '/': 10,
    '%': 10,
  };

  private async binary(min: number): Promise<Value> {
    let left = await this.unary();
    for (;;) {
      const t = this.toks[this.pos];
      const p = t?.t === 'op' ? CExpression.PREC[t.v] : undefined;
      if (p === undefined || p <= min - 1 || p < min) return left;
      this.pos++;
      const right = await this.binary(p + 1);
      left = this.apply((t as { v: string }).v, left, right);
    }
  }

  private int(v: Value): bigint {
    const s = strip(v.type);
    if (s.kind === 'struct' || s.kind === 'union' || s.kind === 'array')
      throw new CExpressionError(`${typeName(v.type)} is not a number`);
    const n = scalar(v);
    if (n === undefined) throw new CExpressionError('value is optimized out');
    return n;
  }

  private apply(op: string, a: Value, b: Value): Value {
    const sa = strip(a.type);
    const sb = strip(b.type);
    if ((op === '+' || op === '-') && (sa.kind === 'pointer' || sa.kind === 'array')) {
      const el = sa.kind === 'pointer' ? sa.target : sa.element;
      const base = sa.kind === 'array' ? this.addressOf(a) : this.int(a);
      if (op === '-' && sb.kind === 'pointer')
        return intValue((base - this.int(b)) / BigInt(sizeOf(el) || 1));
      const off = this.int(b) * BigInt(sizeOf(el) || 1);
      return intValue(BigInt.asUintN(64, op === '+' ? base + off : base - off), pointerTo(el));
    }
    const x = this.int(a);
    const y = this.int(b);
    const unsigned = [sa, sb].some(
      (s) => s.kind === 'base' && s.encoding === DW_ATE.unsigned && s.size === 8,
    );
    const type = unsigned ? ULONG : LONG;
    const bool = (c: boolean) => intValue(c ? 1n : 0n, this.scope.rust ? BOOL : INT);
    switch (op) {
      case '+':
        return intValue(x + y, type);
      case '-':
        return intValue(x - y, type);
      case '*':
        return intValue(x * y, type);
      case '/':
      case '%':
        if (y === 0n) throw new CExpressionError('division by zero');
        return intValue(op === '/' ? x / y : x % y, type);
      case '<<':
        return intValue(x << y, type);
      case '>>':
        return intValue(x >> y, type);
      case '&':
        return intValue(x & y, type);
      case '|':
        return intValue(x | y, type);
      case '^':
        return intValue(x ^ y, type);
      case '==':
        return bool(x === y);
      case '!=':
        return bool(x !== y);
      case '<':
        return bool(x < y);
      case '>':
        return bool(x > y);
      case '<=':
        return bool(x <= y);
      case '>=':
        return bool(x >= y);
      case '&&':
        return bool(x !== 0n && y !== 0n);
      case '||':
        return bool(x !== 0n || y !== 0n);
    }
    throw new CExpressionError(`operator '${op}' is not supported`);
  }

  private addressOf(v: Value): bigint {
    if (v.address === undefined)
      throw new CExpressionError(
        v.register !== undefined
          ? 'the value lives in a register: it has no address'
          : 'the value has no address',
      );
    return v.address;
  }

  private async deref(p: Value): Promise<Value> {
    const a = strip(p.type);
    // An array decays to a pointer to its first element.
    if (a.kind === 'array') p = intValue(this.addressOf(p), pointerTo(a.element));
    const s = strip(p.type);
    if (s.kind !== 'pointer') throw new CExpressionError(`cannot dereference a ${typeName(p.type)}`);
    const t = strip(s.target);
    if (t.kind === 'void')
      throw new CExpressionError('attempt to take contents of a non-pointer value (void *)');
    const address = this.int(p);
    const size = sizeOf(s.target);
    try {
      return { type: s.target, address, bytes: await this.scope.read(address, size) };
    } catch (e) {
      throw new CExpressionError(
        `cannot access memory at address 0x${address.toString(16)}: ${(e as Error).message}`,
      );
    }
  }

  /** `(` TYPE `*`… `)` at the current position, consumed; undefined (nothing consumed) otherwise. */
  private typeAhead(): CType | undefined {
    const save = this.pos;
    const words: string[] = [];
    while (this.toks[this.pos]?.t === 'id') {
      const w = (this.toks[this.pos] as { v: string }).v;
      if (words.length && !TYPE_WORDS.has(w) && !TYPE_WORDS.has(words[words.length - 1])) break;
      words.push(w);
      this.pos++;
    }
    const quals = new Set(['const', 'volatile']);
    const name = words.filter((w) => !quals.has(w)).join(' ');
    let type: CType | undefined =
      name === 'void' ? VOID : (BUILTIN[name] ?? (name ? this.scope.type(name) : undefined));
    if (!type || (words.length === 1 && !TYPE_WORDS.has(words[0]) && !this.scope.type(name))) {
      this.pos = save;
      return undefined;
    }
    while (this.peek('*')) {
      this.pos++;
      type = pointerTo(type);
    }
    if (!this.peek(')')) {
      this.pos = save;
      return undefined;
    }
    return type;
  }

  private async unary(): Promise<Value> {
    const t = this.toks[this.pos];
    if (t?.t === 'id' && t.v === 'sizeof') {
      this.pos++;
      if (this.peek('(')) {
        this.pos++;
        const ty = this.typeAhead();
        if (ty) {
          this.expect(')');
          return intValue(BigInt(sizeOf(ty)), ULONG);
        }
        const v = await this.binary(0);
        this.expect(')');
        return intValue(BigInt(sizeOf(v.type)), ULONG);
      }
      return intValue(BigInt(sizeOf((await this.unary()).type)), ULONG);
    }
    if (t?.t === 'op') {
      if (t.v === '(') {
        this.pos++;
        const ty = this.typeAhead();
        if (ty) {
          this.expect(')');
          return this.cast(ty, await this.unary());
        }
        this.pos--;
      }
      const ops = ['*', '&', '-', '!', '~', '+'];
      if (ops.includes(t.v)) {
        this.pos++;
        const v = await this.unary();
        switch (t.v) {
          case '*':
            return this.deref(v);
          case '&':
            return intValue(this.addressOf(v), (this.scope.rust ? rustPointerTo : pointerTo)(v.type));
          case '-':
            return intValue(-this.int(v));
          case '!':
            return intValue(this.int(v) === 0n ? 1n : 0n, this.scope.rust ? BOOL : INT);
          case '~':
            return intValue(~this.int(v), v.type);
          default:
            return v;
        }
      }
    }
    let v = await this.postfix(await this.primary());
    // Rust's `x as u64` (binds tighter than any binary operator).
    while (
      this.scope.rust &&
      this.toks[this.pos]?.t === 'id' &&
      (this.toks[this.pos] as { v: string }).v === 'as'
    ) {
      this.pos++;
      const name = this.toks[this.pos++];
      const ty =
        name?.t === 'id'
          ? RUST_PRIMITIVES.has(name.v)
            ? BUILTIN[name.v]
            : this.scope.type(name.v)
          : undefined;
      if (!ty) throw new CExpressionError(`no type named ${name ? this.show(name) : '(nothing)'}`);
      v = this.cast(ty, v);
    }
    return v;
  }

  private cast(type: CType, v: Value): Value {
    const s = strip(type);
    if (s.kind === 'struct' || s.kind === 'union' || s.kind === 'array')
      throw new CExpressionError(`cannot cast to ${typeName(type)}`);
    const vs = strip(v.type);
    const n = vs.kind === 'array' ? this.addressOf(v) : this.int(v);
    return intValue(n, type);
  }

  private async primary(): Promise<Value> {
    const t = this.toks[this.pos++];
    if (!t) throw new CExpressionError('unexpected end of expression');
    if (t.t === 'num') return intValue(t.v, t.v > 0x7fffffffn ? LONG : INT);
    if (t.t === 'reg') {
      const v = await this.scope.register(t.v);
      if (v === undefined) throw new CExpressionError(`register ${t.v} is unavailable`);
      return intValue(v, ULONG);
    }
    if (t.t === 'id') {
      const v = await this.scope.variable(t.v);
      if (!v) throw new CExpressionError(`no symbol "${t.v}" in current context`);
      return v;
    }
    if (t.v === '(') {
      const v = await this.binary(0);
      this.expect(')');
      return v;
    }
    throw new CExpressionError(`unexpected '${t.v}'`);
  }

  private async member(v: Value, name: string): Promise<Value> {
    // `.` through pointers and references (gdb does so in C and Rust: `tracker.regions`).
    for (let n = 0; n < 8 && strip(v.type).kind === 'pointer'; n++) v = await this.deref(v);
    const s = strip(v.type);
    if (s.kind !== 'struct' && s.kind !== 'union')
      throw new CExpressionError(`${typeName(v.type)} has no members`);
    const m = children(v).find((c) => c.name === name);
    if (!m) throw new CExpressionError(`there is no member named ${name}`);
    return m.value;
  }

  /** `v.len()` / `v.is_empty()` on slices, `&str`, arrays and Vec-like structs (a `len` field). */
  private async method(v: Value, name: string): Promise<Value> {
    if (name !== 'len' && name !== 'is_empty')
      throw new CExpressionError(`cannot call ${name}() here: only len() and is_empty() are known`);
    for (let n = 0; n < 8 && strip(v.type).kind === 'pointer'; n++) v = await this.deref(v);
    let len: bigint | undefined;
    const s = strip(v.type);
    if (rustSlice(v.type)) len = sliceLength(v);
    else if (s.kind === 'array' && s.count !== undefined) len = BigInt(s.count);
    else if (s.kind === 'struct') {
      // Vec<T> { buf, len }, String { vec: Vec<u8> }.
      const kids = children(v);
      const own = kids.find((c) => c.name === 'len');
      const inner = kids.find((c) => c.name === 'vec');
      if (own) len = scalar(own.value);
      else if (inner) return this.method(inner.value, name);
    }
    if (len === undefined && s.kind !== 'struct' && s.kind !== 'array')
      throw new CExpressionError(`${typeName(v.type)} has no ${name}()`);
    if (len === undefined) throw new CExpressionError(`the length of ${typeName(v.type)} is not known here`);
    return name === 'len' ? intValue(len, USIZE) : intValue(len === 0n ? 1n : 0n, BOOL);
  }

  private async postfix(v: Value): Promise<Value> {
    for (;;) {
      if (this.peek('.') || this.peek('->')) {
        const arrow = this.peek('->');
        this.pos++;
        const id = this.toks[this.pos++];
        if (id?.t !== 'id') throw new CExpressionError('expected a member name');
        if (!arrow && this.peek('(')) {
          // A method call: what Rust debugging needs without running code (`.len()`, `.is_empty()`).
          this.pos++;
          this.expect(')');
          v = await this.method(v, id.v);
        } else v = await this.member(arrow ? await this.deref(v) : v, id.v);
      } else if (this.peek('[')) {
        this.pos++;
        const i = this.int(await this.binary(0));
        this.expect(']');
        const s = strip(v.type);
        const slice = rustSlice(v.type);
        if (slice) {
          // A slice or &str: its data pointer, bounds-checked against its length (gdb's error text).
          const len = sliceLength(v);
          if (len === undefined) throw new CExpressionError('value is optimized out');
          if (i < 0n || i >= len) throw new CExpressionError('Index greater than length');
          const el = sliceElementType(v.type);
          const base = toBigInt(bytesAt(v, slice.ptr.offset, 8)!);
          v = await this.deref(intValue(base + i * BigInt(sizeOf(el)), pointerTo(el)));
        } else if (s.kind === 'array') {
          const size = sizeOf(s.element);
          const off = Number(i) * size;
          const held = (v.bytes ?? v.partial?.bytes)?.length ?? 0;
          const el = off >= 0 && off + size <= held ? elementOf(v, Number(i)) : undefined;
          if (el) v = el;
          else v = await this.deref(intValue(this.addressOf(v) + BigInt(off), pointerTo(s.element)));
        } else if (s.kind === 'pointer') {
          v = await this.deref(this.apply('+', v, intValue(i)));
        } else throw new CExpressionError(`cannot subscript a ${typeName(v.type)}`);
      } else return v;
    }
  }
}
