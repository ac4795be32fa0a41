// The DIE tree of a compile unit (.debug_info), read on demand: what scopes, inlined subroutines,
// variables and types need. dwarfInfo.ts reads only units and functions, for every unit at load; this
// reads a unit the first time something in it is asked for, and even then only its top level: the
// subtrees below (a module's items, a function's parameters, blocks, inlined calls and call sites, a
// struct's members) are read when first used — a stop reads the one function holding its PC, not the
// thousands around it. A subtree's end is its DIE's DW_AT_sibling (GCC gives one to every DIE with
// children), else found by skipping over it without building anything (LLVM gives none).
import {
  codeRanges,
  parseAbbrevs,
  readUnitDie,
  refOf,
  resolveAddress,
  resolveString,
  type Abbrev,
  type Attrs,
  type DebugSections,
  type UnitBases,
} from './dwarfInfo';
import { readForm, skipForm, type FormValue } from './forms';
import type { AddressRange } from './ranges';
import { ElfFormatError, Reader } from './reader';

export const DW_TAG = {
  array_type: 0x01,
  enumeration_type: 0x04,
  formal_parameter: 0x05,
  lexical_block: 0x0b,
  member: 0x0d,
  pointer_type: 0x0f,
  reference_type: 0x10,
  compile_unit: 0x11,
  structure_type: 0x13,
  subroutine_type: 0x15,
  typedef: 0x16,
  union_type: 0x17,
  inlined_subroutine: 0x1d,
  subrange_type: 0x21,
  base_type: 0x24,
  const_type: 0x26,
  enumerator: 0x28,
  subprogram: 0x2e,
  variable: 0x34,
  variant: 0x19,
  variant_part: 0x33,
  namespace: 0x39,
  volatile_type: 0x35,
  restrict_type: 0x37,
  atomic_type: 0x47,
  call_site: 0x48,
  call_site_parameter: 0x49,
  GNU_call_site: 0x4109,
  GNU_call_site_parameter: 0x410a,
} as const;

export const DW_AT = {
  location: 0x02,
  name: 0x03,
  byte_size: 0x0b,
  bit_size: 0x0d,
  const_value: 0x1c,
  upper_bound: 0x2f,
  abstract_origin: 0x31,
  count: 0x37,
  data_member_location: 0x38,
  encoding: 0x3e,
  external: 0x3f,
  discr: 0x15,
  discr_value: 0x16,
  artificial: 0x34,
  declaration: 0x3c,
  frame_base: 0x40,
  specification: 0x47,
  type: 0x49,
  call_value: 0x7e,
  call_return_pc: 0x7d,
  call_file: 0x58,
  call_line: 0x59,
  data_bit_offset: 0x6b,
  GNU_call_site_value: 0x2111,
  low_pc: 0x11,
} as const;

export interface Die {
  offset: number;
  tag: number;
  attrs: Attrs;
  /** The child DIEs (read from .debug_info the first time they are asked for). */
  readonly children: Die[];
  parent?: Die;
  unit: DieUnit;
}

/**
 * A DIE whose attributes are decoded, and whose children read, when first asked for (`pending` =
 * [start, end) of its children not read yet).
 */
class TreeDie implements Die {
  parent?: Die;
  private kids?: Die[];
  private decoded?: Attrs;
  pending?: { start: number; end: number };

  constructor(
    readonly offset: number,
    private readonly abbrev: Abbrev,
    /** Where its attribute values start in .debug_info. */
    private readonly valuesAt: number,
    readonly unit: DieUnit,
    private readonly owner: DieIndex,
  ) {}

  get tag(): number {
    return this.abbrev.tag;
  }

  get attrs(): Attrs {
    if (!this.decoded) {
      const r = new Reader(this.owner.sections.debugInfo, this.valuesAt, this.unit.end);
      const ctx = this.unit.bases.ctx;
      this.decoded = new Map();
      for (const a of this.abbrev.attrs) this.decoded.set(a.at, readForm(r, a.form, ctx, a.implicitConst));
    }
    return this.decoded;
  }

  get children(): Die[] {
    if (!this.kids) {
      this.kids = [];
      if (this.pending) this.owner.expand(this);
    }
    return this.kids;
  }

  /** The loader's: children read eagerly, or the subtree just expanded. */
  adopt(child: Die): void {
    (this.kids ??= []).push(child);
  }
}

const DW_AT_sibling = 0x01;

export interface DieUnit {
  offset: number;
  end: number;
  version: number;
  addressSize: number;
  bases: UnitBases;
  root: Die;
  /** The unit's line program offset (for DW_AT_call_file names). */
  stmtList?: number;
  compDir: string;
}

export interface LocationSections {
  debugLoc?: Uint8Array;
  debugLoclists?: Uint8Array;
}

export class DieIndex {
  private readonly units = new Map<number, DieUnit>();
  private readonly byOffset = new Map<number, Die>();
  private readonly abbrevCache = new Map<number, Map<number, Abbrev>>();
  /** Per unit: its abbreviations and the subtrees not read yet, sorted by start (disjoint). */
  private readonly lazy = new Map<number, { abbrevs: Map<number, Abbrev>; pending: TreeDie[] }>();
  /** DIEs read so far (for the benchmarks and tests of laziness). */
  diesRead = 0;
  /** Unit header offsets in order, for finding the unit that holds a DIE offset. */
  private readonly unitStarts: number[];

