// One leaf of a walk (a block, a page, or a non-zero invalid/reserved descriptor where a leaf would
// be), stored compactly: numbers and the descriptor's two u32 halves. BigInt views are getters so a
// 260k-leaf walk does not pay for BigInts nobody reads. Addresses kept as numbers are exact: every
// leaf VA is a multiple of 4096 below 2^64, which a double represents exactly, and PAs are < 2^52.

import type { BaseRegister, PermModel } from './regime';
import { decodeS2MemAttr, type MemoryType } from './mair';
import { decodeDescriptor, type Descriptor } from './descriptor';
import type { DescriptorFormat } from './granule';

/** Regime-wide facts every leaf of one walk shares (one object per root). */
export interface LeafContext {
  readonly base: BaseRegister;
  readonly fmt: DescriptorFormat;
  readonly perm: PermModel;
  readonly wxn: boolean;
  readonly ha: boolean;
  readonly fwb: boolean;
  readonly mair: readonly MemoryType[];
}

/** Table-inherited limits (stage 1), in the order of descriptor bits 59..63. */
export const LIMIT_PXN = 1;
export const LIMIT_XN = 2; // UXNTable in EL1&0, XNTable at EL2
export const LIMIT_NO_EL0 = 4; // APTable[0]
export const LIMIT_RO = 8; // APTable[1]
export const LIMIT_NS = 16; // NSTable

/** Effective permission bits. Stage 2 uses R1/W1 for reads/writes, X1/X0 for EL1/EL0 execution. */
export const P_R1 = 1;
export const P_W1 = 2;
export const P_X1 = 4;
export const P_R0 = 8;
export const P_W0 = 16;
export const P_X0 = 32;

export type LeafKind = 'block' | 'page' | 'invalid' | 'reserved';

/** Leaf state: valid, non-zero invalid (bit 0 clear), or reserved encoding (bit 0 set, faults). */
export const S_VALID = 0;
export const S_INVALID = 1;
export const S_RESERVED = 2;

const TWO32 = 4294967296;

function hex(n: number): bigint {
  return BigInt(n);
}

export class Leaf {
  constructor(
    readonly ctx: LeafContext,
    readonly level: number,
    /** Input address of the first byte mapped (exact double). */
    readonly vaNum: number,
    /** log2 of the size mapped by the descriptor. */
    readonly sizeShift: number,
    /** Output address the descriptor names (also for invalid ones, as pvmfw would read it). */
    readonly paNum: number,
    readonly lo: number,
    readonly hi: number,
    /** Physical address of the descriptor. */
    readonly descAddrNum: number,
    /** LIMIT_* bits inherited from the table descriptors above. */
    readonly limits: number,
    /** S_VALID, S_INVALID or S_RESERVED. */
    readonly state: number,
  ) {}

