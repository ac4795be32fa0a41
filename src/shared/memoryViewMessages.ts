// The Memory view's messages (extension host <-> webview) and the adapter's `openMemoryView` event,
// with their validation. Pure: the webview bundle, the extension and the unit tests import it.
//
// Addresses travel as `0x…` text (JSON has no 64-bit integers). Every message from the webview is
// parsed field by field: addresses within their space, reads at most MAX_READ_BYTES, the address box's
// text bounded. The view is read-only: no message writes memory.

import { CONSOLE_WORDS } from './consoleCommands';

export type AddressSpace = 'virtual' | 'physical';

/**
 * One past the last address of each space: virtual addresses are 64-bit (TTBR1_EL1's regime sits at
 * the top), physical ones at most 52 bits (FEAT_LPA's largest output address).
 */
export const SPACE_END: Record<AddressSpace, bigint> = {
  virtual: 1n << 64n,
  physical: 1n << 52n,
};

export const BYTES_PER_ROW = 16;
/** The most bytes one read request asks for (a window of 64 rows is 1 KiB; a page at most). */
export const MAX_READ_BYTES = 4096;
/** The longest address-box text the host evaluates. */
export const MAX_GOTO_CHARS = 256;
/** The longest reason text shown for an unreadable range. */
export const MAX_REASON_CHARS = 1000;

/** The adapter's custom event: the console's `mem ADDRESS` asks the extension to open the view. */
export const OPEN_MEMORY_EVENT = 'openMemoryView';

export interface OpenMemoryEventBody {
  /** `0x…` (virtual) or `p:0x…` (physical), as DAP memory references are written. */
  memoryReference: string;
  /** The console text that asked for it. */
  origin: string;
}

// ---- extension host -> webview ----

export interface NavigateMessage {
  type: 'navigate';
  space: AddressSpace;
  address: string;
  /** Bytes to outline (a descriptor in its table); the view scrolls so they are visible. */
  highlight?: { address: string; length: number };
  /** Where the view was opened from, shown above the dump ("variable sp", "PTE … table"). */
  origin: string;
}

export interface TargetMessage {
  type: 'target';
  state: 'none' | 'running' | 'stopped';
  /** Which run of the session (a restart starts a new run): stops are compared only within one. */
  run?: string;
  stop?: number;
  /** The vCPU the views follow (virtual addresses go through its regime). */
  thread?: number;
  /** The width its virtual addresses are written at (mmuChanged's vaBits). */
  vaBits?: number;
  message: string;
}

/** One stretch of a read: its bytes (hex text), or why it could not be read. */
export interface ReadSegment {
  length: number;
  data?: string;
  unreadable?: string;
}

export interface BytesMessage {
  type: 'bytes';
  id: number;
  space: AddressSpace;
  address: string;
  run: string;
  stop: number;
  /** The vCPU a virtual read went through. */
  thread?: number;
  segments: ReadSegment[];
}

export interface GotoErrorMessage {
  type: 'gotoError';
  message: string;
}

export type HostToMemoryView = NavigateMessage | TargetMessage | BytesMessage | GotoErrorMessage;

// ---- webview -> extension host ----

export interface ReadRequest {
  type: 'read';
  id: number;
  space: AddressSpace;
  address: string;
  length: number;
}

export type MemoryViewToHost =
  | { type: 'ready' }
  | ReadRequest
  /** The address box: hex, `p:`/`v:` prefixed, or an expression (symbol, register) the adapter evaluates. */
  | { type: 'goto'; text: string; space: AddressSpace };

const HEX_ADDRESS = /^0x[0-9a-f]{1,16}$/i;

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isSpace(x: unknown): x is AddressSpace {
  return x === 'virtual' || x === 'physical';
}

/** A `0x…` address inside `space`, or undefined. */
export function parseSpaceAddress(text: unknown, space: AddressSpace): bigint | undefined {
  if (typeof text !== 'string' || !HEX_ADDRESS.test(text)) return undefined;
  const a = BigInt(text);
  return a < SPACE_END[space] ? a : undefined;
}

export function hexAddress(a: bigint): string {
  return `0x${a.toString(16)}`;
}

/** Validates a message from the webview; anything else is dropped. */
export function parseMemoryViewToHost(raw: unknown): MemoryViewToHost | undefined {
  if (!isObject(raw)) return undefined;
  switch (raw.type) {
    case 'ready':
      return { type: 'ready' };
    case 'read': {
      const { id, space, length } = raw;
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return undefined;
      if (!isSpace(space)) return undefined;
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 1 || length > MAX_READ_BYTES)
        return undefined;
      const address = parseSpaceAddress(raw.address, space);
      if (address === undefined || address + BigInt(length) > SPACE_END[space]) return undefined;
      return { type: 'read', id, space, address: hexAddress(address), length };
    }
    case 'goto': {
      const { text, space } = raw;
      if (typeof text !== 'string' || text.length > MAX_GOTO_CHARS || !isSpace(space)) return undefined;
      // Printable text only: it becomes an evaluate expression.
      if ([...text].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return undefined;
      return { type: 'goto', text, space };
    }
    default:
      return undefined;
  }
}

