// One address through a regime, level by level, like TRACE32's MMU.INFO: every descriptor read, what
// it decodes to, and the output address or the fault the access would raise.

import { decodeDescriptor, type Descriptor, type LeafDescriptor } from './descriptor';
import { levelShift, pageShift } from './granule';
import { effectivePerms, type LeafContext, LIMIT_NS, P_R0, P_R1, P_W0, P_W1, P_X0, P_X1 } from './leaf';
import { decodeS2MemAttr, type MemoryType } from './mair';
import type { PhysReader } from './reader';
import type { BaseRegister, RegimeConfig, WalkRoot } from './regime';

export interface TranslateStep {
  readonly level: number;
  readonly table: bigint;
  readonly index: number;
  readonly descAddr: bigint;
  /** Absent when the descriptor could not be read. */
  readonly desc?: bigint;
  readonly decoded?: Descriptor;
}

/**
 * `disabled`: the registers say no walk happens here (MMU off, EPDx). `unknown`: a register that
 * decides it could not be read, so there is no verdict at all (the message names the register).
 */
export type TranslateFaultKind =
  'translation' | 'addressSize' | 'accessFlag' | 'permission' | 'unreadable' | 'disabled' | 'unknown';

export interface TranslateFault {
  readonly kind: TranslateFaultKind;
  readonly level: number;
  /** "Translation fault, level 3". */
  readonly message: string;
}

/** The access to check permissions for (default: a read at the higher privilege). */
export interface Access {
  readonly write?: boolean;
  readonly exec?: boolean;
  readonly el0?: boolean;
}

export interface Translation {
  readonly va: bigint;
  readonly base?: BaseRegister;
  readonly steps: TranslateStep[];
  /** Output address when the translation succeeds. */
  readonly pa?: bigint;
  /** The leaf reached: valid, or an invalid descriptor whose bits name an output address (lazy MMIO). */
  readonly leaf?: LeafDescriptor;
  /** True when `leaf` came from an invalid descriptor's bits. */
  readonly leafInvalid?: boolean;
  /** Output address named by an invalid leaf's bits (what a lazy entry will map). */
  readonly shadowPa?: bigint;
  readonly perms?: number;
  readonly memType?: MemoryType;
  readonly fault?: TranslateFault;
}

const M64 = (1n << 64n) - 1n;

/** The root translating `va`, or the reason none does (out of both ranges). */
export function selectRoot(regime: RegimeConfig, va: bigint): WalkRoot | undefined {
  for (const r of regime.roots) {
    // With TBI the top byte is ignored: bits [63:56] are taken as copies of bit 55.
    const x = r.tbi ? (va & 0x00ff_ffff_ffff_ffffn) | ((va >> 55n) & 1n ? 0xff00_0000_0000_0000n : 0n) : va;
    if (x >= r.vaStart && x <= r.vaEnd) return r;
  }
  return undefined;
}

export async function translate(
  regime: RegimeConfig,
  reader: PhysReader,
  va: bigint,
  access: Access = {},
): Promise<Translation> {
  va &= M64;
  const steps: TranslateStep[] = [];
  const root = selectRoot(regime, va);
  if (!root) {
    return {
      va,
      steps,
      fault: {
        kind: 'translation',
        level: 0,
        message: 'Translation fault, level 0 (address outside every translation range)',
      },
    };
  }
  const base = root.base;
  if (!root.enabled)
    return {
      va,
      base,
      steps,
      fault: {
        kind: root.unknown ? 'unknown' : 'disabled',
        level: root.startLevel,
        message: root.reason ?? `${base} disabled`,
      },
    };
  const fmt = root.fmt;
  const ctx: LeafContext = {
    base,
    fmt,
    perm: regime.perm,
    wxn: regime.wxn,
    ha: regime.ha,
    fwb: regime.fwb,
    mair: regime.mair,
  };
  const off = va - root.vaStart;
  let table = root.root;
  let limits = 0;
  for (let level = root.startLevel; level <= 3; level++) {
    const shift = levelShift(fmt.granule, level);
    const entries = level === root.startLevel ? root.rootEntries : 2 ** (pageShift(fmt.granule) - 3);
    const index = Number((off >> BigInt(shift)) & BigInt(entries - 1));
    const descAddr = table + BigInt(index * 8);
    const [bytes] = await reader.read([{ address: descAddr, length: 8 }]);
    if (!bytes || bytes instanceof Error) {
      steps.push({ level, table, index, descAddr });
      const why = bytes instanceof Error ? `: ${bytes.message}` : '';
      return {
        va,
        base,
        steps,
        fault: {
          kind: 'unreadable',
          level,
          message: `Synchronous External abort on translation table walk, level ${level} (descriptor at 0x${descAddr.toString(16)} unreadable${why})`,
        },
      };
    }
    const desc = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    const decoded = decodeDescriptor(desc, level, fmt);
    steps.push({ level, table, index, descAddr, desc, decoded });
    if (decoded.type === 'table') {
      if (decoded.nextTable >= 1n << BigInt(regime.paBits))
        return {
          va,
          base,
          steps,
          fault: { kind: 'addressSize', level, message: `Address size fault, level ${level}` },
        };
      if (fmt.stage === 1) limits |= Number(desc >> 59n) & (root.hpd ? LIMIT_NS : 0x1f);
      table = decoded.nextTable;
      continue;
    }
    const pageOff = va & ((1n << BigInt(shift)) - 1n);
    if (decoded.type === 'invalid') {
      const fault: TranslateFault = {
        kind: 'translation',
        level,
        message: `Translation fault, level ${level}`,
      };
      if (decoded.shadow)
        return {
          va,
          base,
          steps,
          leaf: decoded.shadow,
          leafInvalid: true,
          shadowPa: decoded.shadow.oa | pageOff,
          memType: memTypeOf(ctx, decoded.shadow),
          fault,
        };
      return { va, base, steps, fault };
    }
    const lo = Number(desc & 0xffff_ffffn);
    const hi = Number(desc >> 32n);
    const perms = effectivePerms(ctx, lo, hi, limits);
    const memType = memTypeOf(ctx, decoded);
    const pa = decoded.oa | pageOff;
    const res = { va, base, steps, leaf: decoded, perms, memType };
    if (decoded.oa >= 1n << BigInt(regime.paBits))
      return { ...res, fault: { kind: 'addressSize', level, message: `Address size fault, level ${level}` } };
    if (!decoded.af && !regime.ha)
      return { ...res, fault: { kind: 'accessFlag', level, message: `Access flag fault, level ${level}` } };
    const need = access.exec
      ? access.el0
        ? P_X0
        : P_X1
      : access.write
        ? access.el0
          ? P_W0
          : P_W1
        : access.el0
          ? P_R0
          : P_R1;
    if ((perms & need) === 0)
      return { ...res, fault: { kind: 'permission', level, message: `Permission fault, level ${level}` } };
    return { ...res, pa };
  }
  return { va, base, steps, fault: { kind: 'translation', level: 3, message: 'Translation fault, level 3' } };
}

function memTypeOf(ctx: LeafContext, d: LeafDescriptor): MemoryType {
  if (d.stage === 2) return decodeS2MemAttr(d.memAttr, ctx.fwb);
  return ctx.mair[d.attrIndx] ?? { kind: 'reserved', name: 'MAIR unknown' };
}
