// What changed in the translation tables between two stops, word by word over the tables both
// walks read: entries that became valid or invalid, blocks split into tables (pvmfw's fault path
// splits a lazy 2 MiB block when one of its pages is touched), tables merged back into blocks.
import { decodeDescriptor } from '../aarch64/descriptor';
import { levelShift, type DescriptorFormat } from '../aarch64/granule';
import type { RegimeConfig } from '../aarch64/regime';
import type { TableInfo } from '../aarch64/walk';
import type { PteChange, PteChangeKind } from '../shared/protocol';
import { hex, pteKind } from './pte';
import { formatAddress, formatChange, formatDescriptor } from '../shared/format';

export interface TableSnapshot {
  info: TableInfo;
  fmt: DescriptorFormat;
  regime: RegimeConfig;
  /** The table's descriptors as little-endian u32 pairs. */
  words: Uint32Array;
}

const join = (lo: number, hi: number): bigint => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function classify(
  before: bigint | undefined,
  after: bigint | undefined,
  level: number,
  fmt: DescriptorFormat,
  lazyBit: number | undefined,
): PteChangeKind {
  const b = before === undefined ? undefined : pteKind(decodeDescriptor(before, level, fmt), lazyBit);
  const a = after === undefined ? undefined : pteKind(decodeDescriptor(after, level, fmt), lazyBit);
  const isBlockish = (k: string | undefined) =>
    k === 'block' || (level < 3 && (k === 'lazy' || k === 'invalidWithBits'));
  if (a === 'table' && isBlockish(b)) return 'split';
  if (b === 'table' && (a === 'block' || a === 'lazy')) return 'merged';
  const validB = b === 'block' || b === 'page' || b === 'table';
  const validA = a === 'block' || a === 'page' || a === 'table';
  if (!validB && validA) return before === undefined ? 'becameValid' : 'becameValid';
  if (validB && !validA) return 'becameInvalid';
  if (before === undefined || before === 0n) return 'added';
  if (after === undefined || after === 0n) return 'removed';
  return 'modified';
}

function summary(
  kind: PteChangeKind,
  level: number,
  va: bigint,
  before: bigint | undefined,
  after: bigint | undefined,
  size: number,
): string {
  const sz =
    size >= 1 << 30
      ? `${size / (1 << 30)} GiB`
      : size >= 1 << 20
        ? `${size / (1 << 20)} MiB`
        : `${size / 1024} KiB`;
  const b = before === undefined ? 'none' : formatDescriptor(before);
  const a = after === undefined ? 'none' : formatDescriptor(after);
  const change = formatChange(b, a);
  switch (kind) {
    case 'split':
      return `L${level} ${sz} block at ${formatAddress(va)} split into a table (${change})`;
    case 'merged':
      return `L${level} table at ${formatAddress(va)} replaced by a ${sz} block (${change})`;
    case 'becameValid':
      return `L${level} ${sz} entry at ${formatAddress(va)} became valid (${change})`;
    case 'becameInvalid':
      return `L${level} ${sz} entry at ${formatAddress(va)} became invalid (${change})`;
    default:
      return `L${level} ${sz} entry at ${formatAddress(va)} ${kind} (${change})`;
  }
}

export function diffTables(
  prev: ReadonlyMap<number, TableSnapshot>,
  next: ReadonlyMap<number, TableSnapshot>,
  lazyBit: number | undefined,
): PteChange[] {
  const out: PteChange[] = [];
  const push = (t: TableSnapshot, i: number, before: bigint | undefined, after: bigint | undefined): void => {
    const { info, fmt } = t;
    const shift = levelShift(fmt.granule, info.level);
    const va = info.vaStart + (BigInt(i) << BigInt(shift));
    const size = 2 ** shift;
    const kind = classify(before, after, info.level, fmt, lazyBit);
    const c: PteChange = {
      kind,
      regime: info.base,
      level: info.level,
      descriptorAddress: hex(info.pa + BigInt(i * 8)),
      vaStart: hex(va),
      vaEnd: hex(va + BigInt(size) - 1n),
      ...(before !== undefined ? { before: hex(before) } : {}),
      ...(after !== undefined ? { after: hex(after) } : {}),
      summary: summary(kind, info.level, va, before, after, size),
    };
    if (kind === 'split' && after !== undefined) {
      const d = decodeDescriptor(after, info.level, fmt);
      if (d.type === 'table')
        c.newTable = { table: hex(d.nextTable), level: info.level + 1, vaBase: hex(va) };
    }
    out.push(c);
  };
  for (const [pa, t] of next) {
    const old = prev.get(pa);
    const w = t.words;
    if (
      old &&
      old.info.level === t.info.level &&
      old.info.base === t.info.base &&
      old.words.length === w.length
    ) {
      const o = old.words;
      // The same bytes in memory (the page cache keeps a page that read the same at both stops):
      // nothing to compare.
      if (o.buffer === w.buffer && o.byteOffset === w.byteOffset) continue;
      for (let k = 0; k < w.length; k += 2) {
        if (w[k] !== o[k] || w[k + 1] !== o[k + 1])
          push(t, k >> 1, join(o[k], o[k + 1]), join(w[k], w[k + 1]));
      }
      continue;
    }
    // A table that did not exist at the previous stop (a split): its lazy entries are the block's
    // pages and not news, but a page valid already (mapped by the same handler run) is.
    for (let k = 0; k < w.length; k += 2) {
      if (w[k] & 1) {
        const after = join(w[k], w[k + 1]);
        const d = decodeDescriptor(after, t.info.level, t.fmt);
        if (d.type === 'page' || d.type === 'block') push(t, k >> 1, undefined, after);
      }
    }
  }
  return out;
}
