// Turns raw descriptors and walker results into the protocol's PteEntry / RegimeInfo / WalkStep.
import { decodeDescriptor, type Descriptor, type LeafDescriptor } from '../aarch64/descriptor';
import { levelShift, type DescriptorFormat } from '../aarch64/granule';
import { effectivePerms, formatPerms, type Leaf, type LeafContext } from '../aarch64/leaf';
import { decodeS2MemAttr } from '../aarch64/mair';
import type { BaseRegister, RegimeConfig, WalkRoot } from '../aarch64/regime';
import type { TranslateStep } from '../aarch64/translate';
import { entryBits } from '../profiles/entry';
import type { Meaning, Profile } from '../profiles/types';
import type { Hex, PteAttributes, PteEntry, PteKind, Regime, RegimeInfo, WalkStep } from '../shared/protocol';
import { formatAddress, formatDescriptor } from '../shared/format';

export const hex = (v: bigint | number): Hex => `0x${BigInt.asUintN(64, BigInt(v)).toString(16)}`;
const M64 = (1n << 64n) - 1n;

export function toRegime(b: BaseRegister): Regime {
  return b;
}

export function regimeInfo(root: WalkRoot): RegimeInfo {
  return {
    regime: toRegime(root.base),
    enabled: root.enabled,
    ...(root.reason ? { reason: root.reason } : {}),
    ttbr: hex(root.ttbr),
    rootTable: hex(root.root),
    ...(root.asid !== undefined && root.base !== 'VTTBR_EL2' ? { asid: root.asid } : {}),
    ...(root.vmid !== undefined ? { vmid: root.vmid } : {}),
    granule: root.granule * 1024,
    startLevel: root.startLevel,
    inputBits: root.inputBits,
    vaStart: hex(root.vaStart),
    vaEnd: hex(root.vaEnd),
  };
}

/** `lazyBit` undefined: no lazy-MMIO profile applies, an invalid entry with bits is just that. */
export function pteKind(d: Descriptor, lazyBit: number | undefined): PteKind {
  if (d.type === 'table') return 'table';
  if (d.type !== 'invalid') return d.type;
  if (d.reason === 'zero') return 'invalid';
  if (d.reason === 'reserved') return 'reserved';
  return lazyBit !== undefined && (d.raw >> BigInt(lazyBit)) & 1n ? 'lazy' : 'invalidWithBits';
}

const SH = ['non', 'reserved', 'outer', 'inner'] as const;

function attributes(leaf: LeafDescriptor, ctx: LeafContext, limits: number): PteAttributes {
  const lo = Number(leaf.raw & 0xffff_ffffn);
  const hi = Number((leaf.raw >> 32n) & 0xffff_ffffn);
  const perms = formatPerms(ctx.perm, effectivePerms(ctx, lo, hi, limits));
  const sh = SH[leaf.sh] === 'reserved' ? 'reserved' : SH[leaf.sh];
  if (leaf.stage === 2) {
    return {
      memoryType: decodeS2MemAttr(leaf.memAttr, ctx.fwb).name,
      attrIndx: leaf.memAttr,
      permissions: perms,
      readOnly: (leaf.s2ap & 2) === 0,
      user: false,
      executeNeverEl1: (leaf.xn & 2) !== 0,
      executeNeverEl0: (leaf.xn & 2) !== 0,
      accessed: leaf.af,
      nonGlobal: false,
      shareability: sh === 'outer' ? 'outer' : sh,
      contiguous: leaf.contiguous,
      dirtyBitModifier: leaf.dbm,
      software: leaf.sw,
    };
  }
  return {
    memoryType: ctx.mair[leaf.attrIndx]?.name ?? 'MAIR unknown',
    attrIndx: leaf.attrIndx,
    permissions: perms,
    readOnly: (leaf.ap & 2) !== 0,
    user: (leaf.ap & 1) !== 0,
    executeNeverEl1: leaf.pxn,
    executeNeverEl0: leaf.uxn,
    accessed: leaf.af,
    nonGlobal: leaf.nG,
    shareability: sh,
    contiguous: leaf.contiguous,
    dirtyBitModifier: leaf.dbm,
    software: leaf.sw,
  };
}

