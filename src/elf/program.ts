// The program's source-level view at a PC: its frames (the function and the calls inlined into it),
// the variables and parameters of each, the globals, their types and values. Values come from
// DWARF locations and location lists evaluated against a frame's registers (recovered by CFI for
// callers) and the target's memory; DW_OP_entry_value is resolved at a function's entry or from the
// caller's call site (DW_TAG_call_site_parameter); what cannot be known is "optimized out".
import { contains, DW_AT, DW_TAG, type Die, type DieIndex } from './dies';
import type { LineTable } from './dwarfLine';
import { evaluateLocation, locationListAt, type Location } from './location';
import { Reader } from './reader';
import { frameVariables, scopeFrames, unitGlobals, type ScopeFrame, type VariableDie } from './scopes';
import { TypeReader, type CType } from './types';
import { readValue, toBigInt, type Value } from './values';

/** What a frame offers for evaluating locations. */
export interface FrameContext {
  /** The frame's PC (for a caller: inside its call instruction). */
  pc: bigint;
  register(n: number): bigint | undefined;
  cfa?: bigint;
  read(address: bigint, size: number): Promise<Uint8Array>;
  /** The calling frame (for DW_OP_entry_value through the caller's call site). */
  caller?: FrameContext;
}

export type { ScopeFrame, VariableDie };

/** What ElfImage offers this module (structural: image.ts builds ProgramScopes, no import circle). */
export interface ProgramImage {
  compileUnitAt(pc: bigint): { offset: number } | undefined;
  compileUnits(): { offset: number }[];
  lineTables(): LineTable[];
}

export class ProgramScopes {
  readonly types: TypeReader;
  private globalsCache?: VariableDie[];
  private globalsByName?: Map<string, VariableDie>;

  constructor(
    private readonly image: ProgramImage,
    readonly index: DieIndex,
  ) {
    this.types = new TypeReader(index);
  }

  /** Frames at `pc`, innermost first: inlined calls, then the function that holds them. */
  framesAt(pc: bigint): ScopeFrame[] {
    const cu = this.image.compileUnitAt(pc);
    if (!cu) return [];
    try {
      return scopeFrames(this.index, this.index.unit(cu.offset), pc);
    } catch {
      return [];
    }
  }

  /** The file path and line an inlined frame was called from. */
  callSite(frame: ScopeFrame): { file: string; line: number } | undefined {
    if (!frame.call) return undefined;
    const unit = frame.die.unit;
    const table = this.image.lineTables().find((t) => t.offset === unit.stmtList);
    return { file: table?.files[frame.call.file]?.path ?? '', line: frame.call.line };
  }

  variables(frame: ScopeFrame): VariableDie[] {
    return frameVariables(this.index, frame);
  }

  globals(): VariableDie[] {
    if (!this.globalsCache) {
      this.globalsCache = [];
      for (const cu of this.image.compileUnits()) {
        try {
          this.globalsCache.push(...unitGlobals(this.index, this.index.unit(cu.offset)));
        } catch {
          // An unreadable unit keeps the others' globals.
        }
      }
    }
    return this.globalsCache;
  }

  /** A global by its (qualified) name: the first of that name, as a list search would find it. */
  globalNamed(name: string): VariableDie | undefined {
    if (!this.globalsByName) {
      this.globalsByName = new Map();
      for (const g of this.globals()) if (!this.globalsByName.has(g.name)) this.globalsByName.set(g.name, g);
    }
    return this.globalsByName.get(name);
  }

