// Rust symbol names as people read them: the legacy scheme (`_ZN…17h<hash>E`, Itanium-shaped with `$LT$`
// escapes) and v0 (RFC 2603: `_R…`, paths, generic arguments, types, constants, backreferences,
// Punycode identifiers). Written from the published schemes; the output follows binutils' `nm -C`
// (hashes and disambiguators left out), which the tests compare with. Anything else is returned as is.

/** The demangled name, or undefined when `name` is not a Rust mangled name this reads. */
export function demangleRust(name: string): string | undefined {
  // A suffix the linker or LLVM added (`.llvm.123`, `.cold`) is not part of the name.
  const sym = name.replace(/\.llvm\.\d+$/, '');
  try {
    if (sym.startsWith('_ZN') || sym.startsWith('__ZN')) return legacy(sym.slice(sym.indexOf('N') + 1));
    if (sym.startsWith('_R') || sym.startsWith('__R'))
      return new V0(sym.slice(sym.indexOf('R') + 1)).symbol();
  } catch {
    return undefined;
  }
  return undefined;
}

/** A name for display: demangled when it is a Rust symbol, else unchanged. */
export function displayName(name: string): string {
  return demangleRust(name) ?? name;
}

// ---- legacy -------------------------------------------------------------------------------------

const LEGACY_ESCAPES: Record<string, string> = {
  SP: '@',
  BP: '*',
  RF: '&',
  LT: '<',
  GT: '>',
  LP: '(',
  RP: ')',
  C: ',',
};

function legacy(s: string): string | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i < s.length && s[i] !== 'E') {
    let n = 0;
    const start = i;
    while (i < s.length && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s.charCodeAt(i++) - 48);
    if (i === start || n === 0 || i + n > s.length) return undefined;
    parts.push(s.slice(i, i + n));
    i += n;
  }
  if (s[i] !== 'E' || i !== s.length - 1 || parts.length === 0) return undefined;
  // The last element is the hash `h` + 16 hex digits: not part of the name.
  if (parts.length > 1 && /^h[0-9a-f]{16}$/.test(parts[parts.length - 1])) parts.pop();
  return parts.map(legacyElement).join('::');
}

function legacyElement(e: string): string {
  let s = e.startsWith('_$') ? e.slice(1) : e;
  let out = '';
  while (s.length) {
    if (s.startsWith('..')) {
      out += '::';
      s = s.slice(2);
    } else if (s[0] === '.') {
      out += '-';
      s = s.slice(1);
    } else if (s[0] === '$') {
      const end = s.indexOf('$', 1);
      if (end < 0) return out + s;
      const code = s.slice(1, end);
      const u = /^u([0-9a-f]+)$/.exec(code);
      const ch = u ? String.fromCodePoint(parseInt(u[1], 16)) : LEGACY_ESCAPES[code];
      if (ch === undefined) return out + s;
      out += ch;
      s = s.slice(end + 1);
    } else {
      const next = s.search(/[.$]/);
      const take = next < 0 ? s.length : next;
      out += s.slice(0, take);
      s = s.slice(take);
    }
  }
  return out;
}

// ---- v0 -----------------------------------------------------------------------------------------

const BASIC: Record<string, string> = {
  a: 'i8',
  b: 'bool',
  c: 'char',
  d: 'f64',
  e: 'str',
  f: 'f32',
  h: 'u8',
  i: 'isize',
  j: 'usize',
  l: 'i32',
  m: 'u32',
  n: 'i128',
  o: 'u128',
  s: 'i16',
  t: 'u16',
  u: '()',
  v: '...',
  x: 'i64',
  y: 'u64',
  z: '!',
  p: '_',
};

class V0Error extends Error {}

class V0 {
  private pos = 0;
  private depth = 0;
  /** Lifetimes bound by enclosing `for<…>` binders, counted outermost first. */
  private bound = 0;

  constructor(private readonly s: string) {}

  symbol(): string {
    if (/^[0-9]/.test(this.s)) throw new V0Error('versioned v0 symbols are not defined');
    const out = this.path(true);
    // An instantiating crate and a vendor suffix may follow; neither is shown. Anything else is not
    // a v0 name.
    if (this.pos < this.s.length && !/[.$]/.test(this.peek())) this.path(false);
    if (this.pos < this.s.length && !/[.$]/.test(this.peek())) throw new V0Error('trailing characters');
    return out;
  }

  private peek(): string {
    return this.s[this.pos] ?? '';
  }

  private next(): string {
    if (this.pos >= this.s.length) throw new V0Error('unexpected end');
    return this.s[this.pos++];
  }

  private eat(c: string): boolean {
    if (this.s[this.pos] === c) {
      this.pos++;
      return true;
    }
    return false;
  }

