// The tokens of the expression language (C's, with Rust's paths and literal suffixes) and the types
// it knows without the program: C's base types and Rust's primitives.
import { DW_ATE, type CType } from '../elf/types';

export class CExpressionError extends Error {}

export type Tok =
  { t: 'num'; v: bigint } | { t: 'id'; v: string } | { t: 'reg'; v: string } | { t: 'op'; v: string };

const OPS = [
  '->',
  '<<',
  '>>',
  '<=',
  '>=',
  '==',
  '!=',
  '&&',
  '||',
  '.',
  '[',
  ']',
  '(',
  ')',
  '*',
  '&',
  '+',
  '-',
  '!',
  '~',
  '/',
  '%',
  '<',
  '>',
  '^',
  '|',
  ',',
];

export function tokenize(text: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    // C suffixes (10ul) and Rust's (3u8, 0x10_usize, 1_000).
    const num = /^(0x[0-9a-f_]+|0b[01_]+|\d[\d_]*)(?:_?[ui](?:8|16|32|64|128|size)\b|[ul]*)/i.exec(
      text.slice(i, i + 60),
    );
    if (num && /\d/.test(c)) {
      out.push({ t: 'num', v: BigInt(num[1].replace(/_/g, '')) });
      i += num[0].length;
      continue;
    }
    // Identifiers, and Rust paths as one name (`rust_opt::TABLE`, `crate::x`).
    const id = /^\$?[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*/.exec(text.slice(i, i + 256));
    if (id) {
      out.push(id[0].startsWith('$') ? { t: 'reg', v: id[0].slice(1) } : { t: 'id', v: id[0] });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => text.startsWith(o, i));
    if (!op) throw new CExpressionError(`unexpected '${c}' at column ${i + 1}`);
    out.push({ t: 'op', v: op });
    i += op.length;
  }
  return out;
}

export const BUILTIN: Record<string, CType> = {};
for (const [names, size, encoding] of [
  [['char'], 1, DW_ATE.signed_char],
  [['signed char'], 1, DW_ATE.signed_char],
  [['unsigned char'], 1, DW_ATE.unsigned_char],
  [['short', 'short int'], 2, DW_ATE.signed],
  [['unsigned short', 'unsigned short int'], 2, DW_ATE.unsigned],
  [['int', 'signed', 'signed int'], 4, DW_ATE.signed],
  [['unsigned', 'unsigned int'], 4, DW_ATE.unsigned],
  [['long', 'long int', 'long long', 'long long int'], 8, DW_ATE.signed],
  [['unsigned long', 'unsigned long int', 'unsigned long long'], 8, DW_ATE.unsigned],
  [['_Bool'], 1, DW_ATE.boolean],
  [['u8'], 1, DW_ATE.unsigned],
  [['i8'], 1, DW_ATE.signed],
  [['u16'], 2, DW_ATE.unsigned],
  [['i16'], 2, DW_ATE.signed],
  [['u32'], 4, DW_ATE.unsigned],
  [['i32'], 4, DW_ATE.signed],
  [['u64', 'usize'], 8, DW_ATE.unsigned],
  [['i64', 'isize'], 8, DW_ATE.signed],
  [['bool'], 1, DW_ATE.boolean],
] as const)
  for (const n of names) BUILTIN[n] = { kind: 'base', name: n, size, encoding };
export const LONG = BUILTIN['long'];
export const ULONG = BUILTIN['unsigned long'];
export const INT = BUILTIN['int'];
export const USIZE = BUILTIN['usize'];
export const BOOL = BUILTIN['bool'];
/** Rust's primitive names: only these are built in for `as` (C's come from BUILTIN too). */
export const RUST_PRIMITIVES = new Set([
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'u64',
  'i64',
  'usize',
  'isize',
  'bool',
]);
export const TYPE_WORDS = new Set([
  'struct',
  'union',
  'enum',
  'unsigned',
  'signed',
  'char',
  'short',
  'int',
  'long',
  'void',
  'const',
  'volatile',
  '_Bool',
]);
