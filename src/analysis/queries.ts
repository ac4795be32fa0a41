// Questions asked of one stop's picture: a table's entries (listings, the tree), the translation of
// an address with the entry that decides it and pvmfw's verdict, why an address cannot be read.
// Every answer is built from the picture and the same reader the picture was built with.
import { levelShift } from '../aarch64/granule';
import type { Leaf } from '../aarch64/leaf';
import { findLeaf, ipaToPa } from '../aarch64/ipa';
import type { LeafStore } from '../aarch64/leafstore';
import type { BaseRegister, RegimeConfig, WalkRoot } from '../aarch64/regime';
import { translate, type Translation } from '../aarch64/translate';
import { translateTwoStage, type TwoStageTranslation } from '../aarch64/twoStage';
import type {
  PageTableArguments,
  PageTableResponseBody,
  PteEntry,
  Regime,
  TranslateArguments,
  TranslateResponseBody,
} from '../shared/protocol';
import { formatAddress, formatDescriptor } from '../shared/format';
import { profileById } from '../profiles/choose';
import type { Profile } from '../profiles/types';
import { verdictForAccess } from './fault';
import { annotateEntry } from './guardState';
import type { RegimeWalk, StopPicture } from './picture';
import { toWords } from './picture';
import { buildEntry, hex, regimeInfo, walkSteps } from './pte';
import { stage2For } from '../aarch64/twoStage';
import { stage2Body, stepMeaning, twoStageBody } from './translation';

const lazyBitOf = (p: StopPicture) => p.input.options.lazyBit;

function walkOf(p: StopPicture, regime: Regime): RegimeWalk {
  const w = regime === 'VTTBR_EL2' ? p.stage2 : regime === 'TTBR0_EL2' ? p.el2 : p.el1;
  if (!w)
    throw new Error(
      `${regime} is not in use at this stop (${regime === 'TTBR0_EL2' ? 'the EL2 MMU is off' : 'stage 2 off'})`,
    );
  return w;
}

/** The profile of a regime's tables at this stop (pvmfw's lazy bit configured). */
export function profileOf(p: StopPicture, regime: Regime): Profile {
  const r = regime === 'VTTBR_EL2' ? 'stage2' : regime === 'TTBR0_EL2' ? 'el2' : 'el1';
  return profileById(p.profiles[r].profile, p.input.options.lazyBit);
}

function configFor(p: StopPicture, regime: Regime): { config: RegimeConfig; root: WalkRoot; w: RegimeWalk } {
  const w = walkOf(p, regime);
  const root = w.config.roots.find((r) => r.base === regime);
  if (!root) throw new Error(`${regime} is not in use at this stop`);
  return { config: w.config, root, w };
}

/**
 * The walk's leaf for a descriptor (it carries the limits inherited from the tables above), by
 * binary search over the root's leaves, which the walker returns in input-address order.
 */
export function leafAt(p: StopPicture, base: BaseRegister, va: number, descAddr: number): Leaf | undefined {
  const store =
    (base === 'VTTBR_EL2'
      ? p.stage2?.result.store
      : base === 'TTBR0_EL2'
        ? p.el2?.result.store
        : p.el1.result.store) ?? undefined;
  if (!store) return undefined;
  const rootOrder = (b: BaseRegister) => (b === 'TTBR0_EL1' ? 0 : b === 'TTBR1_EL1' ? 1 : 2);
  const want = rootOrder(base);
  let lo = 0;
  let hi = store.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const b = rootOrder(store.context(mid).base);
    const start = store.vaOf(mid);
    if (b < want || (b === want && start + 2 ** store.shift(mid) <= va)) lo = mid + 1;
    else if (b > want || start > va) hi = mid - 1;
    else return store.descAddrOf(mid) === descAddr ? store.leaf(mid) : undefined;
  }
  return undefined;
}

/** The leaf of a walk covering input address `addr` (the store is sorted by input address). */
export function leafCovering(store: LeafStore, addr: number): Leaf | undefined {
  const i = findLeaf(store, addr);
  return i < 0 ? undefined : store.leaf(i);
}

/** The PA a stage-2 walk maps an IPA to; undefined where it maps none. */
export function stage2PaOf(store: LeafStore): (ipa: number) => number | undefined {
  return (ipa) => {
    const pa = ipaToPa(store, BigInt(ipa));
    return pa === undefined ? undefined : Number(pa);
  };
}

/**
 * One table of a regime as PteEntry rows, filtered by a VA window and paged. `previous` holds the
 * previous stop's table words by address, for the `changed` flags.
 */
