// Non-contiguous address ranges: .debug_ranges (DWARF 2–4) and .debug_rnglists (DWARF 5).
import { Reader } from './reader';

export interface AddressRange {
  low: bigint;
  /** Exclusive. */
  high: bigint;
}

export interface RangeSections {
  debugRanges?: Uint8Array;
  debugRnglists?: Uint8Array;
  debugAddr?: Uint8Array;
}

export interface RangeQuery {
  version: number;
  addressSize: number;
  offsetSize: 4 | 8;
  /** The CU's low_pc, the base for offset pairs. */
  baseAddress: bigint;
  rnglistsBase: number;
  addrBase: number;
  ref: { offset: number } | { index: number };
}

const DW_RLE_end_of_list = 0;
const DW_RLE_base_addressx = 1;
const DW_RLE_startx_endx = 2;
const DW_RLE_startx_length = 3;
const DW_RLE_offset_pair = 4;
const DW_RLE_base_address = 5;
const DW_RLE_start_end = 6;
const DW_RLE_start_length = 7;

export function readRanges(s: RangeSections, q: RangeQuery): AddressRange[] {
  const out: AddressRange[] = [];
  const push = (low: bigint, high: bigint) => {
    if (high > low) out.push({ low, high });
  };
  if (q.version < 5) {
    if (!s.debugRanges || !('offset' in q.ref)) return out;
    const r = new Reader(s.debugRanges, q.ref.offset);
    const max = q.addressSize === 8 ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
    let base = q.baseAddress;
    while (!r.atEnd) {
      const a = r.uN(q.addressSize);
      const b = r.uN(q.addressSize);
      if (a === 0n && b === 0n) break;
      if (a === max) base = b;
      else push(base + a, base + b);
    }
    return out;
  }
  if (!s.debugRnglists) return out;
  let offset: number;
  if ('offset' in q.ref) offset = q.ref.offset;
  else {
    // rnglistx: an index into the offset table that follows the list header at rnglists_base.
    const t = new Reader(s.debugRnglists, q.rnglistsBase + q.ref.index * q.offsetSize);
    offset = q.rnglistsBase + t.offset(q.offsetSize);
  }
  const addrx = (i: number) =>
    s.debugAddr ? new Reader(s.debugAddr, q.addrBase + i * q.addressSize).uN(q.addressSize) : 0n;
  const r = new Reader(s.debugRnglists, offset);
  let base = q.baseAddress;
  for (;;) {
    const kind = r.u8();
    if (kind === DW_RLE_end_of_list) break;
    switch (kind) {
      case DW_RLE_base_addressx:
        base = addrx(r.ulebn());
        break;
      case DW_RLE_startx_endx: {
        const a = addrx(r.ulebn());
        push(a, addrx(r.ulebn()));
        break;
      }
      case DW_RLE_startx_length: {
        const a = addrx(r.ulebn());
        push(a, a + r.uleb());
        break;
      }
      case DW_RLE_offset_pair: {
        const a = r.uleb();
        push(base + a, base + r.uleb());
        break;
      }
      case DW_RLE_base_address:
        base = r.uN(q.addressSize);
        break;
      case DW_RLE_start_end: {
        const a = r.uN(q.addressSize);
        push(a, r.uN(q.addressSize));
        break;
      }
      case DW_RLE_start_length: {
        const a = r.uN(q.addressSize);
        push(a, a + r.uleb());
        break;
      }
      default:
        return out;
    }
  }
  return out;
}
