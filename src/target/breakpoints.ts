// Book-keeping of the stub's breakpoints: several owners (user function/instruction/source
// breakpoints, exception filters, temporary step-over points) can want the same address, but the
// stub holds one Z0 per address. Watchpoints (Z2–Z4) are kept per (type, address, length).
import type { BreakpointType, GdbClient } from '../gdb';

export type BreakpointOwner = 'function' | 'instruction' | 'source' | 'filter' | 'temp';

export interface Watchpoint {
  readonly type: 2 | 3 | 4;
  readonly address: bigint;
  readonly length: number;
}

export class BreakpointStore {
  private readonly code = new Map<bigint, Set<BreakpointOwner>>();
  private readonly watch = new Map<string, Watchpoint>();

  constructor(private readonly gdb: () => GdbClient | undefined) {}

  owners(address: bigint): ReadonlySet<BreakpointOwner> {
    return this.code.get(address) ?? new Set();
  }

  /** Whether a stop at `address` is wanted by someone other than `except`. */
  hasOther(address: bigint, ...except: BreakpointOwner[]): boolean {
    for (const o of this.owners(address)) if (!except.includes(o)) return true;
    return false;
  }

  async add(owner: BreakpointOwner, address: bigint): Promise<void> {
    let set = this.code.get(address);
    if (!set) {
      const g = this.gdb();
      if (!g) throw new Error('not connected');
      await g.insertBreakpoint(0, address, 4);
      set = new Set();
      this.code.set(address, set);
    }
    set.add(owner);
  }

  async remove(owner: BreakpointOwner, address: bigint): Promise<void> {
    const set = this.code.get(address);
    if (!set || !set.delete(owner)) return;
    if (set.size === 0) {
      this.code.delete(address);
      await this.gdb()?.removeBreakpoint(0, address, 4);
    }
  }

  /** Replaces every address `owner` holds with `addresses`, touching the stub only for differences. */
  async replace(owner: BreakpointOwner, addresses: Iterable<bigint>): Promise<void> {
    const want = new Set(addresses);
    for (const [addr, set] of [...this.code])
      if (set.has(owner) && !want.has(addr)) await this.remove(owner, addr);
    for (const addr of want) if (!this.code.get(addr)?.has(owner)) await this.add(owner, addr);
  }

  /** Temporarily lifts the stub's Z0 at `address` (to step off it), returning a restore function. */
  async lift(address: bigint): Promise<(() => Promise<void>) | undefined> {
    if (!this.code.has(address)) return undefined;
    const g = this.gdb();
    if (!g) return undefined;
    await g.removeBreakpoint(0, address, 4);
    return async () => {
      if (this.code.has(address)) await g.insertBreakpoint(0, address, 4);
    };
  }

  /** Removes every watchpoint from the stub until the returned function puts them back. */
  async liftWatchpoints(): Promise<() => Promise<void>> {
    const g = this.gdb();
    const all = [...this.watch.values()];
    if (!g || all.length === 0) return () => Promise.resolve();
    for (const w of all) await g.removeBreakpoint(w.type, w.address, w.length).catch(() => undefined);
    return async () => {
      for (const w of all)
        if (this.watch.has(`${w.type}:${w.address}:${w.length}`))
          await g.insertBreakpoint(w.type, w.address, w.length);
    };
  }

  async setWatchpoints(points: readonly Watchpoint[]): Promise<boolean[]> {
    const g = this.gdb();
    if (!g) throw new Error('not connected');
    const key = (w: Watchpoint) => `${w.type}:${w.address}:${w.length}`;
    const want = new Map(points.map((w) => [key(w), w]));
    for (const [k, w] of [...this.watch]) {
      if (!want.has(k)) {
        this.watch.delete(k);
        await g.removeBreakpoint(w.type as BreakpointType, w.address, w.length).catch(() => undefined);
      }
    }
    const ok: boolean[] = [];
    for (const w of points) {
      const k = key(w);
      if (this.watch.has(k)) {
        ok.push(true);
        continue;
      }
      try {
        await g.insertBreakpoint(w.type, w.address, w.length);
        this.watch.set(k, w);
        ok.push(true);
      } catch {
        ok.push(false);
      }
    }
    return ok;
  }
}
