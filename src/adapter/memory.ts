// Memory references and reads for DAP readMemory/writeMemory: `0x…`/`v:0x…` virtual (through the
// stopped vCPU's regime), `p:0x…` physical (a separate address space). Virtual reads are chunked so
// a fault names the first unreadable address, and the session can explain why it is unreadable.
import { GdbMemoryFaultError } from '../gdb';
import type { TargetPort } from '../target/port';
import { SnapshotReadError } from '../target/snapshotPort';

export interface MemoryRef {
  space: 'virtual' | 'physical';
  address: bigint;
}

export function parseMemoryReference(ref: string): MemoryRef {
  // Trimmed first: leading and trailing `\s*` around optional parts backtrack quadratically.
  const m = /^(?:(v|p):)?\s*(0x[0-9a-f]+|[0-9]+)$/i.exec(ref.trim());
  if (!m) throw new Error(`bad memory reference '${ref}' (expected 0x…, v:0x… or p:0x…)`);
  return { space: m[1]?.toLowerCase() === 'p' ? 'physical' : 'virtual', address: BigInt(m[2]) };
}

export function memoryReference(space: 'virtual' | 'physical', address: bigint): string {
  return `${space === 'physical' ? 'p:' : ''}0x${address.toString(16)}`;
}

export interface ReadResult {
  data: Uint8Array;
  /** Address of the first byte that could not be read, when the read stopped early. */
  faultAt?: bigint;
}

const PAGE = 0x1000n;

/**
 * Reads page by page so that a translation fault ends the read at the page that faults (QEMU
 * answers E14 for the whole request otherwise).
 */
export async function readSpan(gdb: TargetPort, ref: MemoryRef, length: number): Promise<ReadResult> {
  const parts: Uint8Array[] = [];
  let addr = ref.address;
  let left = length;
  while (left > 0) {
    const inPage = Number(PAGE - (addr & (PAGE - 1n)));
    const n = Math.min(left, inPage);
    try {
      parts.push(ref.space === 'physical' ? await gdb.readPhysical(addr, n) : await gdb.readMemory(addr, n));
    } catch (e) {
      // An unmapped page, or a range the snapshot did not capture: the read ends there.
      if (e instanceof GdbMemoryFaultError || e instanceof SnapshotReadError) break;
      throw e;
    }
    addr += BigInt(n);
    left -= n;
  }
  const total = parts.reduce((s, p) => s + p.length, 0);
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.length;
  }
  return left > 0 ? { data, faultAt: addr } : { data };
}

export function toLittleEndian(value: bigint, width: number): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

export function fromLittleEndian(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}
