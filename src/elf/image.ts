// ElfImage: the symbol and source-line view of one aarch64 ELF that the adapter asks questions of.
// Addresses are bigint at this API edge (a Linux kernel lives at 0xffff_8000_…).
import { parseAranges, type ArangeEntry } from './aranges';
import { CallFrameInfo } from './cfi';
import { DieIndex } from './dies';
import { ProgramScopes } from './program';
import { parseDebugInfo, type CompileUnit, type DebugSections, type DwarfFunction } from './dwarfInfo';
import { parseLineTable, type LineTable } from './dwarfLine';
import { displayName } from './demangle';
import { ElfFile, type ElfSymbol, type SymbolType } from './elf';
import { cmpBig, LineIndex, type LineRange, type SourceLocation } from './lineIndex';

export interface SymbolHit {
  name: string;
  /** addr - symbol value. */
  offset: bigint;
  symbol: ElfSymbol;
}

export interface FunctionInfo {
  name: string;
  /** Entry (lowest address). */
  low: bigint;
  /** End (exclusive) of the range holding the queried address (of the whole function otherwise). */
  high: bigint;
  source: 'dwarf' | 'symtab';
}

export interface LineAddress {
  address: bigint;
  /** The line the address belongs to: the requested one, or the next line with code. */
  line: number;
}

const DW_LANG_Mips_Assembler = 0x8001;
const LABEL_TYPES: SymbolType[] = ['func', 'object', 'notype'];
const TYPE_RANK: Partial<Record<SymbolType, number>> = { func: 3, object: 2, notype: 1 };
const BIND_RANK = { global: 3, weak: 2, local: 1, other: 0 };

/** AArch64 ELF mapping symbols ($x, $d, $x.42) mark code/data, not names. */
const isMappingSymbol = (name: string) => /^\$[xd](\.|$)/.test(name);

export class ElfImage {
  private labels?: ElfSymbol[];
  private byName?: Map<string, ElfSymbol>;
  private debug?: {
    units: CompileUnit[];
    functions: DwarfFunction[];
    lines: LineIndex;
    aranges: ArangeEntry[];
    errors: string[];
    sections: DebugSections | undefined;
  };
  private program?: ProgramScopes | null;

  /** Scopes, inlined frames, variables and types (undefined without .debug_info). */
  scopes(): ProgramScopes | undefined {
    if (this.program === undefined) {
      const d = this.debugInfo();
      this.program = d.sections
        ? new ProgramScopes(
            this,
            new DieIndex(
              {
                ...d.sections,
                ...defined({
                  debugLoc: this.elf.sectionData('.debug_loc'),
                  debugLoclists: this.elf.sectionData('.debug_loclists'),
                }),
              },
              d.units.map((u) => u.offset),
            ),
          )
        : null;
    }
    return this.program ?? undefined;
  }

  private constructor(readonly elf: ElfFile) {}

  static parse(bytes: Uint8Array): ElfImage {
    return new ElfImage(ElfFile.parse(bytes));
  }

  get machine(): number {
    return this.elf.header.machine;
  }
  get entry(): bigint {
    return this.elf.header.entry;
  }
  get hasDebugLines(): boolean {
    return this.elf.section('.debug_line') !== undefined;
  }

  symbols(): ElfSymbol[] {
    return this.sortedLabels();
  }

