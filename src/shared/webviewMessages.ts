// Messages between the MMIO Guard webview (media/) and its host (src/ui/guardPanel.ts).
// The webview says `ready` once its script runs; the host answers with the current state and from
// then on pushes one `guardState` per stop. Nothing is sent before `ready` (a message posted to a
// webview whose script has not started is lost).

import {
  PAGE_GUARD_STATES,
  type GuardStateResponseBody,
  type Hex,
  type MmuChangedEventBody,
  type PageGuardState,
} from './protocol';

// ---------------------------------------------------------------- host -> webview

export interface GuardStateMessage {
  type: 'guardState';
  /** Name of the debug session the state comes from. */
  session: string;
  /**
   * The session run (its id and restart count): the webview diffs a stop against the previous one only
   * within a run, so a new session of the same name, or a restart, starts clean.
   */
  run?: string;
  state: GuardStateResponseBody;
  /** The `mmuChanged` event of the stop the state belongs to, when the host has seen it. */
  change?: MmuChangedEventBody;
  /**
   * Set when the stop is compared with an earlier snapshot rather than its previous stop (Compare
   * Snapshots → Show in Page Tables): the diff section shows these transitions, and `change` holds
   * the table changes, anomalies and guard calls since that snapshot.
   */
  comparison?: StopComparison;
}

/** A run of pages whose guard state moved between two stops (the analysis core's GuardTransition). */
export interface GuardPageTransition {
  /** First page of the run. */
  start: Hex;
  pages: number;
  /** `untracked`: outside every tracked region and not guard-mapped. */
  from: PageGuardState | 'untracked';
  to: PageGuardState | 'untracked';
  /** Name of the tracked region holding the run. */
  region?: string;
}

/** The earlier stop a stop is compared with, and how the guard state moved since. */
export interface StopComparison {
  /** The earlier snapshot as the user named it ("at-fault.pvmfw-snapshot"). */
  since: string;
  /** From the analysis core's diffStops(A, B).guard.transitions. */
  transitions: GuardPageTransition[];
}

export interface NoSessionMessage {
  type: 'noSession';
  /** Shown in place of the grid ("Start a pvmfw-mmu debug session", "session ended"). */
  message: string;
}

export interface ErrorMessage {
  type: 'error';
  message: string;
}

/** Outline one page (after "Reveal PTE for address" or a click in the tree). */
export interface FocusPageMessage {
  type: 'focusPage';
  address: Hex;
}

export type HostToWebview = GuardStateMessage | NoSessionMessage | ErrorMessage | FocusPageMessage;

// ---------------------------------------------------------------- webview -> host

export interface ReadyMessage {
  type: 'ready';
}

/** The user clicked a page: reveal its PTE in the Page Tables tree. */
export interface RevealPageMessage {
  type: 'revealPage';
  address: Hex;
}

export interface RefreshMessage {
  type: 'refresh';
}

/** Sent after each render so the host (and tests inside the extension host) know what is on screen. */
export interface RenderedMessage {
  type: 'rendered';
  stopId: number;
  regions: number;
  pages: number;
  /** Pages whose state differs from the previous stop's render. */
  changedPages: number;
  /** Text of the counters line, as a user reads it. */
  summary: string;
  /** Heading of the diff section ("Since the previous stop (3)", "Since at-fault.pvmfw-snapshot"). */
  diffTitle?: string;
  /** The diff section's first lines (at most MAX_RENDERED_DIFF_LINES), as a user reads them. */
  diffLines?: string[];
  /** When the webview received the stop's state and finished drawing it (epoch ms, its clock). */
  received?: number;
  drawn?: number;
}

/** The animation frame after a stop's draw ran (epoch ms): the stop is on screen. */
export interface PaintedMessage {
  type: 'painted';
  stopId: number;
  at: number;
}

export type WebviewToHost =
  ReadyMessage | RevealPageMessage | RefreshMessage | RenderedMessage | PaintedMessage;

