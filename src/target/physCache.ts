// A per-stop cache of physical 4 KiB pages over the gdb client: the walk reads whole tables, and the
// translations, Fault scope and pageTable requests of the same stop then cost no round trip.
//
// Pages are never written once cached, so a page read at this stop whose bytes equal the previous
// stop's page at the same address is that page: the previous object is kept and the new copy dropped
// at once. The last picture (kept for the next diff) and this stop's then share every table that did
// not change instead of holding two copies of all of them, and the bytes read die young (W3: 16.8 MB
// of tables a stop, #15's peak memory).
import { Buffer } from 'node:buffer';
import type { TargetPort } from './port';
import type { PhysRange, PhysReader } from '../aarch64/reader';

const PAGE = 4096;

export class PhysCache implements PhysReader {
  /** A level's tables in one batch: one round trip on a long link (the client bounds bytes in flight). */
  readonly maxBatch = 1024;
  private pages = new Map<number, Uint8Array | Error>();
  /** The pages of the stop before (see above): only compared with, never answered from. */
  private previous = new Map<number, Uint8Array | Error>();
  /** Round trips made (figures for the benchmark). */
  batches = 0;
  /** Pages read that equalled the previous stop's (figures for the benchmark and tests). */
  reused = 0;
  /**
   * Buffers a batch is read into locally (a port may ignore them), one per batch in flight: what is
   * kept is copied out, so a stop's 16.8 MB of W3 tables are not allocated again at every stop.
   */
  private readonly scratch: Uint8Array[] = [];

  constructor(private readonly gdb: () => TargetPort) {}

  /** A new stop: every page is read again (what was cached becomes what new reads are compared with). */
  clear(): void {
    // A few pages read between two stops (a fault's verdict before its stop) join the last stop's.
    if (this.pages.size >= this.previous.size) this.previous = this.pages;
    else for (const [p, page] of this.pages) this.previous.set(p, page);
    this.pages = new Map();
  }

  /** Forgets the previous stop's pages too (a restart: nothing to compare with). */
  forget(): void {
    this.pages = new Map();
    this.previous = new Map();
  }

  /**
   * `page` (just read at `p`), or the previous stop's page at `p` when its bytes are the same. Never
   * a view into `scratch` (the next batch overwrites it) nor into a reader's larger buffer (it would
   * keep all of that alive).
   */
  private same(p: number, page: Uint8Array, scratch?: Uint8Array): Uint8Array {
    const old = this.previous.get(p);
    if (old instanceof Uint8Array && old.length === page.length && Buffer.compare(old, page) === 0) {
      this.reused++;
      return old;
    }
    return page.buffer === scratch?.buffer || page.byteLength !== page.buffer.byteLength
      ? page.slice()
      : page;
  }

  private async fill(pages: number[]): Promise<void> {
    const want = [...new Set(pages)].filter((p) => !this.pages.has(p));
    if (!want.length) return;
    this.batches++;
    const gdb = this.gdb();
    const bytes = want.length * PAGE;
    let scratch = this.scratch.pop();
    if (!scratch || scratch.length < bytes) scratch = new Uint8Array(bytes);
    try {
      const ranges = want.map((p) => ({ address: BigInt(p), length: PAGE }));
      const data = await gdb.readPhysicalBatch(ranges, scratch);
      want.forEach((p, i) => this.pages.set(p, this.same(p, data[i], scratch)));
    } catch {
      // One bad page fails the batch: retry page by page so only the bad ones fail.
      for (const p of want) {
        try {
          this.pages.set(p, this.same(p, await gdb.readPhysical(BigInt(p), PAGE)));
        } catch (e) {
          this.pages.set(p, e instanceof Error ? e : new Error(String(e)));
        }
      }
    } finally {
      // Two at most (the tree's first level may be read while the walk reads a level).
      if (this.scratch.length < 2) this.scratch.push(scratch);
    }
  }

  async read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
    const pageOf = (a: number) => a - (a % PAGE);
    const need: number[] = [];
    for (const r of ranges) {
      const a = Number(r.address);
      for (let p = pageOf(a); p < a + r.length; p += PAGE) need.push(p);
    }
    // A walk's level (many tables): let the event loop run first. Read locally, a big guest's walk
    // never waits for I/O and would otherwise hold every request that came in meanwhile (the tree's
    // first level) until all its levels are decoded.
    if (need.length >= 64) await new Promise<void>((resolve) => setImmediate(resolve));
    await this.fill(need);
    return ranges.map((r) => {
      const a = Number(r.address);
      const first = this.pages.get(pageOf(a));
      // Within one page (every table read): a view, no copy. Callers only read.
      if (first instanceof Uint8Array && a - pageOf(a) + r.length <= PAGE)
        return first.subarray(a - pageOf(a), a - pageOf(a) + r.length);
      const out = new Uint8Array(r.length);
      let off = 0;
      while (off < r.length) {
        const p = pageOf(a + off);
        const page = this.pages.get(p);
        if (!page || page instanceof Error)
          return page instanceof Error ? page : new Error(`unreadable 0x${p.toString(16)}`);
        const start = a + off - p;
        const n = Math.min(PAGE - start, r.length - off);
        out.set(page.subarray(start, start + n), off);
        off += n;
      }
      return out;
    });
  }

  async readU64(address: bigint): Promise<bigint | undefined> {
    const [r] = await this.read([{ address, length: 8 }]);
    if (r instanceof Error) return undefined;
    return new DataView(r.buffer, r.byteOffset, 8).getBigUint64(0, true);
  }
}
