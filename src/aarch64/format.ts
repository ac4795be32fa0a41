// Text helpers shared by the CLI, golden dumps and the adapter: hex, sizes, one-line leaf summaries.

import { formatPerms, type Leaf } from './leaf';
import type { RegimeConfig } from './regime';

/** `0x`-prefixed lower-case hex, zero-padded to `digits` when given. */
export function hex(v: bigint | number, digits = 0): string {
  const s = (typeof v === 'bigint' ? BigInt.asUintN(64, v) : BigInt(v)).toString(16);
  return `0x${s.padStart(digits, '0')}`;
}

/** Units of sizeName, largest first: name and power of two. */
const SIZE_UNITS = [
  ['T', 40],
  ['G', 30],
  ['M', 20],
  ['K', 10],
] as const;
const UNIT_NAMES = SIZE_UNITS.map(([u]) => u);
const UNIT_BYTES = SIZE_UNITS.map(([, s]) => 2 ** s);

/** "4K", "2M", "1G", "512G"; inexact sizes as "15.9M"; below 1K in bytes. */
export function sizeName(bytes: bigint | number): string {
  // Sizes below 2^53 (all of a walk's) in plain numbers and indexed loops: a region list names
  // hundreds, mostly before V8 optimizes anything (BigInts and for-of allocate at every step then).
  const n =
    typeof bytes === 'number' ? bytes : bytes <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(bytes) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) return sizeNameBig(BigInt(bytes));
  for (let k = 0; k < UNIT_BYTES.length; k++) {
    const unit = UNIT_BYTES[k];
    // Kilobytes only below 1M: "901116K" reads worse than "880.0M".
    if (n >= unit && n % unit === 0 && (UNIT_NAMES[k] !== 'K' || n < 2 ** 20))
      return `${n / unit}${UNIT_NAMES[k]}`;
  }
  for (let k = 0; k < UNIT_BYTES.length - 1; k++)
    if (n >= UNIT_BYTES[k]) return `${(n / UNIT_BYTES[k]).toFixed(1)}${UNIT_NAMES[k]}`;
  return `${n}`;
}

/** sizeName of a size past 2^53. */
function sizeNameBig(b: bigint): string {
  for (const [u, s] of SIZE_UNITS) {
    const unit = 1n << BigInt(s);
    if (b >= unit && b % unit === 0n && (u !== 'K' || b < 1n << 20n)) return `${b / unit}${u}`;
  }
  for (const [u, s] of SIZE_UNITS)
    if (u !== 'K' && b >= 1n << BigInt(s)) return `${(Number(b) / 2 ** s).toFixed(1)}${u}`;
  return `${b}`;
}

/** Parses "0x1234", "1234" (hex if it has a-f or 0x, decimal otherwise) or "0b..." into a bigint. */
export function parseAddress(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '');
  if (/^0x[0-9a-f]+$/i.test(t)) return BigInt(t);
  if (/^0b[01]+$/i.test(t)) return BigInt(t);
  if (/^[0-9]+$/.test(t)) return BigInt(t);
  if (/^[0-9a-f]+$/i.test(t)) return BigInt(`0x${t}`);
  return undefined;
}

/** One text line for a leaf: "L3 0x0000000009000000 -> 0x09000000 4K page RW-/--- Device-nGnRE nG". */
export function leafLine(l: Leaf): string {
  const flags = [
    l.bit(11) && l.ctx.fmt.stage === 1 ? 'nG' : '',
    l.af ? '' : 'AF=0',
    l.bit(52) ? 'Cont' : '',
    l.swBits ? `SW=${l.swBits.toString(2).padStart(4, '0')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  return `L${l.level} ${hex(l.va, 16)} -> ${hex(l.pa, 10)} ${sizeName(l.size).padStart(4)} ${l.kind.padEnd(8)} ${formatPerms(l.ctx.perm, l.perms)} ${l.memType.name}${flags ? ' ' + flags : ''} desc=${hex(l.desc, 16)}`;
}

/**
 * How many bits of a regime's input addresses the views pad to (src/shared/format formatAddress):
 * its widest enabled range, or all 64 when the upper range (TTBR1) is in use.
 */
export function regimeVaBits(regime: Pick<RegimeConfig, 'roots'>): number {
  const on = regime.roots.filter((r) => r.enabled);
  if (!on.length || on.some((r) => r.vaStart >= 1n << 63n)) return 64;
  return Math.max(...on.map((r) => r.inputBits));
}
