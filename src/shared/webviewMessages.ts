// Messages between the MMIO Guard webview (media/) and its host (src/ui/guardPanel.ts).
// The webview says `ready` once its script runs; the host answers with the current state and from
// then on pushes one `guardState` per stop. Nothing is sent before `ready` (a message posted to a
// webview whose script has not started is lost).

import type { GuardStateResponseBody, Hex, MmuChangedEventBody } from './protocol';

// ---------------------------------------------------------------- host -> webview

export interface GuardStateMessage {
  type: 'guardState';
  /** Name of the debug session the state comes from. */
  session: string;
  state: GuardStateResponseBody;
  /** The `mmuChanged` event of the stop the state belongs to, when the host has seen it. */
  change?: MmuChangedEventBody;
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
}

export type WebviewToHost = ReadyMessage | RevealPageMessage | RefreshMessage | RenderedMessage;

const HOST_TYPES = new Set(['guardState', 'noSession', 'error', 'focusPage']);
const WEBVIEW_TYPES = new Set(['ready', 'revealPage', 'refresh', 'rendered']);

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
