// Hex helpers working on reply bytes directly (a 2 KiB memory reply must not round-trip through strings).

const NIBBLE = new Int8Array(256).fill(-1);
for (let i = 0; i < 10; i++) NIBBLE[0x30 + i] = i;
for (let i = 0; i < 6; i++) {
  NIBBLE[0x61 + i] = 10 + i;
  NIBBLE[0x41 + i] = 10 + i;
}
const DIGITS = '0123456789abcdef';

/** Decodes ASCII hex bytes; returns undefined if any byte is not a hex digit or the length is odd. */
export function hexToBytes(hex: Uint8Array, start = 0, end = hex.length): Uint8Array | undefined {
  const n = end - start;
  if (n & 1) return undefined;
  if (n >= 64) {
    // Node's native decoder is about twice as fast on 4 KiB memory replies; it stops at the first
    // non-hex digit, which the length check catches.
    // Written into an ArrayBuffer of its own: callers may wrap `.buffer` in a DataView.
    const text = Buffer.from(hex.buffer, hex.byteOffset + start, n).toString('latin1');
    const out = new Uint8Array(n >> 1);
    return Buffer.from(out.buffer).write(text, 'hex') * 2 === n ? out : undefined;
  }
  const out = new Uint8Array(n >> 1);
  for (let i = 0, j = start; i < out.length; i++, j += 2) {
    const hi = NIBBLE[hex[j]];
    const lo = NIBBLE[hex[j + 1]];
    if ((hi | lo) < 0) return undefined;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Decodes `hex` straight into `dest` at `offset` (no intermediate array); false if not all hex. */
export function hexInto(hex: Uint8Array, dest: Uint8Array, offset: number): boolean {
  const n = hex.length;
  if (n & 1 || offset + (n >> 1) > dest.length) return false;
  const text = Buffer.from(hex.buffer, hex.byteOffset, n).toString('latin1');
  return Buffer.from(dest.buffer, dest.byteOffset + offset, n >> 1).write(text, 'hex') * 2 === n;
}

export function hexTextToBytes(hex: string): Uint8Array | undefined {
  return hexToBytes(Buffer.from(hex, 'latin1'));
}

export function bytesToHex(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += DIGITS[bytes[i] >> 4] + DIGITS[bytes[i] & 15];
  return s;
}

/**
 * Little-endian bytes to an unsigned bigint (registers travel in target byte order: aarch64 is LE).
 * Linear in the size: through one hex string, which BigInt parses in linear time, where shifting in
 * a byte at a time copies the whole growing value at each step (a 64 KiB value took 5.6 s).
 */
export function leBytesToBigInt(bytes: Uint8Array): bigint {
  const n = bytes.length;
  if (n === 8) return new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n < 8) {
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }
  const reversed = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) reversed[i] = bytes[n - 1 - i];
  return BigInt(`0x${reversed.toString('hex')}`);
}

/** The low `size` bytes of `value`, little-endian; linear in `size` like leBytesToBigInt. */
export function bigIntToLeBytes(value: bigint, size: number): Uint8Array {
  const out = new Uint8Array(size);
  if (size === 0) return out;
  const hex = BigInt.asUintN(size * 8, value)
    .toString(16)
    .padStart(size * 2, '0');
  const be = Buffer.from(hex, 'hex');
  for (let i = 0; i < size; i++) out[i] = be[size - 1 - i];
  return out;
}

export function asciiToHex(text: string): string {
  return bytesToHex(Buffer.from(text, 'utf8'));
}
