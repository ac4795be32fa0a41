// Memory view webview: draws only the visible rows of an address space (virtualized: the top row is a
// bigint, nothing is allocated per address), asks the host for the bytes it lacks, and at each new
// stop re-reads them and marks the bytes that changed since the previous stop. Unreadable bytes show
// as `??` with the adapter's reason; nothing is written. Pure parts live in memoryModel.ts.

import {
  BYTES_PER_ROW,
  hexAddress,
  isHostToMemoryView,
  memoryReferenceOf,
  type AddressSpace,
  type BytesMessage,
  type MemoryViewToHost,
  type NavigateMessage,
  type TargetMessage,
} from '../src/shared/memoryViewMessages';
import {
  buildRows,
  changedCount,
  clampTop,
  MAX_ROWS,
  nextStores,
  rowOf,
  scrollKey,
  storeKey,
  thumbFraction,
  topAtFraction,
  topShowing,
  unreadableRuns,
  type Grouping,
  type RowView,
  type ScrollKey,
  type StopKey,
  type Stores,
} from './memoryModel';

interface VsCodeApi {
  postMessage(message: MemoryViewToHost): void;
  getState(): unknown;
  setState(state: Persisted): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

/** What survives the panel being hidden (no retainContextWhenHidden): where the user was looking. */
interface Persisted {
  version: 1;
  space: AddressSpace;
  tops: Record<AddressSpace, string>;
  group: Grouping;
  origin: string;
  highlight?: { space: AddressSpace; address: string; length: number };
}

const vscode = acquireVsCodeApi();
const ROW_HEIGHT = 18;
const SPACES: AddressSpace[] = ['virtual', 'physical'];

function restore(): Persisted {
  const s = vscode.getState() as Partial<Persisted> | undefined;
  if (s?.version === 1 && s.tops && s.space && s.group) return s as Persisted;
  return { version: 1, space: 'virtual', tops: { virtual: '0x0', physical: '0x0' }, group: 1, origin: '' };
}

const saved = restore();
let space: AddressSpace = saved.space;
const tops: Record<AddressSpace, bigint> = {
  virtual: BigInt(saved.tops.virtual),
  physical: BigInt(saved.tops.physical),
};
let group: Grouping = saved.group;
let origin = saved.origin;
let highlight = saved.highlight
  ? { space: saved.highlight.space, address: BigInt(saved.highlight.address), length: saved.highlight.length }
  : undefined;
let target: TargetMessage = { type: 'target', state: 'none', message: 'Waiting for the extension…' };
/** The stopped regime's VA width for virtual row addresses (TargetMessage.vaBits). */
let vaBits: number | undefined;
const current: Stores = { virtual: undefined, physical: undefined };
const previous: Stores = { virtual: undefined, physical: undefined };
let nextId = 1;
let inFlight: { id: number; space: AddressSpace } | undefined;
let rows = 16;

function persist(): void {
  vscode.setState({
    version: 1,
    space,
    tops: { virtual: hexAddress(tops.virtual), physical: hexAddress(tops.physical) },
    group,
    origin,
    ...(highlight ? { highlight: { ...highlight, address: hexAddress(highlight.address) } } : {}),
  });
}

// ---------------------------------------------------------------- DOM

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  text?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

const app = document.getElementById('memory-app') as HTMLElement;
app.textContent = '';
const toolbar = el('div', { class: 'toolbar' });
const spaceSelect = el('select', { id: 'space', 'aria-label': 'Address space' });
for (const s of SPACES)
  spaceSelect.append(el('option', { value: s }, s === 'virtual' ? 'Virtual' : 'Physical'));
const addressBox = el('input', {
  id: 'address',
  type: 'text',
  spellcheck: 'false',
  'aria-label': 'Address',
  placeholder: '0x…, p:0x… (physical) or a symbol',
});
const goButton = el('button', { id: 'go', type: 'button' }, 'Go');
const groupSelect = el('select', { id: 'group', 'aria-label': 'Bytes per group' });
for (const g of [1, 2, 4, 8]) groupSelect.append(el('option', { value: String(g) }, `${g * 8}-bit`));
const status = el('span', { id: 'status', class: 'status', role: 'status', 'aria-live': 'polite' });
toolbar.append(spaceSelect, addressBox, goButton, groupSelect, status);
const originLine = el('div', { id: 'origin', class: 'origin' });
const errorLine = el('div', { id: 'error', class: 'error', role: 'alert' });
const wrap = el('div', { class: 'dump-wrap' });
const dump = el('div', {
  id: 'dump',
  class: 'dump',
  tabindex: '0',
  role: 'grid',
  'aria-label': 'Memory: arrow keys, Page Up/Down and Home/End scroll',
});
const scrollbar = el('div', { id: 'scrollbar', class: 'scrollbar', 'aria-hidden': 'true' });
const thumb = el('div', { class: 'thumb' });
scrollbar.append(thumb);
wrap.append(dump, scrollbar);
const changedLine = el('div', { id: 'changed', class: 'changed-line' });
const unreadableList = el('ul', { id: 'unreadable', class: 'reasons' });
app.append(toolbar, originLine, errorLine, wrap, changedLine, unreadableList);

function fitRows(): void {
  const free = window.innerHeight - wrap.getBoundingClientRect().top - 110;
  rows = Math.max(4, Math.min(MAX_ROWS, Math.floor(free / ROW_HEIGHT)));
  // Room for the rows and, in a narrow group, the sideways scrollbar under them.
  wrap.style.height = `${rows * ROW_HEIGHT + 14}px`;
}

function cellClass(base: string, c: RowView['cells'][number]): string {
  return [base, c.kind, c.changed ? 'changed' : '', c.highlight ? 'highlight' : ''].filter(Boolean).join(' ');
}

function cellTitle(c: RowView['cells'][number]): string {
  const at = memoryReferenceOf(space, c.address);
  if (c.kind === 'unreadable') return `${at}: ${c.reason ?? 'unreadable'}`;
  return c.changed ? `${at}: changed since the previous stop` : at;
}

function draw(): void {
  spaceSelect.value = space;
  groupSelect.value = String(group);
  tops[space] = clampTop(tops[space], space, rows);
  const hl = highlight && highlight.space === space ? highlight : undefined;
  const view = buildRows({
    space,
    top: tops[space],
    rows,
    group,
    current: current[space],
    previous: previous[space],
    ...(hl ? { highlight: hl } : {}),
    ...(vaBits !== undefined ? { vaBits } : {}),
  });
  const frag = document.createDocumentFragment();
  for (const r of view) {
    const row = el('div', { class: 'row', role: 'row', 'data-address': hexAddress(r.address) });
    row.append(el('span', { class: 'addr', role: 'rowheader' }, r.addressText));
    const hex = el('span', { class: `hex g${group}`, role: 'gridcell' });
    for (const c of r.cells)
      hex.append(el('span', { class: cellClass('cell', c), title: cellTitle(c) }, c.text));
    const ascii = el('span', { class: 'ascii', role: 'gridcell' });
    for (const c of r.ascii)
      ascii.append(el('span', { class: cellClass('ch', c), title: cellTitle(c) }, c.text));
    row.append(hex, ascii);
    frag.append(row);
  }
  dump.replaceChildren(frag);
  dump.classList.toggle('stale', target.state !== 'stopped');
  thumb.style.top = `${thumbFraction(tops[space], space, rows) * (rows * ROW_HEIGHT - 24)}px`;
  const store = current[space];
  status.textContent = `${space} · ${target.message}`;
  originLine.textContent = origin ? `Opened from ${origin}` : '';
  const n = changedCount(view);
  changedLine.textContent =
    previous[space] && store
      ? `${n} byte${n === 1 ? '' : 's'} changed since stop ${previous[space]?.stop ?? '?'} (underlined)`
      : '';
  const runs = unreadableRuns(view);
  unreadableList.replaceChildren(
    ...runs.map((u) =>
      el('li', {}, `?? ${memoryReferenceOf(space, u.start)}–${hexAddress(u.last)}: ${u.reason}`),
    ),
  );
  persist();
}

// ---------------------------------------------------------------- reading

function requestMissing(): void {
  if (target.state !== 'stopped' || inFlight) return;
  const store = current[space];
  if (!store) return;
  const need = store.missing(tops[space], rows * BYTES_PER_ROW);
  if (!need) return;
  inFlight = { id: nextId++, space };
  vscode.postMessage({
    type: 'read',
    id: inFlight.id,
    space,
    address: hexAddress(need.address),
    length: need.length,
  });
}

function onBytes(m: BytesMessage): void {
  if (inFlight?.id === m.id) inFlight = undefined;
  const store = current[m.space];
  // Read at another stop or for another vCPU (the target moved on meanwhile): dropped, and the
  // current view is read instead.
  if (store && store.run === storeKey(m.space, m.run, m.thread) && store.stop === m.stop)
    store.put(BigInt(m.address), m.segments);
  draw();
  requestMissing();
}

/** The last stop seen (a `running` message in between does not forget it). */
let lastStop: StopKey | undefined;

function onTarget(m: TargetMessage): void {
  target = m;
  // The last stop's width stays while the target runs (its rows stay on screen).
  if (m.state === 'stopped') vaBits = m.vaBits;
  if (m.state === 'none') {
    for (const s of SPACES) current[s] = previous[s] = undefined;
    lastStop = undefined;
  } else if (m.state === 'stopped' && m.run !== undefined && m.stop !== undefined) {
    const next: StopKey = {
      run: m.run,
      stop: m.stop,
      ...(m.thread !== undefined ? { thread: m.thread } : {}),
    };
    const stores = nextStores(current, previous, lastStop, next);
    for (const s of SPACES) {
      if (stores.current[s] !== current[s]) inFlight = undefined;
      current[s] = stores.current[s];
      previous[s] = stores.previous[s];
    }
    lastStop = next;
  }
  draw();
  requestMissing();
}

function onNavigate(m: NavigateMessage): void {
  space = m.space;
  origin = m.origin;
  errorLine.textContent = '';
  const address = BigInt(m.address);
  highlight = m.highlight
    ? { space, address: BigInt(m.highlight.address), length: m.highlight.length }
    : undefined;
  tops[space] = clampTop(rowOf(address), space, rows);
  if (highlight) tops[space] = topShowing(tops[space], highlight, space, rows);
  addressBox.value = memoryReferenceOf(space, address);
  draw();
  requestMissing();
  dump.focus();
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  const m = e.data;
  if (!isHostToMemoryView(m)) return;
  switch (m.type) {
    case 'navigate':
      onNavigate(m);
      break;
    case 'target':
      onTarget(m);
      break;
    case 'bytes':
      onBytes(m);
      break;
    case 'gotoError':
      errorLine.textContent = m.message;
      break;
  }
});

