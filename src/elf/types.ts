// C types from DWARF (base, pointer, struct/union, array, enum, typedef, const/volatile, function)
// and their names as C writes them. Pure over a DieIndex; values are formatted in values.ts.
import { DW_AT, DW_TAG, type Die, type DieIndex } from './dies';

export const DW_ATE = {
  address: 0x1,
  boolean: 0x2,
  float: 0x4,
  signed: 0x5,
  signed_char: 0x6,
  unsigned: 0x7,
  unsigned_char: 0x8,
  UTF: 0x10,
} as const;

export interface Member {
  name: string;
  offset: number;
  type: CType;
  bitSize?: number;
  bitOffset?: number;
}

export type CType =
  | { kind: 'void' }
  | { kind: 'base'; name: string; size: number; encoding: number }
  /** `rust`: a Rust reference or raw pointer, named as gdb's Rust names every pointer, `*mut T`. */
  | { kind: 'pointer'; size: number; target: CType; rust?: boolean }
  | {
      kind: 'struct' | 'union';
      name?: string;
      size: number;
      members: Member[];
      /** Rust: the value is written as Rust writes it (gdb's Rust printing). */
      rust?: boolean;
      /** A Rust enum with data (DW_TAG_variant_part): the discriminant and the variant of each value. */
      variants?: VariantPart;
    }
  | { kind: 'array'; element: CType; count: number | undefined; rust?: boolean }
  | {
      kind: 'enum';
      name?: string;
      size: number;
      signed: boolean;
      values: { name: string; value: bigint }[];
      rust?: boolean;
    }
  | { kind: 'typedef'; name: string; target: CType }
  | { kind: 'qualified'; qualifier: 'const' | 'volatile' | 'restrict' | '_Atomic'; target: CType }
  | { kind: 'function'; name: string };

/**
 * DW_TAG_variant_part: `discr` is the member holding the discriminant (absent: a single variant);
 * each variant is a member (a struct named after the variant) chosen by its discriminant value, or
 * the default variant (no value: Rust's niche-filled variant).
 */
export interface VariantPart {
  discr?: Member;
  variants: { value?: bigint; member: Member }[];
}

export const VOID: CType = { kind: 'void' };

const DW_AT_language = 0x13;
const DW_LANG_Rust = 0x1c;

export class TypeReader {
  private readonly cache = new Map<number, CType>();

  constructor(private readonly index: DieIndex) {}

  /** The type a DIE's DW_AT_type names (void when absent). */
  typeOf(die: Die): CType {
    const t = this.index.ref(die, DW_AT.type);
    return t ? this.type(t) : VOID;
  }

  type(die: Die): CType {
    const hit = this.cache.get(die.offset);
    if (hit) return hit;
    const ix = this.index;
    const rust = this.isRust(die);
    // Rust types are named with their module, as gdb names them (`rust_opt::Shape`).
    const name = rust ? ix.qualifiedName(die) : ix.name(die);
    const size = Number(ix.num(die, DW_AT.byte_size) ?? 0n);
    let t: CType;
    switch (die.tag) {
      case DW_TAG.base_type:
        t = { kind: 'base', name: name ?? '?', size, encoding: Number(ix.num(die, DW_AT.encoding) ?? 0n) };
        break;
      case DW_TAG.pointer_type:
      case DW_TAG.reference_type: {
        const p: CType = { kind: 'pointer', size: size || 8, target: VOID };
        if (rust) p.rust = true;
        this.cache.set(die.offset, p);
        p.target = this.typeOf(die);
        return p;
      }
      case DW_TAG.structure_type:
      case DW_TAG.union_type: {
        const s: CType = {
          kind: die.tag === DW_TAG.union_type ? 'union' : 'struct',
          ...(name ? { name } : {}),
          size,
          members: [],
          ...(rust ? { rust } : {}),
        };
        this.cache.set(die.offset, s);
        for (const c of die.children) {
          if (c.tag === DW_TAG.variant_part) {
            s.variants = this.variantPart(c);
            continue;
          }
          if (c.tag !== DW_TAG.member) continue;
          s.members.push(this.member(c));
        }
        return s;
      }
      case DW_TAG.array_type: {
        const dims: (number | undefined)[] = [];
        for (const c of die.children) {
          if (c.tag !== DW_TAG.subrange_type) continue;
          const count = ix.num(c, DW_AT.count);
          const ub = ix.num(c, DW_AT.upper_bound);
          dims.push(count !== undefined ? Number(count) : ub !== undefined ? Number(ub) + 1 : undefined);
        }
        // int a[2][3] is an array of 2 arrays of 3.
        let el = this.typeOf(die);
        for (let i = dims.length - 1; i >= 1; i--) el = { kind: 'array', element: el, count: dims[i] };
        t = { kind: 'array', element: el, count: dims[0], ...(rust ? { rust } : {}) };
        break;
      }
      case DW_TAG.enumeration_type: {
        const under = this.typeOf(die);
        const values = die.children
          .filter((c) => c.tag === DW_TAG.enumerator)
          .map((c) => {
            const v = ix.attr(c, DW_AT.const_value);
            return { name: ix.name(c) ?? '?', value: v?.kind === 'const' ? v.value : 0n };
          });
        const base = strip(under);
        const signed =
          base.kind === 'base' ? base.encoding === DW_ATE.signed : values.some((v) => v.value < 0n);
        t = { kind: 'enum', ...(name ? { name } : {}), size, signed, values, ...(rust ? { rust } : {}) };
        break;
      }
      case DW_TAG.typedef:
        t = { kind: 'typedef', name: name ?? '?', target: VOID };
        this.cache.set(die.offset, t);
        t.target = this.typeOf(die);
        return t;
      case DW_TAG.const_type:
      case DW_TAG.volatile_type:
      case DW_TAG.restrict_type:
      case DW_TAG.atomic_type:
        t = {
          kind: 'qualified',
          qualifier:
            die.tag === DW_TAG.const_type
              ? 'const'
              : die.tag === DW_TAG.volatile_type
                ? 'volatile'
                : die.tag === DW_TAG.restrict_type
                  ? 'restrict'
                  : '_Atomic',
          target: VOID,
        };
        this.cache.set(die.offset, t);
        t.target = this.typeOf(die);
        return t;
      case DW_TAG.subroutine_type:
      case DW_TAG.subprogram:
        t = { kind: 'function', name: name ?? '' };
        break;
      default:
        t = VOID;
    }
    this.cache.set(die.offset, t);
    return t;
  }

