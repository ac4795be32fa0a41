// Stage-1 tables of a guest under stage 2 live at IPAs: their TTBR and table descriptors name IPAs,
// which the hardware translates through stage 2 for every table access. This reader does the same
// for a walk: each IPA range goes through a stage-2 walk's leaves before reaching physical memory.

import { S_VALID } from './leaf';
import type { LeafStore } from './leafstore';
import type { PhysRange, PhysReader } from './reader';

/** The stage-2 leaf index covering `ipa`, or -1 (leaves sorted by input address). */
export function findLeaf(store: LeafStore, ipa: number): number {
  let lo = 0;
  let hi = store.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const start = store.vaOf(mid);
    if (ipa < start) hi = mid - 1;
    else if (ipa >= start + 2 ** store.shift(mid)) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** IPA -> PA through a stage-2 walk's valid leaves; undefined where stage 2 would fault. */
export function ipaToPa(stage2: LeafStore, ipa: bigint): bigint | undefined {
  const i = findLeaf(stage2, Number(ipa));
  if (i < 0 || stage2.state(i) !== S_VALID) return undefined;
  return BigInt(stage2.paOf(i)) + (ipa - BigInt(stage2.vaOf(i)));
}

/**
 * A reader for stage-1 walks under stage 2: ranges are IPAs, translated by `stage2` (a stage-2
 * walk's store) before `inner` reads them. A range that stage 2 does not map fails with the reason
 * (the walker reports it on the entry that points there), unless `unmapped` names the PA the
 * hypervisor maps it to on first access (pKVM's lazy identity map of the host: a zero entry).
 */
export function stage2Reader(
  inner: PhysReader,
  stage2: LeafStore,
  unmapped?: (ipa: bigint) => bigint | undefined,
): PhysReader {
  return {
    ...(inner.maxBatch !== undefined ? { maxBatch: inner.maxBatch } : {}),
    async read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
      const out: (Uint8Array | Error)[] = new Array<Uint8Array | Error>(ranges.length);
      const mapped: PhysRange[] = [];
      const at: number[] = [];
      ranges.forEach((r, k) => {
        const end = r.address + BigInt(r.length - 1);
        const pa = ipaToPa(stage2, r.address) ?? unmapped?.(r.address);
        const last = ipaToPa(stage2, end) ?? unmapped?.(end);
        if (pa === undefined || last === undefined || last - pa !== BigInt(r.length - 1)) {
          out[k] = new Error(
            `IPA 0x${r.address.toString(16)} is not mapped by stage 2 (stage-2 fault on the stage-1 walk, S1PTW)`,
          );
          return;
        }
        mapped.push({ address: pa, length: r.length });
        at.push(k);
      });
      if (mapped.length) {
        const got = await inner.read(mapped);
        got.forEach((g, j) => (out[at[j]] = g));
      }
      return out;
    },
  };
}
