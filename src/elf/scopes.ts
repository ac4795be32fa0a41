// Scopes at a PC: the subprogram, its lexical blocks and the inlined subroutines (DW_TAG_inlined_
// subroutine) that hold it — the virtual frames gdb shows for inlined calls — and the variables and
// parameters visible in each frame. Pure over a DieIndex.
import { contains, DW_AT, DW_TAG, type Die, type DieIndex, type DieUnit } from './dies';
import type { AddressRange } from './ranges';

export interface ScopeFrame {
  /** The subprogram or inlined subroutine this frame is. */
  die: Die;
  name: string;
  inlined: boolean;
  /** Its code ranges (for an inlined frame: the instance's; step out leaves them). */
  ranges: AddressRange[];
  /** The scopes of this frame holding the PC, innermost first (blocks, then the frame's own DIE). */
  blocks: Die[];
  /** For an inlined frame: where it was called from (file index of the CU's line table, line). */
  call?: { file: number; line: number };
}

/** The unit DIE holding `pc`, by ranges of its subprograms (what compileUnitAt found). */
export function scopeFrames(index: DieIndex, unit: DieUnit, pc: bigint): ScopeFrame[] {
  // Outermost first, then reversed: the function, then each inlined call nested in it.
  const frames: ScopeFrame[] = [];
  let blocks: Die[] = [];
  // Rust declares functions inside its modules' namespace DIEs, and methods inside their type's DIE
  // (`rust_opt::Tracker::first_base`); C types hold no functions (their members are not read).
  const lang = unit.root.attrs.get(DW_AT_language);
  const cUnit = lang?.kind === 'const' && C_LANGUAGES.has(Number(lang.value));
  const holder = (tag: number) =>
    tag === DW_TAG.namespace ||
    (!cUnit &&
      (tag === DW_TAG.structure_type || tag === DW_TAG.union_type || tag === DW_TAG.enumeration_type));
  const visit = (die: Die): boolean => {
    for (const c of die.children) {
      if (!frames.length && holder(c.tag)) {
        if (visit(c)) return true;
        continue;
      }
      if (
        c.tag !== DW_TAG.subprogram &&
        c.tag !== DW_TAG.lexical_block &&
        c.tag !== DW_TAG.inlined_subroutine
      )
        continue;
      const ranges = index.ranges(c);
      if (!contains(ranges, pc)) continue;
      if (c.tag === DW_TAG.lexical_block) {
        blocks.unshift(c);
      } else {
        if (frames.length) frames[frames.length - 1].blocks = blocks;
        const frame: ScopeFrame = {
          die: c,
          name: index.qualifiedName(c) ?? '??',
          inlined: c.tag === DW_TAG.inlined_subroutine,
          ranges,
          blocks: [],
        };
        if (frame.inlined) {
          const file = index.num(c, DW_AT.call_file);
          const line = index.num(c, DW_AT.call_line);
          if (file !== undefined && line !== undefined)
            frame.call = { file: Number(file), line: Number(line) };
        }
        frames.push(frame);
        blocks = [c];
      }
      visit(c);
      return true;
    }
    return false;
  };
  visit(unit.root);
  if (frames.length) frames[frames.length - 1].blocks = blocks;
  return frames.reverse();
}

const DW_AT_language = 0x13;
/** DW_LANG_C89, C, C99, C11, C17. */
const C_LANGUAGES = new Set([0x1, 0x2, 0xc, 0x1d, 0x2c]);

export interface VariableDie {
  die: Die;
  name: string;
  parameter: boolean;
}

/** Parameters and variables declared in the frame's blocks, innermost block first (as gdb lists). */
export function frameVariables(index: DieIndex, frame: ScopeFrame): VariableDie[] {
  const out: VariableDie[] = [];
  const seen = new Set<string>();
  for (const block of frame.blocks) {
    for (const c of block.children) {
      if (c.tag !== DW_TAG.variable && c.tag !== DW_TAG.formal_parameter) continue;
      const name = index.name(c);
      if (!name || seen.has(name)) continue;
      seen.add(name);
      out.push({ die: c, name, parameter: c.tag === DW_TAG.formal_parameter });
    }
  }
  return out;
}

/** Variables at unit level with a location or a constant value (globals and file statics). */
export function unitGlobals(index: DieIndex, unit: DieUnit): VariableDie[] {
  const out: VariableDie[] = [];
  const visit = (parent: Die, depth: number) => {
    for (const c of parent.children) {
      // Rust's statics live in their module's namespace: named `rust_opt::TABLE`, as gdb names them.
      if (c.tag === DW_TAG.namespace && depth < 32) visit(c, depth + 1);
      if (c.tag !== DW_TAG.variable) continue;
      if (!c.attrs.has(DW_AT.location) && !c.attrs.has(DW_AT.const_value)) continue;
      const name = depth ? index.qualifiedName(c) : index.name(c);
      if (name) out.push({ die: c, name, parameter: false });
    }
  };
  visit(unit.root, 0);
  return out;
}
