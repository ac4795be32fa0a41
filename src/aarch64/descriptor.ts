// VMSAv8-64 descriptor parser and encoder (Arm ARM D8.3). Lossless: every bit not assigned to a
// field lands in `rest`, so encodeDescriptor(decodeDescriptor(x)) === x for every 64-bit x. This is
// the reference decoder (BigInt); the walker's hot loop reads the same bits from two u32 halves.

import { blockAllowed, type DescriptorFormat, levelShift, pageShift } from './granule';

const M64 = (1n << 64n) - 1n;

// Fields are read from the two u32 halves (no field straddles bit 32): BigInt arithmetic per field
// made this parser ~1000x slower than the walker's hot loop.
let LO = 0;
let HI = 0;
function load(raw: bigint): void {
  LO = Number(raw & 0xffff_ffffn);
  HI = Number(raw >> 32n);
}
const bit = (_x: bigint, n: number): boolean => ((n < 32 ? LO >>> n : HI >>> (n - 32)) & 1) === 1;
const field = (_x: bigint, hi: number, lo: number): number =>
  lo < 32 ? (LO >>> lo) & (2 ** (hi - lo + 1) - 1) : (HI >>> (lo - 32)) & (2 ** (hi - lo + 1) - 1);
const mask = (hi: number, lo: number): bigint => ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
const memo = new Map<string, bigint>();
function cached(kind: string, fmt: DescriptorFormat, shift: number, make: () => bigint): bigint {
  const k = `${kind}${fmt.granule}${fmt.stage}${fmt.oa}${shift}`;
  let v = memo.get(k);
  if (v === undefined) memo.set(k, (v = make()));
  return v;
}

/** Why a descriptor does not translate. */
export type InvalidReason =
  | 'zero' // all bits clear
  | 'invalid' // bit 0 clear, other bits set (pvmfw lazy entries look like this)
  | 'reserved'; // bit 0 set but a reserved encoding for this level (block where none is allowed, L3 bit 1 clear)

/** Leaf-shaped view of an invalid descriptor's bits, as software (pvmfw) reads them. */
export type Shadow = S1Leaf | S2Leaf;

export interface InvalidDescriptor {
  readonly type: 'invalid';
  readonly raw: bigint;
  readonly level: number;
  readonly reason: InvalidReason;
  /**
   * For non-zero invalid descriptors: the bits decoded as the leaf they would be if bit 0 were set
   * (a page at level 3, else a block when bit 1 is clear). Absent when bit 1 is set below level 3.
   */
  readonly shadow?: Shadow;
}

export interface TableDescriptor {
  readonly type: 'table';
  readonly raw: bigint;
  readonly level: number;
  /** Next-level table address. */
  readonly nextTable: bigint;
  /** Stage 1 only (RES0/ignored at stage 2, then false/0). */
  readonly pxnTable: boolean;
  /** UXNTable in EL1&0, XNTable in single-range regimes. */
  readonly xnTable: boolean;
  /** APTable[1:0]: bit 0 = no EL0 access below, bit 1 = no write below. */
  readonly apTable: number;
  readonly nsTable: boolean;
  /** Bits not assigned to a field (ignored / RES0 / implementation-defined). */
  readonly rest: bigint;
}

interface LeafBase {
  readonly type: 'block' | 'page';
  readonly raw: bigint;
  readonly level: number;
  /** Output address (of the block or page start). */
  readonly oa: bigint;
  /** log2 of the size mapped (12 for a 4 KiB page, 21 for a 2 MiB block). */
  readonly sizeShift: number;
  readonly sh: number;
  readonly af: boolean;
  readonly dbm: boolean;
  readonly contiguous: boolean;
  /** Software bits [58:55] (bit 0 of this = bit 55 = pvmfw's MMIO_LAZY_MAP_FLAG). */
  readonly sw: number;
  readonly rest: bigint;
}

export interface S1Leaf extends LeafBase {
  readonly stage: 1;
  readonly attrIndx: number;
  readonly ns: boolean;
  /** AP[2:1] as a 2-bit number: bit 1 = AP[2] read-only, bit 0 = AP[1] EL0 access. */
  readonly ap: number;
  readonly nG: boolean;
  readonly gp: boolean;
  readonly pxn: boolean;
  /** UXN in EL1&0 (XN in single-range regimes). */
  readonly uxn: boolean;
}

