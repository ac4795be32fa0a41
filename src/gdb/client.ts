// The GDB remote client: run state, thread selection, run control, threads, monitor commands and
// QEMU extras. The connect sequence lives in handshake.ts, register access in registers.ts and
// memory access in memory.ts; the client serializes them and keeps the run state.
import { runMonitorCommand } from './monitorOutput';
import { latin1Text } from './codec';
import {
  ConnectionClosedError,
  GdbErrorReply,
  GdbProtocolError,
  GdbStateError,
  GdbTimeoutError,
} from './errors';
import { hexToBytes, hexTextToBytes, leBytesToBigInt } from './hex';
import { RspLink } from './link';
import { MemoryAccess } from './memory';
import { RegisterAccess, lookupRegister } from './registers';
import { StopTracker } from './stops';
import { listThreads } from './threadList';
import { checkReply, expectOk } from './requests';
import { formatThreadId, isStopReply, parseStopReply, parseThreadId } from './stop-reply';
import { makeRegisterMap } from './target-xml';
import { runHandshake } from './handshake';
import { connectTcpTransport, type Transport } from './transport';
import type {
  BreakpointType,
  ConnectOptions,
  GdbClient,
  GdbStats,
  MemoryRange,
  RegisterInfo,
  RegisterMap,
  RunState,
  StopEvent,
  ThreadId,
  ThreadRef,
} from './types';

/**
 * Reply bytes a memory read keeps in flight when pipelining (4 MiB: ~1,000 `m` packets of 2048 bytes).
 * A link's round trip times its rate should fit: a 10 ms link at the ~100-200 MB/s of hex QEMU's stub
 * produces here needs 1-2 MB to stay full, and 1 MiB left W1's walk over it at 1.5x its floor (4 MiB:
 * 1.0-1.1x).
 */
export const DEFAULT_READ_BUDGET = 4 << 20;

/** Connects over TCP (QEMU: `-gdb tcp:127.0.0.1:PORT`) and runs the connect sequence. */
export async function connectTcp(
  host: string,
  port: number,
  options: ConnectOptions = {},
): Promise<GdbClient> {
  const transport = await connectTcpTransport(host, port, options.timeoutMs ?? 5000);
  return connectTransport(transport, options);
}

/** Runs the connect sequence over any transport (the in-memory pair in tests). */
export async function connectTransport(
  transport: Transport,
  options: ConnectOptions = {},
): Promise<GdbClient> {
  const client = new RspClient(transport, options);
  try {
    await client.initialize();
  } catch (e) {
    await client.close();
    throw e;
  }
  return client;
}

export class RspClient implements GdbClient {
  readonly features = new Map<string, string | boolean>();
  readonly qemuFeatures = new Set<string>();
  registers: RegisterMap = makeRegisterMap([]);
  packetSize = 4096;
  state: RunState = 'stopped';
  pipelining = false;
  private readonly link: RspLink;
  private readonly timeoutMs: number;
  private readonly maxInFlight: number;
  private readonly readBudget: number;
  private readonly memory: MemoryAccess;
  private readonly registerAccess: RegisterAccess;
  private lock: Promise<unknown> = Promise.resolve();
  /** Thread listings, kept one at a time apart from `lock` (see threads()). */
  private threadListing: Promise<unknown> = Promise.resolve();
  private multiprocess = false;
  private defaultPid = 1;
  private selected: { g?: string; c?: string } = {};
  private readonly stops = new StopTracker();
  private consoleListeners = new Set<(text: string) => void>();