  private member(c: Die): Member {
    const ix = this.index;
    const loc = ix.attr(c, DW_AT.data_member_location);
    const m: Member = {
      name: ix.name(c) ?? '',
      offset: loc?.kind === 'const' ? Number(loc.value) : 0,
      type: this.typeOf(c),
    };
    const bits = ix.num(c, DW_AT.bit_size);
    if (bits !== undefined) {
      m.bitSize = Number(bits);
      const dbo = ix.num(c, DW_AT.data_bit_offset);
      if (dbo !== undefined) {
        m.offset = Number(dbo / 8n);
        m.bitOffset = Number(dbo % 8n);
      } else m.bitOffset = 0;
    }
    return m;
  }

  private variantPart(part: Die): VariantPart {
    const out: VariantPart = { variants: [] };
    const discr = this.index.ref(part, DW_AT.discr);
    if (discr) out.discr = this.member(discr);
    for (const v of part.children) {
      if (v.tag !== DW_TAG.variant) continue;
      const m = v.children.find((c) => c.tag === DW_TAG.member);
      if (!m) continue;
      const dv = this.index.attr(v, DW_AT.discr_value);
      out.variants.push({ ...(dv?.kind === 'const' ? { value: dv.value } : {}), member: this.member(m) });
    }
    return out;
  }

  private isRust(die: Die): boolean {
    const l = die.unit.root.attrs.get(DW_AT_language);
    return l?.kind === 'const' && l.value === BigInt(DW_LANG_Rust);
  }

  /** A named type of the program: `struct NAME`, `union NAME`, `enum NAME`, a typedef or base type. */
  byName(name: string, units: readonly Die[]): CType | undefined {
    const m = /^(struct|union|enum)\s+(\w+)$/.exec(name.trim());
    const want = m ? m[2] : name.trim();
    const tag = m
      ? { struct: DW_TAG.structure_type, union: DW_TAG.union_type, enum: DW_TAG.enumeration_type }[
          m[1] as 'struct' | 'union' | 'enum'
        ]
      : undefined;
    for (const root of units)
      for (const c of root.children) {
        if (tag !== undefined ? c.tag !== tag : c.tag !== DW_TAG.typedef && c.tag !== DW_TAG.base_type)
          continue;
        if (this.index.name(c) === want && !this.index.flag(c, DW_AT.declaration)) return this.type(c);
      }
    return undefined;
  }
}

/** The type without typedefs and qualifiers. */
export function strip(t: CType): CType {
  let cur = t;
  for (let i = 0; i < 32 && (cur.kind === 'typedef' || cur.kind === 'qualified'); i++) cur = cur.target;
  return cur;
}

export function sizeOf(t: CType): number {
  const s = strip(t);
  switch (s.kind) {
    case 'base':
    case 'struct':
    case 'union':
    case 'enum':
      return s.size;
    case 'pointer':
      return s.size;
    case 'array':
      return (s.count ?? 0) * sizeOf(s.element);
    default:
      return 1;
  }
}

/** The type as C writes it, with `inner` the declarator (e.g. a pointer's `*`). */
export function typeName(t: CType, inner = ''): string {
  const sp = (s: string) => (inner ? `${s} ${inner}` : s);
  switch (t.kind) {
    case 'void':
      return sp('void');
    case 'base':
      return sp(t.name);
    case 'typedef':
      return sp(t.name);
    case 'struct':
    case 'union':
    case 'enum':
      if (t.rust && t.name) return sp(t.name);
      return sp(t.name ? `${t.kind} ${t.name}` : `${t.kind} {...}`);
    case 'qualified':
      // `const char *` reads better than `char const *`, as gdb prints it.
      if (t.target.kind !== 'pointer') return typeName(t.target, inner).replace(/^/, `${t.qualifier} `);
      return typeName(t.target, inner ? `${t.qualifier} ${inner}` : t.qualifier);
    case 'pointer': {
      if (t.rust) return sp(`*mut ${typeName(t.target)}`);
      const el = t.target;
      const needsParens = el.kind === 'array' || el.kind === 'function';
      return typeName(el, needsParens ? `(*${inner})` : `*${inner}`);
    }
    case 'array':
      if (t.rust) return sp(`[${typeName(t.element)}; ${t.count ?? 0}]`);
      return typeName(t.element, `${inner}[${t.count ?? ''}]`);
    case 'function':
      return sp(`${t.name || 'fn'}()`);
  }
}
