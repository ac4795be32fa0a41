// What reading a stopped target takes: registers by the stub's names, virtual and physical memory,
// and (live only) the monitor. A live GdbClient is a TargetPort; so is a snapshot replayed without
// QEMU (snapshotPort.ts). Views, the stop context and the MMU model read through this port, so a
// post-mortem session answers from the same code paths as a live one.
import type { PhysRange } from '../aarch64/reader';
import type { MemoryPathInfo } from './localRam';

export interface TargetPort {
  /** Register names the target has (a stub's XML, or the registers a snapshot recorded). */
  readonly registers: { get(name: string): unknown };
  readRegister(name: string, thread?: number): Promise<bigint>;
  readRegisters(names: readonly string[], thread?: number): Promise<Map<string, bigint | undefined>>;
  /** Virtual read through the current translation regime of the selected vCPU. */
  readMemory(address: bigint, length: number): Promise<Uint8Array>;
  readPhysical(address: bigint, length: number): Promise<Uint8Array>;
  /**
   * `scratch`: a buffer the port may read into (a local read of guest RAM), so that results can be
   * views into it, valid until the caller writes it again: the caller copies what it keeps. Ports
   * that read otherwise ignore it.
   */
  readPhysicalBatch(ranges: readonly PhysRange[], scratch?: Uint8Array): Promise<Uint8Array[]>;
  monitor(command: string): Promise<string>;
  /** How physical reads of guest RAM are made (live only: the local fast path or the gdbstub). */
  readonly memoryPath?: MemoryPathInfo;
}