  /**
   * A Rust enum's variant without data by its path (`rust_opt::Mode::Run`), as a value of the enum:
   * the enum is found by its qualified name in the modules (namespaces) of the program's units.
   */
  enumConstant(path: string): Value | undefined {
    const parts = path.split('::');
    if (parts.length < 2) return undefined;
    const variant = parts.pop()!;
    const enumName = parts.join('::');
    const root = parts[0];
    for (const cu of this.image.compileUnits()) {
      let unit;
      try {
        unit = this.index.unit(cu.offset);
      } catch {
        continue;
      }
      // Down the namespaces named by the path only (a module's other items stay unread).
      let level: Die[] = unit.root.children;
      for (let i = 0; i < parts.length; i++) {
        const want = parts[i];
        const last = i === parts.length - 1;
        const next = level.find(
          (d) =>
            (last ? d.tag === DW_TAG.enumeration_type : d.tag === DW_TAG.namespace) &&
            this.index.name(d) === want,
        );
        if (!next) break;
        if (!last) {
          level = next.children;
          continue;
        }
        if (this.index.qualifiedName(next) !== enumName || !root) break;
        const type = this.types.type(next);
        const t = type.kind === 'enum' ? type : undefined;
        const e = t?.values.find((x) => x.name === variant);
        if (!t || !e) break;
        const bytes = new Uint8Array(Math.max(1, t.size));
        for (let b = 0; b < bytes.length; b++) bytes[b] = Number((e.value >> BigInt(8 * b)) & 0xffn);
        return { type, bytes, computed: true };
      }
    }
    return undefined;
  }

  typeOf(v: VariableDie): CType {
    return this.types.typeOf(v.die);
  }

  /** A type of the program by C name (`struct region`, `u32`), for casts and sizeof. */
  typeByName(name: string): CType | undefined {
    const roots: Die[] = [];
    for (const cu of this.image.compileUnits()) {
      try {
        roots.push(this.index.unit(cu.offset).root);
      } catch {
        // skip
      }
    }
    return this.types.byName(name, roots);
  }

  /** The value of a variable in a frame (`frames` = framesAt(fc.pc)), or of a global (no frames). */
  async value(v: VariableDie, fc: FrameContext, frames: ScopeFrame[] = []): Promise<Value> {
    const type = this.typeOf(v);
    const constant = v.die.attrs.get(DW_AT.const_value);
    if (constant?.kind === 'const') {
      const bytes = new Uint8Array(8);
      for (let i = 0; i < 8; i++) bytes[i] = Number((constant.value >> BigInt(8 * i)) & 0xffn);
      return { type, bytes: bytes.subarray(0, Math.min(8, Math.max(1, sizeOfType(type)))) };
    }
    if (constant?.kind === 'block') return { type, bytes: constant.bytes };
    const loc = await this.locate(v.die, fc, frames);
    return readValue(type, loc, { read: (a, n) => fc.read(a, n) }, (n) => fc.register(n));
  }

  private expressionAt(die: Die, at: number, pc: bigint): Uint8Array | undefined {
    const v = die.attrs.get(at);
    if (!v) return undefined;
    if (v.kind === 'block') return v.bytes;
    const unit = die.unit;
    let offset: number | undefined;
    if (v.kind === 'sec') offset = v.offset;
    else if (v.kind === 'const') offset = Number(v.value);
    else if (v.kind === 'listx') {
      const base = this.num(unit.root, 0x8c); // DW_AT_loclists_base
      const ls = this.index.sections.debugLoclists;
      if (base === undefined || !ls) return undefined;
      const r = new Reader(ls, base + v.index * unit.bases.ctx.offsetSize);
      offset = base + r.offset(unit.bases.ctx.offsetSize);
    }
    if (offset === undefined) return undefined;
    return locationListAt(
      this.index.sections,
      offset,
      { version: unit.version, base: unit.bases.baseAddress, addrx: (i) => this.addrx(die, i) },
      pc,
    );
  }

  private num(die: Die, at: number): number | undefined {
    const v = die.attrs.get(at);
    return v?.kind === 'sec' ? v.offset : v?.kind === 'const' ? Number(v.value) : undefined;
  }

  private addrx(die: Die, i: number): bigint | undefined {
    const a = this.index.sections.debugAddr;
    const b = die.unit.bases;
    if (!a) return undefined;
    return new Reader(a, b.addrBase + i * b.ctx.addressSize).uN(b.ctx.addressSize);
  }

