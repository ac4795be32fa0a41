// Breakpoints of every DAP kind, and the exception filters. Filters are code breakpoints on the
// vector entries (VBAR_EL1 sync entries, VBAR_EL2 lower-EL sync entry) whose stops are checked
// against ESR/FAR/the walk: a stop that does not match the filter auto-continues.
import { GUARD_CALLS } from '../pvmfw/guardlog';
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { ExceptionFilterId } from '../shared/protocol';
import type { Watchpoint } from '../target/breakpoints';
import { evalAddress, parseAddressExpr } from './evaluate';
import { parseMemoryReference } from './memory';
import type { Stop } from '../target/runControl';
import type { AdapterHost } from './host';
import { formatAddress } from '../shared/format';

export const EXCEPTION_FILTERS: DebugProtocol.ExceptionBreakpointsFilter[] = [
  {
    filter: 'lazyMmioFault',
    label: 'Lazy MMIO fault',
    description: 'Stop when a translation fault hits a pvmfw lazy MMIO entry (before handle_mmio_fault runs)',
    default: false,
  },
  {
    filter: 'syncException',
    label: 'Synchronous exception',
    description: 'Stop at any synchronous exception vector entry',
    default: false,
  },
  {
    filter: 'guardHypercall',
    label: 'MMIO guard hypercall',
    description: 'Stop when the guest issues an MMIO_GUARD_* HVC (at the EL2 vector, with the call decoded)',
    default: false,
  },
];

/** Offsets of the synchronous entries in a vector table: current EL SP0/SPx, lower EL A64/A32. */
const SYNC_CURRENT = [0x000n, 0x200n];
const SYNC_LOWER = [0x400n, 0x600n];

/** Symbols a firmware may give its vector tables, used while VBAR is still 0 (at entry). */
const EL1_VECTOR_SYMBOLS = [
  'vector_table_el1',
  'vector_table',
  'vectors',
  'el1_vectors',
  'exception_vectors',
];
const EL2_VECTOR_SYMBOLS = [
  'vector_table_el2',
  'el2_vectors',
  'el2_vector_table',
  'hyp_vectors',
  'stub_vectors',
];

interface UserBreakpoint {
  id: number;
  address: bigint;
}

export class Exceptions {
  private filters = new Set<ExceptionFilterId>();
  private filterAddrs = new Map<bigint, { el: 1 | 2; lower: boolean }>();
  private fn: UserBreakpoint[] = [];
  private insn: UserBreakpoint[] = [];
  private nextId = 1;
  private lastException: { id: string; description: string; details?: string } | undefined;

  constructor(
    private readonly s: Pick<
      AdapterHost,
      'gdb' | 'bps' | 'symbols' | 'lastStop' | 'mmu' | 'need' | 'requireStopped' | 'sourceHit'
    >,
  ) {}

  private ids(address: bigint): number[] {
    return [...this.fn, ...this.insn].filter((b) => b.address === address).map((b) => b.id);
  }

  async setFunctionBreakpoints(
    args: DebugProtocol.SetFunctionBreakpointsArguments,
  ): Promise<DebugProtocol.SetFunctionBreakpointsResponse['body']> {
    const out: DebugProtocol.Breakpoint[] = [];
    const next: UserBreakpoint[] = [];
    for (const b of args.breakpoints) {
      const name = b.name.trim();
      const sym = this.s.symbols.lookup(name);
      let address = sym?.address;
      if (address === undefined && /^\*?\s*0x[0-9a-f]+$/i.test(name))
        address = BigInt(name.replace(/^\*\s*/, ''));
      if (address === undefined) {
        out.push({
          verified: false,
          message: `no symbol '${name}'${this.s.symbols.size ? '' : ' (no "program" ELF configured)'}`,
        });
        continue;
      }
      const bp = { id: this.nextId++, address };
      next.push(bp);
      out.push({ id: bp.id, verified: true, instructionReference: `0x${address.toString(16)}` });
    }
    this.fn = next;
    await this.s.bps.replace(
      'function',
      next.map((b) => b.address),
    );
    return { breakpoints: out };
  }

  async setInstructionBreakpoints(
    args: DebugProtocol.SetInstructionBreakpointsArguments,
  ): Promise<DebugProtocol.SetInstructionBreakpointsResponse['body']> {
    const out: DebugProtocol.Breakpoint[] = [];
    const next: UserBreakpoint[] = [];
    for (const b of args.breakpoints) {
      try {
        const address = parseMemoryReference(b.instructionReference).address + BigInt(b.offset ?? 0);
        const bp = { id: this.nextId++, address };
        next.push(bp);
        out.push({ id: bp.id, verified: true, instructionReference: `0x${address.toString(16)}` });
      } catch (e) {
        out.push({ verified: false, message: (e as Error).message });
      }
    }
    this.insn = next;
    await this.s.bps.replace(
      'instruction',
      next.map((b) => b.address),
    );
    return { breakpoints: out };
  }