  constructor(
    readonly sections: DebugSections & LocationSections,
    unitOffsets: readonly number[],
  ) {
    this.unitStarts = [...unitOffsets].sort((a, b) => a - b);
  }

  /** The unit whose header is at `offset`, read completely. */
  unit(offset: number): DieUnit {
    let u = this.units.get(offset);
    if (!u) {
      u = this.read(offset);
      this.units.set(offset, u);
    }
    return u;
  }

  /** The DIE at a .debug_info offset (reading its unit, and the subtree holding it, when needed). */
  die(offset: number): Die | undefined {
    const d = this.byOffset.get(offset);
    if (d) return d;
    let start: number | undefined;
    for (const s of this.unitStarts) if (s <= offset) start = s;
    if (start === undefined) return undefined;
    if (!this.units.has(start)) {
      this.unit(start);
      const hit = this.byOffset.get(offset);
      if (hit) return hit;
    }
    // Inside a subtree not read yet: read the one holding the offset, then the one inside it, ...
    const pending = this.lazy.get(start)?.pending;
    for (let n = 0; pending && n < 64; n++) {
      let lo = 0;
      let hi = pending.length - 1;
      let at = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (pending[mid].pending!.start <= offset) {
          at = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const holder = at >= 0 ? pending[at] : undefined;
      if (!holder || offset >= holder.pending!.end) return undefined;
      void holder.children;
      const hit = this.byOffset.get(offset);
      if (hit) return hit;
    }
    return undefined;
  }

  /** Reads the children of a DIE whose subtree was skipped (TreeDie.children calls this). */
  expand(die: TreeDie): void {
    const range = die.pending;
    const lazy = this.lazy.get(die.unit.offset);
    if (!range || !lazy) return;
    delete die.pending;
    const i = lazy.pending.indexOf(die);
    if (i >= 0) lazy.pending.splice(i, 1);
    const r = new Reader(this.sections.debugInfo, range.start, range.end);
    const inner: TreeDie[] = [];
    this.readTree(r, lazy.abbrevs, die.unit.bases, die.unit, die, inner);
    if (inner.length) {
      // Keep `pending` sorted: the new subtrees sit where the expanded one was.
      let at = 0;
      while (at < lazy.pending.length && lazy.pending[at].pending!.start < inner[0].pending!.start) at++;
      lazy.pending.splice(at, 0, ...inner);
    }
  }

  /** Moves `r` past the children of a DIE (to just after the null entry that closes them). */
  private skipSubtree(r: Reader, abbrevs: Map<number, Abbrev>, bases: UnitBases): void {
    for (let depth = 1; depth > 0 && !r.atEnd;) {
      const at = r.pos;
      const code = r.ulebn();
      if (code === 0) {
        depth--;
        continue;
      }
      const abbrev = abbrevs.get(code);
      if (!abbrev) throw new ElfFormatError(`unknown abbreviation ${code} at .debug_info+${at}`);
      for (const a of abbrev.attrs) skipForm(r, a.form, bases.ctx);
      if (abbrev.hasChildren) depth++;
    }
  }

  /**
   * Reads DIEs from `r` (a unit's first DIE with `parent` undefined, or the children of `parent`)
   * until the level closes; a DIE with children and DW_AT_sibling keeps them for later (`lazy`).
   */
  private readTree(
    r: Reader,
    abbrevs: Map<number, Abbrev>,
    bases: UnitBases,
    unit: DieUnit,
    parent: TreeDie | undefined,
    lazy: TreeDie[],
  ): TreeDie | undefined {
    const stack: (TreeDie | undefined)[] = [parent];
    let first: TreeDie | undefined;
    while (!r.atEnd) {
      const dieOffset = r.pos;
      const code = r.ulebn();
      if (code === 0) {
        stack.pop();
        if (stack.length === 0) break;
        continue;
      }
      const abbrev = abbrevs.get(code);
      if (!abbrev) throw new ElfFormatError(`unknown abbreviation ${code} at .debug_info+${dieOffset}`);
      const valuesAt = r.pos;
      // Values are skipped here and decoded when the DIE is looked at (most never are), but the
      // sibling link, which says where this DIE's subtree ends.
      let sibling: number | undefined;
      for (const a of abbrev.attrs)
        if (a.at === DW_AT_sibling) sibling = refOf(readForm(r, a.form, bases.ctx, a.implicitConst));
        else skipForm(r, a.form, bases.ctx);
      const up = stack[stack.length - 1];
      const die = new TreeDie(dieOffset, abbrev, valuesAt, unit, this);
      this.diesRead++;
      first ??= die;
      if (up) {
        die.parent = up;
        up.adopt(die);
      } else if (!parent) {
        unit.root = die;
        const cu = readUnitDie(die.attrs, bases, this.sections, unit.offset, unit.version, unit.addressSize);
        unit.compDir = cu.compDir;
        if (cu.stmtList !== undefined) unit.stmtList = cu.stmtList;
      }
      this.byOffset.set(dieOffset, die);
      if (!abbrev.hasChildren) {
        if (!up && !parent) break;
        continue;
      }
      if (up && sibling !== undefined && sibling > r.pos && sibling <= r.end) {
        // Its children end just before its sibling: read them when asked for.
        die.pending = { start: r.pos, end: sibling };
        lazy.push(die);
        r.pos = sibling;
      } else if (up) {
        // No sibling link (LLVM emits none): find the subtree's end by skipping over it, which
        // builds nothing, and read it when asked for.
        const start = r.pos;
        this.skipSubtree(r, abbrevs, bases);
        die.pending = { start, end: r.pos };
        lazy.push(die);
      } else stack.push(die);
    }
    return first;
  }

  private read(offset: number): DieUnit {
    const s = this.sections;
    const top = new Reader(s.debugInfo, offset);
    const { length, offsetSize } = top.initialLength();
    const end = top.pos + length;
    const r = top.window(top.pos, end);
    const version = r.u16();
    let addressSize: number;
    let abbrevOffset: number;
    if (version >= 5) {
      const unitType = r.u8();
      addressSize = r.u8();
      abbrevOffset = r.offset(offsetSize);
      if (unitType === 4 || unitType === 5) r.skip(8);
    } else {
      abbrevOffset = r.offset(offsetSize);
      addressSize = r.u8();
    }
    let abbrevs = this.abbrevCache.get(abbrevOffset);
    if (!abbrevs) {
      abbrevs = parseAbbrevs(s.debugAbbrev, abbrevOffset);
      this.abbrevCache.set(abbrevOffset, abbrevs);
    }
    const bases: UnitBases = {
      ctx: { version, addressSize, offsetSize, unitOffset: offset },
      strOffsetsBase: 0,
      addrBase: 0,
      rnglistsBase: 0,
      baseAddress: 0n,
    };
    const unit = { offset, end, version, addressSize, bases, compDir: '' } as DieUnit;
    const lazy = { abbrevs, pending: [] as TreeDie[] };
    this.lazy.set(offset, lazy);
    this.readTree(r, abbrevs, bases, unit, undefined, lazy.pending);
    if (!unit.root) throw new ElfFormatError(`.debug_info unit at ${offset} has no DIEs`);
    return unit;
  }

  // ---- attribute helpers ---------------------------------------------------------------------

  attr(die: Die, at: number): FormValue | undefined {
    return die.attrs.get(at);
  }

  /** The attribute of the DIE or of its abstract origin / specification (bounded chain). */
  inherited(die: Die, at: number): { value: FormValue; die: Die } | undefined {
    let d: Die | undefined = die;
    for (let hops = 0; d && hops < 8; hops++) {
      const v = d.attrs.get(at);
      if (v) return { value: v, die: d };
      const next: number | undefined =
        refOf(d.attrs.get(DW_AT.abstract_origin)) ?? refOf(d.attrs.get(DW_AT.specification));
      d = next === undefined ? undefined : this.die(next);
    }
    return undefined;
  }

  name(die: Die): string | undefined {
    const v = this.inherited(die, DW_AT.name);
    return v ? resolveString(v.value, v.die.unit.bases, this.sections) : undefined;
  }

  /**
   * The name with the namespaces that enclose its declaration (Rust modules), as gdb names functions
   * and statics: `rust_opt::find`.
   */
  qualifiedName(die: Die): string | undefined {
    const v = this.inherited(die, DW_AT.name);
    if (!v) return undefined;
    const parts = [resolveString(v.value, v.die.unit.bases, this.sections) ?? ''];
    for (let p = v.die.parent, n = 0; p && n < 64; p = p.parent, n++)
      if (
        p.tag === DW_TAG.namespace ||
        p.tag === DW_TAG.structure_type ||
        p.tag === DW_TAG.union_type ||
        p.tag === DW_TAG.enumeration_type
      )
        parts.unshift(this.name(p) ?? '{anon}');
    return parts.join('::');
  }

  /** A reference attribute (own or inherited), as the DIE it names. */
  ref(die: Die, at: number): Die | undefined {
    const v = this.inherited(die, at);
    const off = refOf(v?.value);
    return off === undefined ? undefined : this.die(off);
  }

  num(die: Die, at: number): bigint | undefined {
    const v = this.inherited(die, at)?.value;
    return v?.kind === 'const' ? v.value : undefined;
  }

  flag(die: Die, at: number): boolean {
    const v = this.inherited(die, at)?.value;
    return v?.kind === 'flag' ? v.value : v?.kind === 'const' ? v.value !== 0n : false;
  }

  address(die: Die, at: number): bigint | undefined {
    return resolveAddress(die.attrs.get(at), die.unit.bases, this.sections);
  }

  /** Code ranges of a subprogram, lexical block or inlined subroutine. */
  ranges(die: Die): AddressRange[] {
    return codeRanges(die.attrs, die.unit.bases, this.sections);
  }
}

export const contains = (ranges: readonly AddressRange[], pc: bigint) =>
  ranges.some((r) => pc >= r.low && pc < r.high);