const HOST_TYPES = new Set(['guardState', 'noSession', 'error', 'focusPage']);
const WEBVIEW_TYPES = new Set(['ready', 'revealPage', 'refresh', 'rendered', 'painted']);

function hasType(m: unknown): m is { type: string } {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';
}

/** Messages cross a trust boundary (webview content is untrusted): check the tag before switching on it. */
export function isHostToWebview(m: unknown): m is HostToWebview {
  return hasType(m) && HOST_TYPES.has(m.type);
}

export function isWebviewToHost(m: unknown): m is WebviewToHost {
  return hasType(m) && WEBVIEW_TYPES.has(m.type);
}

// ---------------------------------------------------------------- field-by-field validation

/** Caps on what the host accepts from the webview (the webview is untrusted content). */
export const MAX_RENDERED_DIFF_LINES = 50;
const MAX_TEXT = 4096;
const MAX_TRANSITIONS = 100_000;

const PAGE_STATES: ReadonlySet<string> = new Set<string>([...PAGE_GUARD_STATES, 'untracked']);

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isText = (x: unknown, max = MAX_TEXT): x is string => typeof x === 'string' && x.length <= max;
const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
/** A wall-clock time in epoch milliseconds (fractions allowed). */
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x > 0 && x < 1e15;
/** A 64-bit value as the protocol writes it: `0x` and 1 to 16 hex digits. */
export const isHex = (x: unknown): x is Hex => typeof x === 'string' && /^0x[0-9a-fA-F]{1,16}$/.test(x);

/**
 * A message from the webview with every field checked (type, range, length), or undefined: the host
 * acts only on what this returns. Unknown extra members are dropped.
 */
export function parseWebviewToHost(m: unknown): WebviewToHost | undefined {
  if (!isRecord(m)) return undefined;
  switch (m.type) {
    case 'ready':
    case 'refresh':
      return { type: m.type };
    case 'revealPage':
      return isHex(m.address) ? { type: 'revealPage', address: m.address } : undefined;
    case 'painted':
      return isCount(m.stopId) && isTime(m.at) ? { type: 'painted', stopId: m.stopId, at: m.at } : undefined;
    case 'rendered': {
      const { stopId, regions, pages, changedPages, summary, diffTitle, diffLines, received, drawn } = m;
      if ((received !== undefined && !isTime(received)) || (drawn !== undefined && !isTime(drawn)))
        return undefined;
      if (![stopId, regions, pages, changedPages].every(isCount) || !isText(summary)) return undefined;
      if (diffTitle !== undefined && !isText(diffTitle)) return undefined;
      if (
        diffLines !== undefined &&
        !(
          Array.isArray(diffLines) &&
          diffLines.length <= MAX_RENDERED_DIFF_LINES &&
          diffLines.every((l) => isText(l))
        )
      )
        return undefined;
      return {
        type: 'rendered',
        stopId: stopId as number,
        regions: regions as number,
        pages: pages as number,
        changedPages: changedPages as number,
        summary,
        ...(diffTitle !== undefined ? { diffTitle } : {}),
        ...(diffLines !== undefined ? { diffLines: diffLines } : {}),
        ...(received !== undefined ? { received } : {}),
        ...(drawn !== undefined ? { drawn } : {}),
      };
    }
    default:
      return undefined;
  }
}

function isTransition(x: unknown): x is GuardPageTransition {
  return (
    isRecord(x) &&
    isHex(x.start) &&
    isCount(x.pages) &&
    typeof x.from === 'string' &&
    PAGE_STATES.has(x.from) &&
    typeof x.to === 'string' &&
    PAGE_STATES.has(x.to) &&
    (x.region === undefined || isText(x.region))
  );
}

/** A comparison as the webview accepts it (checked before the diff section draws from it). */
export function isStopComparison(x: unknown): x is StopComparison {
  return (
    isRecord(x) &&
    isText(x.since) &&
    Array.isArray(x.transitions) &&
    x.transitions.length <= MAX_TRANSITIONS &&
    x.transitions.every(isTransition)
  );
}