function fieldLines(
  d: Descriptor,
  kind: PteKind,
  attrs: PteAttributes | undefined,
  lazyBit: number | undefined,
  meaning: Meaning | undefined,
  profile: Profile | undefined,
): string[] {
  const lines = [`descriptor = ${formatDescriptor(d.raw)}`, `kind = ${kind}`];
  if (d.type === 'table') {
    lines.push(`next table = ${formatAddress(d.nextTable)}`);
    lines.push(
      `PXNTable = ${d.pxnTable ? 1 : 0}, XNTable = ${d.xnTable ? 1 : 0}, APTable = ${d.apTable}, NSTable = ${d.nsTable ? 1 : 0}`,
    );
  }
  const leaf = d.type === 'block' || d.type === 'page' ? d : d.type === 'invalid' ? d.shadow : undefined;
  if (leaf) {
    if (d.type === 'invalid' && !meaning)
      lines.push('VALID = 0 (bits below decoded as the leaf they would be)');
    lines.push(`OA = ${formatAddress(leaf.oa)}`);
    if (attrs) {
      lines.push(`AttrIndx = ${attrs.attrIndx} (${attrs.memoryType})`);
      lines.push(`permissions = ${attrs.permissions}`);
      lines.push(
        `AF = ${attrs.accessed ? 1 : 0}, nG = ${attrs.nonGlobal ? 1 : 0}, SH = ${attrs.shareability}`,
      );
      lines.push(
        `PXN = ${attrs.executeNeverEl1 ? 1 : 0}, UXN = ${attrs.executeNeverEl0 ? 1 : 0}, Contiguous = ${attrs.contiguous ? 1 : 0}, DBM = ${attrs.dirtyBitModifier ? 1 : 0}`,
      );
      lines.push(
        `software [58:55] = 0b${attrs.software.toString(2).padStart(4, '0')}${lazyBit !== undefined && (d.raw >> BigInt(lazyBit)) & 1n ? ` (bit ${lazyBit} = MMIO_LAZY_MAP_FLAG)` : ''}`,
      );
    }
  }
  if (meaning && profile) {
    lines.push(`${profile.id}: ${meaning.label}`);
    for (const f of meaning.fields) lines.push(`  ${f}`);
  }
  return lines;
}

export interface EntryInput {
  base: BaseRegister;
  regime: RegimeConfig;
  fmt: DescriptorFormat;
  level: number;
  index: number;
  tablePa: bigint;
  /** Input address of entry 0 of the table. */
  vaBase: bigint;
  raw: bigint;
  lazyBit: number;
  /** Walker leaf for this descriptor (carries the inherited table limits), if any. */
  leaf?: Leaf;
  /** The regime's profile: what its software bits mean (pvmfw's lazy MMIO when absent). */
  profile?: Profile;
}

export function buildEntry(e: EntryInput): PteEntry {
  const d = decodeDescriptor(e.raw, e.level, e.fmt);
  const lazyBit = !e.profile || e.profile.lazyMmio ? e.lazyBit : undefined;
  const kind = pteKind(d, lazyBit);
  const meaning =
    e.profile && d.type !== 'table'
      ? e.profile.meaning(
          entryBits({
            raw: e.raw,
            level: e.level,
            fmt: e.fmt,
            base: e.base,
            mair: e.regime.mair,
            fwb: e.regime.fwb,
          }),
        )
      : undefined;
  const shift = levelShift(e.fmt.granule, e.level);
  const vaStart = (e.vaBase + (BigInt(e.index) << BigInt(shift))) & M64;
  const size = 2 ** shift;
  const descAddr = e.tablePa + BigInt(e.index * 8);
  const ctx: LeafContext = {
    base: e.base,
    fmt: e.fmt,
    perm: e.regime.perm,
    wxn: e.regime.wxn,
    ha: e.regime.ha,
    fwb: e.regime.fwb,
    mair: e.regime.mair,
  };
  const leafDesc = d.type === 'block' || d.type === 'page' ? d : d.type === 'invalid' ? d.shadow : undefined;
  const attrs = leafDesc ? attributes(leafDesc, ctx, e.leaf?.limits ?? 0) : undefined;
  const entry: PteEntry = {
    id: `${e.base}/${e.level}/${hex(descAddr)}`,
    regime: toRegime(e.base),
    level: e.level,
    index: e.index,
    descriptorAddress: hex(descAddr),
    descriptor: hex(e.raw),
    kind,
    vaStart: hex(vaStart),
    vaEnd: hex(vaStart + BigInt(size) - 1n),
    size,
    fields: fieldLines(d, kind, attrs, lazyBit, meaning, e.profile),
  };
  if (meaning) entry.meaning = meaning.label;
  if (d.type === 'table') {
    entry.outputAddress = hex(d.nextTable);
    entry.child = { table: hex(d.nextTable), level: e.level + 1, vaBase: hex(vaStart) };
  } else if (leafDesc) {
    entry.outputAddress = hex(leafDesc.oa);
  }
  if (attrs) entry.attributes = attrs;
  return entry;
}

export function walkSteps(steps: readonly TranslateStep[], lazyBit: number | undefined): WalkStep[] {
  return steps.map((s) => {
    const k = s.decoded ? pteKind(s.decoded, lazyBit) : undefined;
    return {
      level: s.level,
      table: hex(s.table),
      index: s.index,
      descriptorAddress: hex(s.descAddr),
      ...(s.desc !== undefined ? { descriptor: hex(s.desc) } : {}),
      ...(k ? { kind: k } : {}),
      ...(s.desc === undefined
        ? { stop: 'unreadable table' }
        : k === 'invalid' || k === 'lazy' || k === 'invalidWithBits'
          ? { stop: 'invalid entry' }
          : {}),
    };
  });
}
