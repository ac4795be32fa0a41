// The Memory view's row model, pure (no DOM): which lines of a stop's memory are known, what the
// visible rows show (hex groups, ASCII, `??` where unreadable and why), which bytes changed since the
// previous stop, and the scroll position over a whole address space. Nothing is allocated per address
// of the space: only lines that were read are kept, at most MAX_LINES of them per store.

import { formatAddress } from '../src/shared/format';
import {
  BYTES_PER_ROW,
  MAX_READ_BYTES,
  SPACE_END,
  type AddressSpace,
  type ReadSegment,
} from '../src/shared/memoryViewMessages';

/** Lines kept per store (64 KiB of bytes): the oldest go first when a long scroll reads more. */
export const MAX_LINES = 4096;
/** Rows the view draws at most (a read of the whole window stays at 1 KiB). */
export const MAX_ROWS = 64;

const PENDING = -1;
const UNREADABLE = -2;

interface Line {
  /** 0–255, PENDING or UNREADABLE per byte. */
  values: Int16Array;
  /** Why each unreadable byte is unreadable. */
  reasons: (string | undefined)[];
}

export interface ByteState {
  value?: number;
  unreadable?: string;
}

/** The bytes of one address space read at one stop of one run. */
export class LineStore {
  private readonly lines = new Map<bigint, Line>();

  constructor(
    readonly space: AddressSpace,
    readonly run: string,
    readonly stop: number,
    private readonly maxLines = MAX_LINES,
  ) {}

  get size(): number {
    return this.lines.size;
  }

  byte(address: bigint): ByteState | undefined {
    const line = this.lines.get(address - (address % BigInt(BYTES_PER_ROW)));
    if (!line) return undefined;
    const i = Number(address % BigInt(BYTES_PER_ROW));
    const v = line.values[i];
    if (v === PENDING) return undefined;
    if (v === UNREADABLE) return { unreadable: line.reasons[i] ?? 'unreadable' };
    return { value: v };
  }

  /** Stores a read's answer: `segments` cover consecutive bytes from `address`. */
  put(address: bigint, segments: readonly ReadSegment[]): void {
    let a = address;
    for (const s of segments) {
      const bytes = s.data !== undefined ? hexBytes(s.data) : undefined;
      const n = bytes ? bytes.length : s.length;
      for (let k = 0; k < n; k++, a++) {
        if (a >= SPACE_END[this.space]) return;
        const line = this.line(a - (a % BigInt(BYTES_PER_ROW)));
        const i = Number(a % BigInt(BYTES_PER_ROW));
        if (bytes) {
          line.values[i] = bytes[k];
          line.reasons[i] = undefined;
        } else {
          line.values[i] = UNREADABLE;
          line.reasons[i] = s.unreadable ?? 'unreadable';
        }
      }
    }
  }

  /**
   * The line-aligned range of [from, from + bytes) not read yet, as one read (first to last missing
   * line), or undefined when everything is known.
   */
  missing(from: bigint, bytes: number): { address: bigint; length: number } | undefined {
    const end = clampEnd(from + BigInt(bytes), this.space);
    let first: bigint | undefined;
    let last: bigint | undefined;
    for (let a = from - (from % BigInt(BYTES_PER_ROW)); a < end; a += BigInt(BYTES_PER_ROW)) {
      const line = this.lines.get(a);
      if (line && !line.values.includes(PENDING)) continue;
      first ??= a;
      last = a;
    }
    if (first === undefined || last === undefined) return undefined;
    const length = Number(clampEnd(last + BigInt(BYTES_PER_ROW), this.space) - first);
    return { address: first, length: Math.min(length, MAX_READ_BYTES) };
  }

  private line(a: bigint): Line {
    let line = this.lines.get(a);
    if (!line) {
      if (this.lines.size >= this.maxLines) {
        const oldest = this.lines.keys().next().value;
        if (oldest !== undefined) this.lines.delete(oldest);
      }
      line = { values: new Int16Array(BYTES_PER_ROW).fill(PENDING), reasons: [] };
      this.lines.set(a, line);
    }
    return line;
  }
}

function clampEnd(end: bigint, space: AddressSpace): bigint {
  return end > SPACE_END[space] ? SPACE_END[space] : end;
}

export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// ---------------------------------------------------------------- stops

/** A stop as the view keys it: the run (a restart starts a new one), the stop, the selected vCPU. */
export interface StopKey {
  run: string;
  stop: number;
  thread?: number;
}

/**
 * What a store is keyed by: physical memory is one for every vCPU, virtual addresses go through the
 * selected vCPU's regime, so selecting another vCPU at the same stop is another view of virtual memory.
 */