  /** `_` = 0, else base-62 digits then `_`, plus one. */
  private base62(): number {
    if (this.eat('_')) return 0;
    let n = 0;
    for (;;) {
      const c = this.next();
      if (c === '_') return n + 1;
      const d = /[0-9]/.test(c)
        ? c.charCodeAt(0) - 48
        : /[a-z]/.test(c)
          ? c.charCodeAt(0) - 87
          : /[A-Z]/.test(c)
            ? c.charCodeAt(0) - 29
            : -1;
      if (d < 0) throw new V0Error(`bad base-62 digit ${c}`);
      // Disambiguators are 64-bit hashes: only their presence matters, so a large one saturates
      // (a backreference that large is refused as a forward one).
      n = Math.min(n * 62 + d, Number.MAX_SAFE_INTEGER);
    }
  }

  private optBase62(tag: string): number {
    return this.eat(tag) ? this.base62() + 1 : 0;
  }

  private decimal(): number {
    const start = this.pos;
    while (/[0-9]/.test(this.peek())) this.pos++;
    if (start === this.pos) throw new V0Error('expected a number');
    return Number(this.s.slice(start, this.pos));
  }

  private ident(): string {
    this.optBase62('s');
    return this.undisambiguatedIdent();
  }

  private undisambiguatedIdent(): string {
    const puny = this.eat('u');
    const len = this.decimal();
    this.eat('_');
    if (this.pos + len > this.s.length) throw new V0Error('identifier past the end');
    const raw = this.s.slice(this.pos, this.pos + len);
    this.pos += len;
    return puny ? punycode(raw) : raw;
  }

  /** Runs `f` at a backreference's target, then comes back. */
  private backref<T>(f: () => T): T {
    const start = this.pos - 1;
    const target = this.base62();
    if (target >= start) throw new V0Error('forward backreference');
    const saved = this.pos;
    this.pos = target;
    try {
      return this.nested(f);
    } finally {
      this.pos = saved;
    }
  }

