// How the Memory view reads a window through DAP `readMemory`: page by page (4 KiB), so one unreadable
// page (unmapped, device memory the adapter refuses to touch, outside a snapshot) does not hide the
// others, and each unreadable stretch carries the adapter's own reason (its walk: "translation fault at
// level 3 …"). Never a made-up byte: what was not read is a segment with a reason. No `vscode` here:
// the DAP test drives it against the real adapter.

import { memoryReferenceOf, type AddressSpace, type ReadSegment } from '../shared/memoryViewMessages';

/** DAP readMemory: resolves with the body, rejects with the adapter's error text. */
export type ReadMemory = (args: {
  memoryReference: string;
  count: number;
}) => Promise<{ address?: string; data?: string; unreadableBytes?: number } | undefined>;

const PAGE = 0x1000n;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Appends a segment, merging it with the previous one when both are bytes or share a reason. */
function push(out: ReadSegment[], s: ReadSegment): void {
  if (s.length === 0) return;
  const prev = out[out.length - 1];
  if (prev && prev.data !== undefined && s.data !== undefined) {
    prev.data += s.data;
    prev.length += s.length;
  } else if (prev && prev.unreadable !== undefined && prev.unreadable === s.unreadable) {
    prev.length += s.length;
  } else out.push({ ...s });
}

/** The adapter's reason for `address` being unreadable (a one-byte read that fails says why). */
async function reasonAt(read: ReadMemory, space: AddressSpace, address: bigint): Promise<string> {
  try {
    await read({ memoryReference: memoryReferenceOf(space, address), count: 1 });
    return 'unreadable';
  } catch (e) {
    return message(e);
  }
}

export async function readWindow(
  read: ReadMemory,
  space: AddressSpace,
  address: bigint,
  length: number,
): Promise<ReadSegment[]> {
  const out: ReadSegment[] = [];
  let a = address;
  let left = length;
  while (left > 0) {
    const n = Math.min(left, Number(PAGE - (a % PAGE)));
    try {
      const body = await read({ memoryReference: memoryReferenceOf(space, a), count: n });
      const data = Buffer.from(body?.data ?? '', 'base64');
      const got = Math.min(data.length, n);
      push(out, { length: got, data: data.subarray(0, got).toString('hex') });
      if (got < n) push(out, { length: n - got, unreadable: await reasonAt(read, space, a + BigInt(got)) });
    } catch (e) {
      push(out, { length: n, unreadable: message(e) });
    }
    a += BigInt(n);
    left -= n;
  }
  return out;
}