  /** Where a variable DIE lives at the frame's PC. */
  async locate(die: Die, fc: FrameContext, frames: ScopeFrame[]): Promise<Location> {
    const expr = this.expressionAt(die, DW_AT.location, fc.pc);
    if (!expr) return { kind: 'optimized', why: 'no location at this PC' };
    const fn = frames.length ? frames[frames.length - 1].die : undefined;
    return evaluateLocation(expr, {
      register: (n) => fc.register(n),
      read: async (a, size) => toBigInt(await fc.read(a, size)),
      ...(fc.cfa !== undefined ? { cfa: fc.cfa } : {}),
      addrx: (i) => this.addrx(die, i),
      frameBase: async () => {
        if (!fn) return undefined;
        const fb = this.expressionAt(fn, DW_AT.frame_base, fc.pc);
        if (!fb) return undefined;
        const l = await evaluateLocation(fb, {
          register: (n) => fc.register(n),
          read: async (a, size) => toBigInt(await fc.read(a, size)),
          ...(fc.cfa !== undefined ? { cfa: fc.cfa } : {}),
        });
        if (l.kind === 'memory') return l.address;
        if (l.kind === 'register') return fc.register(l.register);
        return l.kind === 'value' ? l.value : undefined;
      },
      entryValue: (sub) => this.entryValue(sub, fc, fn),
    });
  }

  /**
   * DW_OP_entry_value(DW_OP_regN): the register on entry to the function. Known at the entry itself
   * (nothing ran yet), or from the caller's DW_TAG_call_site for this return address, whose
   * parameter for that register carries a DW_AT_call_value evaluable in the caller's frame.
   */
  private async entryValue(
    sub: Uint8Array,
    fc: FrameContext,
    fn: Die | undefined,
  ): Promise<bigint | undefined> {
    const reg = sub.length === 1 && sub[0] >= 0x50 && sub[0] <= 0x6f ? sub[0] - 0x50 : undefined;
    if (reg === undefined) return undefined;
    if (fn && contains(this.index.ranges(fn), fc.pc)) {
      const low = this.index.ranges(fn).reduce((m, r) => (r.low < m ? r.low : m), fc.pc);
      if (fc.pc === low) return fc.register(reg);
    }
    const caller = fc.caller;
    if (!caller) return undefined;
    const callerFrames = this.framesAt(caller.pc);
    const callerFn = callerFrames[callerFrames.length - 1]?.die;
    if (!callerFn) return undefined;
    const returnPc = caller.pc + 4n;
    const site = findCallSite(this.index, callerFn, returnPc);
    if (!site) return undefined;
    for (const p of site.children) {
      if (p.tag !== DW_TAG.call_site_parameter && p.tag !== DW_TAG.GNU_call_site_parameter) continue;
      const l = p.attrs.get(DW_AT.location);
      if (l?.kind !== 'block' || l.bytes.length !== 1 || l.bytes[0] !== 0x50 + reg) continue;
      const cv = p.attrs.get(DW_AT.call_value) ?? p.attrs.get(DW_AT.GNU_call_site_value);
      if (cv?.kind !== 'block') return undefined;
      const loc = await evaluateLocation(cv.bytes, {
        register: (n) => caller.register(n),
        read: async (a, size) => toBigInt(await caller.read(a, size)),
        ...(caller.cfa !== undefined ? { cfa: caller.cfa } : {}),
        addrx: (i) => this.addrx(p, i),
      });
      if (loc.kind === 'value') return loc.value;
      if (loc.kind === 'register') return caller.register(loc.register);
      return loc.kind === 'memory' ? loc.address : undefined;
    }
    return undefined;
  }
}

function findCallSite(index: DieIndex, fn: Die, returnPc: bigint): Die | undefined {
  const stack = [...fn.children];
  for (let n = 0; stack.length && n < 100_000; n++) {
    const d = stack.pop()!;
    if (d.tag === DW_TAG.call_site || d.tag === DW_TAG.GNU_call_site) {
      const pc = index.address(d, DW_AT.call_return_pc) ?? index.address(d, DW_AT.low_pc);
      if (pc === returnPc) return d;
    }
    stack.push(...d.children);
  }
  return undefined;
}

function sizeOfType(t: CType): number {
  return t.kind === 'base' || t.kind === 'enum' ? t.size : 8;
}