  private nested<T>(f: () => T): T {
    if (++this.depth > 200) throw new V0Error('too deep');
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  /** A path; `value`: generic arguments print as `::<…>` (an expression path), else `<…>`. */
  private path(value: boolean): string {
    return this.nested(() => {
      const tag = this.next();
      switch (tag) {
        case 'C':
          return this.ident();
        case 'M': {
          this.implPath();
          return `<${this.type()}>`;
        }
        case 'X': {
          this.implPath();
          const self = this.type();
          return `<${self} as ${this.path(false)}>`;
        }
        case 'Y': {
          const self = this.type();
          return `<${self} as ${this.path(false)}>`;
        }
        case 'N': {
          const ns = this.next();
          const prefix = this.path(value);
          const dis = this.optBase62('s');
          const name = this.undisambiguatedIdent();
          if (/[A-Z]/.test(ns)) {
            const kind = ns === 'C' ? 'closure' : ns === 'S' ? 'shim' : ns;
            return `${prefix}::{${kind}${name ? `:${name}` : ''}#${dis}}`;
          }
          return name ? `${prefix}::${name}` : prefix;
        }
        case 'I': {
          const prefix = this.path(value);
          const args: string[] = [];
          while (!this.eat('E')) {
            const a = this.genericArg();
            if (a !== undefined) args.push(a);
          }
          return `${prefix}${value ? '::' : ''}<${args.join(', ')}>`;
        }
        case 'B':
          return this.backref(() => this.path(value));
        default:
          throw new V0Error(`unknown path tag ${tag}`);
      }
    });
  }

  private implPath(): void {
    this.optBase62('s');
    this.path(false);
  }

  /** A generic argument; erased lifetimes are left out (as `nm -C` does). */
  private genericArg(): string | undefined {
    if (this.eat('L')) {
      const lt = this.base62();
      return lt === 0 ? undefined : this.lifetime(lt);
    }
    if (this.eat('K')) return this.constant();
    return this.type();
  }

  private lifetime(i: number): string {
    if (i === 0) return "'_";
    const depth = this.bound - i;
    if (depth < 0) throw new V0Error('lifetime out of range');
    return depth < 26 ? `'${String.fromCharCode(97 + depth)}` : `'_${depth}`;
  }

  private binder(): string {
    const n = this.optBase62('G');
    if (!n) return '';
    const names: string[] = [];
    for (let i = 0; i < n; i++) {
      this.bound++;
      names.push(this.lifetime(1));
    }
    return `for<${names.join(', ')}> `;
  }

  type(): string {
    return this.nested(() => {
      const tag = this.next();
      if (BASIC[tag]) return BASIC[tag];
      switch (tag) {
        case 'R':
        case 'Q': {
          let lt = '';
          if (this.eat('L')) {
            const i = this.base62();
            if (i !== 0) lt = `${this.lifetime(i)} `;
          }
          return `&${lt}${tag === 'Q' ? 'mut ' : ''}${this.type()}`;
        }
        case 'P':
          return `*const ${this.type()}`;
        case 'O':
          return `*mut ${this.type()}`;
        case 'A': {
          const el = this.type();
          return `[${el}; ${this.constant()}]`;
        }
        case 'S':
          return `[${this.type()}]`;
        case 'T': {
          const ts: string[] = [];
          while (!this.eat('E')) ts.push(this.type());
          return ts.length === 1 ? `(${ts[0]},)` : `(${ts.join(', ')})`;
        }
        case 'F': {
          const saved = this.bound;
          const b = this.binder();
          const unsafe = this.eat('U') ? 'unsafe ' : '';
          let abi = '';
          if (this.eat('K'))
            abi = this.eat('C')
              ? 'extern "C" '
              : `extern "${this.undisambiguatedIdent().replace(/_/g, '-')}" `;
          const args: string[] = [];
          while (!this.eat('E')) args.push(this.type());
          const ret = this.type();
          this.bound = saved;
          return `${b}${unsafe}${abi}fn(${args.join(', ')})${ret === '()' ? '' : ` -> ${ret}`}`;
        }
        case 'D': {
          const saved = this.bound;
          const b = this.binder();
          const traits: string[] = [];
          while (!this.eat('E')) {
            let t = this.path(false);
            const assoc: string[] = [];
            while (this.eat('p')) {
              const name = this.undisambiguatedIdent();
              assoc.push(`${name} = ${this.type()}`);
            }
            if (assoc.length)
              t = t.endsWith('>') ? `${t.slice(0, -1)}, ${assoc.join(', ')}>` : `${t}<${assoc.join(', ')}>`;
            traits.push(t);
          }
          this.bound = saved;
          if (!this.eat('L')) throw new V0Error('dyn without a lifetime');
          const lt = this.base62();
          const l = lt === 0 ? '' : ` + ${this.lifetime(lt)}`;
          return `dyn ${b}${traits.join(' + ')}${l}`;
        }
        case 'B':
          return this.backref(() => this.type());
        default:
          this.pos--;
          return this.path(false);
      }
    });
  }

  private constant(): string {
    return this.nested(() => {
      if (this.eat('p')) return '_';
      if (this.eat('B')) return this.backref(() => this.constant());
      const ty = this.next();
      const neg = this.eat('n');
      const start = this.pos;
      while (this.peek() !== '_') this.next();
      const hex = this.s.slice(start, this.pos);
      this.next();
      const v = hex ? BigInt(`0x${hex}`) : 0n;
      if (ty === 'b') return v ? 'true' : 'false';
      if (ty === 'c') return `'${String.fromCodePoint(Number(v))}'`;
      if (!BASIC[ty]) throw new V0Error(`constant of type ${ty}`);
      return `${neg ? '-' : ''}${v}`;
    });
  }
}

/** RFC 3492 decoding, with Rust's `_` in place of `-` between the basic and the encoded part. */
function punycode(input: string): string {
  const sep = input.lastIndexOf('_');
  const out = sep < 0 ? [] : [...input.slice(0, sep)].map((c) => c.codePointAt(0)!);
  const rest = sep < 0 ? input : input.slice(sep + 1);
  const base = 36;
  let n = 128;
  let i = 0;
  let bias = 72;
  let p = 0;
  let first = true;
  const digit = (c: string) =>
    /[a-z]/.test(c) ? c.charCodeAt(0) - 97 : /[0-9]/.test(c) ? c.charCodeAt(0) - 22 : -1;
  while (p < rest.length) {
    const old = i;
    let w = 1;
    for (let k = base; ; k += base) {
      const d = digit(rest[p++] ?? '');
      if (d < 0) throw new V0Error('bad Punycode');
      i += d * w;
      const t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
      if (d < t) break;
      w *= base - t;
      if (i > 0x10ffff * 64) throw new V0Error('Punycode overflow');
    }
    const len = out.length + 1;
    let delta = first ? Math.floor((i - old) / 700) : Math.floor((i - old) / 2);
    first = false;
    delta += Math.floor(delta / len);
    let k = 0;
    while (delta > 455) {
      delta = Math.floor(delta / 35);
      k += base;
    }
    bias = k + Math.floor((36 * delta) / (delta + 38));
    n += Math.floor(i / len);
    i %= len;
    out.splice(i, 0, n);
    i++;
  }
  return String.fromCodePoint(...out);
}
