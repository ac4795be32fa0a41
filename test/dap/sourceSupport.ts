// A LineStepTarget over the real gdb client (what the session does over its RunControl), for the
// source-level tests that drive QEMU without the DAP session.
import type { LineStepTarget, Halt } from '../../src/adapter/lineStepping';
import { BP_SOFTWARE, type GdbClient, type StopEvent } from '../../src/gdb';

export class GdbLineTarget implements LineStepTarget {
  /** Addresses of "user" breakpoints (inserted by the test) that a step must report. */
  readonly user = new Set<bigint>();
  steps = 0;

  constructor(private readonly gdb: GdbClient) {}

  private async halt(ev: StopEvent, target?: bigint): Promise<Halt> {
    if (ev.kind !== 'signal') return { kind: 'exited' };
    const pc = await this.gdb.readRegister('pc');
    return { kind: 'stopped', pc, breakpoint: this.user.has(pc) || (target !== undefined && pc !== target) };
  }

  /** Lifts a user breakpoint under PC for the duration of `f`, so the step leaves it. */
  private async offBreakpoint<T>(f: () => Promise<T>): Promise<T> {
    const pc = await this.gdb.readRegister('pc');
    const lifted = this.user.has(pc);
    if (lifted) await this.gdb.removeBreakpoint(BP_SOFTWARE, pc, 4);
    try {
      return await f();
    } finally {
      if (lifted) await this.gdb.insertBreakpoint(BP_SOFTWARE, pc, 4);
    }
  }

  async stepInstruction(): Promise<Halt> {
    this.steps++;
    return this.halt(await this.offBreakpoint(() => this.gdb.step()));
  }

  async runTo(address: bigint): Promise<Halt> {
    const temp = !this.user.has(address);
    if (temp) await this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
    try {
      const first = await this.offBreakpoint(() => this.gdb.step());
      if (first.kind !== 'signal') return { kind: 'exited' };
      let pc = await this.gdb.readRegister('pc');
      if (pc !== address && !this.user.has(pc)) {
        await this.gdb.resume('continue');
        const ev = await this.gdb.waitForStop(20_000);
        if (ev.kind !== 'signal') return { kind: 'exited' };
        pc = await this.gdb.readRegister('pc');
      }
      return { kind: 'stopped', pc, breakpoint: this.user.has(pc) || pc !== address };
    } finally {
      if (temp) await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
    }
  }

  readRegister(name: 'pc' | 'sp' | 'x30'): Promise<bigint> {
    return this.gdb.readRegister(name);
  }

  async readInstruction(address: bigint): Promise<number | undefined> {
    try {
      return Buffer.from(await this.gdb.readMemory(address, 4)).readUInt32LE(0);
    } catch {
      return undefined;
    }
  }

  async readU64(address: bigint): Promise<bigint> {
    return Buffer.from(await this.gdb.readMemory(address, 8)).readBigUInt64LE(0);
  }

  async addUser(address: bigint): Promise<void> {
    await this.gdb.insertBreakpoint(BP_SOFTWARE, address, 4);
    this.user.add(address);
  }

  async removeUser(address: bigint): Promise<void> {
    await this.gdb.removeBreakpoint(BP_SOFTWARE, address, 4);
    this.user.delete(address);
  }

  /** Continue until a stop (a user breakpoint). */
  async cont(): Promise<bigint> {
    await this.offBreakpoint(async () => {
      const ev = await this.gdb.step();
      if (ev.kind !== 'signal') throw new Error('guest exited');
    });
    const pc = await this.gdb.readRegister('pc');
    if (this.user.has(pc)) return pc;
    await this.gdb.resume('continue');
    const ev = await this.gdb.waitForStop(20_000);
    if (ev.kind !== 'signal') throw new Error('guest exited');
    return this.gdb.readRegister('pc');
  }
}