// ---------------------------------------------------------------- input

function scrollTo(top: bigint): void {
  tops[space] = clampTop(top, space, rows);
  draw();
  requestMissing();
}

const KEYS = new Set<string>(['ArrowUp', 'ArrowDown', 'PageUp', 'PageDown', 'Home', 'End']);
dump.addEventListener('keydown', (e) => {
  if (!KEYS.has(e.key)) return;
  e.preventDefault();
  scrollTo(scrollKey(tops[space], e.key as ScrollKey, space, rows));
});
dump.addEventListener(
  'wheel',
  (e) => {
    // Sideways wheels scroll the row natively (a narrow group); only vertical ones move the rows.
    if (e.deltaY === 0) return;
    e.preventDefault();
    const lines = Math.max(1, Math.round(Math.abs(e.deltaY) / ROW_HEIGHT));
    scrollTo(tops[space] + BigInt(Math.sign(e.deltaY) * lines * BYTES_PER_ROW));
  },
  { passive: false },
);
let dragging = false;
const dragTo = (e: PointerEvent): void => {
  const box = scrollbar.getBoundingClientRect();
  scrollTo(topAtFraction((e.clientY - box.top) / box.height, space, rows));
};
scrollbar.addEventListener('pointerdown', (e) => {
  dragging = true;
  scrollbar.setPointerCapture(e.pointerId);
  dragTo(e);
});
scrollbar.addEventListener('pointermove', (e) => {
  if (dragging) dragTo(e);
});
scrollbar.addEventListener('pointerup', () => (dragging = false));

const go = (): void => vscode.postMessage({ type: 'goto', text: addressBox.value, space });
goButton.addEventListener('click', go);
addressBox.addEventListener('keydown', (e) => {
  if (e.key === 'Enter') go();
});
spaceSelect.addEventListener('change', () => {
  space = spaceSelect.value === 'physical' ? 'physical' : 'virtual';
  addressBox.value = memoryReferenceOf(space, tops[space]);
  draw();
  requestMissing();
});
groupSelect.addEventListener('change', () => {
  const g = Number(groupSelect.value);
  group = g === 2 || g === 4 || g === 8 ? g : 1;
  draw();
});
window.addEventListener('resize', () => {
  fitRows();
  draw();
  requestMissing();
});

fitRows();
draw();
vscode.postMessage({ type: 'ready' });
