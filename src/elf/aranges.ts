// .debug_aranges: address ranges -> compile unit (its .debug_info offset), the fast path from a PC to
// a CU without walking .debug_info.
import { Reader } from './reader';

export interface ArangeEntry {
  low: bigint;
  high: bigint;
  cuOffset: number;
}

export function parseAranges(data: Uint8Array): ArangeEntry[] {
  const out: ArangeEntry[] = [];
  const top = new Reader(data);
  while (!top.atEnd) {
    const { length, offsetSize } = top.initialLength();
    const end = top.pos + length;
    const r = top.window(top.pos, end);
    top.pos = end;
    r.u16(); // version (2)
    const cuOffset = r.offset(offsetSize);
    const addressSize = r.u8();
    const segmentSize = r.u8();
    // Tuples start at a multiple of twice the address size from the unit start.
    const tuple = 2 * addressSize + segmentSize;
    const unitStart = end - length - (offsetSize === 8 ? 12 : 4);
    const rem = (r.pos - unitStart) % tuple;
    if (rem) r.skip(tuple - rem);
    while (r.pos + tuple <= end) {
      if (segmentSize) r.skip(segmentSize);
      const low = r.uN(addressSize);
      const size = r.uN(addressSize);
      if (low === 0n && size === 0n) break;
      out.push({ low, high: low + size, cuOffset });
    }
  }
  return out;
}