export interface S2Leaf extends LeafBase {
  readonly stage: 2;
  /** MemAttr[3:0] (bits [5:2]). */
  readonly memAttr: number;
  /** S2AP[1:0]: bit 0 = read, bit 1 = write. */
  readonly s2ap: number;
  /** XN[1:0] (bits [54:53]); without FEAT_XNX only bit 1 counts. */
  readonly xn: number;
}

export type LeafDescriptor = S1Leaf | S2Leaf;
export type Descriptor = InvalidDescriptor | TableDescriptor | LeafDescriptor;

/** Bits [hi:lo] of the OA carried in place by a descriptor at this level. */
function oaInPlace(fmt: DescriptorFormat, shift: number): bigint {
  return cached('p', fmt, shift, () => oaInPlaceRaw(fmt, shift));
}

function oaInPlaceRaw(fmt: DescriptorFormat, shift: number): bigint {
  return mask(fmt.oa === 'lpa2' ? 49 : 47, shift);
}

/** Output address of a table/block/page descriptor, including the 52-bit forms. */
export function outputAddress(raw: bigint, fmt: DescriptorFormat, shift: number): bigint {
  load(raw);
  let oa = raw & oaInPlace(fmt, shift);
  if (fmt.oa === 'lpa2') oa |= BigInt(field(raw, 9, 8)) << 50n;
  else if (fmt.oa === 'lpa') oa |= BigInt(field(raw, 15, 12)) << 48n;
  return oa;
}

function encodeOa(oa: bigint, fmt: DescriptorFormat, shift: number): bigint {
  let r = oa & oaInPlace(fmt, shift);
  if (fmt.oa === 'lpa2') r |= ((oa >> 50n) & 3n) << 8n;
  else if (fmt.oa === 'lpa') r |= ((oa >> 48n) & 15n) << 12n;
  return r;
}

/** Bits holding the OA (in place and the high parts) for a given size shift. */
function oaMask(fmt: DescriptorFormat, shift: number): bigint {
  return cached('o', fmt, shift, () => oaMaskRaw(fmt, shift));
}

function oaMaskRaw(fmt: DescriptorFormat, shift: number): bigint {
  let m = oaInPlace(fmt, shift);
  if (fmt.oa === 'lpa2') m |= mask(9, 8);
  else if (fmt.oa === 'lpa') m |= mask(15, 12);
  return m;
}

function leafFieldMask(fmt: DescriptorFormat, shift: number): bigint {
  return cached('l', fmt, shift, () => leafFieldMaskRaw(fmt, shift));
}

function leafFieldMaskRaw(fmt: DescriptorFormat, shift: number): bigint {
  // valid, type, [5:2] AttrIndx+NS / MemAttr, [7:6] AP / S2AP, AF, DBM, Contiguous, XN bits, SW.
  let m = mask(10, 0) | mask(58, 51) | oaMask(fmt, shift);
  if (fmt.stage === 1) m |= (1n << 11n) | (1n << 50n); // nG, GP
  return m;
}

function decodeLeaf(
  raw: bigint,
  level: number,
  fmt: DescriptorFormat,
  type: 'block' | 'page',
): LeafDescriptor {
  const shift = levelShift(fmt.granule, level);
  const oa = outputAddress(raw, fmt, shift);
  const rest = raw & ~leafFieldMask(fmt, shift) & M64;
  // Object literals without spreads: one hidden class per stage keeps this parser cheap.
  if (fmt.stage === 2) {
    return {
      type,
      raw,
      level,
      oa,
      sizeShift: shift,
      sh: fmt.oa === 'lpa2' ? 0 : field(raw, 9, 8),
      af: bit(raw, 10),
      dbm: bit(raw, 51),
      contiguous: bit(raw, 52),
      sw: field(raw, 58, 55),
      rest,
      stage: 2,
      memAttr: field(raw, 5, 2),
      s2ap: field(raw, 7, 6),
      xn: field(raw, 54, 53),
    };
  }
  return {
    type,
    raw,
    level,
    oa,
    sizeShift: shift,
    sh: fmt.oa === 'lpa2' ? 0 : field(raw, 9, 8),
    af: bit(raw, 10),
    dbm: bit(raw, 51),
    contiguous: bit(raw, 52),
    sw: field(raw, 58, 55),
    rest,
    stage: 1,
    attrIndx: field(raw, 4, 2),
    ns: bit(raw, 5),
    ap: field(raw, 7, 6),
    nG: bit(raw, 11),
    gp: bit(raw, 50),
    pxn: bit(raw, 53),
    uxn: bit(raw, 54),
  };
}

