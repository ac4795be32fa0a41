// Canvas grid of one MMIO region's 4 KiB pages. A 1 GiB region is 262,144 pages: DOM cells would
// stall the webview, so pages are painted run by run (a run covers at most a few rectangles per row
// span) and the cell size shrinks to one pixel for huge regions. The grid draws a window of the
// region: all of it, or a quarter as many pages per zoom level in (media/panelModel zoomWindow). A
// page cursor moves with the arrow keys; the readout beside the grid describes it to screen readers.

import type { PageGuardState } from '../src/shared/protocol';
import { expand, PAGE_SIZE, STATES, type RegionSnapshot } from './diff';
import {
  cellStates,
  describePage,
  GRID_HEIGHT,
  GRID_MARGIN as MARGIN,
  isCursorKey,
  layoutFor,
  UNIFORM_GRID_HEIGHT,
  maxZoom,
  moveCursor,
  windowText,
  zoomWindow,
  type GridLayout,
  type GridWindow,
} from './panelModel';

export { layoutFor, type GridLayout };

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

/** What the grid keeps between renders (zoom and cursor), per region. */
export interface GridView {
  level: number;
  first: number;
  cursor?: number;
}

/** Which state a cell of several pages shows: the most notable of its pages. */
const NOTABLE: Record<PageGuardState, number> = {
  lazy: 0,
  unmapped: 1,
  guardMapped: 2,
  guardMappedPending: 3,
  validUnguarded: 4,
  anomaly: 5,
};
const RANK = STATES.map((s) => NOTABLE[s]);

export interface GridHooks {
  /** Text for the readout (hovered page, else the cursor's page). */
  onDescribe(text: string): void;
  /** Enter, Space or a click on a page. */
  onPick(address: bigint): void;
  /** Zoom or cursor moved: the webview keeps it for the next render. */
  onView(view: GridView): void;
}

export class PageGrid {
  readonly canvas: HTMLCanvasElement;
  /** `pages 1–4,096 of 262,144 · zoom 64×`, kept current by the grid. */
  readonly windowLabel: HTMLElement;
  private layout: GridLayout = { cell: 1, cols: 1, rows: 1, ppc: 1 };
  private states: Uint8Array = new Uint8Array(0);
  private window: GridWindow;
  private cursor: number | undefined;
  private last: { width: number; palette: GridPalette; marks: GridMarks } | undefined;

  constructor(
    private region: RegionSnapshot,
    private readonly name: string | undefined,
    private readonly hooks: GridHooks,
    view: GridView | undefined,
  ) {
    // The saved view comes back from the webview state: used only when its numbers make sense.
    const ok = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
    this.window =
      view && ok(view.level) && ok(view.first)
        ? zoomWindow(
            region.pageCount,
            view.level,
            view.first + (zoomWindow(region.pageCount, view.level, 0).count >> 1),
          )
        : zoomWindow(region.pageCount, 0, 0);
    this.cursor = ok(view?.cursor) && view.cursor < region.pageCount ? view.cursor : undefined;
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'grid';
    this.canvas.tabIndex = 0;
    this.canvas.setAttribute('role', 'img');
    this.windowLabel = document.createElement('span');
    this.windowLabel.className = 'window';
    this.canvas.addEventListener('mousemove', (e) => {
      const i = this.indexAt(e);
      this.hooks.onDescribe(i === undefined ? this.cursorText() : this.describe(i));
    });
    this.canvas.addEventListener('mouseleave', () => this.hooks.onDescribe(this.cursorText()));
    this.canvas.addEventListener('click', (e) => {
      const i = this.indexAt(e);
      if (i === undefined) return;
      this.cursor = i;
      this.changed();
      this.hooks.onPick(this.addressOf(i));
    });
    this.canvas.addEventListener('focus', () => {
      // Focus shows the cursor; the first time, on the fault page or the window's first page.
      if (this.cursor === undefined) {
        this.cursor = this.last?.marks.fault ?? this.window.first;
        this.changed();
      } else this.hooks.onDescribe(this.cursorText());
    });
    this.canvas.addEventListener('keydown', (e) => this.onKey(e));
  }

  addressOf(index: number): bigint {
    return BigInt(this.region.start) + BigInt(index) * BigInt(PAGE_SIZE);
  }

  indexOf(address: bigint): number | undefined {
    const i = (address - BigInt(this.region.start)) / BigInt(PAGE_SIZE);
    return i >= 0n && i < BigInt(this.region.pageCount) ? Number(i) : undefined;
  }

  get view(): GridView {
    return { level: this.window.level, first: this.window.first, cursor: this.cursor };
  }

  /** Zoom by `delta` levels around the cursor (or the window's middle); `0` with `fit` back to all. */
  zoom(delta: number, fit = false): void {
    const center = this.cursor ?? this.window.first + (this.window.count >> 1);
    this.window = zoomWindow(this.region.pageCount, fit ? 0 : this.window.level + delta, center);
    this.changed();
  }

  get canZoomIn(): boolean {
    return this.window.level < maxZoom(this.region.pageCount);
  }

  private describe(i: number): string {
    const code = this.states[i];
    return describePage(
      this.addressOf(i),
      code === 255 ? undefined : STATES[code],
      i,
      this.region.pageCount,
      this.name,
      { changed: this.last?.marks.changed.has(i), fault: this.last?.marks.fault === i },
    );
  }

  private cursorText(): string {
    return this.cursor === undefined ? '' : this.describe(this.cursor);
  }

