// .debug_info + .debug_abbrev: compile units and the functions (DW_TAG_subprogram) with code, which
// is all source-level stepping needs. Types, variables and locations are walked over, not decoded.
import { readForm, skipForm, type FormContext, type FormValue } from './forms';
import { readRanges, type AddressRange, type RangeSections } from './ranges';
import { ElfFormatError, Reader, stringAt } from './reader';

const DW_TAG_compile_unit = 0x11;
const DW_TAG_partial_unit = 0x3c;
const DW_TAG_skeleton_unit = 0x4a;
const DW_TAG_subprogram = 0x2e;
/** DIEs whose name qualifies the functions declared in them: namespaces, and (newer rustc) the type of
 * an impl's methods. */
const SCOPE_TAGS = new Set([0x39, 0x13, 0x17, 0x04]);
/**
 * DIEs whose children cannot declare a function with code, in any language: parameters, variables,
 * call sites (their parameters), array and subroutine types. The loader jumps over their children
 * by DW_AT_sibling. (Subprograms and lexical blocks are walked: GNU C nests functions in them.)
 */
const LEAF_SCOPES = new Set([0x05, 0x34, 0x48, 0x49, 0x4109, 0x410a, 0x01, 0x15]);
/** In C, structs, unions and enums hold members and enumerators only. */
const C_LEAF_SCOPES = new Set([0x13, 0x17, 0x04]);
const C_LANGUAGES = new Set([0x1, 0x2, 0xc, 0x1d, 0x2c]);
const DW_AT_sibling = 0x01;

const DW_AT_name = 0x03;
const DW_AT_stmt_list = 0x10;
const DW_AT_low_pc = 0x11;
const DW_AT_high_pc = 0x12;
const DW_AT_language = 0x13;
const DW_AT_comp_dir = 0x1b;
const DW_AT_abstract_origin = 0x31;
const DW_AT_specification = 0x47;
const DW_AT_ranges = 0x55;
const DW_AT_linkage_name = 0x6e;
const DW_AT_MIPS_linkage_name = 0x2007;
const DW_AT_str_offsets_base = 0x72;
const DW_AT_addr_base = 0x73;
const DW_AT_rnglists_base = 0x74;
const DW_AT_GNU_addr_base = 0x2133;
/** What the loader keeps of a function or scope DIE (the rest is skipped, not built). */
const KEPT_ATTRS = new Set([
  DW_AT_name,
  DW_AT_linkage_name,
  DW_AT_MIPS_linkage_name,
  DW_AT_abstract_origin,
  DW_AT_specification,
  DW_AT_low_pc,
  DW_AT_high_pc,
  DW_AT_ranges,
  DW_AT_sibling,
]);

const DW_UT_compile = 1;
const DW_UT_partial = 3;
const DW_UT_skeleton = 4;
const DW_UT_split_compile = 5;

export interface DebugSections extends RangeSections {
  debugInfo: Uint8Array;
  debugAbbrev: Uint8Array;
  debugStr?: Uint8Array;
  debugLineStr?: Uint8Array;
  debugStrOffsets?: Uint8Array;
  debugAddr?: Uint8Array;
}

export interface CompileUnit {
  /** Offset of the unit header in .debug_info. */
  offset: number;
  version: number;
  name: string;
  compDir: string;
  language?: number;
  /** Offset of the unit's line program in .debug_line. */
  stmtList?: number;
  addressSize: number;
  ranges: AddressRange[];
}

export interface DwarfFunction {
  name: string;
  /** Mangled name when the producer gave one (Rust, C++). */
  linkageName?: string;
  ranges: AddressRange[];
  /** The lowest address of the function's code (its entry). */
  low: bigint;
  cu: number;
}

export interface AttrSpec {
  at: number;
  form: number;
  implicitConst?: bigint;
}

export interface Abbrev {
  tag: number;
  hasChildren: boolean;
  attrs: AttrSpec[];
}

export type Attrs = Map<number, FormValue>;