export async function pageTable(
  p: StopPicture,
  args: PageTableArguments,
  previous?: ReadonlyMap<number, Uint32Array>,
): Promise<PageTableResponseBody> {
  const { config, root, w } = configFor(p, args.regime);
  const ref = args.table ?? { table: hex(root.root), level: root.startLevel, vaBase: hex(root.vaStart) };
  const pa = BigInt(ref.table);
  const entries =
    ref.level === root.startLevel && pa === root.root ? root.rootEntries : (root.granule * 1024) / 8;
  const snap = p.tables.get(Number(pa));
  let words = snap?.words;
  let error: string | undefined;
  if (!words) {
    const [b] = await w.reader.read([{ address: pa, length: entries * 8 }]);
    if (b instanceof Error) error = `table at ${ref.table} unreadable: ${b.message}`;
    else words = toWords(b);
  }
  const out: PteEntry[] = [];
  const start = Math.max(0, args.start ?? 0);
  const count = Math.max(1, Math.min(args.count ?? entries, entries));
  const lo = args.vaStart !== undefined ? BigInt(args.vaStart) : undefined;
  const hi = args.vaEnd !== undefined ? BigInt(args.vaEnd) : undefined;
  const shift = BigInt(levelShift(root.fmt.granule, ref.level));
  const vaBase = BigInt(ref.vaBase);
  let nonZero = 0;
  let nextStart: number | undefined;
  const prev = previous?.get(Number(pa));
  const profile = profileOf(p, args.regime);
  const el1 = args.regime === 'TTBR0_EL1' || args.regime === 'TTBR1_EL1';
  const finalPa = el1 && p.stage2 ? stage2PaOf(p.stage2.result.store) : undefined;
  for (let i = 0; words && i < entries; i++) {
    const wlo = words[2 * i];
    const whi = words[2 * i + 1];
    if (wlo === 0 && whi === 0 && !args.includeZero) continue;
    if (wlo !== 0 || whi !== 0) nonZero++;
    if (i < start) continue;
    const va = vaBase + (BigInt(i) << shift);
    if ((lo !== undefined && va + (1n << shift) - 1n < lo) || (hi !== undefined && va > hi)) continue;
    if (out.length >= count) {
      nextStart ??= i;
      continue;
    }
    const raw = (BigInt(whi >>> 0) << 32n) | BigInt(wlo >>> 0);
    const e = buildEntry({
      base: root.base,
      regime: config,
      fmt: root.fmt,
      level: ref.level,
      index: i,
      tablePa: pa,
      vaBase,
      raw,
      lazyBit: lazyBitOf(p),
      leaf: leafAt(p, root.base, Number(va), Number(pa) + i * 8),
      profile,
    });
    if (prev && (prev[2 * i] !== wlo || prev[2 * i + 1] !== whi)) e.changed = true;
    if (finalPa && e.outputAddress !== undefined) {
      // A stage-1 regime under stage 2 outputs IPAs: say so, and where stage 2 puts a leaf's.
      e.outputIsIpa = true;
      const f = e.kind !== 'table' ? finalPa(Number(BigInt(e.outputAddress))) : undefined;
      if (f !== undefined) e.finalAddress = hex(f);
    }
    // Its tables are read at IPAs too: where the descriptor itself is, physically.
    if (finalPa) {
      const d = finalPa(Number(pa) + i * 8);
      if (d !== undefined) e.descriptorPa = hex(d);
    }
    annotateEntry(e, p.guard);
    out.push(e);
  }
  return {
    regime: regimeInfo(root),
    table: ref,
    entries: out,
    ...(nextStart !== undefined ? { nextStart } : {}),
    nonZeroEntries: nonZero,
    ...(error ? { error } : {}),
  };
}

/**
 * The translation of `address` in `regime` (TTBR0/TTBR1 by the address's top bit by default). `t`
 * is the stage-1 walk (VA -> IPA under stage 2); `two` carries it on through stage 2 when stage 2
 * applies (HCR_EL2.VM = 1), with the final PA, both stages' faults and the combined attributes.
 */
export async function translateIn(
  p: StopPicture,
  address: bigint,
  regime?: Regime,
): Promise<{ t: Translation; two: TwoStageTranslation; regime: Regime; config: RegimeConfig }> {
  const r: Regime = regime ?? (address >> 63n ? 'TTBR1_EL1' : 'TTBR0_EL1');
  const w = walkOf(p, r);
  if (r === 'VTTBR_EL2') {
    const t = await translate(w.config, w.reader, address);
    const two: TwoStageTranslation = {
      va: t.va,
      twoStage: false,
      stage1: t,
      ...(t.pa !== undefined ? { pa: t.pa } : {}),
    };
    return { t, two, regime: r, config: w.config };
  }
  // Stage-1 tables are fetched through stage 2 by translateTwoStage itself: it reads physically.
  // Stage 2 translates EL1&0 only: the hypervisor's own EL2 regime is a single stage.
  const s2 = r === 'TTBR0_EL2' ? undefined : stage2For(p.input.registers);
  const two = await translateTwoStage(w.config, s2, p.input.reader, address);
  return { t: two.stage1, two, regime: r, config: w.config };
}

