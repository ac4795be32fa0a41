// One way to write things in every view (issue #14 item 11): addresses padded to the width of the
// address space they belong to, descriptors as 16 hex digits, page states in one set of words, and
// changes with "→". Pure and dependency-free, so the tree, the webview, the Debug Console and the
// CLI can all use it.
import { PAGE_GUARD_STATE_LABEL, type PageGuardState } from './guardProtocol';
import type { Hex } from './values';

/** Hex digits for an address of a `bits`-bit space: 39-bit VAs take 10; never fewer than 8. */
export function addressDigits(bits = 32): number {
  return Math.max(8, Math.ceil(bits / 4));
}

const toBig = (v: bigint | number | Hex): bigint => (typeof v === 'bigint' ? v : BigInt(v));

/** `0x0009010000` for a 39-bit regime's 0x9010000; a wider value keeps all its digits. */
export function formatAddress(v: bigint | number | Hex, bits?: number): string {
  return `0x${BigInt.asUintN(64, toBig(v)).toString(16).padStart(addressDigits(bits), '0')}`;
}

/** A 64-bit descriptor, always 16 digits: `0x00e0000009010402`. */
export function formatDescriptor(v: bigint | number | Hex): string {
  return `0x${BigInt.asUintN(64, toBig(v)).toString(16).padStart(16, '0')}`;
}

/** A page state in the views' words (`guard-mapped`, never `guardMapped`); `untracked` as is. */
export function formatPageState(s: PageGuardState | 'untracked'): string {
  return s === 'untracked' ? 'untracked' : PAGE_GUARD_STATE_LABEL[s];
}

/** A change of anything, one arrow: `untouched (lazy) → guard-mapped`. */
export function formatChange(from: string, to: string): string {
  return `${from} → ${to}`;
}

/** `1`, `4,096`, `262,144`: the same digit grouping in every view, whatever the locale. */
export function formatCount(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** `1 page`, `262,144 pages`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${formatCount(n)} ${n === 1 ? one : many}`;
}

export const formatPages = (n: number): string => plural(n, 'page');

/** A half-open range [start, end) as its first and last address: `0x09010000–0x09010fff`. */
export function formatRange(start: bigint | number | Hex, end: bigint | number | Hex, bits?: number): string {
  return `${formatAddress(start, bits)}–${formatAddress(toBig(end) - 1n, bits)}`;
}
