// The demo EL2 stub's MMIO-guard call log (guest/include/guard_log.h), read by symbol `guard_log`,
// and a replay of it into the set of IPAs the hypervisor has guard-mapped.

export const GUARD_LOG_SYMBOL = 'guard_log';
export const GUARD_LOG_MAGIC = 0x474f4c47;
export const GUARD_LOG_HEADER = 0x20;
export const MMIO_GUARD_INFO = 0xc6000005;
export const MMIO_GUARD_ENROLL = 0xc6000006;
export const MMIO_GUARD_MAP = 0xc6000007;
export const MMIO_GUARD_UNMAP = 0xc6000008;

/** SMCCC function ids of the MMIO-guard hypercalls, by name (pKVM's vendor-hyp service calls). */
export const GUARD_CALLS: Readonly<Record<number, string>> = {
  [MMIO_GUARD_INFO]: 'MMIO_GUARD_INFO',
  [MMIO_GUARD_ENROLL]: 'MMIO_GUARD_ENROLL',
  [MMIO_GUARD_MAP]: 'MMIO_GUARD_MAP',
  [MMIO_GUARD_UNMAP]: 'MMIO_GUARD_UNMAP',
};

export type GuardFn = 'INFO' | 'ENROLL' | 'MAP' | 'UNMAP' | 'UNKNOWN';

export interface GuardLogEntry {
  /** 1-based sequence number. */
  readonly seq: number;
  readonly fn: GuardFn;
  readonly functionId: number;
  readonly ipa: bigint;
  readonly result: bigint;
}

export interface GuardLog {
  readonly capacity: number;
  /** Entries ever written. */
  readonly count: number;
  /** Entries still in the ring, oldest first. */
  readonly entries: GuardLogEntry[];
  /** True when older entries were overwritten (count > capacity). */
  readonly truncated: boolean;
}

export class GuardLogError extends Error {}

function fnName(id: number): GuardFn {
  switch (id) {
    case MMIO_GUARD_INFO:
      return 'INFO';
    case MMIO_GUARD_ENROLL:
      return 'ENROLL';
    case MMIO_GUARD_MAP:
      return 'MAP';
    case MMIO_GUARD_UNMAP:
      return 'UNMAP';
    default:
      return 'UNKNOWN';
  }
}

/** Bytes needed to read the whole log for a given capacity. */
export function guardLogSize(capacity = 64): number {
  return GUARD_LOG_HEADER + capacity * 32;
}

/** Parses the log from its bytes (header + ring). */
export function parseGuardLog(bytes: Uint8Array): GuardLog {
  if (bytes.length < GUARD_LOG_HEADER) throw new GuardLogError('guard log: short read');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== GUARD_LOG_MAGIC) throw new GuardLogError('guard log: bad magic (not "GLOG")');
  const capacity = dv.getUint32(8, true);
  const entrySize = dv.getUint32(12, true);
  if (entrySize !== 32) throw new GuardLogError(`guard log: entry size ${entrySize}, expected 32`);
  if (bytes.length < GUARD_LOG_HEADER + capacity * 32)
    throw new GuardLogError('guard log: short read of the ring');
  const count = Number(dv.getBigUint64(16, true));
  const first = Math.max(0, count - capacity);
  const entries: GuardLogEntry[] = [];
  for (let k = first; k < count; k++) {
    const off = GUARD_LOG_HEADER + (k % capacity) * 32;
    const seq = Number(dv.getBigUint64(off, true));
    if (seq !== k + 1) continue; // being overwritten right now
    const functionId = Number(dv.getBigUint64(off + 8, true) & 0xffff_ffffn);
    entries.push({
      seq,
      fn: fnName(functionId),
      functionId,
      ipa: dv.getBigUint64(off + 16, true),
      result: dv.getBigInt64(off + 24, true),
    });
  }
  return { capacity, count, entries, truncated: count > capacity };
}

export interface GuardReplay {
  readonly enrolled: boolean;
  readonly granule?: number;
  /** Page IPAs guard-mapped now, per the log. */
  readonly mapped: Set<bigint>;
  /** Page IPAs that were mapped and then unmapped. */
  readonly unmapped: Set<bigint>;
  /** Problems seen while replaying (double MAP, UNMAP of an unmapped page, errors). */
  readonly problems: {
    kind: 'doubleMap' | 'unmapNotMapped' | 'hypercallError';
    seq: number;
    ipa: bigint;
    message: string;
  }[];
}

export function replayGuardLog(log: GuardLog): GuardReplay {
  const mapped = new Set<bigint>();
  const unmapped = new Set<bigint>();
  const problems: GuardReplay['problems'] = [];
  let enrolled = false;
  let granule: number | undefined;
  for (const e of log.entries) {
    const ipaHex = `0x${e.ipa.toString(16)}`;
    if (e.result !== 0n && e.fn !== 'INFO') {
      problems.push({
        kind: 'hypercallError',
        seq: e.seq,
        ipa: e.ipa,
        message: `MMIO_GUARD_${e.fn}(${ipaHex}) returned ${e.result}`,
      });
      continue;
    }
    if (e.fn === 'INFO') granule = e.result > 0n ? Number(e.result) : undefined;
    else if (e.fn === 'ENROLL') enrolled = true;
    else if (e.fn === 'MAP') {
      if (mapped.has(e.ipa))
        problems.push({
          kind: 'doubleMap',
          seq: e.seq,
          ipa: e.ipa,
          message: `MMIO_GUARD_MAP(${ipaHex}) of a page already mapped`,
        });
      mapped.add(e.ipa);
      unmapped.delete(e.ipa);
    } else if (e.fn === 'UNMAP') {
      if (!mapped.has(e.ipa) && !log.truncated)
        problems.push({
          kind: 'unmapNotMapped',
          seq: e.seq,
          ipa: e.ipa,
          message: `MMIO_GUARD_UNMAP(${ipaHex}) of a page that was not mapped`,
        });
      mapped.delete(e.ipa);
      unmapped.add(e.ipa);
    }
  }
  return { enrolled, ...(granule !== undefined ? { granule } : {}), mapped, unmapped, problems };
}
