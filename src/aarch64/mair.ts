// MAIR_ELx Attr<n> bytes and stage-2 MemAttr to memory-type names (Arm ARM D8.5, D8.6).

export type MemKind = 'device' | 'normal' | 'reserved';

export interface MemoryType {
  readonly kind: MemKind;
  /** "Device-nGnRE", "Normal WB RA WA", "Normal Inner WB RA WA, Outer NC", ... */
  readonly name: string;
}

const DEVICE = ['Device-nGnRnE', 'Device-nGnRE', 'Device-nGRE', 'Device-GRE'];

/** One cacheability nibble (Attr<n>[7:4] or [3:0]) of a Normal type, "" when not Normal. */
function nibble(n: number): string {
  if (n === 0b0100) return 'NC';
  const policy = (n & 0b1100) === 0b0000 || (n & 0b1100) === 0b1000 ? 'WT' : 'WB';
  const transient = (n & 0b1000) === 0 ? ' transient' : '';
  const alloc = [(n & 2) !== 0 ? 'RA' : '', (n & 1) !== 0 ? 'WA' : ''].filter(Boolean).join(' ');
  return `${policy}${transient}${alloc ? ' ' + alloc : ''}`;
}

/** Decodes one MAIR Attr<n> byte. */
export function decodeMairAttr(attr: number): MemoryType {
  attr &= 0xff;
  const hi = attr >> 4;
  const lo = attr & 0xf;
  if (hi === 0) {
    if ((lo & 3) === 0) return { kind: 'device', name: DEVICE[lo >> 2] };
    // FEAT_XS: 0b0000dd01 is the same device type with XS = 0; other low bits are UNPREDICTABLE.
    if ((lo & 3) === 1) return { kind: 'device', name: `${DEVICE[lo >> 2]} XS=0` };
    return { kind: 'reserved', name: `reserved (0x${attr.toString(16).padStart(2, '0')})` };
  }
  if (lo === 0) {
    if (attr === 0xf0) return { kind: 'normal', name: 'Normal Tagged WB RA WA' }; // FEAT_MTE2
    if (attr === 0x40) return { kind: 'normal', name: 'Normal NC XS=0' }; // FEAT_XS
    if (attr === 0xa0) return { kind: 'normal', name: 'Normal WT RA XS=0' }; // FEAT_XS
    return { kind: 'reserved', name: `reserved (0x${attr.toString(16).padStart(2, '0')})` };
  }
  // Outer 0b00RW with RW != 00 is WT transient; 0b0000 outer was handled as Device above.
  const inner = nibble(lo);
  const outer = nibble(hi);
  return {
    kind: 'normal',
    name: inner === outer ? `Normal ${inner}` : `Normal Inner ${inner}, Outer ${outer}`,
  };
}

/** The eight Attr<n> of a MAIR value, decoded. */
export function decodeMair(mair: bigint): MemoryType[] {
  const out: MemoryType[] = [];
  for (let i = 0; i < 8; i++) out.push(decodeMairAttr(Number((mair >> BigInt(8 * i)) & 0xffn)));
  return out;
}

const S2_CACHE = ['', 'NC', 'WT', 'WB'];

/**
 * Stage-2 MemAttr[3:0] (descriptor bits [5:2]). With HCR_EL2.FWB = 1 the encoding changes: MemAttr[2]
 * clear is Device, 0b101 forces Normal NC, 0b110 forces Normal WB, 0b111 takes the stage-1 type.
 */
export function decodeS2MemAttr(memAttr: number, fwb: boolean): MemoryType {
  memAttr &= 0xf;
  if (fwb) {
    const m = memAttr & 7;
    if ((m & 4) === 0) return { kind: 'device', name: DEVICE[m & 3] };
    if (m === 5) return { kind: 'normal', name: 'Normal NC (FWB)' };
    if (m === 6) return { kind: 'normal', name: 'Normal WB (FWB)' };
    if (m === 7) return { kind: 'normal', name: 'Normal (stage 1 attributes, FWB)' };
    return { kind: 'reserved', name: `reserved FWB MemAttr 0b${memAttr.toString(2).padStart(4, '0')}` };
  }
  const outer = memAttr >> 2;
  const inner = memAttr & 3;
  if (outer === 0) return { kind: 'device', name: DEVICE[inner] };
  if (inner === 0)
    return { kind: 'reserved', name: `reserved MemAttr 0b${memAttr.toString(2).padStart(4, '0')}` };
  const i = S2_CACHE[inner];
  const o = S2_CACHE[outer];
  return { kind: 'normal', name: i === o ? `Normal ${i}` : `Normal Inner ${i}, Outer ${o}` };
}