  async dataBreakpointInfo(
    args: DebugProtocol.DataBreakpointInfoArguments,
  ): Promise<DebugProtocol.DataBreakpointInfoResponse['body']> {
    const bytes = (args as { bytes?: number }).bytes ?? 8;
    let address: bigint;
    try {
      const text = args.name.replace(/^\*\s*\(\s*u(8|16|32|64)\s*\*\s*\)\s*/, '');
      address = await evalAddress(parseAddressExpr(text), {
        register: (n) => this.s.requireStopped().reg(n),
        symbol: (n) => this.s.symbols.lookup(n)?.address,
      });
    } catch (e) {
      return { dataId: null, description: `cannot watch '${args.name}': ${(e as Error).message}` };
    }
    return {
      dataId: `0x${address.toString(16)}/${bytes}`,
      description: `${bytes} bytes at ${formatAddress(address)} (virtual)`,
      accessTypes: ['write', 'read', 'readWrite'],
      canPersist: true,
    };
  }

  /** The client's data breakpoints and the console's watch-pte watches share the stub's watchpoints. */
  private dataWatch: readonly Watchpoint[] = [];
  private pteWatch: readonly Watchpoint[] = [];

  /** Replaces the console's PTE watchpoints, keeping the client's data breakpoints. */
  async setPteWatchpoints(points: readonly Watchpoint[]): Promise<boolean[]> {
    this.pteWatch = points;
    const ok = await this.s.bps.setWatchpoints([...this.dataWatch, ...points]);
    return ok.slice(this.dataWatch.length);
  }

  async setDataBreakpoints(
    args: DebugProtocol.SetDataBreakpointsArguments,
  ): Promise<DebugProtocol.SetDataBreakpointsResponse['body']> {
    const points: Watchpoint[] = [];
    const bad: (string | undefined)[] = [];
    for (const b of args.breakpoints) {
      const m = /^0x([0-9a-f]+)\/(\d+)$/i.exec(b.dataId);
      if (!m) {
        bad.push(`bad data id '${b.dataId}'`);
        continue;
      }
      bad.push(undefined);
      const type = b.accessType === 'read' ? 3 : b.accessType === 'readWrite' ? 4 : 2;
      points.push({ type, address: BigInt(`0x${m[1]}`), length: Number(m[2]) });
    }
    this.dataWatch = points;
    const ok = await this.s.bps.setWatchpoints([...points, ...this.pteWatch]);
    let k = 0;
    return {
      breakpoints: bad.map((msg) =>
        msg
          ? { verified: false, message: msg }
          : ok[k++]
            ? { verified: true }
            : { verified: false, message: 'the stub refused the watchpoint' },
      ),
    };
  }

  async setFilters(args: DebugProtocol.SetExceptionBreakpointsArguments): Promise<void> {
    this.filters = new Set(args.filters as ExceptionFilterId[]);
    await this.refresh();
  }

  /** Places the filter breakpoints at the current vector addresses (VBAR, or ELF symbols at entry). */
  async refresh(): Promise<void> {
    if (!this.s.gdb || this.filters.size === 0) {
      if (this.filterAddrs.size) {
        this.filterAddrs = new Map();
        await this.s.bps.replace('filter', []);
      }
      return;
    }
    const want = new Map<bigint, { el: 1 | 2; lower: boolean }>();
    const needEl1 = this.filters.has('lazyMmioFault') || this.filters.has('syncException');
    const needEl2 = this.filters.has('guardHypercall') || this.filters.has('syncException');
    const regs = await this.s.gdb.readRegisters(
      ['VBAR', 'VBAR_EL1', 'VBAR_EL2'].filter((n) => this.s.gdb?.registers.get(n)),
    );
    const vbar1 = regs.get('VBAR_EL1') || regs.get('VBAR') || this.symbolAny(EL1_VECTOR_SYMBOLS);
    const vbar2 = regs.get('VBAR_EL2') || this.symbolAny(EL2_VECTOR_SYMBOLS);
    if (needEl1 && vbar1) {
      for (const o of SYNC_CURRENT) want.set(vbar1 + o, { el: 1, lower: false });
      if (this.filters.has('syncException'))
        for (const o of SYNC_LOWER) want.set(vbar1 + o, { el: 1, lower: true });
    }
    if (needEl2 && vbar2) {
      want.set(vbar2 + 0x400n, { el: 2, lower: true });
      if (this.filters.has('syncException'))
        for (const o of SYNC_CURRENT) want.set(vbar2 + o, { el: 2, lower: false });
    }
    this.filterAddrs = want;
    await this.s.bps.replace('filter', want.keys());
  }

  private symbolAny(names: string[]): bigint | undefined {
    for (const n of names) {
      const a = this.s.symbols.lookup(n)?.address;
      if (a) return a;
    }
    return undefined;
  }