/** The entry that decided a translation (its last step), decoded and annotated. */
export function entryForStep(p: StopPicture, t: Translation, config: RegimeConfig): PteEntry | undefined {
  const last = t.steps[t.steps.length - 1];
  if (!last || last.desc === undefined || !t.base) return undefined;
  const root = config.roots.find((r) => r.base === t.base);
  if (!root) return undefined;
  // The table holding the last descriptor starts at VA with the bits it and its level index clear.
  const span = BigInt(levelShift(root.fmt.granule, last.level) + Math.log2(root.granule * 128));
  const vaBase = root.vaStart + (((t.va - root.vaStart) >> span) << span);
  const e = buildEntry({
    base: t.base,
    regime: config,
    fmt: root.fmt,
    level: last.level,
    index: last.index,
    tablePa: last.table,
    vaBase: last.level === root.startLevel ? root.vaStart : vaBase,
    raw: last.desc,
    lazyBit: lazyBitOf(p),
    leaf: leafAt(p, t.base, Number(t.va & ~0xfffn), Number(last.descAddr)),
    profile: profileOf(p, t.base),
  });
  annotateEntry(e, p.guard);
  return e;
}

export async function translateQuery(
  p: StopPicture,
  args: TranslateArguments,
): Promise<TranslateResponseBody> {
  const address = typeof args.address === 'number' ? BigInt(args.address) : BigInt(args.address.trim());
  const { t, two, regime, config } = await translateIn(p, address, args.regime);
  // pvmfw's lazy entries and verdicts exist only under its profile.
  const pvmfw = profileOf(p, regime).lazyMmio;
  const lazyBit = pvmfw ? lazyBitOf(p) : undefined;
  const leaf = entryForStep(p, t, config);
  const s2 = p.stage2 && { profile: profileOf(p, 'VTTBR_EL2'), config: p.stage2.config };
  if (regime === 'VTTBR_EL2') {
    // An IPA through stage 2 alone.
    const body = stage2Body(t, lazyBit, undefined, s2);
    return {
      address: hex(address),
      regime,
      ok: body.ok,
      walk: body.walk,
      ...(t.pa !== undefined ? { outputAddress: hex(t.pa) } : {}),
      ...(leaf ? { leaf } : {}),
      ...(t.fault ? { fault: t.fault.message, faultStage: 2 as const } : {}),
    };
  }
  const out: TranslateResponseBody = {
    address: hex(address),
    regime,
    walk: walkSteps(t.steps, lazyBit),
    ...twoStageBody(two, lazyBit, s2),
    ...(leaf ? { leaf } : {}),
  };
  // pvmfw's verdict is about its own (stage-1) tables; a stage-2 fault, even one on the stage-1
  // walk (S1PTW), is taken to EL2 and never reaches pvmfw's handler.
  const v =
    two.fault?.stage === 2 || lazyBit === undefined
      ? undefined
      : verdictForAccess(t, lazyBit, p.guard.firmware);
  if (v) out.verdict = v;
  return out;
}

/** Why a virtual read at `address` fails, in the walk's terms. */
export async function explainUnreadable(p: StopPicture, address: bigint): Promise<string> {
  const at = formatAddress(address);
  try {
    const { t, two, config } = await translateIn(p, address);
    const e = entryForStep(p, t, config);
    const where = e
      ? ` (L${e.level} entry ${formatDescriptor(e.descriptor)} @ ${formatAddress(e.descriptorAddress)})`
      : '';
    if (e?.kind === 'lazy') {
      // Under stage 2 the lazy leaf names an IPA: physically it is where stage 2 maps it, if it does.
      const pa = two.twoStage ? two.ipaPa : t.shadowPa;
      const read =
        pa !== undefined
          ? `Read it physically as p:${formatAddress(pa)}.`
          : // pKVM maps guarded MMIO one to one at stage 2, so the IPA is where the device is.
            `Its IPA ${formatAddress(two.ipa ?? address)} is not mapped at stage 2 either (${two.stage2?.fault?.message ?? 'no stage-2 translation'}); where stage 2 maps MMIO one to one (pKVM's guard mappings), read it physically as p:${formatAddress(two.ipa ?? address)}.`;
      return `${at} is a pvmfw lazy MMIO page: its stage-1 L${e.level} entry ${formatDescriptor(e.descriptor)} @ ${formatAddress(e.descriptorAddress)} has MMIO_LAZY_MAP_FLAG (bit ${lazyBitOf(p)}) set and VALID clear, so it is mapped only when the guest first touches it (handle_mmio_fault). ${read}`;
    }
    if (two.fault?.stage === 2) {
      // Stage 1 translates (or its walk itself faulted at stage 2): the CPU takes a stage-2 fault.
      const s1 = two.fault.s1ptw ? '' : ` Stage 1 maps it to IPA ${formatAddress(two.ipa ?? 0n)}${where}.`;
      const m = two.stage2 && p.stage2 && stepMeaning(two.stage2, p.stage2.config, profileOf(p, 'VTTBR_EL2'));
      return `${at} has no valid translation: ${two.fault.message}.${s1}${m ? ` Stage 2 (${p.profiles.stage2.profile}): ${m}.` : ''}`;
    }
    return `${at} has no valid translation: ${t.fault?.message ?? 'unmapped'}${where}`;
  } catch (err) {
    return `${at} is unreadable (${(err as Error).message})`;
  }
}
