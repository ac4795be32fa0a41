// The adapter's MMU model: at every stop it walks the live regimes (EL1 stage 1, stage 2 when
// HCR_EL2.VM is set) through a per-stop page cache, diffs the tables against the previous stop, and
// answers the custom requests (pageTable, translate, regimes, guardState) from that walk.
import type { DescriptorFormat } from '../aarch64/granule';
import { levelShift } from '../aarch64/granule';
import type { Leaf } from '../aarch64/leaf';
import {
  REGIME_REGISTERS,
  regimeFromRegisters,
  type BaseRegister,
  type RegimeConfig,
  type WalkRoot,
} from '../aarch64/regime';
import { translate, type Translation } from '../aarch64/translate';
import { walk, type TableInfo, type WalkResult } from '../aarch64/walk';
import type {
  FaultInfo,
  FaultVerdict,
  GuardStateArguments,
  GuardStateResponseBody,
  MmuChangedEventBody,
  PageTableArguments,
  PageTableResponseBody,
  PteChange,
  PteEntry,
  Regime,
  RegimeInfo,
  RegimesResponseBody,
  TranslateArguments,
  TranslateResponseBody,
} from '../shared/protocol';
import type { LoadedProgram } from './connect';
import { Faults } from './fault';
import { GuardModel } from './guard';
import { diffTables, type TableSnapshot } from './mmuDiff';
import { PhysCache } from './physCache';
import { stubName } from './registers';
import { buildEntry, hex, regimeInfo, walkSteps } from './pte';
import type { Stop } from './runControl';
import type { PvmfwDebugSession } from './session';
import type { StopContext } from './stopContext';

export interface RegimeWalk {
  config: RegimeConfig;
  result: WalkResult;
}

export interface MmuState {
  stopId: number;
  regs: Record<string, bigint | undefined>;
  el1: RegimeWalk;
  stage2?: RegimeWalk;
  tables: Map<number, TableSnapshot>;
  event: MmuChangedEventBody;
}

/** A table's bytes as u32 words, without a copy when the bytes are aligned. */
function toWords(b: Uint8Array): Uint32Array {
  return b.byteOffset % 4 === 0
    ? new Uint32Array(b.buffer, b.byteOffset, b.length >> 2)
    : new Uint32Array(b.slice().buffer);
}

const STATE_REGISTERS = [...new Set([...REGIME_REGISTERS.el1, ...REGIME_REGISTERS.stage2, 'pc'])];

export class MmuModel {
  readonly cache: PhysCache;
  readonly guard: GuardModel;
  readonly faults: Faults;
  private state: MmuState | undefined;
  private prevTables: Map<number, TableSnapshot> | undefined;
  private statePromise: Promise<MmuState> | undefined;
  /** RAM ranges from QEMU's memory tree: the walker reads no table outside them. */
  private ram: { start: bigint; end: bigint }[] | undefined;
  private ramLoaded = false;

  constructor(private readonly s: PvmfwDebugSession) {
    this.cache = new PhysCache(() => s.need(s.gdb));
    this.guard = new GuardModel(s, this);
    this.faults = new Faults(this, this.guard, () => s.symbols);
  }

  get lazyBit(): number {
    return this.s.config.lazyFlagBit ?? 55;
  }

  setProgram(p: LoadedProgram): void {
    this.guard.setSymbols(p.symbols);
  }

  reset(): void {
    this.state = undefined;
    this.statePromise = undefined;
    this.prevTables = undefined;
    this.cache.clear();
    this.guard.reset();
  }

  invalidateMemory(): void {
    this.cache.clear();
  }