export function parseAbbrevs(data: Uint8Array, offset: number): Map<number, Abbrev> {
  const r = new Reader(data, offset);
  const out = new Map<number, Abbrev>();
  for (let code = r.ulebn(); code !== 0; code = r.ulebn()) {
    const tag = r.ulebn();
    const hasChildren = r.u8() !== 0;
    const attrs: AttrSpec[] = [];
    for (;;) {
      const at = r.ulebn();
      const form = r.ulebn();
      if (at === 0 && form === 0) break;
      attrs.push(form === 0x21 ? { at, form, implicitConst: r.sleb() } : { at, form });
    }
    out.set(code, { tag, hasChildren, attrs });
  }
  return out;
}

/** Unit-level context needed to resolve strx/addrx/rnglistx values. */
export interface UnitBases {
  ctx: FormContext;
  strOffsetsBase: number;
  addrBase: number;
  rnglistsBase: number;
  baseAddress: bigint;
}

export interface DebugInfo {
  units: CompileUnit[];
  functions: DwarfFunction[];
  /** Units that could not be read, and why. */
  errors: string[];
  /** Whether functions' subtrees were jumped over (`jumpFunctions`). */
  jumped?: boolean;
}

/**
 * `jumpFunctions`: skip each function's subtree by DW_AT_sibling (its parameters, blocks, inlined
 * calls), the fast load of a large program. A function nested in another (GNU C) is then missed: the
 * caller checks the result against the symbol table and reads again without the jump when a
 * function's code has no function (ElfImage does).
 */
