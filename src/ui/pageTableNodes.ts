// The Page Tables tree's nodes (a regime, a table entry, a run of coalesced entries, "Load more", a
// message), the listing of one parent's children at a stop, and the walk that finds the deepest
// entry covering an address through those listings.

import type { Hex, PteEntry, Regime, RegimeInfo, TableRef } from '../shared/protocol';
import type { EntryGroup } from './format';

interface BaseNode {
  readonly id: string;
  parent: Node | undefined;
}
export interface RegimeNode extends BaseNode {
  kind: 'regime';
  info: RegimeInfo;
}
export interface EntryNode extends BaseNode {
  kind: 'entry';
  entry: PteEntry;
}
export interface RangeNode extends BaseNode {
  kind: 'range';
  group: EntryGroup;
}
export interface MoreNode extends BaseNode {
  kind: 'more';
  regime: Regime;
  table: TableRef | undefined;
  start: number;
}
export interface MessageNode extends BaseNode {
  kind: 'message';
  text: string;
  detail?: string;
}
export type Node = RegimeNode | EntryNode | RangeNode | MoreNode | MessageNode;

/** Children already fetched at this stop, per parent id ('' = root). */
export interface Listing {
  nodes: Node[];
  /** Entries fetched so far (pages appended by "Load more"), before coalescing. */
  entries: PteEntry[];
  nextStart?: number;
}

/**
 * The deepest entry under `parent` whose VA range holds `va`, asking `children` level by level (the
 * tree's own listings, so the nodes are the ones the view holds).
 */
export async function deepestEntry(
  parent: RegimeNode | EntryNode | RangeNode,
  va: bigint,
  children: (n: Node) => Promise<Node[]>,
): Promise<EntryNode | undefined> {
  let best: EntryNode | undefined;
  let level: Node[] = await children(parent);
  for (;;) {
    const hit = level.find((n) => covers(n, va));
    if (!hit) return best;
    if (hit.kind === 'range') {
      level = await children(hit);
      continue;
    }
    if (hit.kind !== 'entry') return best;
    best = hit;
    if (!hit.entry.child) return best;
    level = await children(hit);
  }
}

function covers(n: Node, va: bigint): boolean {
  const range = (s: Hex, e: Hex): boolean => BigInt(s) <= va && va <= BigInt(e);
  if (n.kind === 'entry') return range(n.entry.vaStart, n.entry.vaEnd);
  if (n.kind === 'range') {
    const g = n.group.entries;
    return range(g[0].vaStart, g[g.length - 1].vaEnd);
  }
  return false;
}