  private async loadRam(): Promise<void> {
    if (this.ramLoaded) return;
    this.ramLoaded = true;
    try {
      const tree = await this.s.need(this.s.gdb).monitor('info mtree -f');
      const ram: { start: bigint; end: bigint }[] = [];
      // "  0000000040000000-0000000047ffffff (prio 0, ram): mach-virt.ram"
      for (const m of tree.matchAll(/^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, (?:ram|rom)\): /gim)) {
        ram.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) + 1n });
      }
      if (ram.length) this.ram = ram;
    } catch {
      // Without the memory tree the walker relies on read errors alone.
    }
  }

  isRam(pa: bigint): boolean | undefined {
    if (!this.ram) return undefined;
    return this.ram.some((r) => pa >= r.start && pa < r.end);
  }

  /** Walks everything for this stop and computes the mmuChanged body. */
  onStop(ctx: StopContext, stop: Stop): Promise<MmuChangedEventBody> {
    const t0 = performance.now();
    this.cache.clear();
    const p = this.compute(ctx, stop, t0);
    this.statePromise = p;
    return p.then((st) => st.event);
  }

  private async compute(ctx: StopContext, stop: Stop, t0: number): Promise<MmuState> {
    await this.loadRam();
    const regs = Object.fromEntries(await ctx.regs(STATE_REGISTERS));
    const opts = {
      ram: this.ram,
      maxTables: this.s.config.walkLimit ? Math.ceil(this.s.config.walkLimit / 512) : undefined,
    };
    const el1Config = regimeFromRegisters('el1', regs);
    const el1: RegimeWalk = { config: el1Config, result: await walk(el1Config, this.cache, opts) };
    let stage2: RegimeWalk | undefined;
    if (regs.VTTBR_EL2 !== undefined) {
      const c = regimeFromRegisters('stage2', regs);
      if (c.mmuEnabled) stage2 = { config: c, result: await walk(c, this.cache, opts) };
    }
    const tables = new Map<number, TableSnapshot>();
    for (const w of [el1, stage2]) {
      if (!w) continue;
      const infos = w.result.tables.filter((t) => t.read);
      const bytes = await this.cache.read(infos.map((t) => ({ address: t.pa, length: t.entries * 8 })));
      infos.forEach((info, i) => {
        const b = bytes[i];
        if (b instanceof Error) return;
        const root = w.result.roots.find((r) => r.base === info.base);
        if (root)
          tables.set(Number(info.pa), {
            info,
            fmt: root.fmt,
            regime: w.config,
            words: toWords(b),
          });
      });
    }
    const changes: PteChange[] = this.prevTables ? diffTables(this.prevTables, tables, this.lazyBit) : [];
    this.rememberPrevious(this.prevTables);
    this.prevTables = tables;
    const state: MmuState = {
      stopId: ctx.stopId,
      regs,
      el1,
      stage2,
      tables,
      event: undefined as unknown as MmuChangedEventBody,
    };
    this.state = state;
    const g = await this.guard.update(state);
    const fault =
      stop.reason === 'exception' || (await this.inVector(ctx)) ? await this.faultFor(ctx, state) : undefined;
    state.event = {
      stopId: ctx.stopId,
      reason: stop.reason,
      threadId: stop.threadId,
      pc: hex(regs.pc ?? stop.pc),
      changes,
      newAnomalies: g.newAnomalies,
      newGuardCalls: g.newCalls,
      regimes: this.regimeInfos(state),
      ...(fault ? { fault } : {}),
      guardCounts: g.counts,
      computeMs: Math.round((performance.now() - t0) * 100) / 100,
    };
    return state;
  }

  private async inVector(ctx: StopContext): Promise<boolean> {
    const r = await ctx.regs(['pc', 'VBAR_EL1']);
    const pc = r.get('pc');
    const vbar = r.get('VBAR_EL1');
    return pc !== undefined && vbar !== undefined && vbar !== 0n && pc >= vbar && pc < vbar + 0x800n;
  }

  async current(): Promise<MmuState> {
    const ctx = this.s.requireStopped();
    if (this.statePromise && this.state?.stopId === ctx.stopId) return this.statePromise;
    if (!this.statePromise || (await this.statePromise).stopId !== ctx.stopId) {
      this.statePromise = this.compute(
        ctx,
        this.s.lastStop ?? { reason: 'pause', threadId: ctx.threadId, pc: 0n },
        performance.now(),
      );
    }
    return this.statePromise;
  }

  regimeInfos(st: MmuState): RegimeInfo[] {
    const roots: WalkRoot[] = [...st.el1.config.roots, ...(st.stage2?.config.roots ?? [])];
    return roots.map((r) => {
      const info = regimeInfo(r);
      if (r.base !== 'VTTBR_EL2' && !st.el1.config.mmuEnabled && info.enabled) {
        return { ...info, enabled: false, reason: 'SCTLR_EL1.M = 0: stage-1 MMU off' };
      }
      return info;
    });
  }

  async regimesRequest(): Promise<RegimesResponseBody> {
    return { regimes: this.regimeInfos(await this.current()) };
  }

  private configFor(st: MmuState, regime: Regime): { config: RegimeConfig; root: WalkRoot } {
    const config = regime === 'VTTBR_EL2' ? st.stage2?.config : st.el1.config;
    const root = config?.roots.find((r) => r.base === regime);
    if (!config || !root) throw new Error(`${regime} is not in use at this stop`);
    return { config, root };
  }

  async pageTable(args: PageTableArguments): Promise<PageTableResponseBody> {
    const st = await this.current();
    const { config, root } = this.configFor(st, args.regime);
    const ref = args.table ?? { table: hex(root.root), level: root.startLevel, vaBase: hex(root.vaStart) };
    const pa = BigInt(ref.table);
    const entries =
      ref.level === root.startLevel && pa === root.root ? root.rootEntries : (root.granule * 1024) / 8;
    const snap = st.tables.get(Number(pa));
    let words = snap?.words;
    let error: string | undefined;
    if (!words) {
      const [b] = await this.cache.read([{ address: pa, length: entries * 8 }]);
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
    const prev = this.prevEntryWords(pa);
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
      const descNum = Number(pa) + i * 8;
      const e = buildEntry({
        base: root.base,
        regime: config,
        fmt: root.fmt,
        level: ref.level,
        index: i,
        tablePa: pa,
        vaBase,
        raw,
        lazyBit: this.lazyBit,
        leaf: this.leafAt(st, root.base, Number(vaBase + (BigInt(i) << shift)), descNum),
      });
      if (prev && (prev[2 * i] !== wlo || prev[2 * i + 1] !== whi)) e.changed = true;
      this.guard.annotate(e, st);
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

  private prevWords = new Map<number, Uint32Array>();
  private prevEntryWords(pa: bigint): Uint32Array | undefined {
    return this.prevWords.get(Number(pa));
  }
  /** Remembers the previous stop's table words for the `changed` flags of pageTable. */
  rememberPrevious(tables: Map<number, TableSnapshot> | undefined): void {
    this.prevWords = new Map([...(tables ?? new Map<number, TableSnapshot>())].map(([k, v]) => [k, v.words]));
  }

  async translateRaw(
    st: MmuState,
    address: bigint,
    regime?: Regime,
  ): Promise<{ t: Translation; regime: Regime; config: RegimeConfig }> {
    const r: Regime = regime ?? (address >> 63n ? 'TTBR1_EL1' : 'TTBR0_EL1');
    const config = r === 'VTTBR_EL2' ? st.stage2?.config : st.el1.config;
    if (!config) throw new Error(`${r} is not in use at this stop (stage 2 off)`);
    return { t: await translate(config, this.cache, address), regime: r, config };
  }

  entryForStep(st: MmuState, t: Translation, config: RegimeConfig): PteEntry | undefined {
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
      lazyBit: this.lazyBit,
      leaf: this.leafAt(st, t.base, Number(t.va & ~0xfffn), Number(last.descAddr)),
    });
    this.guard.annotate(e, st);
    return e;
  }

  async translateRequest(args: TranslateArguments): Promise<TranslateResponseBody> {
    const st = await this.current();
    const address = typeof args.address === 'number' ? BigInt(args.address) : BigInt(args.address.trim());
    const { t, regime, config } = await this.translateRaw(st, address, args.regime);
    const leaf = this.entryForStep(st, t, config);
    const out: TranslateResponseBody = {
      address: hex(address),
      regime,
      ok: t.pa !== undefined && !t.fault,
      walk: walkSteps(t.steps, this.lazyBit),
      ...(t.pa !== undefined
        ? { outputAddress: hex(t.pa) }
        : t.shadowPa !== undefined
          ? { outputAddress: hex(t.shadowPa) }
          : {}),
      ...(leaf ? { leaf } : {}),
      ...(t.fault ? { fault: t.fault.message } : {}),
    };
    if (regime !== 'VTTBR_EL2') {
      const v = this.faults.verdictForAccess(st, t);
      if (v) out.verdict = v;
      const ipa = t.pa ?? t.shadowPa;
      if (st.stage2 && ipa !== undefined) {
        const t2 = await translate(st.stage2.config, this.cache, ipa);
        out.stage2 = {
          ok: t2.pa !== undefined && !t2.fault,
          walk: walkSteps(t2.steps, this.lazyBit),
          ...(t2.pa !== undefined ? { outputAddress: hex(t2.pa) } : {}),
          ...(t2.fault ? { fault: t2.fault.message } : {}),
        };
      }
    }
    return out;
  }

  /** The pvmfw verdict for a data abort with this ESR and FAR, from the current stop's tables. */
  async verdictFor(esr: bigint, far: bigint, threadId: number): Promise<FaultVerdict | undefined> {
    // Called while classifying a stop, before the session has a context for it: read afresh.
    this.cache.clear();
    const gdb = this.s.need(this.s.gdb);
    const names = REGIME_REGISTERS.el1
      .map((n) => stubName(n, (x) => gdb.registers.get(x) !== undefined))
      .filter((n): n is string => n !== undefined);
    const raw = await gdb.readRegisters(names, threadId);
    const regs: Record<string, bigint | undefined> = {};
    for (const n of REGIME_REGISTERS.el1) {
      const real = stubName(n, (x) => gdb.registers.get(x) !== undefined);
      regs[n] = real === undefined ? undefined : raw.get(real);
    }
    const config = regimeFromRegisters('el1', regs);
    const t = await translate(config, this.cache, far);
    return this.faults.verdictForFault(esr, far, t);
  }

  async faultFor(ctx: StopContext, st: MmuState): Promise<FaultInfo | undefined> {
    return this.faults.faultInfo(ctx, st);
  }

  async fault(ctx: StopContext): Promise<FaultInfo | undefined> {
    const st = await this.current();
    return st.event?.fault ?? this.faultFor(ctx, st);
  }

  async guardState(args: GuardStateArguments): Promise<GuardStateResponseBody> {
    const st = await this.current();
    return this.guard.stateBody(
      st,
      args,
      st.event?.fault ?? (await this.faultFor(this.s.requireStopped(), st)),
    );
  }

  /** Why a virtual (or physical) read at `address` failed, in the walk's terms. */
  async explainUnreadable(space: 'virtual' | 'physical', address: bigint): Promise<string> {
    const at = `0x${address.toString(16)}`;
    if (space === 'physical') return `physical ${at}: nothing backs this address in the guest`;
    try {
      const st = await this.current();
      const { t, config } = await this.translateRaw(st, address);
      const e = this.entryForStep(st, t, config);
      if (e?.kind === 'lazy') {
        return `${at} is a pvmfw lazy MMIO page: its stage-1 L${e.level} entry ${e.descriptor} @ ${e.descriptorAddress} has MMIO_LAZY_MAP_FLAG (bit ${this.lazyBit}) set and VALID clear, so it is mapped only when the guest first touches it (handle_mmio_fault). Read it physically as p:${hex(t.shadowPa ?? address)}.`;
      }
      return `${at} has no valid translation: ${t.fault?.message ?? 'unmapped'}${e ? ` (L${e.level} entry ${e.descriptor} @ ${e.descriptorAddress})` : ''}`;
    } catch (err) {
      return `${at} is unreadable (${(err as Error).message})`;
    }
  }

  /** Whether an access at `address` reaches a device (reads have side effects). */
  async isDevice(space: 'virtual' | 'physical', address: bigint): Promise<boolean> {
    if (space === 'physical') return this.isRam(address) === false;
    try {
      const st = await this.current();
      const { t } = await this.translateRaw(st, address);
      // A read that cannot translate never reaches the device: only mapped device pages count.
      if (t.pa === undefined) return false;
      return t.memType?.kind === 'device' || this.isRam(t.pa) === false;
    } catch {
      return false;
    }
  }

  /**
   * The walk's leaf for a descriptor (it carries the limits inherited from the tables above), by
   * binary search over the root's leaves, which the walker returns in input-address order.
   */
  leafAt(st: MmuState, base: BaseRegister, va: number, descAddr: number): Leaf | undefined {
    const store = (base === 'VTTBR_EL2' ? st.stage2?.result.store : st.el1.result.store) ?? undefined;
    if (!store) return undefined;
    const rootOrder = (b: BaseRegister) => (b === 'TTBR0_EL1' ? 0 : b === 'TTBR1_EL1' ? 1 : 2);
    const want = rootOrder(base);
    let lo = 0;
    let hi = store.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const b = rootOrder(store.context(mid).base);
      const start = store.va[mid];
      if (b < want || (b === want && start + 2 ** store.shift(mid) <= va)) lo = mid + 1;
      else if (b > want || start > va) hi = mid - 1;
      else return store.descAddr[mid] === descAddr ? store.leaf(mid) : undefined;
    }
    return undefined;
  }

  tableInfo(st: MmuState, pa: number): TableInfo | undefined {
    return st.tables.get(pa)?.info;
  }

  formatOf(st: MmuState, base: BaseRegister): DescriptorFormat | undefined {
    return [...st.el1.config.roots, ...(st.stage2?.config.roots ?? [])].find((r) => r.base === base)?.fmt;
  }
}