/** Checks the host's messages in the webview (a stale or foreign message is dropped, not trusted). */
export function isHostToMemoryView(raw: unknown): raw is HostToMemoryView {
  if (!isObject(raw)) return false;
  switch (raw.type) {
    case 'navigate':
      return isSpace(raw.space) && parseSpaceAddress(raw.address, raw.space) !== undefined;
    case 'target':
      return (
        (raw.state === 'none' || raw.state === 'running' || raw.state === 'stopped') &&
        (raw.vaBits === undefined ||
          (typeof raw.vaBits === 'number' &&
            Number.isInteger(raw.vaBits) &&
            raw.vaBits >= 1 &&
            raw.vaBits <= 64))
      );
    case 'bytes':
      return (
        isSpace(raw.space) &&
        typeof raw.id === 'number' &&
        typeof raw.stop === 'number' &&
        typeof raw.run === 'string' &&
        (raw.thread === undefined || typeof raw.thread === 'number') &&
        parseSpaceAddress(raw.address, raw.space) !== undefined &&
        Array.isArray(raw.segments) &&
        raw.segments.every(
          (s) =>
            isObject(s) &&
            typeof s.length === 'number' &&
            (typeof s.data === 'string'
              ? /^(?:[0-9a-f]{2})*$/.test(s.data)
              : typeof s.unreadable === 'string'),
        )
      );
    case 'gotoError':
      return typeof raw.message === 'string';
    default:
      return false;
  }
}

/** What the address box asks for: a direct address, or an expression for the adapter to evaluate. */
export type GotoTarget =
  { space: AddressSpace; address: bigint } | { space: AddressSpace; expression: string } | { error: string };

/**
 * Parses the address box: `0x4020_0000`, `p:0x9000000`, `v:0x…`, decimal, or an expression
 * (`el1_entry`, `$sp + 0x10`) that the adapter evaluates in the virtual space (`p:SYMBOL` reads the
 * symbol's value as a physical address). `space` applies when no prefix says otherwise.
 */
export function parseGotoText(text: string, space: AddressSpace): GotoTarget {
  let t = text.trim();
  if (!t) return { error: 'type an address (0x…, p:0x… for physical) or a symbol' };
  if (t.length > MAX_GOTO_CHARS) return { error: `at most ${MAX_GOTO_CHARS} characters` };
  const prefix = /^([vp]):\s*/i.exec(t);
  if (prefix) {
    space = prefix[1].toLowerCase() === 'p' ? 'physical' : 'virtual';
    t = t.slice(prefix[0].length);
  }
  const plain = t.replace(/_/g, '');
  if (/^0x[0-9a-f]+$/i.test(plain) || /^[0-9]+$/.test(plain)) {
    if (plain.length > 24) return { error: `${t} is not a ${space} address` };
    const a = BigInt(plain);
    if (a >= SPACE_END[space])
      return { error: `${t} is outside the ${space} address space (below ${hexAddress(SPACE_END[space])})` };
    return { space, address: a };
  }
  if (!t) return { error: 'type an address after the prefix' };
  // A value only (symbols, registers, numbers, + and -), never a console command (`pte …`, `monitor …`).
  if (!/^[\w$.]+(?:\s*[+-]\s*[\w$.]+)*$/.test(t) || CONSOLE_WORDS.has(t.split(/\s/)[0]))
    return { error: `${t}: the address box takes an address, a symbol or a register, with + and -` };
  return { space, expression: t };
}

/** `0x…` virtual or `p:0x…` physical, as the adapter's memory references are written. */
export function memoryReferenceOf(space: AddressSpace, address: bigint): string {
  return `${space === 'physical' ? 'p:' : ''}${hexAddress(address)}`;
}

/** A DAP memory reference (`0x…`, `v:0x…`, `p:0x…`), or undefined when it is none. */
export function parseMemoryReferenceText(ref: unknown): { space: AddressSpace; address: bigint } | undefined {
  if (typeof ref !== 'string' || ref.length > 64) return undefined;
  const m = /^(?:([vp]):)?(0x[0-9a-f]{1,16})$/i.exec(ref.trim());
  if (!m) return undefined;
  const space: AddressSpace = m[1]?.toLowerCase() === 'p' ? 'physical' : 'virtual';
  const address = BigInt(m[2]);
  return address < SPACE_END[space] ? { space, address } : undefined;
}

/** The adapter's `openMemoryView` event body, validated. */
export function parseOpenMemoryEvent(
  body: unknown,
): { space: AddressSpace; address: bigint; origin: string } | undefined {
  if (!isObject(body)) return undefined;
  const ref = parseMemoryReferenceText(body.memoryReference);
  if (!ref) return undefined;
  const origin = typeof body.origin === 'string' ? body.origin.slice(0, MAX_GOTO_CHARS) : 'Debug Console';
  return { ...ref, origin };
}
