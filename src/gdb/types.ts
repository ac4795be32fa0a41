// Public types of the GDB remote client (see index.ts for the entry points).

/** One register described by the target XML (`qXfer:features:read:target.xml` + its xi:includes). */
export interface RegisterInfo {
  /** Name exactly as the XML spells it: `x0`, `pc`, `cpsr`, `TTBR0_EL1`, `SCTLR` (AArch32 base name). */
  readonly name: string;
  /** Number used by `p`/`P` (`regnum` attribute, or the running count of the XML). */
  readonly regnum: number;
  readonly bitsize: number;
  /** `type` attribute (`int`, `code_ptr`, `uint64`, `ieee_double`, a vector type, ...). */
  readonly type: string;
  /** `group` attribute when present (`general`, `float`, `system`, `vector`...). */
  readonly group?: string;
  /** The `<feature name=...>` it belongs to (`org.gnu.gdb.aarch64.core`, `org.qemu.gdb.arm.sys.regs`...). */
  readonly feature: string;
}

/** Registers of the target, by name (case-sensitive, as in the XML) and by number. */
export interface RegisterMap {
  readonly all: readonly RegisterInfo[];
  readonly byName: ReadonlyMap<string, RegisterInfo>;
  readonly byNumber: ReadonlyMap<number, RegisterInfo>;
  /** Lookup by exact name, then case-insensitively; or by number. */
  get(nameOrNumber: string | number): RegisterInfo | undefined;
  /** The raw XML documents read from the stub, by annex name (`target.xml`, `system-registers.xml`...). */
  readonly documents: ReadonlyMap<string, string>;
}

/**
 * A thread as the stub names it. QEMU: one thread per vCPU, `tid = cpu_index + 1`; with the
 * multiprocess extension the wire form is `pPID.TID` (hex).
 */
export interface ThreadId {
  readonly pid?: number;
  readonly tid: number;
}

/** Anything accepted where a thread is expected: a ThreadId, a bare tid, or the wire form (`p1.2`, `2`). */
export type ThreadRef = ThreadId | number | string;

/** `Z`/`z` types: 0 software, 1 hardware breakpoint, 2 write, 3 read, 4 access watchpoint. */
export type BreakpointType = 0 | 1 | 2 | 3 | 4;
export const BP_SOFTWARE: BreakpointType = 0;
export const BP_HARDWARE: BreakpointType = 1;
export const WP_WRITE: BreakpointType = 2;
export const WP_READ: BreakpointType = 3;
export const WP_ACCESS: BreakpointType = 4;

/** Parsed stop reply (`S`, `T`, `W`, `X`), as answered to `?`, `vCont`, or an interrupt. */
export type StopEvent =
  | {
      readonly kind: 'signal';
      /** Signal number: 5 SIGTRAP (breakpoint/step), 2 SIGINT (interrupt), ... */
      readonly signal: number;
      readonly thread?: ThreadId;
      /** `watch`/`rwatch`/`awatch` with the data address that triggered. */
      readonly watchpoint?: { readonly type: 'watch' | 'rwatch' | 'awatch'; readonly address: bigint };
      readonly swbreak?: boolean;
      readonly hwbreak?: boolean;
      /** Expedited registers `nn:value` (raw target-order bytes), by register number. */
      readonly registers: ReadonlyMap<number, Uint8Array>;
      /** Every `key:value` pair of a T reply, verbatim. */
      readonly pairs: ReadonlyMap<string, string>;
      readonly raw: string;
    }
  | { readonly kind: 'exited'; readonly code: number; readonly pid?: number; readonly raw: string }
  | { readonly kind: 'terminated'; readonly signal: number; readonly pid?: number; readonly raw: string };

/** Counters the CLI can print (`--stats`). */
export interface GdbStats {
  packetsSent: number;
  packetsReceived: number;
  bytesSent: number;
  bytesReceived: number;
  /** Packets we had to resend because the stub answered `-`. */
  retransmits: number;
  /** Packets received with a bad checksum (we answered `-`). */
  badChecksums: number;
  requests: number;
  timeouts: number;
}

/** A range for readPhysicalBatch. */
export interface MemoryRange {
  readonly address: bigint;
  readonly length: number;
}

export interface ConnectOptions {
  /** TCP connect timeout (default 5000 ms). */
  readonly timeoutMs?: number;
  /** Default per-request timeout (default 5000 ms). */
  readonly requestTimeoutMs?: number;
  /**
   * Deadline for the whole connect sequence after the transport is up: qSupported, the target
   * description with its includes, the stop query and the pipelining self-test (default 30000 ms;
   * QEMU takes well under a second). GdbHandshakeTimeoutError when it passes.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * Allow several memory requests in flight on the physical fast path. `'auto'` (default) self-tests
   * it at connect time and falls back to strict request/response when the stub misbehaves.
   */
  readonly pipelining?: boolean | 'auto';
  /** Max register requests in flight when pipelining (default 64). */
  readonly maxInFlight?: number;
  /**
   * Reply bytes a memory read keeps in flight when pipelining (default 4 MiB): memory reads are
   * bounded by bytes, not by a count, so a long link stays full; 0 reads one packet at a time.
   */
  readonly readBudgetBytes?: number;
  /** Skip reading the target XML at connect (then `registers` is empty and `p` may fail on QEMU 7.2). */
  readonly skipTargetXml?: boolean;
  /** Raw-packet log hook (direction, payload as latin1 text, truncated by the caller if it wants). */
  readonly log?: (direction: 'send' | 'recv', payload: string) => void;
}

