// The adapter's side of the MMU: at every stop it gathers the stop's inputs (registers, a per-stop
// physical page cache over the gdbstub, the program's symbols, QEMU's RAM map) and hands them to the
// analysis core (src/analysis), keeps that picture for the stop, and answers the custom requests
// from it. All semantics live in src/analysis; nothing here decides what an entry or a fault means.
import { REGIME_REGISTERS } from '../aarch64/regime';
import {
  analyzeStop,
  explainUnreadable,
  guardReport,
  ownershipSummary,
  pageTable,
  regimeInfos,
  rootPicture,
  STOP_REGISTERS,
  stopSummary,
  translateIn,
  translateEl1,
  translateQuery,
  verdictForFault,
  programSymbols,
  programIdentity,
  makeSnapshot,
  RecordingReader,
  WalkReuse,
  type ProgramIdentity,
  type StopInput,
  type StopPicture,
} from '../analysis';
import type { GdbClient } from '../gdb';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type {
  FaultInfo,
  OwnershipResponseBody,
  FaultVerdict,
  GuardStateArguments,
  GuardStateResponseBody,
  MmuChangedEventBody,
  PageTableArguments,
  PageTableResponseBody,
  RegimesResponseBody,
  SnapshotResponseBody,
  TranslateArguments,
  TranslateResponseBody,
} from '../shared/protocol';
import type { LoadedProgram } from '../target/connect';
import { PhysCache } from '../target/physCache';
import type { TargetPort } from '../target/port';
import type { Stop } from '../target/runControl';
import { StopContext } from '../target/stopContext';
import { switchedOff } from '../target/switches';
import type { SymbolTable } from '../elf/symbolTable';
import { parseProfileOverride, profileById } from '../profiles/choose';

/** What the MMU model needs of the session, and nothing more. */
export interface MmuHost {
  readonly gdb: GdbClient | undefined;
  readonly port: TargetPort | undefined;
  readonly symbols: SymbolTable;
  readonly config: { lazyFlagBit?: number; walkLimit?: number; guardLogSymbol?: string; profile?: string };
  readonly lastStop: Stop | undefined;
  need<T>(v: T | undefined): T;
  requireStopped(): StopContext;
}

export class MmuModel {
  readonly cache: PhysCache;
  private picture: Promise<StopPicture> | undefined;
  private pictureStop: number | undefined;
  /**
   * The EL1 root tables' own pictures at this stop (rootPicture), made when the tree asks before the
   * whole walk is done, and whether `picture` is done (rootListingEarly answers from them until then).
   */
  private roots: Promise<Partial<Record<'TTBR0_EL1' | 'TTBR1_EL1', StopPicture>>> | undefined;
  /** What the current stop's picture is computed from (the root pictures are made from it too). */
  private pictureInput: Promise<StopInput> | undefined;
  private pictureDone = false;
  /**
   * The last picture computed, the base of the next stop's diff; at a new stop only what the diff and
   * the fault verdicts need of it is kept (its leaves, most of the memory of a big guest, go first).
   */
  private previous: Pick<StopPicture, 'tables' | 'guard' | 'profiles'> | undefined;
  /** The previous stop's table words by address (the `changed` flags of pageTable). */
  private previousWords: ReadonlyMap<number, Uint32Array> = new Map();
  /** RAM ranges from QEMU's memory tree: the walker reads no table outside them. */
  private ram: { start: bigint; end: bigint }[] | undefined;
  private ramLoaded = false;
  /**
   * The target's stop number at the last restart: stops are numbered for users from the session's
   * start or its last restart (the target's own counter never goes back, so nothing keyed on a
   * stop context can take a new stop for an old one).
   */
  private stopBase = 0;

  /** This session's last walks, reused at a stop that changed none of their tables (WalkReuse). */
  private readonly reuse = new WalkReuse();

  constructor(private readonly s: MmuHost) {
    this.cache = new PhysCache(() => s.need(s.port));
  }