  constructor(
    transport: Transport,
    private readonly options: ConnectOptions,
  ) {
    this.timeoutMs = options.requestTimeoutMs ?? 5000;
    // Register replies are a few bytes: a stop's 30-odd registers in one round trip.
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 64);
    this.readBudget = Math.max(0, options.readBudgetBytes ?? DEFAULT_READ_BUDGET);
    this.link = new RspLink(transport, { log: options.log });
    this.link.onUnsolicited((p) => this.unsolicited(p));
    this.link.onClose((error) => {
      this.state = 'closed';
      this.stops.closed(error);
    });
    const settings = () => ({
      timeoutMs: this.timeoutMs,
      window: this.pipelining ? this.maxInFlight : 1,
      readBudget: this.pipelining ? this.readBudget : 0,
      packetSize: this.packetSize,
      onDesync: () => {
        this.pipelining = false;
      },
    });
    this.memory = new MemoryAccess(this.link, settings);
    this.registerAccess = new RegisterAccess(this.link, settings);
  }

  get stats(): Readonly<GdbStats> {
    return this.link.stats;
  }

  // ---- connect sequence -------------------------------------------------------------------------

  async initialize(): Promise<void> {
    const h = await runHandshake(this.link, this.options, this.timeoutMs);
    for (const [k, v] of h.features) this.features.set(k, v);
    for (const f of h.qemuFeatures) this.qemuFeatures.add(f);
    this.packetSize = h.packetSize;
    this.multiprocess = this.features.get('multiprocess') === true;
    if (h.registers) this.registers = h.registers;
    if (h.stop) {
      this.stops.last = h.stop;
      if (h.stop.kind === 'signal' && h.stop.thread?.pid !== undefined) this.defaultPid = h.stop.thread.pid;
      if (h.stop.kind !== 'signal') this.state = 'exited';
    }
    if (h.physicalMode !== undefined) this.memory.physicalMode = h.physicalMode;
    this.pipelining = h.pipelining;
  }

  // ---- plumbing -----------------------------------------------------------------------------------

  /** Runs `fn` with exclusive use of the link (keeps Hg selection + request pairs atomic). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.lock.then(fn, fn);
    this.lock = run.catch(() => undefined);
    return run;
  }

  private raw(packet: string | Uint8Array, timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    return this.link.request(packet, timeoutMs);
  }

  private assertStopped(what: string): void {
    if (this.state === 'running')
      throw new GdbStateError(`cannot ${what} while the target is running (interrupt it first)`);
    if (this.state === 'closed' || this.link.isClosed)
      throw new ConnectionClosedError(`cannot ${what}: connection closed`);
  }

  private toThreadId(ref: ThreadRef): ThreadId {
    if (typeof ref === 'number') return { pid: this.defaultPid, tid: ref };
    if (typeof ref === 'string') {
      const t = parseThreadId(ref);
      return t.pid === undefined ? { pid: this.defaultPid, tid: t.tid } : t;
    }
    return ref.pid === undefined ? { pid: this.defaultPid, tid: ref.tid } : ref;
  }

  private threadText(ref: ThreadRef): string {
    return formatThreadId(this.toThreadId(ref), this.multiprocess);
  }

  private async selectRaw(op: 'g' | 'c', ref: ThreadRef): Promise<void> {
    const id = this.threadText(ref);
    if (this.selected[op] === id) return;
    const req = `H${op}${id}`;
    expectOk(req, await this.raw(req));
    this.selected[op] = id;
  }

  /** The thread of the last stop, else the Hc/Hg selection, else the first vCPU. */
  private currentThread(): ThreadRef {
    const last = this.stops.last;
    if (last?.kind === 'signal' && last.thread) return last.thread;
    return this.selected.c ?? this.selected.g ?? 1;
  }

  private unsolicited(payload: Uint8Array): void {
    const text = latin1Text(payload);
    if (text.startsWith('O') && text !== 'OK') {
      const bytes = hexTextToBytes(text.slice(1));
      if (bytes) for (const l of this.consoleListeners) l(Buffer.from(bytes).toString('utf8'));
      return;
    }
    if (!isStopReply(text)) return; // stray reply (e.g. to an abandoned request): nothing to route
    const event = parseStopReply(text);
    this.state = event.kind === 'signal' ? 'stopped' : 'exited';
    // QEMU makes the stopping vCPU both the Hg and Hc thread on every stop.
    this.selected = {};
    this.stops.deliver(event);
  }

  // ---- registers ----------------------------------------------------------------------------------

  readRegisterBytes(register: string | number, thread?: ThreadRef): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertStopped('read registers');
      const info = lookupRegister(this.registers, register);
      if (thread !== undefined) await this.selectRaw('g', thread);
      return this.registerAccess.read(info);
    });
  }

  async readRegister(register: string | number, thread?: ThreadRef): Promise<bigint> {
    return leBytesToBigInt(await this.readRegisterBytes(register, thread));
  }

  readRegisters(
    names: readonly (string | number)[],
    thread?: ThreadRef,
  ): Promise<Map<string, bigint | undefined>> {
    return this.exclusive(async () => {
      this.assertStopped('read registers');
      // Pipelined, the thread selection goes out with the reads (one round trip); its reply is checked
      // before any value is used: a failed Hg fails the read.
      const select = thread !== undefined ? this.selectRaw('g', thread) : undefined;
      // Observed at once: a name that does not resolve below must not leave its failure unhandled.
      select?.catch(() => undefined);
      if (select && !this.pipelining) await select;
      const infos = names.map((n) =>
        typeof n === 'number' || this.registers.get(n) ? lookupRegister(this.registers, n) : undefined,
      );
      const known = infos.filter((r): r is RegisterInfo => r !== undefined);
      const [selected, read] = await Promise.allSettled([select, this.registerAccess.readMany(known)]);
      if (selected.status === 'rejected') throw selected.reason;
      if (read.status === 'rejected') throw read.reason;
      const values = read.value;
      const valueOf = new Map(known.map((r, i) => [r, values[i]]));
      // In the caller's order and spelling (names are found case-insensitively); unknown ones undefined.
      const out = new Map<string, bigint | undefined>();
      names.forEach((n, i) => out.set(String(n), infos[i] && valueOf.get(infos[i])));
      return out;
    });
  }

  readAllRegisters(thread?: ThreadRef): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertStopped('read registers');
      if (thread !== undefined) await this.selectRaw('g', thread);
      const reply = await this.raw('g');
      checkReply('g', reply);
      const bytes = hexToBytes(reply);
      if (!bytes) throw new GdbProtocolError('g reply is not hex');
      return bytes;
    });
  }

  writeRegister(register: string | number, value: bigint, thread?: ThreadRef): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('write registers');
      const info = lookupRegister(this.registers, register);
      if (thread !== undefined) await this.selectRaw('g', thread);
      await this.registerAccess.write(info, value);
    });
  }

  // ---- memory -------------------------------------------------------------------------------------

  readMemory(address: bigint, length: number): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertStopped('read memory');
      return this.memory.read(address, length, false);
    });
  }

  writeMemory(address: bigint, data: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('write memory');
      await this.memory.write(address, data, false);
    });
  }

  readPhysical(address: bigint, length: number): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertStopped('read memory');
      return this.memory.read(address, length, true);
    });
  }

  readPhysicalBatch(ranges: readonly MemoryRange[], scratch?: Uint8Array): Promise<Uint8Array[]> {
    return this.exclusive(async () => {
      this.assertStopped('read memory');
      return this.memory.readBatch(ranges, true, scratch);
    });
  }

  writePhysical(address: bigint, data: Uint8Array): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('write memory');
      await this.memory.write(address, data, true);
    });
  }

  // ---- breakpoints and run control --------------------------------------------------------------

  private breakpoint(op: 'Z' | 'z', type: BreakpointType, address: bigint, kind: number): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('change breakpoints');
      const req = `${op}${type},${address.toString(16)},${kind.toString(16)}`;
      expectOk(req, await this.raw(req));
    });
  }

  insertBreakpoint(type: BreakpointType, address: bigint, kind = 4): Promise<void> {
    return this.breakpoint('Z', type, address, kind);
  }

  removeBreakpoint(type: BreakpointType, address: bigint, kind = 4): Promise<void> {
    return this.breakpoint('z', type, address, kind);
  }

  resume(action: 'continue' | 'step', thread?: ThreadRef): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('resume');
      if (this.state === 'exited') throw new GdbStateError('the target has exited');
      const letter = action === 'step' ? 's' : 'c';
      // A step always targets one vCPU: `vCont;s` for all of them would leave QEMU's step flag set on
      // every vCPU but the one that reports the stop, so the next continue would stop at once.
      if (action === 'step' && thread === undefined) thread = this.currentThread();
      this.stops.last = undefined;
      this.state = 'running';
      try {
        if (this.features.get('vContSupported') === true) {
          const target = thread === undefined ? '' : `:${this.threadText(thread)}`;
          await this.link.sendAwaitingAck(`vCont;${letter}${target}`, this.timeoutMs);
        } else {
          if (thread !== undefined) await this.selectRaw('c', thread);
          await this.link.sendAwaitingAck(letter, this.timeoutMs);
        }
      } catch (e) {
        if (!this.stops.last) this.state = this.link.isClosed ? 'closed' : 'stopped';
        throw e;
      }
    });
  }

  async step(thread?: ThreadRef, timeoutMs = this.timeoutMs): Promise<StopEvent> {
    const stopped = this.stops.next(timeoutMs);
    try {
      await this.resume('step', thread);
    } catch (e) {
      stopped.cancel();
      throw e;
    }
    return stopped.promise;
  }

  async interrupt(timeoutMs = this.timeoutMs): Promise<StopEvent> {
    if (this.state !== 'running') return this.stops.last ?? this.queryStopReason();
    const stopped = this.stops.next(timeoutMs);
    try {
      this.link.sendRaw(new Uint8Array([0x03]));
    } catch (e) {
      stopped.cancel();
      throw e;
    }
    return stopped.promise;
  }

  onStop(listener: (event: StopEvent) => void): () => void {
    return this.stops.listen(listener);
  }

  /** `O` console output sent while the target runs. */
  onConsoleOutput(listener: (text: string) => void): () => void {
    this.consoleListeners.add(listener);
    return () => this.consoleListeners.delete(listener);
  }

  waitForStop(timeoutMs = this.timeoutMs): Promise<StopEvent> {
    if (this.state !== 'running' && this.stops.last) return Promise.resolve(this.stops.last);
    return this.stops.next(timeoutMs).promise;
  }

  queryStopReason(): Promise<StopEvent> {
    return this.exclusive(async () => {
      this.assertStopped('query the stop reason');
      const reply = latin1Text(await this.raw('?'));
      if (!isStopReply(reply)) throw new GdbProtocolError(`'?' answered '${reply.slice(0, 40)}'`);
      return parseStopReply(reply);
    });
  }

  // ---- threads ------------------------------------------------------------------------------------

  threads(): Promise<ThreadId[]> {
    const list = async (): Promise<ThreadId[]> => {
      this.assertStopped('list threads');
      return listThreads((p) => this.raw(p), this.pipelining ? 8 : 0);
    };
    if (!this.pipelining) return this.exclusive(list);
    // qfThreadInfo/qsThreadInfo touch no state other requests depend on (thread selection,
    // PhyMemMode): on a stub that answers in order the listing goes out beside them, one listing at
    // a time (a second qfThreadInfo would restart the first's sequence).
    const run = this.threadListing.then(list, list);
    this.threadListing = run.catch(() => undefined);
    return run;
  }

  threadExtraInfo(thread: ThreadRef): Promise<string> {
    return this.exclusive(async () => {
      this.assertStopped('query threads');
      const req = `qThreadExtraInfo,${this.threadText(thread)}`;
      const reply = await this.raw(req);
      checkReply(req, reply);
      const bytes = hexToBytes(reply);
      if (!bytes) throw new GdbProtocolError(`${req}: reply is not hex`);
      return Buffer.from(bytes).toString('utf8');
    });
  }

  selectThread(thread: ThreadRef, op?: 'g' | 'c'): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('select threads');
      if (op !== 'c') await this.selectRaw('g', thread);
      if (op !== 'g') await this.selectRaw('c', thread);
    });
  }

  // ---- monitor and QEMU extras --------------------------------------------------------------------

  monitor(command: string, timeoutMs = this.timeoutMs): Promise<string> {
    return this.exclusive(() => this.monitorRequest(command, timeoutMs));
  }

  queryMonitor(command: string, timeoutMs = this.timeoutMs): Promise<string> {
    // A query touches no state another request depends on (thread selection, PhyMemMode), and the
    // stub answers in order: only a strict stub needs it to wait its turn.
    if (!this.pipelining) return this.monitor(command, timeoutMs);
    return this.monitorRequest(command, timeoutMs);
  }

  private async monitorRequest(command: string, timeoutMs: number): Promise<string> {
    this.assertStopped('run monitor commands');
    return runMonitorCommand(this.link, command, timeoutMs);
  }

  setStepFlags(flags: number): Promise<void> {
    return this.exclusive(async () => {
      this.assertStopped('set step flags');
      const req = `Qqemu.sstep=${flags.toString(16)}`;
      expectOk(req, await this.raw(req));
    });
  }

  getStepFlags(): Promise<number> {
    return this.exclusive(async () => {
      this.assertStopped('query step flags');
      const reply = await this.raw('qqemu.sstep');
      checkReply('qqemu.sstep', reply);
      const text = latin1Text(reply).replace(/^0x/, '');
      const v = parseInt(text, 16);
      if (Number.isNaN(v)) throw new GdbProtocolError(`bad qqemu.sstep reply '${text}'`);
      return v;
    });
  }

  request(packet: string | Uint8Array, timeoutMs = this.timeoutMs): Promise<Uint8Array> {
    return this.exclusive(async () => {
      this.assertStopped('send requests');
      const reply = await this.raw(packet, timeoutMs);
      // Keep our copy of QEMU's global PhyMemMode right if the caller switched it by hand.
      const mode = typeof packet === 'string' ? /^Qqemu\.PhyMemMode:([01])$/.exec(packet) : null;
      if (mode && latin1Text(reply) === 'OK') this.memory.physicalMode = mode[1] === '1';
      return reply;
    });
  }

  // ---- lifetime -----------------------------------------------------------------------------------

  onClose(listener: (error?: Error) => void): () => void {
    let active = true;
    this.link.onClose((e) => {
      if (active) listener(e);
    });
    return () => {
      active = false;
    };
  }

  async close(options: { detach?: boolean } = {}): Promise<void> {
    if (this.link.isClosed) return;
    if (options.detach && this.state !== 'running') {
      try {
        // In multiprocess mode QEMU wants the pid (`D;1`); a bare `D` is an error there.
        const req = this.multiprocess ? `D;${this.defaultPid.toString(16)}` : 'D';
        await this.exclusive(async () => expectOk(req, await this.raw(req, 1000)));
      } catch (e) {
        if (!(
          e instanceof GdbErrorReply ||
          e instanceof GdbTimeoutError ||
          e instanceof ConnectionClosedError
        ))
          throw e;
      }
    }
    this.link.close();
    this.state = 'closed';
  }
}
