// DWARF attribute forms (DWARF 5 section 7.5.6, plus the GNU extensions GCC emits): reading one
// attribute value of any form, so unknown attributes can be skipped exactly.
import { ElfFormatError, Reader } from './reader';

export const DW_FORM = {
  addr: 0x01,
  block2: 0x03,
  block4: 0x04,
  data2: 0x05,
  data4: 0x06,
  data8: 0x07,
  string: 0x08,
  block: 0x09,
  block1: 0x0a,
  data1: 0x0b,
  flag: 0x0c,
  sdata: 0x0d,
  strp: 0x0e,
  udata: 0x0f,
  ref_addr: 0x10,
  ref1: 0x11,
  ref2: 0x12,
  ref4: 0x13,
  ref8: 0x14,
  ref_udata: 0x15,
  indirect: 0x16,
  sec_offset: 0x17,
  exprloc: 0x18,
  flag_present: 0x19,
  strx: 0x1a,
  addrx: 0x1b,
  ref_sup4: 0x1c,
  strp_sup: 0x1d,
  data16: 0x1e,
  line_strp: 0x1f,
  ref_sig8: 0x20,
  implicit_const: 0x21,
  loclistx: 0x22,
  rnglistx: 0x23,
  ref_sup8: 0x24,
  strx1: 0x25,
  strx2: 0x26,
  strx3: 0x27,
  strx4: 0x28,
  addrx1: 0x29,
  addrx2: 0x2a,
  addrx3: 0x2b,
  addrx4: 0x2c,
  GNU_addr_index: 0x1f01,
  GNU_str_index: 0x1f02,
  GNU_ref_alt: 0x1f20,
  GNU_strp_alt: 0x1f21,
} as const;

export type FormValue =
  | { kind: 'addr'; value: bigint }
  | { kind: 'addrx'; index: number }
  | { kind: 'const'; value: bigint; signed: boolean }
  | { kind: 'str'; value: string }
  | { kind: 'strx'; index: number }
  /** A string in .debug_str (strp) or .debug_line_str (line_strp). */
  | { kind: 'strp'; offset: number; section: '.debug_str' | '.debug_line_str' }
  /** Offset of a DIE in .debug_info (CU-relative refs already made absolute). */
  | { kind: 'ref'; offset: number }
  | { kind: 'sec'; offset: number }
  | { kind: 'listx'; index: number }
  | { kind: 'flag'; value: boolean }
  | { kind: 'block'; bytes: Uint8Array }
  /** Forms whose value this reader does not need (supplementary files, type signatures). */
  | { kind: 'other' };

export interface FormContext {
  version: number;
  addressSize: number;
  offsetSize: 4 | 8;
  /** Offset of the unit header in .debug_info, for CU-relative references. */
  unitOffset: number;
}

export function readForm(r: Reader, form: number, ctx: FormContext, implicitConst?: bigint): FormValue {
  switch (form) {
    case DW_FORM.addr:
      return { kind: 'addr', value: r.uN(ctx.addressSize) };
    case DW_FORM.data1:
      return { kind: 'const', value: BigInt(r.u8()), signed: false };
    case DW_FORM.data2:
      return { kind: 'const', value: BigInt(r.u16()), signed: false };
    case DW_FORM.data4:
      return { kind: 'const', value: BigInt(r.u32()), signed: false };
    case DW_FORM.data8:
      return { kind: 'const', value: r.u64(), signed: false };
    case DW_FORM.data16:
      return { kind: 'block', bytes: bytes(r, 16) };
    case DW_FORM.sdata:
      return { kind: 'const', value: r.sleb(), signed: true };
    case DW_FORM.udata:
      return { kind: 'const', value: r.uleb(), signed: false };
    case DW_FORM.implicit_const:
      return { kind: 'const', value: implicitConst ?? 0n, signed: true };
    case DW_FORM.string:
      return { kind: 'str', value: r.cstr() };
    case DW_FORM.strp:
      return { kind: 'strp', offset: r.offset(ctx.offsetSize), section: '.debug_str' };
    case DW_FORM.line_strp:
      return { kind: 'strp', offset: r.offset(ctx.offsetSize), section: '.debug_line_str' };
    case DW_FORM.strx:
    case DW_FORM.GNU_str_index:
      return { kind: 'strx', index: r.ulebn() };
    case DW_FORM.strx1:
      return { kind: 'strx', index: r.u8() };
    case DW_FORM.strx2:
      return { kind: 'strx', index: r.u16() };
    case DW_FORM.strx3:
      return { kind: 'strx', index: r.u16() | (r.u8() << 16) };
    case DW_FORM.strx4:
      return { kind: 'strx', index: r.u32() };
    case DW_FORM.addrx:
    case DW_FORM.GNU_addr_index:
      return { kind: 'addrx', index: r.ulebn() };
    case DW_FORM.addrx1:
      return { kind: 'addrx', index: r.u8() };
    case DW_FORM.addrx2:
      return { kind: 'addrx', index: r.u16() };
    case DW_FORM.addrx3:
      return { kind: 'addrx', index: r.u16() | (r.u8() << 16) };
    case DW_FORM.addrx4:
      return { kind: 'addrx', index: r.u32() };
    case DW_FORM.ref1:
      return { kind: 'ref', offset: ctx.unitOffset + r.u8() };
    case DW_FORM.ref2:
      return { kind: 'ref', offset: ctx.unitOffset + r.u16() };
    case DW_FORM.ref4:
      return { kind: 'ref', offset: ctx.unitOffset + r.u32() };
    case DW_FORM.ref8:
      return { kind: 'ref', offset: ctx.unitOffset + Number(r.u64()) };
    case DW_FORM.ref_udata:
      return { kind: 'ref', offset: ctx.unitOffset + r.ulebn() };
    case DW_FORM.ref_addr:
      // DWARF 2 sized this as an address; later versions as an offset.
      return {
        kind: 'ref',
        offset: ctx.version <= 2 ? Number(r.uN(ctx.addressSize)) : r.offset(ctx.offsetSize),
      };
    case DW_FORM.sec_offset:
      return { kind: 'sec', offset: r.offset(ctx.offsetSize) };
    case DW_FORM.loclistx:
    case DW_FORM.rnglistx:
      return { kind: 'listx', index: r.ulebn() };
    case DW_FORM.flag:
      return { kind: 'flag', value: r.u8() !== 0 };
    case DW_FORM.flag_present:
      return { kind: 'flag', value: true };
    case DW_FORM.exprloc:
    case DW_FORM.block:
      return { kind: 'block', bytes: bytes(r, r.ulebn()) };
    case DW_FORM.block1:
      return { kind: 'block', bytes: bytes(r, r.u8()) };
    case DW_FORM.block2:
      return { kind: 'block', bytes: bytes(r, r.u16()) };
    case DW_FORM.block4:
      return { kind: 'block', bytes: bytes(r, r.u32()) };
    case DW_FORM.ref_sig8:
      r.skip(8);
      return { kind: 'other' };
    case DW_FORM.ref_sup4:
      r.skip(4);
      return { kind: 'other' };
    case DW_FORM.ref_sup8:
      r.skip(8);
      return { kind: 'other' };
    case DW_FORM.strp_sup:
    case DW_FORM.GNU_ref_alt:
    case DW_FORM.GNU_strp_alt:
      r.offset(ctx.offsetSize);
      return { kind: 'other' };
    case DW_FORM.indirect:
      return readForm(r, r.ulebn(), ctx, implicitConst);
    default:
      throw new ElfFormatError(`unknown DW_FORM 0x${form.toString(16)} at ${r.pos}`);
  }
}