  async clearAll(): Promise<void> {
    this.filters.clear();
    this.fn = [];
    this.insn = [];
    await this.s.bps.replace('filter', []);
    await this.s.bps.replace('function', []);
    await this.s.bps.replace('instruction', []);
    await this.s.bps.replace('source', []);
    await this.s.bps.setWatchpoints([]);
  }

  /** What a stop at a breakpoint address means; undefined = nobody wants it, continue. */
  async classify(pc: bigint, threadId: number): Promise<Stop | undefined> {
    const owners = this.s.bps.owners(pc);
    const user = owners.has('function') || owners.has('instruction') || owners.has('source');
    const vec = owners.has('filter') ? this.filterAddrs.get(pc) : undefined;
    if (vec) {
      const hit = await this.checkFilters(vec, threadId);
      if (hit) {
        this.lastException = { id: hit.filter, description: hit.text, details: hit.details };
        return {
          reason: 'exception',
          threadId,
          pc,
          filter: hit.filter,
          text: hit.text,
          description: hit.text,
        };
      }
    }
    const plain = this.ids(pc);
    if (owners.has('source')) {
      const hit = await this.s.sourceHit(pc, threadId);
      if (hit || plain.length)
        return {
          reason: 'breakpoint',
          threadId,
          pc,
          hitBreakpointIds: [...plain, ...(hit?.hitBreakpointIds ?? [])],
          description: 'Breakpoint',
        };
    } else if (user) {
      return { reason: 'breakpoint', threadId, pc, hitBreakpointIds: plain, description: 'Breakpoint' };
    }
    if (owners.has('temp')) return { reason: 'step', threadId, pc };
    return undefined;
  }

  private async checkFilters(
    vec: { el: 1 | 2; lower: boolean },
    threadId: number,
  ): Promise<{ filter: string; text: string; details?: string } | undefined> {
    const gdb = this.s.need(this.s.gdb);
    const el = vec.el;
    const r = await gdb.readRegisters(
      [`ESR_EL${el}`, `FAR_EL${el}`, 'x0', 'x1'].filter((n) => gdb.registers.get(n)),
      threadId,
    );
    // An unreadable register is unknown, never 0: no call, fault or class is guessed from it.
    const esr = r.get(`ESR_EL${el}`);
    if (esr === undefined) {
      if (!this.filters.has('syncException')) return undefined;
      const why = `ESR_EL${el} is unreadable: the exception class is unknown`;
      return { filter: 'syncException', text: `Synchronous exception to EL${el}`, details: why };
    }
    const ec = Number((esr >> 26n) & 0x3fn);
    const x0 = r.get('x0');
    if (el === 2 && this.filters.has('guardHypercall') && ec === 0x16 && x0 !== undefined) {
      const fid = Number(x0 & 0xffffffffn);
      const name = GUARD_CALLS[fid];
      const x1 = r.get('x1');
      if (name && (x1 !== undefined || (name !== 'MMIO_GUARD_MAP' && name !== 'MMIO_GUARD_UNMAP'))) {
        const arg = x1 ?? 0n;
        const text =
          name === 'MMIO_GUARD_MAP' || name === 'MMIO_GUARD_UNMAP' ? `${name}(${formatAddress(arg)})` : name;
        return {
          filter: 'guardHypercall',
          text,
          details: `HVC #0 with x0 = 0x${fid.toString(16)} (${name})${x1 !== undefined ? `, x1 = 0x${x1.toString(16)}` : ''}`,
        };
      }
    }
    const far = r.get('FAR_EL1');
    if (el === 1 && this.filters.has('lazyMmioFault') && (ec === 0x24 || ec === 0x25) && far !== undefined) {
      const verdict = await this.s.mmu.verdictFor(esr, far, threadId);
      if (verdict?.kind === 'lazyMmio')
        return {
          filter: 'lazyMmioFault',
          text: `Lazy MMIO fault at ${formatAddress(far)}`,
          details: verdict.summary,
        };
    }
    if (this.filters.has('syncException')) {
      const name =
        ec === 0x16
          ? 'HVC'
          : ec === 0x25 || ec === 0x24
            ? 'Data Abort'
            : ec === 0x15
              ? 'SVC'
              : `EC 0x${ec.toString(16)}`;
      return {
        filter: 'syncException',
        text: `Synchronous exception to EL${el}: ${name}`,
        details: `ESR_EL${el} = 0x${esr.toString(16)}`,
      };
    }
    return undefined;
  }

  exceptionInfo(): DebugProtocol.ExceptionInfoResponse['body'] {
    const e = this.lastException;
    if (!e || this.s.lastStop?.reason !== 'exception')
      return { exceptionId: 'none', breakMode: 'never', description: 'not stopped on an exception' };
    return {
      exceptionId: e.id,
      description: e.description,
      breakMode: 'always',
      details: { message: e.details ?? e.description, typeName: e.id },
    };
  }
}