  get lazyBit(): number {
    return this.s.config.lazyFlagBit ?? 55;
  }

  setProgram(_p: LoadedProgram): void {
    // Symbols are read from the session at every stop (StopInput.symbols).
  }

  /** Forgets every stop (a restart): `stopBase` is the target's last stop number before it. */
  reset(stopBase = this.stopBase): void {
    this.stopBase = stopBase;
    this.picture = undefined;
    this.pictureInput = undefined;
    this.pictureStop = undefined;
    this.roots = undefined;
    this.previous = undefined;
    this.previousWords = new Map();
    this.cache.forget();
    this.reuse.clear();
  }

  invalidateMemory(): void {
    this.cache.clear();
  }

  private async loadRam(): Promise<void> {
    if (this.ramLoaded) return;
    this.ramLoaded = true;
    try {
      const tree = await this.s.need(this.s.port).monitor('info mtree -f');
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

  private async input(ctx: StopContext, stop: Stop): Promise<StopInput> {
    await this.loadRam();
    const regs = await ctx.regs(STOP_REGISTERS);
    const c = this.s.config;
    return {
      stopId: ctx.stopId - this.stopBase,
      reason: stop.reason,
      threadId: stop.threadId,
      registers: Object.fromEntries(regs),
      reader: this.cache,
      // PVMFW_MMU_WALK_REUSE=off walks at every stop (benchmarks measure both).
      ...(switchedOff('PVMFW_MMU_WALK_REUSE') ? {} : { reuse: this.reuse }),
      symbols: programSymbols(this.s.symbols),
      options: {
        lazyBit: this.lazyBit,
        guardLogSymbol: c.guardLogSymbol ?? 'guard_log',
        ...(c.walkLimit ? { maxTables: Math.ceil(c.walkLimit / 512) } : {}),
        ...(this.ram ? { ram: this.ram } : {}),
        // Validated at launch (requestArgs.ts): parsing cannot fail here.
        profile: parseProfileOverride(c.profile),
      },
    };
  }

  private analyze(ctx: StopContext, stop: Stop): Promise<StopPicture> {
    const input = this.input(ctx, stop);
    this.pictureInput = input;
    this.roots = undefined;
    // Through the gdbstub the root pictures come first: the tree's first request follows the stop at
    // once, and the root's tables would otherwise queue behind the walk's batches on the link. Read
    // locally, they are made only if the tree asks before the picture is done (rootListingEarly).
    const first = this.s.port?.memoryPath?.path === 'gdbstub' ? this.rootPictures() : undefined;
    const p = first ? first.then(() => input).then(analyzeStop) : input.then(analyzeStop);
    this.picture = p;
    this.pictureStop = ctx.stopId;
    this.pictureDone = false;
    const done = () => {
      if (this.picture === p) this.pictureDone = true;
    };
    p.then(done, done);
    return p;
  }

  /**
   * The root listing of an EL1 regime while this stop's picture is still being computed, from that
   * root table alone (rootPicture: the same entries, without waiting for a big guest's whole walk);
   * undefined when the picture is done or the listing needs it (stage 2, pvmfw's guard state).
   */
  private async rootListingEarly(args: PageTableArguments): Promise<PageTableResponseBody | undefined> {
    if (args.table !== undefined || (args.regime !== 'TTBR0_EL1' && args.regime !== 'TTBR1_EL1'))
      return undefined;
    const ctx = this.s.requireStopped();
    if (this.pictureDone || !this.pictureInput || this.pictureStop !== ctx.stopId) return undefined;
    const roots = this.rootPictures();
    // Until this stop's picture is done, `previous` is the stop before it (the `changed` flags).
    const previous = new Map([...(this.previous?.tables ?? [])].map(([k, v]) => [k, v.words]));
    const early = (await roots)[args.regime];
    return early && pageTable(early, args, previous);
  }

  /**
   * The EL1 root tables' own pictures at this stop (a few tables: milliseconds), made once: a big
   * guest's walk yields between its levels, so the tree's first level need not wait for all of it.
   */
  private rootPictures(): Promise<Partial<Record<'TTBR0_EL1' | 'TTBR1_EL1', StopPicture>>> {
    const input = this.s.need(this.pictureInput);
    return (this.roots ??= input.then(async (i) => {
      const out: Partial<Record<'TTBR0_EL1' | 'TTBR1_EL1', StopPicture>> = {};
      for (const base of ['TTBR0_EL1', 'TTBR1_EL1'] as const) {
        const r = await rootPicture(i, base).catch(() => undefined);
        if (r) out[base] = r;
      }
      return out;
    }));
  }

  private keepOnlyWhatDiffsNeed(): void {
    const last = this.previous;
    if (last) this.previous = { tables: last.tables, guard: last.guard, profiles: last.profiles };
    this.picture = undefined;
    this.pictureInput = undefined;
    this.roots = undefined;
  }

  /** Analyses this stop and returns its summary against the previous stop (the mmuChanged body). */
  async onStop(ctx: StopContext, stop: Stop): Promise<MmuChangedEventBody> {
    const t0 = performance.now();
    this.cache.clear();
    // Let go of the last picture's walks before this stop's allocate theirs: with W3's 2 M leaves the
    // two stores side by side made the adapter's peak (#15).
    this.keepOnlyWhatDiffsNeed();
    const next = await this.analyze(ctx, stop);
    const prev = this.previous;
    this.previousWords = new Map([...(prev?.tables ?? [])].map(([k, v]) => [k, v.words]));
    this.previous = next;
    const body = stopSummary(prev, next);
    // Pages guard-mapped outside the tracked regions (the console), for the tree and the status bar.
    if (body.untracked === undefined && next.guard.untracked.length) body.untracked = next.guard.untracked;
    const memoryPath = this.s.port?.memoryPath;
    if (memoryPath) body.memoryPath = memoryPath;
    // The whole cost of the stop as the views wait for it: register reads included.
    body.computeMs = Math.round((performance.now() - t0) * 100) / 100;
    return body;
  }

  /**
   * The views follow the vCPU selected in the Call Stack: this stop's picture for `threadId` (its
   * regimes can differ from the stopped vCPU's), summarised without a diff (another vCPU is not an
   * earlier stop). Undefined when the views already show that vCPU.
   */
  async selectThread(threadId: number): Promise<MmuChangedEventBody | undefined> {
    const ctx = this.s.requireStopped();
    if ((await this.current()).input.threadId === threadId) return undefined;
    const stop = this.s.lastStop ?? { reason: 'pause', threadId, pc: 0n };
    const next = await this.analyze(new StopContext(this.s.need(this.s.port), threadId, ctx.stopId), {
      ...stop,
      threadId,
    });
    const body = stopSummary(undefined, next);
    if (body.untracked === undefined && next.guard.untracked.length) body.untracked = next.guard.untracked;
    return body;
  }

  /** The picture of the current stop (computed on demand when no stop event computed it yet). */
  current(): Promise<StopPicture> {
    const ctx = this.s.requireStopped();
    if (this.picture && this.pictureStop === ctx.stopId) return this.picture;
    return this.analyze(ctx, this.s.lastStop ?? { reason: 'pause', threadId: ctx.threadId, pc: 0n });
  }

  async regimesRequest(): Promise<RegimesResponseBody> {
    return { regimes: regimeInfos(await this.current()) };
  }

  async pageTable(args: PageTableArguments): Promise<PageTableResponseBody> {
    return (await this.rootListingEarly(args)) ?? pageTable(await this.current(), args, this.previousWords);
  }

  async translateRequest(args: TranslateArguments): Promise<TranslateResponseBody> {
    return translateQuery(await this.current(), args);
  }

  /**
   * The current stop as a snapshot: the analysis is run again over a recording reader, so the file
   * holds every range the picture needed (both stages' tables, the guard log, the tracker's regions)
   * with the registers and the program's symbols and identity.
   */
  async snapshot(origin: { source: string; program?: string }): Promise<SnapshotResponseBody> {
    const ctx = this.s.requireStopped();
    const base = await this.input(
      ctx,
      this.s.lastStop ?? { reason: 'pause', threadId: ctx.threadId, pc: 0n },
    );
    const recorder = new RecordingReader(this.cache);
    await analyzeStop({ ...base, reader: recorder });
    const regs = await ctx.regs([
      ...new Set([...STOP_REGISTERS, ...REGIME_REGISTERS.el2, 'SPSR_EL1', 'cpsr']),
    ]);
    const registers = Object.fromEntries([...regs].filter(([, v]) => v !== undefined));
    let program: ProgramIdentity | undefined;
    if (origin.program) {
      try {
        program = programIdentity(basename(origin.program), new Uint8Array(readFileSync(origin.program)));
      } catch {
        // The ELF moved since the session started: the snapshot simply does not name it.
      }
    }
    const snapshot = makeSnapshot(registers, recorder.image, {
      source: origin.source,
      symbols: this.s.symbols.entries(),
      ...(program ? { program } : {}),
    });
    return { snapshot, bytes: recorder.image.size };
  }

  /** The pvmfw verdict for a data abort with this ESR and FAR (exception filters, before the stop). */
  async verdictFor(esr: bigint, far: bigint, threadId: number): Promise<FaultVerdict | undefined> {
    // Called while classifying a stop, before the session has a context for it: read afresh, through
    // a stop context of its own (the stub's register names), and walk stage 1 as the CPU does, its
    // tables read through stage 2 when HCR_EL2.VM is set.
    // No pvmfw verdict where pvmfw's profile does not apply (a Linux kernel's abort is its own).
    if (this.previous && !profileById(this.previous.profiles.el1.profile).lazyMmio) return undefined;
    this.cache.clear();
    const regs = await new StopContext(this.s.need(this.s.port), threadId, -1).regs(STOP_REGISTERS);
    const two = await translateEl1(Object.fromEntries(regs), this.cache, far);
    return verdictForFault(esr, far, two.stage1, this.lazyBit, this.previous?.guard);
  }

  /** pKVM's page ownership at this stop (empty unless a pKVM profile applies). */
  async ownership(): Promise<OwnershipResponseBody> {
    return ownershipSummary(await this.current());
  }

  async fault(_ctx: StopContext): Promise<FaultInfo | undefined> {
    return (await this.current()).fault;
  }

  async guardState(args: GuardStateArguments): Promise<GuardStateResponseBody> {
    const p = await this.current();
    return guardReport(p, args);
  }

  /** Why a virtual (or physical) read at `address` failed, in the walk's terms. */
  async explainUnreadable(space: 'virtual' | 'physical', address: bigint): Promise<string> {
    if (space === 'physical')
      return `physical 0x${address.toString(16)}: nothing backs this address in the guest`;
    try {
      return await explainUnreadable(await this.current(), address);
    } catch (err) {
      return `0x${address.toString(16)} is unreadable (${(err as Error).message})`;
    }
  }

  /** Whether an access at `address` reaches a device (reads have side effects). */
  async isDevice(space: 'virtual' | 'physical', address: bigint): Promise<boolean> {
    if (space === 'physical') return this.isRam(address) === false;
    try {
      // Both stages: a page stage 1 calls Normal can still be a device at stage 2, and only the
      // final PA says whether RAM backs it.
      const { two } = await translateIn(await this.current(), address);
      // A read that cannot translate never reaches the device: only mapped device pages count.
      if (two.pa === undefined) return false;
      return two.memType?.kind === 'device' || this.isRam(two.pa) === false;
    } catch {
      return false;
    }
  }
}