export function parseDebugInfo(s: DebugSections, opts: { jumpFunctions?: boolean } = {}): DebugInfo {
  const units: CompileUnit[] = [];
  const functions: DwarfFunction[] = [];
  const abbrevCache = new Map<number, Map<number, Abbrev>>();
  // Names of subprogram DIEs by .debug_info offset, for out-of-line instances that only carry
  // DW_AT_abstract_origin / DW_AT_specification.
  const names = new Map<number, { name?: string; linkageName?: string; origin?: number }>();
  const pending: { offset: number; fn: DwarfFunction }[] = [];
  const errors: string[] = [];
  let jumped = false;

  const top = new Reader(s.debugInfo);
  while (!top.atEnd) {
    const unitOffset = top.pos;
    const { length, offsetSize } = top.initialLength();
    const end = top.pos + length;
    if (end > s.debugInfo.length) {
      errors.push(`.debug_info unit at ${unitOffset} runs past the section end`);
      break;
    }
    const r = top.window(top.pos, end);
    top.pos = end;
    try {
      const version = r.u16();
      let unitType = DW_UT_compile;
      let addressSize: number;
      let abbrevOffset: number;
      if (version >= 5) {
        unitType = r.u8();
        addressSize = r.u8();
        abbrevOffset = r.offset(offsetSize);
        if (unitType === DW_UT_skeleton || unitType === DW_UT_split_compile) r.skip(8);
        else if (unitType !== DW_UT_compile && unitType !== DW_UT_partial) continue; // type units
      } else if (version >= 2) {
        abbrevOffset = r.offset(offsetSize);
        addressSize = r.u8();
      } else {
        throw new ElfFormatError(`.debug_info version ${version} at ${unitOffset}`);
      }
      let abbrevs = abbrevCache.get(abbrevOffset);
      if (!abbrevs) {
        abbrevs = parseAbbrevs(s.debugAbbrev, abbrevOffset);
        abbrevCache.set(abbrevOffset, abbrevs);
      }
      const bases: UnitBases = {
        ctx: { version, addressSize, offsetSize, unitOffset },
        strOffsetsBase: 0,
        addrBase: 0,
        rnglistsBase: 0,
        baseAddress: 0n,
      };

      let depth = 0;
      let unit: CompileUnit | undefined;
      let cLanguage = false;
      // The namespaces (Rust modules, C++ namespaces) enclosing the current DIE, one entry per open
      // parent: functions are named as gdb names them, `rust_opt::find`.
      const scope: (string | undefined)[] = [];
      while (!r.atEnd) {
        const dieOffset = r.pos;
        const code = r.ulebn();
        if (code === 0) {
          scope.pop();
          if (--depth <= 0) break;
          continue;
        }
        const abbrev = abbrevs.get(code);
        if (!abbrev) throw new ElfFormatError(`unknown abbreviation ${code} at .debug_info+${dieOffset}`);
        const leaf =
          unit !== undefined &&
          abbrev.hasChildren &&
          (LEAF_SCOPES.has(abbrev.tag) || (cLanguage && C_LEAF_SCOPES.has(abbrev.tag)));
        const wanted = !unit || (!leaf && (abbrev.tag === DW_TAG_subprogram || SCOPE_TAGS.has(abbrev.tag)));
        const attrs: Attrs = new Map();
        let sibling: number | undefined;
        if (!unit)
          for (const a of abbrev.attrs) attrs.set(a.at, readForm(r, a.form, bases.ctx, a.implicitConst));
        else if (wanted)
          for (const a of abbrev.attrs) {
            if (KEPT_ATTRS.has(a.at)) attrs.set(a.at, readForm(r, a.form, bases.ctx, a.implicitConst));
            else skipForm(r, a.form, bases.ctx);
          }
        else
          for (const a of abbrev.attrs) {
            // Nothing of this DIE is kept: its values are skipped, not built (but its sibling).
            if (leaf && a.at === DW_AT_sibling) sibling = refOf(readForm(r, a.form, bases.ctx));
            else skipForm(r, a.form, bases.ctx);
          }
        if (sibling !== undefined && sibling > r.pos && sibling <= end) {
          // Its children hold no function: jump to its sibling.
          r.pos = sibling;
          continue;
        }
        if (!unit) {
          if (
            abbrev.tag !== DW_TAG_compile_unit &&
            abbrev.tag !== DW_TAG_partial_unit &&
            abbrev.tag !== DW_TAG_skeleton_unit
          ) {
            break;
          }
          unit = readUnitDie(attrs, bases, s, unitOffset, version, addressSize);
          cLanguage = C_LANGUAGES.has(unit.language ?? -1);
          units.push(unit);
        } else if (abbrev.tag === DW_TAG_subprogram) {
          const str = (at: number) => resolveString(attrs.get(at), bases, s);
          const own = str(DW_AT_name);
          const prefix = scope.filter((x) => x !== undefined).join('::');
          const entry = {
            name: own !== undefined && prefix ? `${prefix}::${own}` : own,
            linkageName: str(DW_AT_linkage_name) ?? str(DW_AT_MIPS_linkage_name),
            origin: refOf(attrs.get(DW_AT_abstract_origin)) ?? refOf(attrs.get(DW_AT_specification)),
          };
          names.set(dieOffset, entry);
          const ranges = codeRanges(attrs, bases, s);
          if (ranges.length > 0) {
            const low = ranges.reduce((m, x) => (x.low < m ? x.low : m), ranges[0].low);
            const fn: DwarfFunction = { name: entry.name ?? '', ranges, low, cu: unit.offset };
            if (entry.linkageName) fn.linkageName = entry.linkageName;
            functions.push(fn);
            if (!entry.name) pending.push({ offset: dieOffset, fn });
          }
          const next = opts.jumpFunctions && abbrev.hasChildren ? refOf(attrs.get(DW_AT_sibling)) : undefined;
          if (next !== undefined && next > r.pos && next <= end) {
            r.pos = next;
            jumped = true;
            continue;
          }
        }
        if (abbrev.hasChildren) {
          depth++;
          scope.push(
            SCOPE_TAGS.has(abbrev.tag) && unit
              ? (resolveString(attrs.get(DW_AT_name), bases, s) ?? '{anon}')
              : undefined,
          );
        } else if (depth === 0) break;
      }
    } catch (e) {
      // One unreadable unit (a form this reader does not know, a truncated unit) must not cost the
      // others: the rest of the program keeps its functions and lines.
      errors.push(`.debug_info unit at ${unitOffset}: ${(e as Error).message}`);
    }
  }

  for (const { offset, fn } of pending) {
    // Follow abstract_origin / specification chains (bounded: they may point at each other).
    let cur = names.get(offset);
    for (let hops = 0; cur && hops < 8; hops++) {
      if (cur.name) {
        fn.name = cur.name;
        if (!fn.linkageName && cur.linkageName) fn.linkageName = cur.linkageName;
        break;
      }
      if (!fn.linkageName && cur.linkageName) fn.linkageName = cur.linkageName;
      cur = cur.origin !== undefined ? names.get(cur.origin) : undefined;
    }
  }
  return { units, functions, errors, jumped };
}