export function storeKey(space: AddressSpace, run: string, thread: number | undefined): string {
  return space === 'virtual' && thread !== undefined ? `${run}/vcpu${thread}` : run;
}

export type Stores = Record<AddressSpace, LineStore | undefined>;

/**
 * The stores for a new stop (or a vCPU selected at the same stop). A store still valid is kept (and
 * its previous); otherwise the current one becomes `previous` when it was read at the stop just before
 * under the same key (same run, same vCPU for virtual memory), and a fresh store starts.
 */
export function nextStores(
  current: Stores,
  previous: Stores,
  last: StopKey | undefined,
  next: StopKey,
): { current: Stores; previous: Stores } {
  const cur: Stores = { ...current };
  const prev: Stores = { ...previous };
  for (const s of ['virtual', 'physical'] as const) {
    const key = storeKey(s, next.run, next.thread);
    const store = current[s];
    if (store && store.run === key && store.stop === next.stop) continue;
    const justBefore = last !== undefined && last.run === next.run && last.stop !== next.stop;
    prev[s] = justBefore && store?.run === key && store.stop === last.stop ? store : undefined;
    cur[s] = new LineStore(s, key, next.stop);
  }
  return { current: cur, previous: prev };
}

// ---------------------------------------------------------------- scrolling

/** The first address of the row holding `address`. */
export function rowOf(address: bigint): bigint {
  return address - (address % BigInt(BYTES_PER_ROW));
}

/** The last valid top row of a window of `rows` rows in `space`. */
export function lastTop(space: AddressSpace, rows: number): bigint {
  const last = SPACE_END[space] - BigInt(rows * BYTES_PER_ROW);
  return last < 0n ? 0n : last;
}

export function clampTop(top: bigint, space: AddressSpace, rows: number): bigint {
  const t = rowOf(top < 0n ? 0n : top);
  const max = lastTop(space, rows);
  return t > max ? max : t;
}

export type ScrollKey = 'ArrowUp' | 'ArrowDown' | 'PageUp' | 'PageDown' | 'Home' | 'End';

/**
 * The new top row after a key: arrows move one row, Page Up/Down a window (less one row, so a line
 * stays in sight), Home/End the start/end of the current 4 KiB page.
 */
export function scrollKey(top: bigint, key: ScrollKey, space: AddressSpace, rows: number): bigint {
  const row = BigInt(BYTES_PER_ROW);
  const page = BigInt(rows > 1 ? rows - 1 : 1) * row;
  switch (key) {
    case 'ArrowUp':
      return clampTop(top - row, space, rows);
    case 'ArrowDown':
      return clampTop(top + row, space, rows);
    case 'PageUp':
      return clampTop(top - page, space, rows);
    case 'PageDown':
      return clampTop(top + page, space, rows);
    case 'Home':
      return clampTop(top & ~0xfffn, space, rows);
    case 'End':
      return clampTop((top | 0xfffn) + 1n - BigInt(rows * BYTES_PER_ROW), space, rows);
  }
}

/** Where the scroll thumb sits, 0–1, for a top row (linear over the whole space). */
export function thumbFraction(top: bigint, space: AddressSpace, rows: number): number {
  const max = lastTop(space, rows);
  if (max === 0n) return 0;
  // 2^20 steps are finer than any scrollbar's pixels.
  return Number((top * 1_048_576n) / max) / 1_048_576;
}

/** The top row for a thumb position (0–1). */
export function topAtFraction(f: number, space: AddressSpace, rows: number): bigint {
  const clamped = Math.min(1, Math.max(0, f));
  const max = lastTop(space, rows);
  return clampTop((max * BigInt(Math.round(clamped * 1_048_576))) / 1_048_576n, space, rows);
}

/** A top that keeps `range` in sight: `top` itself when it already does, else a row above the range. */
export function topShowing(
  top: bigint,
  range: { address: bigint; length: number },
  space: AddressSpace,
  rows: number,
): bigint {
  const end = top + BigInt(rows * BYTES_PER_ROW);
  if (range.address >= top && range.address + BigInt(range.length) <= end) return top;
  return clampTop(rowOf(range.address) - BigInt(BYTES_PER_ROW * Math.min(2, rows - 1)), space, rows);
}

// ---------------------------------------------------------------- rows

export type Grouping = 1 | 2 | 4 | 8;

export interface CellView {
  address: bigint;
  /** Hex of the group (little-endian value), `??` per unreadable byte, `··` while being read. */
  text: string;
  kind: 'value' | 'unreadable' | 'pending';
  /** Some byte differs from the previous stop (value, or readable ↔ unreadable). */
  changed: boolean;
  /** Some byte is in the highlighted range. */
  highlight: boolean;
  reason?: string;
}