  private onKey(e: KeyboardEvent): void {
    if (isCursorKey(e.key)) {
      const from = this.cursor ?? this.window.first;
      this.cursor = moveCursor(
        from,
        e.key,
        this.layout.cols,
        this.layout.rows,
        this.region.pageCount,
        this.layout.ppc,
      );
      const w = this.window;
      if (this.cursor < w.first || this.cursor >= w.first + w.count)
        this.window = zoomWindow(this.region.pageCount, w.level, this.cursor);
    } else if (e.key === '+' || e.key === '=')
      this.window = zoomWindow(
        this.region.pageCount,
        this.window.level + 1,
        this.cursor ?? this.window.first + (this.window.count >> 1),
      );
    else if (e.key === '-')
      this.window = zoomWindow(
        this.region.pageCount,
        this.window.level - 1,
        this.cursor ?? this.window.first,
      );
    else if (e.key === '0') this.window = zoomWindow(this.region.pageCount, 0, 0);
    else if ((e.key === 'Enter' || e.key === ' ') && this.cursor !== undefined) {
      this.hooks.onPick(this.addressOf(this.cursor));
    } else return;
    e.preventDefault();
    this.changed();
  }

  /** Redraws after a zoom or a cursor move, and tells the webview and the readout. */
  private changed(): void {
    if (this.last) this.draw(this.region, this.last.width, this.last.palette, this.last.marks);
    this.hooks.onView(this.view);
    this.hooks.onDescribe(this.cursorText());
  }

  private indexAt(e: MouseEvent): number | undefined {
    const rect = this.canvas.getBoundingClientRect();
    const { cell, cols } = this.layout;
    const col = Math.floor((e.clientX - rect.left - MARGIN) / cell);
    const row = Math.floor((e.clientY - rect.top - MARGIN) / cell);
    if (col < 0 || col >= cols || row < 0) return undefined;
    const k = (row * cols + col) * this.layout.ppc;
    return k < this.window.count ? this.window.first + k : undefined;
  }

  draw(region: RegionSnapshot, width: number, palette: GridPalette, marks: GridMarks): void {
    this.region = region;
    this.last = { width, palette, marks };
    this.states = expand(region);
    const { first, count } = this.window;
    // A window of one colour (a lazy gigabyte) needs no height: a strip says it, the text beside counts it.
    let uniform = true;
    for (let k = first + 1; k < first + count && uniform; k++)
      uniform = this.states[k] === this.states[first];
    this.layout = layoutFor(count, width, uniform ? UNIFORM_GRID_HEIGHT : GRID_HEIGHT);
    const { cell, cols, rows, ppc } = this.layout;
    const dpr = window.devicePixelRatio || 1;
    const w = cols * cell + 2 * MARGIN;
    const h = rows * cell + 2 * MARGIN;
    this.canvas.style.width = `${w}px`;
    this.canvas.style.height = `${h}px`;
    this.canvas.width = Math.ceil(w * dpr);
    this.canvas.height = Math.ceil(h * dpr);
    const ctx = this.canvas.getContext('2d');
    this.windowLabel.textContent =
      windowText(this.window, region.pageCount) + (ppc > 1 ? ` · ${ppc} pages per cell` : '');
    this.canvas.setAttribute(
      'aria-label',
      `${this.name ?? 'region'} page grid, ${windowText(this.window, region.pageCount)}, ` +
        `${marks.changed.size} changed since the previous stop. Arrow keys move the page cursor, ` +
        'plus and minus zoom, Enter reveals the page table entry.',
    );
    if (!ctx) return;
    ctx.setTransform(dpr, 0, 0, dpr, MARGIN * dpr, MARGIN * dpr);
    ctx.fillStyle = palette.empty;
    ctx.fillRect(0, 0, cols * cell, rows * cell);
    const gap = cell >= 6 ? 1 : 0;

    // Paint maximal same-state spans of cells: one fillRect per row segment, not per page.
    const cells =
      ppc === 1
        ? this.states.subarray(first, first + count)
        : cellStates(this.states, first, count, ppc, RANK);
    let i = 0;
    while (i < cells.length) {
      const code = cells[i];
      let j = i + 1;
      while (j < cells.length && cells[j] === code) j++;
      if (code !== 255) {
        ctx.fillStyle = palette.state[STATES[code]];
        this.fillSpan(ctx, i, j, gap);
      }
      i = j;
    }

    const mark = (index: number, color: string, lineWidth: number, grow: number): void => {
      if (index < first || index >= first + count) return;
      const k = Math.floor((index - first) / ppc);
      const x = (k % cols) * cell;
      const y = Math.floor(k / cols) * cell;
      const size = Math.max(cell, 5) + grow * 2;
      const off = (size - cell) / 2;
      ctx.strokeStyle = color;
      ctx.lineWidth = lineWidth;
      ctx.strokeRect(x - off + lineWidth / 2, y - off + lineWidth / 2, size - lineWidth, size - lineWidth);
    };
    for (const c of marks.changed) mark(c, palette.changed, cell >= 6 ? 2 : 1, 0);
    if (marks.focus !== undefined) mark(marks.focus, palette.focus, 2, 2);
    if (marks.fault !== undefined) mark(marks.fault, palette.fault, 2, 3);
    // The cursor: a dashed ring in the focus colour, outside the other marks.
    if (this.cursor !== undefined) {
      ctx.setLineDash([3, 2]);
      mark(this.cursor, palette.focus, 2, 4);
      ctx.setLineDash([]);
    }
  }

  /** Fills cells [from, to) which may wrap over several rows. */
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
