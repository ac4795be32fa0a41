// A pvmfw-like stop in memory, for snapshot and diff tests: the EL1 tables of fixtures.pvmfwLike(),
// the EL2 stub's guard-call log (guest/include/guard_log.h) and the tracker's `mmio_regions`, each
// at a symbol, so analyzeStop() sees what it sees on the demo firmware.
import { PhysImage } from '../../../src/aarch64';
import { makeSnapshot, type Snapshot } from '../../../src/analysis';
import { GUARD_LOG_MAGIC } from '../../../src/pvmfw/guardlog';
import { pvmfwLike } from '../aarch64/fixtures';

export const GUARD_LOG_AT = 0x8030_0000n;
export const REGIONS_AT = 0x8031_0000n;
export const REGION_COUNT_AT = 0x8031_1000n;

const FIDS = { INFO: 0xc600_0005n, ENROLL: 0xc600_0006n, MAP: 0xc600_0007n, UNMAP: 0xc600_0008n };

export interface Call {
  readonly fn: keyof typeof FIDS;
  readonly arg?: bigint;
  readonly result?: bigint;
}

export interface StopOptions {
  /** Guard calls, oldest first (seq 1, 2, ...). */
  readonly calls?: readonly Call[];
  /** Entries in the log ring (the stub's is 64). */
  readonly capacity?: number;
  /** Tracked MMIO regions [start, end). */
  readonly regions?: readonly (readonly [bigint, bigint])[];
  readonly pc?: bigint;
  /** Changes to the tables and registers before the capture. */
  readonly mutate?: (f: ReturnType<typeof pvmfwLike>) => void;
}

/** The usual pvmfw calls before the first lazy fault: INFO (granule 4096), ENROLL, MAP of the console. */
export const BOOT_CALLS: readonly Call[] = [
  { fn: 'INFO', result: 4096n },
  { fn: 'ENROLL' },
  { fn: 'MAP', arg: 0x900_0000n },
];

export function pvmfwStop(o: StopOptions = {}): {
  regs: Record<string, bigint>;
  mem: PhysImage;
  symbols: Record<string, bigint>;
  f: ReturnType<typeof pvmfwLike>;
} {
  const f = pvmfwLike();
  o.mutate?.(f);
  const mem = f.t.mem;
  const capacity = o.capacity ?? 64;
  const calls = o.calls ?? BOOT_CALLS;
  const log = new DataView(new ArrayBuffer(0x20 + capacity * 32));
  log.setUint32(0, GUARD_LOG_MAGIC, true);
  log.setUint32(4, 1, true);
  log.setUint32(8, capacity, true);
  log.setUint32(12, 32, true);
  log.setBigUint64(16, BigInt(calls.length), true);
  calls.forEach((c, k) => {
    const off = 0x20 + (k % capacity) * 32;
    log.setBigUint64(off, BigInt(k + 1), true);
    log.setBigUint64(off + 8, FIDS[c.fn], true);
    log.setBigUint64(off + 16, c.arg ?? 0n, true);
    log.setBigInt64(off + 24, c.result ?? 0n, true);
  });
  mem.write(GUARD_LOG_AT, new Uint8Array(log.buffer));
  const regions = o.regions ?? [
    [0x900_1000n, 0x900_2000n],
    [0xa00_0000n, 0xa20_0000n],
  ];
  const body = new DataView(new ArrayBuffer(Math.max(16, regions.length * 16)));
  regions.forEach(([s, e], k) => {
    body.setBigUint64(k * 16, s, true);
    body.setBigUint64(k * 16 + 8, e, true);
  });
  mem.write(REGIONS_AT, new Uint8Array(body.buffer));
  const count = new Uint8Array(4);
  new DataView(count.buffer).setUint32(0, regions.length, true);
  mem.write(REGION_COUNT_AT, count);
  return {
    regs: { ...f.regs, pc: o.pc ?? 0x8020_0100n },
    mem,
    symbols: { guard_log: GUARD_LOG_AT, mmio_regions: REGIONS_AT, mmio_region_count: REGION_COUNT_AT },
    f,
  };
}

/** The stop as a snapshot (the whole image is its memory). */
export function stopSnapshot(o: StopOptions = {}): Snapshot {
  const s = pvmfwStop(o);
  return makeSnapshot(s.regs, s.mem, { source: 'unit test', symbols: s.symbols });
}
