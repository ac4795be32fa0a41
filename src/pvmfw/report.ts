// The JSON report of a walk (the CLI's --json, golden dumps): plain JSON, 64-bit values as hex text.

import {
  coalesce,
  formatPerms,
  hex,
  type Leaf,
  P_R0,
  P_R1,
  P_W0,
  P_W1,
  P_X0,
  P_X1,
  type WalkResult,
} from '../aarch64';
import { lazyState, type GuardReport, type LazyState } from './classify';
import { DEFAULT_LAZY_BIT } from './flags';

export interface JsonPerms {
  /** "RW-/---" (EL1/EL0), "RWX" (EL2), "RW-/x0" (stage 2). */
  readonly text: string;
  readonly read: boolean;
  readonly write: boolean;
  readonly exec: boolean;
  readonly el0Read: boolean;
  readonly el0Write: boolean;
  readonly el0Exec: boolean;
}

export interface JsonLeaf {
  readonly base: string;
  readonly va: string;
  readonly pa: string;
  readonly size: string;
  readonly level: number;
  readonly desc: string;
  readonly descAddr: string;
  readonly valid: boolean;
  readonly kind: string;
  readonly memType: string;
  readonly perms: JsonPerms;
  readonly swBits: number;
  readonly lazy: LazyState;
}

export interface JsonRegion {
  readonly base: string;
  readonly va: string;
  readonly pa: string;
  readonly size: string;
  readonly count: number;
  readonly valid: boolean;
  readonly kind: string;
  readonly memType: string;
  readonly perms: string;
  readonly lazy: LazyState;
}

export interface JsonAnomaly {
  readonly kind: string;
  readonly severity: string;
  readonly va?: string;
  readonly ipa?: string;
  readonly descAddr?: string;
  readonly message: string;
}

export interface JsonReport {
  readonly regime: {
    readonly kind: string;
    readonly registers: Record<string, string>;
    readonly roots: {
      base: string;
      enabled: boolean;
      reason?: string;
      root: string;
      startLevel: number;
      inputBits: number;
      granule: number;
      vaStart: string;
      vaEnd: string;
    }[];
    readonly problems: readonly string[];
  };
  readonly leaves: JsonLeaf[];
  readonly regions: JsonRegion[];
  readonly anomalies: JsonAnomaly[];
  readonly stats: {
    tablesRead: number;
    bytes: number;
    packets?: number;
    readCalls: number;
    leaves: number;
    ms: number;
  };
}

export function permsJson(l: Leaf): JsonPerms {
  const p = l.perms;
  return {
    text: formatPerms(l.ctx.perm, p),
    read: (p & P_R1) !== 0,
    write: (p & P_W1) !== 0,
    exec: (p & P_X1) !== 0,
    el0Read: (p & P_R0) !== 0,
    el0Write: (p & P_W0) !== 0,
    el0Exec: (p & P_X0) !== 0,
  };
}

export function leafJson(l: Leaf, lazyBit = DEFAULT_LAZY_BIT): JsonLeaf {
  return {
    base: l.base,
    va: hex(l.va),
    pa: hex(l.pa),
    size: hex(l.size),
    level: l.level,
    desc: hex(l.desc, 16),
    descAddr: hex(l.descAddr),
    valid: l.valid,
    kind: l.kind,
    memType: l.memType.name,
    perms: permsJson(l),
    swBits: l.swBits,
    lazy: lazyState(l, lazyBit),
  };
}

export function reportJson(
  w: WalkResult,
  guard?: GuardReport,
  extra: { packets?: number; ms?: number } = {},
): JsonReport {
  const bit = guard?.lazyBit ?? DEFAULT_LAZY_BIT;
  const registers: Record<string, string> = {};
  for (const [k, v] of Object.entries(w.regime.registers)) registers[k] = hex(v, 16);
  return {
    regime: {
      kind: w.regime.kind,
      registers,
      roots: w.roots.map((r) => ({
        base: r.base,
        enabled: r.enabled,
        ...(r.reason ? { reason: r.reason } : {}),
        root: hex(r.root),
        startLevel: r.startLevel,
        inputBits: r.inputBits,
        granule: r.granule * 1024,
        vaStart: hex(r.vaStart, 16),
        vaEnd: hex(r.vaEnd, 16),
      })),
      problems: w.regime.problems,
    },
    leaves: w.leaves.map((l) => leafJson(l, bit)),
    regions: coalesce(w.store).map((g) => ({
      base: g.base,
      va: hex(g.va),
      pa: hex(g.pa),
      size: hex(g.size),
      count: g.count,
      valid: g.first.valid,
      kind: g.first.kind,
      memType: g.first.memType.name,
      perms: formatPerms(g.first.ctx.perm, g.first.perms),
      lazy: lazyState(g.first, bit),
    })),
    anomalies: (
      guard?.anomalies ??
      w.diagnostics.map((d) => ({
        kind: 'walkError' as const,
        severity: 'error' as const,
        va: d.va,
        descAddr: d.descAddr,
        message: d.message,
      }))
    ).map((a) => ({
      kind: a.kind,
      severity: a.severity,
      ...(a.va !== undefined ? { va: hex(a.va) } : {}),
      ...('ipa' in a && a.ipa !== undefined ? { ipa: hex(a.ipa) } : {}),
      ...(a.descAddr !== undefined ? { descAddr: hex(a.descAddr) } : {}),
      message: a.message,
    })),
    stats: {
      tablesRead: w.stats.tablesRead,
      bytes: w.stats.bytesRead,
      ...(extra.packets !== undefined ? { packets: extra.packets } : {}),
      readCalls: w.stats.readCalls,
      leaves: w.stats.leaves,
      ms: Math.round((extra.ms ?? w.stats.ms) * 10) / 10,
    },
  };
}
