// MMIO Guard webview entry: typed messages with the host, a ready handshake, and the last state kept
// in the webview state so the panel comes back as it was after being hidden or reloaded.

import type { GuardStateMessage, HostToWebview, WebviewToHost } from '../src/shared/webviewMessages';
import { isHostToWebview, isStopComparison } from '../src/shared/webviewMessages';
import { snapshotOf, type RegionSnapshot } from './diff';
import type { GridView } from './grid';
import { el, render } from './view';

interface VsCodeApi {
  postMessage(message: WebviewToHost): void;
  getState(): unknown;
  setState(state: PersistedState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

interface PersistedState {
  version: 1;
  last?: GuardStateMessage;
  /** Region states at the stop before `last`, for the diff. */
  previous: RegionSnapshot[];
  previousStopId?: number;
  focus?: string;
  /** Zoom and cursor of each region's grid, by region start. */
  grids?: Record<string, GridView>;
  /** Diff groups opened or closed by the user, by group id. */
  diffOpen?: Record<string, boolean>;
}

const vscode = acquireVsCodeApi();
const root = document.getElementById('app') as HTMLElement;

function restore(): PersistedState {
  const s = vscode.getState() as Partial<PersistedState> | undefined;
  return s?.version === 1
    ? {
        version: 1,
        last: s.last,
        previous: s.previous ?? [],
        previousStopId: s.previousStopId,
        focus: s.focus,
        grids: s.grids ?? {},
        diffOpen: s.diffOpen ?? {},
      }
    : { version: 1, previous: [], grids: {}, diffOpen: {} };
}

const state = restore();

/** When the current stop's state arrived (epoch ms), until its first draw is reported. */
let received: number | undefined;

function draw(): void {
  const last = state.last;
  if (!last) return;
  // A keyboard user on a grid keeps the focus there across the redraw of a new stop.
  const active = document.activeElement;
  const focusedRegion =
    active instanceof HTMLCanvasElement
      ? (active.closest('.region')?.getAttribute('data-start') ?? undefined)
      : undefined;
  const out = render(
    root,
    {
      session: last.session,
      state: last.state,
      change: last.change,
      previous: state.previous,
      previousStopId: state.previousStopId,
      comparison: last.comparison,
      focus: state.focus !== undefined ? BigInt(state.focus) : undefined,
      width: root.clientWidth - 8,
      grids: state.grids,
      diffOpen: state.diffOpen,
      focusedRegion,
    },
    {
      onPick: (address) => vscode.postMessage({ type: 'revealPage', address: '0x' + address.toString(16) }),
      onGridView: (start, view) => {
        (state.grids ??= {})[start] = view;
        vscode.setState(state);
      },
      onToggleGroup: (id, open) => {
        (state.diffOpen ??= {})[id] = open;
        vscode.setState(state);
      },
    },
  );
  const stopId = last.state.stopId;
  // A new stop's first draw says when it arrived and was drawn, and when the next frame ran (the
  // host's Show Stop Latency); redraws (resize, theme, focus) say nothing of the kind.
  const timing = received !== undefined ? { received, drawn: Date.now() } : {};
  if (received !== undefined)
    requestAnimationFrame(() => vscode.postMessage({ type: 'painted', stopId, at: Date.now() }));
  received = undefined;
  vscode.postMessage({
    type: 'rendered',
    stopId,
    regions: last.state.regions.length,
    pages: out.pages,
    changedPages: out.changedPages,
    summary: out.summary,
    diffTitle: out.diffTitle,
    diffLines: out.diffLines,
    ...timing,
  });
}

function placeholder(text: string, cls = 'placeholder'): void {
  root.replaceChildren(
    el('header', {}, el('h1', {}, 'MMIO Guard')),
    el('p', { class: cls, id: 'placeholder' }, text),
  );
}

function onMessage(m: HostToWebview): void {
  switch (m.type) {
    case 'guardState': {
      if (m.state.stopId !== state.last?.state.stopId || m.run !== state.last.run) received = Date.now();
      // Drawn from directly: a malformed comparison is dropped (the previous-stop diff shows instead).
      if (m.comparison !== undefined && !isStopComparison(m.comparison)) delete m.comparison;
      const prev = state.last;
      // Stops compare only within one run of one session: a new session (same name) or a restart
      // has no previous stop here.
      const sameRun = prev !== undefined && prev.session === m.session && prev.run === m.run;
      // A new stop moves the current regions to "previous"; the same stop again (refresh) keeps the diff.
      if (prev && (prev.state.stopId !== m.state.stopId || !sameRun)) {
        state.previous = sameRun ? prev.state.regions.map(snapshotOf) : [];
        state.previousStopId = sameRun ? prev.state.stopId : undefined;
      }
      state.last = m;
      vscode.setState(state);
      draw();
      break;
    }
    case 'noSession':
      if (!state.last) placeholder(m.message);
      else {
        draw();
        root.prepend(el('p', { class: 'banner' }, m.message));
      }
      break;
    case 'error':
      placeholder(m.message, 'error');
      break;
    case 'focusPage':
      state.focus = m.address;
      vscode.setState(state);
      draw();
      break;
  }
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (isHostToWebview(e.data)) onMessage(e.data);
});

// Redraw on resize and theme change (colours come from --vscode-* variables read at draw time).
let pending = 0;
const redrawSoon = (): void => {
  cancelAnimationFrame(pending);
  pending = requestAnimationFrame(draw);
};
window.addEventListener('resize', redrawSoon);
new MutationObserver(redrawSoon).observe(document.body, { attributes: true, attributeFilter: ['class'] });

if (state.last) draw();
else placeholder('Waiting for the debug session…');
vscode.postMessage({ type: 'ready' });
