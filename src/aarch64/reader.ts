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

/** Granule of `write`: a write makes the whole 4 KiB pages it touches readable (zero-filled). */
const WRITE_PAGE = 4096;

/**
 * Sparse physical memory: a sorted list of disjoint byte runs, found by binary search. Memory is
 * the bytes held plus a few numbers per run (a snapshot of a million 8-byte runs used to cost a
 * 4 KiB block each). Reads spanning a hole fail.
 *
 * `write` rounds out to whole 4 KiB pages, zero-filled (tests build tables entry by entry and then
 * read whole tables); `fromRuns` holds exactly the bytes given (a snapshot's runs).
 */
export class PhysImage implements PhysReader {
  // Run k covers [start[k], end[k]); its bytes are buf[k][off[k] ..]. Runs from fromRuns share one
  // buffer; a written run has its own.
  private start: number[] = [];
  private end: number[] = [];
  private buf: Uint8Array[] = [];
  private off: number[] = [];
  /** Runs handed out as views by readSync: copied before the next write that changes their bytes,
   * so a walk's stored table pages (decoded on demand) keep the bytes they were read with. */
  private lent: boolean[] = [];
  /** Counters for tests: calls and ranges served. */
  calls = 0;
  rangesRead = 0;

  /**
   * An image holding exactly these runs (sorted by address, disjoint; adjacent runs may share a
   * buffer). `bytes` backs every run: run k is `length[k]` bytes at `offset[k]`.
   */
  static fromRuns(
    bytes: Uint8Array,
    address: ArrayLike<number>,
    offset: ArrayLike<number>,
    length: ArrayLike<number>,
  ): PhysImage {
    const img = new PhysImage();
    for (let k = 0; k < address.length; k++) {
      if (length[k] === 0) continue;
      const n = img.start.length;
      // Adjacent in both address and buffer (a snapshot's runs loaded in address order): one run.
      if (
        n > 0 &&
        img.end[n - 1] === address[k] &&
        img.buf[n - 1] === bytes &&
        img.off[n - 1] + img.end[n - 1] - img.start[n - 1] === offset[k]
      ) {
        img.end[n - 1] += length[k];
        continue;
      }
      if (n > 0 && address[k] < img.end[n - 1]) throw new RangeError('PhysImage.fromRuns: runs overlap');
      img.start.push(address[k]);
      img.end.push(address[k] + length[k]);
      img.buf.push(bytes);
      img.off.push(offset[k]);
      img.lent.push(false);
    }
    return img;
  }

  /** Index of the last run starting at or below `a`, or -1. */
  private find(a: number): number {
    let lo = 0;
    let hi = this.start.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.start[mid] <= a) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return k;
  }

  /** Writes bytes at a physical address, making the 4 KiB pages it touches readable. */
  write(address: bigint, data: Uint8Array): void {
    const a = Number(address);
    const from = a - (a % WRITE_PAGE);
    const to = Math.ceil((a + data.length) / WRITE_PAGE) * WRITE_PAGE;
    // Holes inside [from, to) become zero-filled runs of their own.
    let at = from;
    let k = this.find(from);
    if (k >= 0 && this.end[k] <= from) k++;
    else if (k < 0) k = 0;
    while (at < to) {
      if (k < this.start.length && this.start[k] <= at) {
        at = this.end[k];
        k++;
        continue;
      }
      const gapEnd = Math.min(to, k < this.start.length ? this.start[k] : to);
      this.start.splice(k, 0, at);
      this.end.splice(k, 0, gapEnd);
      this.buf.splice(k, 0, new Uint8Array(gapEnd - at));
      this.off.splice(k, 0, 0);
      this.lent.splice(k, 0, false);
      at = gapEnd;
      k++;
    }
    // Now every byte of [a, a + length) is in some run: copy the data in, run by run.
    let pos = a;
    for (let r = this.find(a); pos < a + data.length; r++) {
      const n = Math.min(this.end[r], a + data.length) - pos;
      if (this.lent[r]) this.unshare(r);
      this.buf[r].set(data.subarray(pos - a, pos - a + n), this.off[r] + pos - this.start[r]);
      pos += n;
    }
  }

  /** Gives run r a private copy of its bytes (views handed out keep the old ones). */
  private unshare(r: number): void {
    const o = this.off[r];
    this.buf[r] = this.buf[r].slice(o, o + this.end[r] - this.start[r]);
    this.off[r] = 0;
    this.lent[r] = false;
  }

  /** Writes one little-endian 64-bit value. */
  write64(address: bigint, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(address, b);
  }

  has(address: bigint): boolean {
    const a = Number(address);
    const k = this.find(a);
    return k >= 0 && a < this.end[k];
  }

  /** Bytes held (the sum of the runs' lengths). */
  get size(): number {
    let n = 0;
    for (let k = 0; k < this.start.length; k++) n += this.end[k] - this.start[k];
    return n;
  }

  readSync(address: bigint, length: number): Uint8Array | Error {
    const a = Number(address);
    let k = this.find(a);
    if (k < 0 || a >= this.end[k]) return new Error(`no memory at 0x${a.toString(16)}`);
    // Within one run (every table read of a walk): a view, no copy (copy-on-write protects it).
    if (a + length <= this.end[k]) {
      this.lent[k] = true;
      const o = this.off[k] + a - this.start[k];
      return this.buf[k].subarray(o, o + length);
    }
    const out = new Uint8Array(length);
    let pos = a;
    while (pos < a + length) {
      // Adjacent runs continue the read; anything else is a hole.
      if (k >= this.start.length || this.start[k] > pos)
        return new Error(`no memory at 0x${pos.toString(16)}`);
      const n = Math.min(this.end[k], a + length) - pos;
      const o = this.off[k] + pos - this.start[k];
      out.set(this.buf[k].subarray(o, o + n), pos - a);
      pos += n;
      k++;
    }
    return out;
  }

  read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
    this.calls++;
    this.rangesRead += ranges.length;
    return Promise.resolve(ranges.map((r) => this.readSync(r.address, r.length)));
  }

  /** Every run, in address order (snapshots). The arrays are views: copy before changing them. */
  entries(): [bigint, Uint8Array][] {
    const out: [bigint, Uint8Array][] = [];
    for (let k = 0; k < this.start.length; k++) {
      const o = this.off[k];
      this.lent[k] = true;
      out.push([BigInt(this.start[k]), this.buf[k].subarray(o, o + this.end[k] - this.start[k])]);
    }
    return out;
  }
}
