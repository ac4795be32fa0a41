// Canvas grid of one MMIO region's 4 KiB pages. A 1 GiB region is 262,144 pages: DOM cells would
// stall the webview, so pages are painted run by run (a run covers at most a few rectangles per row
// span) and the cell size shrinks to one pixel for huge regions.

import type { PageGuardState } from '../src/shared/protocol';
import { expand, PAGE_SIZE, STATES, type RegionSnapshot } from './diff';

export interface GridPalette {
  state: Record<PageGuardState, string>;
  empty: string;
  changed: string;
  fault: string;
  focus: string;
}

export interface GridMarks {
  /** Page indexes changed since the previous stop. */
  changed: ReadonlySet<number>;
  /** Index of the FAR page, when the fault is in this region. */
  fault?: number;
  /** Index of the page outlined after a reveal. */
  focus?: number;
}

export interface GridLayout {
  cell: number;
  cols: number;
  rows: number;
}

const MAX_HEIGHT = 320;
/** Room around the pages so the outline of an edge page (a one-page region) is not clipped. */
const MARGIN = 4;
const MAX_CELL = 16;

export function layoutFor(pages: number, width: number): GridLayout {
  const w = Math.max(64, Math.floor(width));
  const cell = Math.max(1, Math.min(MAX_CELL, Math.floor(Math.sqrt((w * MAX_HEIGHT) / Math.max(1, pages)))));
  const cols = Math.max(1, Math.min(pages, Math.floor((w - 2 * MARGIN) / cell)));
  return { cell, cols, rows: Math.ceil(pages / cols) };
}

export class PageGrid {
  readonly canvas: HTMLCanvasElement;
  private layout: GridLayout = { cell: 1, cols: 1, rows: 1 };
  private states: Uint8Array = new Uint8Array(0);

  constructor(
    private region: RegionSnapshot,
    private readonly onHover: (text: string) => void,
    private readonly onPick: (address: bigint) => void,
  ) {
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'grid';
    this.canvas.tabIndex = 0;
    this.canvas.addEventListener('mousemove', (e) => {
      const i = this.indexAt(e);
      this.onHover(i === undefined ? '' : this.describe(i));
    });
    this.canvas.addEventListener('mouseleave', () => this.onHover(''));
    this.canvas.addEventListener('click', (e) => {
      const i = this.indexAt(e);
      if (i !== undefined) this.onPick(this.addressOf(i));
    });
  }

  addressOf(index: number): bigint {
    return BigInt(this.region.start) + BigInt(index) * BigInt(PAGE_SIZE);
  }

  indexOf(address: bigint): number | undefined {
    const i = (address - BigInt(this.region.start)) / BigInt(PAGE_SIZE);
    return i >= 0n && i < BigInt(this.region.pageCount) ? Number(i) : undefined;
  }

  private describe(i: number): string {
    const code = this.states[i];
    const state = code === 255 ? 'not tracked' : STATES[code];
    return `0x${this.addressOf(i).toString(16).padStart(8, '0')} — ${state} (page ${i} of ${this.region.pageCount})`;
  }

  private indexAt(e: MouseEvent): number | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const { cell, cols } = this.layout;
    const col = Math.floor((e.clientX - rect.left - MARGIN) / cell);
    const row = Math.floor((e.clientY - rect.top - MARGIN) / cell);
    if (col < 0 || col >= cols || row < 0) return undefined;
    const i = row * cols + col;
    return i < this.region.pageCount ? i : undefined;
  }

  draw(region: RegionSnapshot, width: number, palette: GridPalette, marks: GridMarks): void {
    this.region = region;
    this.states = expand(region);
    this.layout = layoutFor(region.pageCount, width);
    const { cell, cols, rows } = this.layout;
    const dpr = window.devicePixelRatio || 1;
    const w = cols * cell + 2 * MARGIN;
    const h = rows * cell + 2 * MARGIN;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.ceil(w * dpr);
    this.canvas.height = Math.ceil(h * dpr);
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, MARGIN * dpr, MARGIN * dpr);
    ctx.fillStyle = palette.empty;
    ctx.fillRect(0, 0, cols * cell, rows * cell);
    const gap = cell >= 6 ? 1 : 0;

    // Paint maximal same-state spans: one fillRect per row segment, not per page.
    let i = 0;
    while (i < this.states.length) {
      const code = this.states[i];
      let j = i + 1;
      while (j < this.states.length && this.states[j] === code) j++;
      if (code !== 255) {
        ctx.fillStyle = palette.state[STATES[code]];
        this.fillSpan(ctx, i, j, gap);
      }
      i = j;
    }

    const mark = (index: number, color: string, lineWidth: number, grow: number): void => {
      const x = (index % cols) * cell;
      const y = Math.floor(index / cols) * cell;
      const size = Math.max(cell, 5) + grow * 2;
      const off = (size - cell) / 2;
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(x - off + lineWidth / 2, y - off + lineWidth / 2, size - lineWidth, size - lineWidth);
    };
    for (const c of marks.changed) mark(c, palette.changed, cell >= 6 ? 2 : 1, 0);
    if (marks.focus !== undefined) mark(marks.focus, palette.focus, 2, 2);
    if (marks.fault !== undefined) mark(marks.fault, palette.fault, 2, 3);
    this.canvas.setAttribute(
      'aria-label',
      `${region.pageCount} pages, ${marks.changed.size} changed since the previous stop`,
    );
  }

  /** Fills pages [from, to) which may wrap over several rows. */
  private fillSpan(ctx: CanvasRenderingContext2D, from: number, to: number, gap: number): void {
    const { cell, cols } = this.layout;
    if (gap) {
      for (let k = from; k < to; k++)
        ctx.fillRect((k % cols) * cell, Math.floor(k / cols) * cell, cell - gap, cell - gap);
      return;
    }
    let k = from;
    while (k < to) {
      const row = Math.floor(k / cols);
      const rowEnd = Math.min(to, (row + 1) * cols);
      const col = k % cols;
      if (col === 0 && to - k >= cols) {
        // Whole rows at once.
        const fullRows = Math.floor((to - k) / cols);
        ctx.fillRect(0, row * cell, cols * cell, fullRows * cell);
        k += fullRows * cols;
        continue;
      }
      ctx.fillRect(col * cell, row * cell, (rowEnd - k) * cell, cell);
      k = rowEnd;
    }
  }
}