  /** The symbol at or before `addr`: one that contains it (by size), else the nearest size-0 label. */
  symbolAt(addr: bigint): SymbolHit | undefined {
    const labels = this.sortedLabels();
    let lo = 0;
    let hi = labels.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (labels[mid].value <= addr) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Walk back over symbols that start below addr but end before it (a sized object that a later,
    // unsized label does not cover). Bounded: far-away symbols are not useful labels.
    for (let i = idx; i >= 0 && i > idx - 64; i--) {
      const s = labels[i];
      if (s.size === 0n || addr < s.value + s.size)
        return { name: displayName(s.name), offset: addr - s.value, symbol: s };
    }
    return undefined;
  }

  symbolByName(name: string): ElfSymbol | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (const s of this.sortedLabels()) {
        const prev = this.byName.get(s.name);
        if (!prev || rank(s) > rank(prev)) this.byName.set(s.name, s);
      }
    }
    return this.byName.get(name);
  }

  lineForAddress(addr: bigint): SourceLocation | undefined {
    return this.debugInfo().lines.lineForAddress(addr);
  }

  isStatement(addr: bigint): boolean {
    return this.debugInfo().lines.isStatement(addr);
  }

  lineRangeAt(addr: bigint): LineRange | undefined {
    return this.debugInfo().lines.lineRangeAt(addr);
  }

  sourceFiles(): string[] {
    return this.debugInfo().lines.sourceFiles();
  }

  lineTables(): LineTable[] {
    return this.debugInfo().lines.tables;
  }

  compileUnits(): CompileUnit[] {
    return this.debugInfo().units;
  }

  dwarfFunctions(): DwarfFunction[] {
    return this.debugInfo().functions;
  }

  /**
   * Addresses where `line` of `file` starts, moved to the nearest following line that has code: its
   * statement rows, one per block (function, inlined instance) — the lowest of each, as gdb binds
   * one location per block.
   */
  addressesForLine(file: string, line: number): LineAddress[] {
    const hit = this.debugInfo().lines.rowsForLine(file, line);
    if (!hit) return [];
    const perBlock = new Map<string, bigint>();
    for (const { address } of hit.rows) {
      const key = this.blockKey(address);
      const prev = perBlock.get(key);
      if (prev === undefined || address < prev) perBlock.set(key, address);
    }
    return [...perBlock.values()].sort(cmpBig).map((address) => ({ address, line: hit.line }));
  }

  /** The innermost block holding `addr` for grouping breakpoint locations. */
  protected blockKey(address: bigint): string {
    const fn = this.functionAt(address);
    return fn ? `${fn.name}@${fn.low}` : `@${address}`;
  }

  /** Calls inlined at `addr`, innermost first, with their code ranges and call sites. */
  inlinedAt(addr: bigint): { ranges: { low: bigint; high: bigint }[]; callLine: number; callFile: string }[] {
    const p = this.scopes();
    if (!p) return [];
    return p
      .framesAt(addr)
      .filter((f) => f.inlined)
      .map((f) => {
        const site = p.callSite(f);
        return { ranges: f.ranges, callLine: site?.line ?? 0, callFile: site?.file ?? '' };
      });
  }

  /** Where the body of the function entered at `low` starts: see LineIndex.prologueEnd. */
  prologueEnd(low: bigint): { address: bigint; line: number } | undefined {
    const fn = this.functionAt(low);
    if (!fn || fn.low !== low) return undefined;
    return this.debugInfo().lines.prologueEnd(low, fn.high);
  }

  /** The function holding `addr`: from DWARF subprograms, else from sized FUNC symbols. */
  functionAt(addr: bigint): FunctionInfo | undefined {
    const { ranges, maxHigh } = this.functionIndex();
    // Last range starting at or below addr, then back while an earlier range can still reach addr
    // (maxHigh is the running maximum of `high`): exact even for nested or overlapping ranges.
    let lo = 0;
    let hi = ranges.length - 1;
    let i = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (ranges[mid].low <= addr) {
        i = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    let best: (typeof ranges)[number] | undefined;
    for (; i >= 0 && maxHigh[i] > addr; i--) {
      const r = ranges[i];
      if (addr < r.high && (!best || r.high - r.low < best.high - best.low)) best = r;
    }
    if (best) return { name: best.fn.name, low: best.fn.low, high: best.high, source: 'dwarf' };
    const s = this.symbolAt(addr);
    if (s && s.symbol.type === 'func' && s.symbol.size > 0n) {
      return { name: s.name, low: s.symbol.value, high: s.symbol.value + s.symbol.size, source: 'symtab' };
    }
    return undefined;
  }

  /** True for code from an assembly source (DW_LANG_Mips_Assembler, what gas records). */
  isAssembly(addr: bigint): boolean {
    return this.compileUnitAt(addr)?.language === DW_LANG_Mips_Assembler;
  }

  compileUnitAt(addr: bigint): CompileUnit | undefined {
    const d = this.debugInfo();
    const a = d.aranges.find((e) => addr >= e.low && addr < e.high);
    if (a) return d.units.find((u) => u.offset === a.cuOffset);
    return d.units.find((u) => u.ranges.some((r) => addr >= r.low && addr < r.high));
  }

  private cfi?: CallFrameInfo;

  /** Call frame information from .debug_frame and .eh_frame (empty when neither exists). */
  callFrameInfo(): CallFrameInfo {
    if (!this.cfi) {
      const eh = this.elf.section('.eh_frame');
      this.cfi = new CallFrameInfo({
        ...defined({
          debugFrame: this.elf.sectionData('.debug_frame'),
          ehFrame: this.elf.sectionData('.eh_frame'),
        }),
        ...(eh ? { ehFrameAddress: eh.addr } : {}),
      });
    }
    return this.cfi;
  }

  /** File bytes of the loaded image at `addr` (for disassembly without a target). */
  bytesAt(addr: bigint, length: number): Uint8Array | undefined {
    return this.elf.bytesAt(addr, length);
  }

  /**
   * Whether every sized function symbol whose code lies in a compiled (not assembly) unit falls in a
   * DWARF function found, and every function found has a name: what the fast load may miss is a
   * function nested in another, which has both code and a symbol.
   */
  private functionSymbolsCovered(units: CompileUnit[], functions: DwarfFunction[]): boolean {
    if (functions.some((f) => !f.name)) return false;
    const funcs = this.elf.symbols().filter((x) => x.type === 'func' && x.size > 0n && x.shndx !== 0);
    if (!funcs.length) return false;
    const compiled = units
      .filter((u) => u.language !== DW_LANG_Mips_Assembler)
      .flatMap((u) => u.ranges)
      .sort((a, b) => cmpBig(a.low, b.low));
    const code = functions.flatMap((f) => f.ranges).sort((a, b) => cmpBig(a.low, b.low));
    const inside = (rs: { low: bigint; high: bigint }[], a: bigint) => {
      let lo = 0;
      let hi = rs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (rs[mid].low <= a) lo = mid + 1;
        else hi = mid - 1;
      }
      // Ranges may nest or overlap: look back a little from the last one starting at or below.
      for (let i = hi; i >= 0 && i > hi - 64; i--) if (a < rs[i].high) return true;
      return false;
    };
    return funcs.every((f) => !inside(compiled, f.value) || inside(code, f.value));
  }

  private fnIndex?: { ranges: { low: bigint; high: bigint; fn: DwarfFunction }[]; maxHigh: bigint[] };

  private functionIndex() {
    if (!this.fnIndex) {
      const ranges = this.debugInfo()
        .functions.flatMap((fn) => fn.ranges.map((r) => ({ low: r.low, high: r.high, fn })))
        // Discarded functions keep DIEs with low_pc 0 (or -1): not code of this image.
        .filter((r) => this.elf.isMapped(r.low))
        .sort((a, b) => cmpBig(a.low, b.low));
      const maxHigh: bigint[] = [];
      let m = 0n;
      for (const r of ranges) maxHigh.push((m = r.high > m ? r.high : m));
      this.fnIndex = { ranges, maxHigh };
    }
    return this.fnIndex;
  }

  private sortedLabels(): ElfSymbol[] {
    if (!this.labels) {
      this.labels = this.elf
        .symbols()
        .filter((s) => s.name && s.shndx !== 0 && LABEL_TYPES.includes(s.type) && !isMappingSymbol(s.name))
        .sort((a, b) => cmpBig(a.value, b.value) || rank(a) - rank(b));
    }
    return this.labels;
  }

  /** Why parts of the debug information could not be read (the rest is still used). */
  get debugErrors(): string[] {
    return this.debugInfo().errors;
  }

  private debugInfo() {
    if (!this.debug) {
      const data = (n: string) => this.elf.sectionData(n);
      const debugInfo = data('.debug_info');
      const debugAbbrev = data('.debug_abbrev');
      const debugLine = data('.debug_line');
      const strings = defined({ debugStr: data('.debug_str'), debugLineStr: data('.debug_line_str') });
      const errors: string[] = [];
      const attempt = <T>(what: string, f: () => T): T | undefined => {
        try {
          return f();
        } catch (e) {
          errors.push(`${what}: ${(e as Error).message}`);
          return undefined;
        }
      };
      let units: CompileUnit[] = [];
      let functions: DwarfFunction[] = [];
      let sections: DebugSections | undefined;
      if (debugInfo && debugAbbrev) {
        sections = {
          debugInfo,
          debugAbbrev,
          ...strings,
          ...defined({
            debugStrOffsets: data('.debug_str_offsets'),
            debugAddr: data('.debug_addr'),
            debugRanges: data('.debug_ranges'),
            debugRnglists: data('.debug_rnglists'),
          }),
        };
        const all = sections;
        // Fast: functions' subtrees jumped over; read again in full if a function nested in another
        // may have been missed (a function symbol with code in a C unit that no function covers).
        let info = attempt('.debug_info', () => parseDebugInfo(all, { jumpFunctions: true }));
        if (info?.jumped && !this.functionSymbolsCovered(info.units, info.functions))
          info = attempt('.debug_info', () => parseDebugInfo(all));
        if (info) {
          ({ units, functions } = info);
          errors.push(...info.errors);
        }
      }
      const tables: LineTable[] = [];
      if (debugLine) {
        const seen = new Set<number>();
        for (const u of units) {
          if (u.stmtList === undefined || seen.has(u.stmtList)) continue;
          seen.add(u.stmtList);
          const t = attempt(`.debug_line at ${u.stmtList}`, () =>
            parseLineTable(debugLine, u.stmtList!, strings, u.compDir, u.addressSize),
          );
          if (t) tables.push(t);
        }
        if (units.length === 0)
          tables.push(...(attempt('.debug_line', () => allLineTables(debugLine, strings)) ?? []));
      }
      const ar = data('.debug_aranges');
      this.debug = {
        units,
        functions,
        lines: new LineIndex(tables, (a) => this.elf.isMapped(a)),
        sections,
        aranges: (ar && attempt('.debug_aranges', () => parseAranges(ar))) || [],
        errors,
      };
    }
    return this.debug;
  }
}

function rank(s: ElfSymbol): number {
  return (TYPE_RANK[s.type] ?? 0) * 4 + BIND_RANK[s.binding];
}

/** Without .debug_info there is no stmt_list: the line programs simply follow each other. */
function allLineTables(
  debugLine: Uint8Array,
  strings: { debugStr?: Uint8Array; debugLineStr?: Uint8Array },
): LineTable[] {
  const out: LineTable[] = [];
  for (let offset = 0; offset + 4 <= debugLine.length;) {
    const t = parseLineTable(debugLine, offset, strings);
    out.push(t);
    offset = t.nextOffset;
  }
  return out;
}

function defined<T extends Record<string, unknown>>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
