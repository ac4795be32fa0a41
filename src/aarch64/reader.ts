// The walker's only view of memory: a batched physical reader. A live GDB client (several requests in
// flight), a snapshot and an in-memory test image all implement it.

export interface PhysRange {
  readonly address: bigint;
  readonly length: number;
}

export interface PhysReader {
  /**
   * Reads every range; one result per range, in order: the bytes, or an Error for a range that could
   * not be read (the walker reports it on the entry that pointed there and goes on).
   */
  read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]>;
  /** Ranges the reader prefers per call (the walker splits larger batches). Default 256. */
  readonly maxBatch?: number;
}

/**
 * Adapts a batch function that throws on any failure (like GdbClient.readPhysicalBatch) into a
 * PhysReader: when a batch fails, its ranges are retried one by one so only the bad ones fail.
 */
export function batchReader(
  readBatch: (ranges: readonly PhysRange[]) => Promise<Uint8Array[]>,
  readOne?: (address: bigint, length: number) => Promise<Uint8Array>,
  maxBatch = 256,
): PhysReader {
  return {
    maxBatch,
    async read(ranges) {
      try {
        return await readBatch(ranges);
      } catch (e) {
        if (ranges.length === 1) return [e instanceof Error ? e : new Error(String(e))];
        const out: (Uint8Array | Error)[] = [];
        for (const r of ranges) {
          try {
            out.push(readOne ? await readOne(r.address, r.length) : (await readBatch([r]))[0]);
          } catch (e1) {
            out.push(e1 instanceof Error ? e1 : new Error(String(e1)));
          }
        }
        return out;
      }
    },
  };
}

/** Sparse physical memory made of byte blocks (tests, snapshots). Reads spanning a hole fail. */
export class PhysImage implements PhysReader {
  private readonly blocks = new Map<number, Uint8Array>();
  /** Blocks handed out as views by readSync: copied before the next write, so a walk's stored
   * table pages (decoded on demand) keep the bytes they were read with. */
  private readonly lent = new Set<number>();
  /** Counters for tests: calls and ranges served. */
  calls = 0;
  rangesRead = 0;

  constructor(readonly blockSize = 4096) {}

  /** Writes bytes at a physical address (allocating zeroed blocks). */
  write(address: bigint, data: Uint8Array): void {
    let a = Number(address);
    let off = 0;
    while (off < data.length) {
      const base = a - (a % this.blockSize);
      let blk = this.blocks.get(base);
      if (!blk || this.lent.delete(base)) {
        const fresh = new Uint8Array(this.blockSize);
        if (blk) fresh.set(blk);
        blk = fresh;
        this.blocks.set(base, blk);
      }
      const n = Math.min(this.blockSize - (a - base), data.length - off);
      blk.set(data.subarray(off, off + n), a - base);
      off += n;
      a += n;
    }
  }

  /** Writes one little-endian 64-bit value. */
  write64(address: bigint, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(address, b);
  }

  has(address: bigint): boolean {
    const a = Number(address);
    return this.blocks.has(a - (a % this.blockSize));
  }

  readSync(address: bigint, length: number): Uint8Array | Error {
    let a = Number(address);
    // Within one block (every table read of a walk): a view, no copy (copy-on-write protects it).
    const base0 = a - (a % this.blockSize);
    if (a - base0 + length <= this.blockSize) {
      const blk = this.blocks.get(base0);
      if (!blk) return new Error(`no memory at 0x${a.toString(16)}`);
      this.lent.add(base0);
      return blk.subarray(a - base0, a - base0 + length);
    }
    const out = new Uint8Array(length);
    let off = 0;
    while (off < length) {
      const base = a - (a % this.blockSize);
      const blk = this.blocks.get(base);
      if (!blk) return new Error(`no memory at 0x${a.toString(16)}`);
      const n = Math.min(this.blockSize - (a - base), length - off);
      out.set(blk.subarray(a - base, a - base + n), off);
      off += n;
      a += n;
    }
    return out;
  }

  read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
    this.calls++;
    this.rangesRead += ranges.length;
    return Promise.resolve(ranges.map((r) => this.readSync(r.address, r.length)));
  }

  /** Every block, in address order (snapshots). */
  entries(): [bigint, Uint8Array][] {
    return [...this.blocks.entries()].sort((x, y) => x[0] - y[0]).map(([a, b]) => [BigInt(a), b]);
  }
}
