// The last stop's walks, reused at the next stop when nothing they read has changed: the same regime
// (every register its description was made from, with the same values), the same walk options, and
// every table the walk read reading the same bytes now. A walk is a function of exactly these (it
// reads a table only because a table it read points there), so a reused walk is what walking again
// would give. The check reads every table again, through the same reader as a walk would; locally that
// is a pread and a page compare each (the per-stop page cache's own work). A step that changed no
// table then costs those reads and no decoding, classifying or coalescing. The reused result's
// `stats` are those of the walk that made it.
import type { PhysRange, PhysReader } from '../aarch64/reader';
import type { RegimeConfig } from '../aarch64/regime';
import type { WalkOptions, WalkResult } from '../aarch64/walk';

/** The walks of one stop, by regime. */
export type WalkSlot = 'el1' | 'el2' | 'stage2';

interface Kept {
  readonly config: RegimeConfig;
  readonly options: string;
  readonly result: WalkResult;
}

export class WalkReuse {
  private readonly kept = new Map<WalkSlot, Kept>();
  /** Walks reused so far (tests, benchmarks). */
  reused = 0;

  /**
   * The walk kept for `slot` when walking `config` through `reader` with `options` would give it
   * again; else undefined. The kept walk is let go either way (keep() stores the next one): one that
   * is not reused must not stay alive beside the walk that replaces it.
   */
  async take(
    slot: WalkSlot,
    config: RegimeConfig,
    reader: PhysReader,
    options: WalkOptions,
  ): Promise<WalkResult | undefined> {
    const k = this.kept.get(slot);
    this.kept.delete(slot);
    if (!k || k.options !== optionsKey(options) || !sameRegime(k.config, config)) return undefined;
    if (!(await readsTheSame(k.result, reader))) return undefined;
    this.reused++;
    return k.result;
  }

  keep(slot: WalkSlot, config: RegimeConfig, options: WalkOptions, result: WalkResult): void {
    this.kept.set(slot, { config, options: optionsKey(options), result });
  }

  clear(): void {
    this.kept.clear();
  }
}

/** The options a walk's result depends on (progress callbacks do not change it). */
function optionsKey(o: WalkOptions): string {
  const ram = o.ram?.map((r) => `${r.start.toString(16)}-${r.end.toString(16)}`).join(',') ?? '';
  return `${o.maxTables ?? ''}|${o.maxDiagnostics ?? ''}|${ram}|${o.roots?.join(',') ?? ''}|${o.includeDisabled === true}`;
}

/**
 * The same regime: `registers` holds every register value its description was made from (a register
 * that could not be read is absent), so equal registers make an equal description.
 */
function sameRegime(a: RegimeConfig, b: RegimeConfig): boolean {
  if (a.kind !== b.kind) return false;
  const ka = Object.keys(a.registers);
  if (ka.length !== Object.keys(b.registers).length) return false;
  return ka.every((n) => b.registers[n] === a.registers[n]);
}

/** Every table `result` read reads the same bytes through `reader` now. */
async function readsTheSame(result: WalkResult, reader: PhysReader): Promise<boolean> {
  // A table that could not be read may be readable now.
  if (result.diagnosticTotals.unreadable) return false;
  const pages = result.store.pages;
  const batch = Math.max(1, reader.maxBatch ?? 256);
  for (let at = 0; at < pages.count; at += batch) {
    const ranges: PhysRange[] = [];
    for (let k = at; k < Math.min(pages.count, at + batch); k++)
      ranges.push({ address: BigInt(pages.pa[k]), length: pages.data[k].byteLength });
    const got = await reader.read(ranges);
    for (let i = 0; i < ranges.length; i++) {
      const now = got[i];
      if (now instanceof Error || now === undefined || !sameBytes(pages.data[at + i], now)) return false;
    }
  }
  return true;
}

function sameBytes(was: Uint32Array, now: Uint8Array): boolean {
  if (was.byteLength !== now.byteLength) return false;
  // The page cache hands back the previous stop's page when it reads the same.
  if (was.buffer === now.buffer && was.byteOffset === now.byteOffset) return true;
  const a = new Uint8Array(was.buffer, was.byteOffset, was.byteLength);
  for (let i = 0; i < a.length; i++) if (a[i] !== now[i]) return false;
  return true;
}