export interface RowView {
  address: bigint;
  addressText: string;
  cells: CellView[];
  /** One cell per byte: the character, `.` when not printable, `?` unreadable, ` ` pending. */
  ascii: CellView[];
}

export interface RowsInput {
  space: AddressSpace;
  top: bigint;
  rows: number;
  group: Grouping;
  current: LineStore | undefined;
  /** The previous stop's bytes of this space (same run), to mark what changed. */
  previous: LineStore | undefined;
  highlight?: { address: bigint; length: number };
  /** The stopped regime's VA width (TargetMessage.vaBits), for virtual row addresses. */
  vaBits?: number;
}

function changedByte(cur: ByteState | undefined, prev: ByteState | undefined): boolean {
  if (!cur || !prev) return false;
  if (cur.value !== undefined && prev.value !== undefined) return cur.value !== prev.value;
  return (cur.value === undefined) !== (prev.value === undefined);
}

/**
 * The width row addresses are written at, one for the whole window (src/shared/format's rule):
 * a virtual address at the stopped regime's VA width (`vaBits`: 64 when TTBR1 is in use; 48 when
 * unknown), a physical one at 8 digits or as many as the window's last address needs.
 */
export function addressBits(space: AddressSpace, lastAddress: bigint, vaBits?: number): number {
  const needed = lastAddress.toString(16).length * 4;
  if (space === 'virtual') {
    const bits = vaBits ?? 48;
    return needed > bits ? 64 : bits;
  }
  return Math.max(32, needed);
}

const printable = (v: number): string => (v >= 0x20 && v < 0x7f ? String.fromCharCode(v) : '.');

export function buildRows(input: RowsInput): RowView[] {
  const { space, rows, group, current, previous, highlight } = input;
  const top = clampTop(input.top, space, rows);
  const bits = addressBits(space, top + BigInt(rows * BYTES_PER_ROW) - 1n, input.vaBits);
  const inHighlight = (a: bigint): boolean =>
    highlight !== undefined && a >= highlight.address && a < highlight.address + BigInt(highlight.length);
  const out: RowView[] = [];
  for (let r = 0; r < rows; r++) {
    const address = top + BigInt(r * BYTES_PER_ROW);
    if (address >= SPACE_END[space]) break;
    const bytes: CellView[] = [];
    for (let i = 0; i < BYTES_PER_ROW; i++) {
      const a = address + BigInt(i);
      const cur = current?.byte(a);
      const changed = changedByte(cur, previous?.byte(a));
      const base = { address: a, changed, highlight: inHighlight(a) };
      if (!cur) bytes.push({ ...base, text: '··', kind: 'pending' });
      else if (cur.value === undefined)
        bytes.push({ ...base, text: '??', kind: 'unreadable', reason: cur.unreadable });
      else bytes.push({ ...base, text: cur.value.toString(16).padStart(2, '0'), kind: 'value' });
    }
    const cells: CellView[] = [];
    for (let i = 0; i < BYTES_PER_ROW; i += group) {
      const part = bytes.slice(i, i + group);
      const unreadable = part.find((b) => b.kind === 'unreadable');
      const pending = part.some((b) => b.kind === 'pending');
      cells.push({
        address: part[0].address,
        // Little-endian: the group's value reads most significant byte first, as x/gx prints it.
        text: part
          .map((b) => b.text)
          .reverse()
          .join(''),
        kind: unreadable ? 'unreadable' : pending ? 'pending' : 'value',
        changed: part.some((b) => b.changed),
        highlight: part.some((b) => b.highlight),
        ...(unreadable?.reason ? { reason: unreadable.reason } : {}),
      });
    }
    const ascii = bytes.map((b) => ({
      ...b,
      text: b.kind === 'value' ? printable(parseInt(b.text, 16)) : b.kind === 'unreadable' ? '?' : ' ',
    }));
    out.push({ address, addressText: formatAddress(address, bits), cells, ascii });
  }
  return out;
}

/** The unreadable stretches of the rows, each with its reason (what the view lists under the dump). */
export function unreadableRuns(rows: readonly RowView[]): { start: bigint; last: bigint; reason: string }[] {
  const runs: { start: bigint; last: bigint; reason: string }[] = [];
  for (const row of rows)
    for (const b of row.ascii) {
      if (b.kind !== 'unreadable') continue;
      const reason = b.reason ?? 'unreadable';
      const prev = runs[runs.length - 1];
      if (prev && prev.reason === reason && prev.last + 1n === b.address) prev.last = b.address;
      else runs.push({ start: b.address, last: b.address, reason });
    }
  return runs;
}

/** Bytes that changed since the previous stop among the rows. */
export function changedCount(rows: readonly RowView[]): number {
  return rows.reduce((n, r) => n + r.ascii.filter((b) => b.changed).length, 0);
}
