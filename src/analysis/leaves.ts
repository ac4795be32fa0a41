// Leaf objects for one root of a walk, from the walker's columnar store: a kernel's TTBR1 has 260k
// leaves that no consumer here needs as objects, while the pvmfw checks read TTBR0's few.
import type { Leaf } from '../aarch64/leaf';
import type { BaseRegister } from '../aarch64/regime';
import type { WalkResult } from '../aarch64/walk';

export function leavesOf(result: WalkResult | undefined, base: BaseRegister): Leaf[] {
  if (!result) return [];
  const store = result.store;
  const out: Leaf[] = [];
  for (let i = 0; i < store.length; i++) if (store.context(i).base === base) out.push(store.leaf(i));
  return out;
}