export function readUnitDie(
  attrs: Attrs,
  bases: UnitBases,
  s: DebugSections,
  offset: number,
  version: number,
  addressSize: number,
): CompileUnit {
  const sec = (at: number) => {
    const v = attrs.get(at);
    return v?.kind === 'sec' ? v.offset : v?.kind === 'const' ? Number(v.value) : undefined;
  };
  bases.strOffsetsBase = sec(DW_AT_str_offsets_base) ?? 0;
  bases.addrBase = sec(DW_AT_addr_base) ?? sec(DW_AT_GNU_addr_base) ?? 0;
  bases.rnglistsBase = sec(DW_AT_rnglists_base) ?? 0;
  const low = resolveAddress(attrs.get(DW_AT_low_pc), bases, s);
  bases.baseAddress = low ?? 0n;
  const lang = attrs.get(DW_AT_language);
  const unit: CompileUnit = {
    offset,
    version,
    name: resolveString(attrs.get(DW_AT_name), bases, s) ?? '',
    compDir: resolveString(attrs.get(DW_AT_comp_dir), bases, s) ?? '',
    addressSize,
    ranges: codeRanges(attrs, bases, s),
  };
  if (lang?.kind === 'const') unit.language = Number(lang.value);
  const stmt = sec(DW_AT_stmt_list);
  if (stmt !== undefined) unit.stmtList = stmt;
  return unit;
}

export function refOf(v: FormValue | undefined): number | undefined {
  return v?.kind === 'ref' ? v.offset : undefined;
}

export function resolveString(v: FormValue | undefined, b: UnitBases, s: DebugSections): string | undefined {
  if (!v) return undefined;
  if (v.kind === 'str') return v.value;
  if (v.kind === 'strp') return stringAt(v.section === '.debug_str' ? s.debugStr : s.debugLineStr, v.offset);
  if (v.kind === 'strx' && s.debugStrOffsets) {
    const r = new Reader(s.debugStrOffsets, b.strOffsetsBase + v.index * b.ctx.offsetSize);
    return stringAt(s.debugStr, r.offset(b.ctx.offsetSize));
  }
  return undefined;
}

export function resolveAddress(v: FormValue | undefined, b: UnitBases, s: DebugSections): bigint | undefined {
  if (!v) return undefined;
  if (v.kind === 'addr') return v.value;
  if (v.kind === 'addrx' && s.debugAddr) {
    return new Reader(s.debugAddr, b.addrBase + v.index * b.ctx.addressSize).uN(b.ctx.addressSize);
  }
  return undefined;
}

/** The code ranges of a DIE: low_pc/high_pc (high as address or as length) or DW_AT_ranges. */
export function codeRanges(attrs: Attrs, b: UnitBases, s: DebugSections): AddressRange[] {
  const low = resolveAddress(attrs.get(DW_AT_low_pc), b, s);
  const high = attrs.get(DW_AT_high_pc);
  if (low !== undefined && high) {
    const end = high.kind === 'const' ? low + high.value : resolveAddress(high, b, s);
    if (end !== undefined && end > low) return [{ low, high: end }];
    return [];
  }
  const ranges = attrs.get(DW_AT_ranges);
  if (ranges && (ranges.kind === 'sec' || ranges.kind === 'listx' || ranges.kind === 'const')) {
    return readRanges(s, {
      version: b.ctx.version,
      addressSize: b.ctx.addressSize,
      offsetSize: b.ctx.offsetSize,
      baseAddress: b.baseAddress,
      rnglistsBase: b.rnglistsBase,
      addrBase: b.addrBase,
      ref:
        ranges.kind === 'listx'
          ? { index: ranges.index }
          : { offset: ranges.kind === 'sec' ? ranges.offset : Number(ranges.value) },
    });
  }
  return [];
}