export type RunState = 'stopped' | 'running' | 'exited' | 'closed';

/** The client. Requests are serialized: calling several methods concurrently is safe. */
export interface GdbClient {
  /** Features the stub announced in `qSupported` (`PacketSize`, `qXfer:features:read`, ...). */
  readonly features: ReadonlyMap<string, string | boolean>;
  /** Effective max packet size (from `PacketSize`). */
  readonly packetSize: number;
  /** Features from `qqemu.Supported` (`sstepbits`, `sstep`, `PhyMemMode`), empty on a non-QEMU stub. */
  readonly qemuFeatures: ReadonlySet<string>;
  readonly registers: RegisterMap;
  readonly stats: Readonly<GdbStats>;
  readonly state: RunState;
  /** Whether the physical fast path keeps several requests in flight (result of the self-test). */
  readonly pipelining: boolean;

  /** Reads one register (by name or number) of `thread` (default: current `Hg` thread). */
  readRegister(register: string | number, thread?: ThreadRef): Promise<bigint>;
  /** Raw little-endian bytes of a register (for vector/FP registers wider than 64 bits). */
  readRegisterBytes(register: string | number, thread?: ThreadRef): Promise<Uint8Array>;
  /**
   * Reads several registers; an unavailable one (`Enn`, `xx`, not described) maps to `undefined`
   * instead of throwing. A reply that is not a value (RegisterReplyError) fails the call.
   */
  readRegisters(
    names: readonly (string | number)[],
    thread?: ThreadRef,
  ): Promise<Map<string, bigint | undefined>>;
  /** `g`: all general registers as raw bytes. */
  readAllRegisters(thread?: ThreadRef): Promise<Uint8Array>;
  writeRegister(register: string | number, value: bigint, thread?: ThreadRef): Promise<void>;

  /** Virtual read through the selected vCPU's current regime. GdbMemoryFaultError on E14. */
  readMemory(address: bigint, length: number): Promise<Uint8Array>;
  /** Virtual write (`X` when the stub supports it, else `M`). */
  writeMemory(address: bigint, data: Uint8Array): Promise<void>;
  /** Physical read (`Qqemu.PhyMemMode:1`, then the previous mode restored). */
  readPhysical(address: bigint, length: number): Promise<Uint8Array>;
  /**
   * Many physical reads under one PhyMemMode switch, pipelined when safe: the page-table fast path.
   * `scratch`, when large enough for all of them, is decoded into (the results are views into it,
   * valid until the caller writes it again) instead of a new buffer a range.
   */
  readPhysicalBatch(ranges: readonly MemoryRange[], scratch?: Uint8Array): Promise<Uint8Array[]>;
  writePhysical(address: bigint, data: Uint8Array): Promise<void>;

  insertBreakpoint(type: BreakpointType, address: bigint, kind?: number): Promise<void>;
  removeBreakpoint(type: BreakpointType, address: bigint, kind?: number): Promise<void>;

  /** `vCont;c` / `vCont;s` for one thread (or all). Resolves once the stub has accepted it. */
  resume(action: 'continue' | 'step', thread?: ThreadRef): Promise<void>;
  /** Single-steps `thread` and waits for the stop. */
  step(thread?: ThreadRef, timeoutMs?: number): Promise<StopEvent>;
  /** Sends `\x03`; the stop arrives as a StopEvent (also returned). */
  interrupt(timeoutMs?: number): Promise<StopEvent>;
  /** Subscribes to stop events; returns an unsubscribe function. */
  onStop(listener: (event: StopEvent) => void): () => void;
  /** `O` console output the stub sends while the target runs; returns an unsubscribe function. */
  onConsoleOutput(listener: (text: string) => void): () => void;
  /** Resolves with the next stop event (or the pending one if the target already stopped). */
  waitForStop(timeoutMs?: number): Promise<StopEvent>;
  /** `?`: why the target is stopped. */
  queryStopReason(): Promise<StopEvent>;

  threads(): Promise<ThreadId[]>;
  threadExtraInfo(thread: ThreadRef): Promise<string>;
  /** `Hg` (registers/memory) and, unless `op` is given, `Hc`. */
  selectThread(thread: ThreadRef, op?: 'g' | 'c'): Promise<void>;

  /** `qRcmd`: runs a QEMU monitor command, returns its `O` output. */
  monitor(command: string, timeoutMs?: number): Promise<string>;
  /**
   * A monitor command that changes nothing (`info mtree -f`, `gpa2hva`): on a stub that keeps
   * pipelined requests in order it goes out at once, beside requests already in flight, instead of
   * after them; on a strict stub it is `monitor`.
   */
  queryMonitor(command: string, timeoutMs?: number): Promise<string>;
  /** `Qqemu.sstep=` flags (bit 0 ENABLE, 1 NOIRQ, 2 NOTIMER). */
  setStepFlags(flags: number): Promise<void>;
  getStepFlags(): Promise<number>;
  /** Sends any packet and returns the raw reply (escape hatch for tests and tools). */
  request(packet: string | Uint8Array, timeoutMs?: number): Promise<Uint8Array>;

  /** Notified once when the connection closes (with the error, if any). */
  onClose(listener: (error?: Error) => void): () => void;
  /**
   * Closes the transport. With `detach: true` sends `D` first (QEMU then removes all breakpoints and
   * resumes the guest); by default the guest stays as it is. Safe to call twice.
   */
  close(options?: { detach?: boolean }): Promise<void>;
}
