// A per-stop cache of physical 4 KiB pages over the gdb client: the walk reads whole tables, and the
// translations, Fault scope and pageTable requests of the same stop then cost no round trip.
import type { TargetPort } from './port';
import type { PhysRange, PhysReader } from '../aarch64/reader';

const PAGE = 4096;

export class PhysCache implements PhysReader {
  /** A level's tables in one batch: one round trip on a long link (the client bounds bytes in flight). */
  readonly maxBatch = 1024;
  private pages = new Map<number, Uint8Array | Error>();
  /** Round trips made (figures for the benchmark). */
  batches = 0;

  constructor(private readonly gdb: () => TargetPort) {}

  clear(): void {
    this.pages.clear();
  }

  private async fill(pages: number[]): Promise<void> {
    const want = [...new Set(pages)].filter((p) => !this.pages.has(p));
    if (!want.length) return;
    this.batches++;
    const gdb = this.gdb();
    try {
      const data = await gdb.readPhysicalBatch(want.map((p) => ({ address: BigInt(p), length: PAGE })));
      want.forEach((p, i) => this.pages.set(p, data[i]));
    } catch {
      // One bad page fails the batch: retry page by page so only the bad ones fail.
      for (const p of want) {
        try {
          this.pages.set(p, await gdb.readPhysical(BigInt(p), PAGE));
        } catch (e) {
          this.pages.set(p, e instanceof Error ? e : new Error(String(e)));
        }
      }
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