function bytes(r: Reader, n: number): Uint8Array {
  const start = r.pos;
  r.skip(n);
  return r.bytes.subarray(start, start + n);
}

/**
 * Skips one attribute value without building it (the loader's fast path over DIEs it does not keep):
 * the same bytes readForm would consume, nothing allocated.
 */
export function skipForm(r: Reader, form: number, ctx: FormContext): void {
  switch (form) {
    case DW_FORM.flag_present:
    case DW_FORM.implicit_const:
      return;
    case DW_FORM.data1:
    case DW_FORM.ref1:
    case DW_FORM.flag:
    case DW_FORM.strx1:
    case DW_FORM.addrx1:
      return r.skip(1);
    case DW_FORM.data2:
    case DW_FORM.ref2:
    case DW_FORM.strx2:
    case DW_FORM.addrx2:
      return r.skip(2);
    case DW_FORM.strx3:
    case DW_FORM.addrx3:
      return r.skip(3);
    case DW_FORM.data4:
    case DW_FORM.ref4:
    case DW_FORM.strx4:
    case DW_FORM.addrx4:
    case DW_FORM.ref_sup4:
      return r.skip(4);
    case DW_FORM.data8:
    case DW_FORM.ref8:
    case DW_FORM.ref_sig8:
    case DW_FORM.ref_sup8:
      return r.skip(8);
    case DW_FORM.data16:
      return r.skip(16);
    case DW_FORM.addr:
      return r.skip(ctx.addressSize);
    case DW_FORM.strp:
    case DW_FORM.line_strp:
    case DW_FORM.sec_offset:
    case DW_FORM.strp_sup:
    case DW_FORM.GNU_ref_alt:
    case DW_FORM.GNU_strp_alt:
      return r.skip(ctx.offsetSize);
    case DW_FORM.ref_addr:
      return r.skip(ctx.version <= 2 ? ctx.addressSize : ctx.offsetSize);
    case DW_FORM.sdata:
    case DW_FORM.udata:
    case DW_FORM.ref_udata:
    case DW_FORM.strx:
    case DW_FORM.addrx:
    case DW_FORM.loclistx:
    case DW_FORM.rnglistx:
    case DW_FORM.GNU_addr_index:
    case DW_FORM.GNU_str_index:
      while (r.u8() & 0x80);
      return;
    case DW_FORM.string: {
      let p = r.pos;
      while (p < r.end && r.bytes[p] !== 0) p++;
      if (p >= r.end) throw new ElfFormatError(`unterminated string at ${r.pos}`);
      r.pos = p + 1;
      return;
    }
    case DW_FORM.exprloc:
    case DW_FORM.block:
      return r.skip(r.ulebn());
    case DW_FORM.block1:
      return r.skip(r.u8());
    case DW_FORM.block2:
      return r.skip(r.u16());
    case DW_FORM.block4:
      return r.skip(r.u32());
    default:
      readForm(r, form, ctx);
  }
}