  get base(): BaseRegister {
    return this.ctx.base;
  }
  get va(): bigint {
    return hex(this.vaNum);
  }
  get pa(): bigint {
    return hex(this.paNum);
  }
  /** The 64-bit descriptor. */
  get desc(): bigint {
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }
  get descAddr(): bigint {
    return hex(this.descAddrNum);
  }
  /** Bytes mapped (exact as a number: at most 2^42). */
  get size(): number {
    return 2 ** this.sizeShift;
  }
  get valid(): boolean {
    return this.state === S_VALID;
  }
  get kind(): LeafKind {
    if (this.state === S_RESERVED) return 'reserved';
    if (this.state === S_INVALID) return 'invalid';
    return this.level === 3 ? 'page' : 'block';
  }
  /** Software bits [58:55] as 0..15 (bit 0 = descriptor bit 55). */
  get swBits(): number {
    return (this.hi >>> 23) & 0xf;
  }
  /** Descriptor bit n (0..63). */
  bit(n: number): boolean {
    return n < 32 ? ((this.lo >>> n) & 1) === 1 : ((this.hi >>> (n - 32)) & 1) === 1;
  }
  get attrIndx(): number {
    return (this.lo >>> 2) & 7;
  }
  get af(): boolean {
    return (this.lo & 0x400) !== 0;
  }
  /** Memory type: MAIR Attr<AttrIndx> at stage 1, MemAttr at stage 2. */
  get memType(): MemoryType {
    if (this.ctx.fmt.stage === 2) return decodeS2MemAttr((this.lo >>> 2) & 0xf, this.ctx.fwb);
    return this.ctx.mair[this.attrIndx] ?? { kind: 'reserved', name: 'MAIR unknown' };
  }
  /** Effective permissions (P_* bits) after table limits and WXN. Computed from the bits even when invalid. */
  get perms(): number {
    return effectivePerms(this.ctx, this.lo, this.hi, this.limits);
  }
  /** Full field decode (the reference BigInt parser). */
  decode(): Descriptor {
    return decodeDescriptor(this.desc, this.level, this.ctx.fmt);
  }
  /** An access would raise an Access flag fault (valid, AF = 0, no hardware AF management). */
  get accessFlagFault(): boolean {
    return this.state === S_VALID && !this.af && !this.ctx.ha;
  }
}

/** Effective permissions of a leaf (Arm ARM D8.4), given the inherited table limits. */
export function effectivePerms(ctx: LeafContext, lo: number, hi: number, limits: number): number {
  if (ctx.perm === 'stage2') {
    const s2ap = (lo >>> 6) & 3;
    const xn = (hi >>> 21) & 3;
    let p = (s2ap & 1 ? P_R1 : 0) | (s2ap & 2 ? P_W1 : 0);
    // FEAT_XNX encoding; without FEAT_XNX bit 53 is RES0 and this reduces to XN = bit 54.
    if (xn === 0 || xn === 3) p |= P_X1;
    if (xn === 0 || xn === 1) p |= P_X0;
    return p;
  }
  const ap = (lo >>> 6) & 3;
  const ro = (ap & 2) !== 0 || (limits & LIMIT_RO) !== 0;
  if (ctx.perm === 'el2') {
    const w = !ro;
    const xn = (hi >>> 22) & 1 || limits & LIMIT_XN || (ctx.wxn && w);
    return P_R1 | (w ? P_W1 : 0) | (xn ? 0 : P_X1);
  }
  const el0 = (ap & 1) !== 0 && (limits & LIMIT_NO_EL0) === 0;
  const w1 = !ro;
  const w0 = el0 && !ro;
  const pxn = (hi >>> 21) & 1 || limits & LIMIT_PXN || w0 || (ctx.wxn && w1);
  const uxn = (hi >>> 22) & 1 || limits & LIMIT_XN || (ctx.wxn && w0);
  return P_R1 | (w1 ? P_W1 : 0) | (pxn ? 0 : P_X1) | (el0 ? P_R0 : 0) | (w0 ? P_W0 : 0) | (uxn ? 0 : P_X0);
}

/** "RWX/---" (EL1/EL0) for EL1&0, "RWX" for EL2, "RW X1 X0" style "RW-/x" for stage 2. */
export function formatPerms(perm: PermModel, p: number): string {
  const t = (r: number, w: number, x: number): string =>
    `${p & r ? 'R' : '-'}${p & w ? 'W' : '-'}${p & x ? 'X' : '-'}`;
  if (perm === 'el2') return t(P_R1, P_W1, P_X1);
  if (perm === 'stage2') return `${t(P_R1, P_W1, P_X1)}/${p & P_X0 ? 'x0' : '--'}`;
  return `${t(P_R1, P_W1, P_X1)}/${t(P_R0, P_W0, P_X0)}`;
}

/** A 64-bit value from two u32 halves. */
export function joinHalves(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Exact double for a page-aligned 64-bit value (see the file comment). */
export function toNum(x: bigint): number {
  return Number(x);
}

export const TWO_POW_32 = TWO32;