function decodeTable(raw: bigint, level: number, fmt: DescriptorFormat): TableDescriptor {
  const shift = pageShift(fmt.granule);
  const s1 = fmt.stage === 1;
  let used = mask(1, 0) | oaMask(fmt, shift);
  if (s1) used |= mask(63, 59);
  return {
    type: 'table',
    raw,
    level,
    nextTable: outputAddress(raw, fmt, shift),
    pxnTable: s1 && bit(raw, 59),
    xnTable: s1 && bit(raw, 60),
    apTable: s1 ? field(raw, 62, 61) : 0,
    nsTable: s1 && bit(raw, 63),
    rest: raw & ~used & M64,
  };
}

/** Decodes one 64-bit descriptor read at `level` (-1..3). Never throws for any 64-bit `raw`. */
export function decodeDescriptor(raw: bigint, level: number, fmt: DescriptorFormat): Descriptor {
  raw &= M64;
  load(raw);
  const b0 = (raw & 1n) === 1n;
  const b1 = (raw & 2n) === 2n;
  if (!b0) {
    if (raw === 0n) return { type: 'invalid', raw, level, reason: 'zero' };
    const shadowType = level === 3 ? (b1 ? 'page' : undefined) : b1 ? undefined : 'block';
    const shadow =
      shadowType && (shadowType === 'page' || blockAllowed(fmt.granule, level, fmt.oa))
        ? decodeLeaf(raw, level, fmt, shadowType)
        : undefined;
    return shadow
      ? { type: 'invalid', raw, level, reason: 'invalid', shadow }
      : { type: 'invalid', raw, level, reason: 'invalid' };
  }
  if (level === 3)
    return b1 ? decodeLeaf(raw, level, fmt, 'page') : { type: 'invalid', raw, level, reason: 'reserved' };
  if (b1) return decodeTable(raw, level, fmt);
  if (blockAllowed(fmt.granule, level, fmt.oa)) return decodeLeaf(raw, level, fmt, 'block');
  return { type: 'invalid', raw, level, reason: 'reserved' };
}

const b = (v: boolean, n: number): bigint => (v ? 1n << BigInt(n) : 0n);
const f = (v: number, hi: number, lo: number): bigint =>
  (BigInt(v) & ((1n << BigInt(hi - lo + 1)) - 1n)) << BigInt(lo);

/** Inverse of decodeDescriptor: builds the 64-bit value (fields are masked to their width). */
export function encodeDescriptor(d: Descriptor, fmt: DescriptorFormat): bigint {
  switch (d.type) {
    case 'invalid':
      return d.raw & M64;
    case 'table': {
      const shift = pageShift(fmt.granule);
      let r = 3n | encodeOa(d.nextTable, fmt, shift) | (d.rest & ~oaMask(fmt, shift));
      if (fmt.stage === 1)
        r |= b(d.pxnTable, 59) | b(d.xnTable, 60) | f(d.apTable, 62, 61) | b(d.nsTable, 63);
      return r & M64;
    }
    default: {
      const shift = d.sizeShift;
      let r =
        1n |
        (d.type === 'page' ? 2n : 0n) |
        encodeOa(d.oa, fmt, shift) |
        b(d.af, 10) |
        b(d.dbm, 51) |
        b(d.contiguous, 52) |
        f(d.sw, 58, 55) |
        (d.rest & ~leafFieldMask(fmt, shift));
      if (fmt.oa !== 'lpa2') r |= f(d.sh, 9, 8);
      if (d.stage === 2) r |= f(d.memAttr, 5, 2) | f(d.s2ap, 7, 6) | f(d.xn, 54, 53);
      else
        r |=
          f(d.attrIndx, 4, 2) |
          b(d.ns, 5) |
          f(d.ap, 7, 6) |
          b(d.nG, 11) |
          b(d.gp, 50) |
          b(d.pxn, 53) |
          b(d.uxn, 54);
      return r & M64;
    }
  }
}
