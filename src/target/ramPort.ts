// The one place the local fast path plugs in: a TargetPort over the gdb client whose physical reads
// of guest RAM come from QEMU's memory on this host (localRam.ts) and everything else (registers,
// virtual reads, device memory, the monitor) from the gdbstub. The adapter's Target, its per-stop page
// cache and snapshots, and the CLI all read through it, so they all take the same path.
import type { GdbClient } from '../gdb';
import type { PhysRange } from '../aarch64/reader';
import { LocalRam, type MemoryPathInfo } from './localRam';
import type { TargetPort } from './port';

export class RamPort implements TargetPort {
  private constructor(
    readonly gdb: GdbClient,
    private readonly ram: LocalRam | undefined,
    readonly memoryPath: MemoryPathInfo,
  ) {
    // QEMU gone or the session over: let go of its RAM (a memfd lives as long as any descriptor).
    gdb.onClose(() => ram?.close());
  }

  /**
   * The port for `gdb`, connected to host:port (`pid`: the QEMU we launched). Sets up the fast path
   * when QEMU is local and it can be used, else reads everything through the gdbstub; never throws.
   * `procMemOnly` skips QEMU's shared backend (benchmarks compare the two local ways).
   */
  static async open(
    gdb: GdbClient,
    where: { host: string; port: number; pid?: number; procMemOnly?: boolean },
  ): Promise<RamPort> {
    const { ram, info } = await LocalRam.open(gdb, where);
    return new RamPort(gdb, ram, info);
  }

  /** A port reading everything through the gdbstub. */
  static stubOnly(gdb: GdbClient, why: string): RamPort {
    return new RamPort(gdb, undefined, { path: 'gdbstub', detail: `everything through the gdbstub: ${why}` });
  }

  /** Ranges and bytes served locally so far. */
  get localReads(): { reads: number; bytes: number } {
    return { reads: this.ram?.reads ?? 0, bytes: this.ram?.bytes ?? 0 };
  }

  /**
   * Local reads only while the stub would answer too: memory is what the stopped guest holds, and a
   * running or closed target gets the gdb client's own error.
   */
  private get local(): LocalRam | undefined {
    const s = this.gdb.state;
    return s === 'stopped' || s === 'exited' ? this.ram : undefined;
  }

  get registers(): GdbClient['registers'] {
    return this.gdb.registers;
  }

  readRegister(name: string, thread?: number): Promise<bigint> {
    return this.gdb.readRegister(name, thread);
  }

  readRegisters(names: readonly string[], thread?: number): Promise<Map<string, bigint | undefined>> {
    return this.gdb.readRegisters(names, thread);
  }

  readMemory(address: bigint, length: number): Promise<Uint8Array> {
    return this.gdb.readMemory(address, length);
  }

  monitor(command: string): Promise<string> {
    return this.gdb.monitor(command);
  }

  async readPhysical(address: bigint, length: number): Promise<Uint8Array> {
    return (await this.readPhysicalBatch([{ address, length }]))[0];
  }

  /**
   * RAM ranges locally, the rest in one gdbstub batch; results in the order asked. A local read that
   * fails (QEMU went away under us) is asked of the stub, which then gives the error. Local results
   * may be views into `scratch` (see TargetPort).
   */
  async readPhysicalBatch(ranges: readonly PhysRange[], scratch?: Uint8Array): Promise<Uint8Array[]> {
    const ram = this.local;
    if (!ram) return this.gdb.readPhysicalBatch(ranges, scratch);
    let out: (Uint8Array | undefined)[];
    try {
      out = ram.readMany(ranges, scratch);
    } catch {
      out = ranges.map(() => undefined);
    }
    const rest: number[] = [];
    out.forEach((r, i) => {
      if (!r) rest.push(i);
    });
    if (rest.length) {
      const stub = await this.gdb.readPhysicalBatch(rest.map((i) => ranges[i]));
      rest.forEach((i, k) => (out[i] = stub[k]));
    }
    return out as Uint8Array[];
  }

  close(): void {
    this.ram?.close();
  }
}
