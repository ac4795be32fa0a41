// Snapshot format: registers plus every physical range a walk read, as JSON, so the same walker runs
// offline (CLI --snapshot, tests, the extension's "export snapshot"). Versioned; 64-bit values are
// hex strings and memory is base64.

import { PhysImage, type PhysRange, type PhysReader } from './reader';

export const SNAPSHOT_FORMAT = 'pvmfw-mmu-snapshot';
export const SNAPSHOT_VERSION = 1;

export interface SnapshotMemory {
  /** Physical address, hex. */
  readonly address: string;
  /** Bytes, base64. */
  readonly data: string;
}

export interface Snapshot {
  readonly format: typeof SNAPSHOT_FORMAT;
  readonly version: number;
  /** ISO time of capture. */
  readonly created: string;
  /** Where it came from ("gdb 127.0.0.1:1234"). */
  readonly source?: string;
  /** Register values by architectural name, hex. */
  readonly registers: Readonly<Record<string, string>>;
  /** Symbol addresses the capture used (the guard-call log), hex. */
  readonly symbols?: Readonly<Record<string, string>>;
  /** Physical ranges read, in address order, merged where adjacent. */
  readonly memory: readonly SnapshotMemory[];
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** Wraps a reader and keeps a copy of every range it served successfully. */
export class RecordingReader implements PhysReader {
  readonly image = new PhysImage();
  readonly maxBatch?: number;
  constructor(private readonly inner: PhysReader) {
    this.maxBatch = inner.maxBatch;
  }
  async read(ranges: readonly PhysRange[]): Promise<(Uint8Array | Error)[]> {
    const got = await this.inner.read(ranges);
    got.forEach((g, i) => {
      if (!(g instanceof Error)) this.image.write(ranges[i].address, g);
    });
    return got;
  }
}

export function makeSnapshot(
  registers: Readonly<Record<string, bigint | undefined>>,
  image: PhysImage,
  extra: { source?: string; symbols?: Readonly<Record<string, bigint>> } = {},
): Snapshot {
  const regs: Record<string, string> = {};
  for (const [k, v] of Object.entries(registers)) if (v !== undefined) regs[k] = hex(v);
  const memory: SnapshotMemory[] = [];
  let runStart = -1n;
  let run: Uint8Array[] = [];
  let runEnd = -1n;
  const flush = (): void => {
    if (run.length === 0) return;
    memory.push({ address: hex(runStart), data: Buffer.concat(run).toString('base64') });
    run = [];
  };
  for (const [addr, block] of image.entries()) {
    if (addr !== runEnd) {
      flush();
      runStart = addr;
    }
    run.push(block);
    runEnd = addr + BigInt(block.length);
  }
  flush();
  const symbols: Record<string, string> = {};
  for (const [k, v] of Object.entries(extra.symbols ?? {})) symbols[k] = hex(v);
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    created: new Date().toISOString(),
    ...(extra.source ? { source: extra.source } : {}),
    registers: regs,
    ...(extra.symbols ? { symbols } : {}),
    memory,
  };
}

export class SnapshotError extends Error {}

function parseHex(s: unknown, what: string): bigint {
  if (typeof s !== 'string' || !/^0x[0-9a-f]+$/i.test(s))
    throw new SnapshotError(`snapshot: ${what} is not a hex string`);
  return BigInt(s);
}

/** Validates and loads a parsed snapshot JSON value. */
export function loadSnapshot(json: unknown): {
  snapshot: Snapshot;
  registers: Record<string, bigint>;
  symbols: Record<string, bigint>;
  image: PhysImage;
} {
  if (typeof json !== 'object' || json === null) throw new SnapshotError('snapshot: not a JSON object');
  const o = json as Record<string, unknown>;
  if (o.format !== SNAPSHOT_FORMAT) throw new SnapshotError(`snapshot: format is not '${SNAPSHOT_FORMAT}'`);
  if (typeof o.version !== 'number' || o.version > SNAPSHOT_VERSION)
    throw new SnapshotError(
      `snapshot: unsupported version ${String(o.version)} (this tool reads up to ${SNAPSHOT_VERSION})`,
    );
  const registers: Record<string, bigint> = {};
  for (const [k, v] of Object.entries((o.registers ?? {}) as Record<string, unknown>))
    registers[k] = parseHex(v, `register ${k}`);
  const symbols: Record<string, bigint> = {};
  for (const [k, v] of Object.entries((o.symbols ?? {}) as Record<string, unknown>))
    symbols[k] = parseHex(v, `symbol ${k}`);
  const image = new PhysImage();
  if (!Array.isArray(o.memory)) throw new SnapshotError('snapshot: memory is not an array');
  for (const m of o.memory as unknown[]) {
    const mm = m as Record<string, unknown>;
    if (typeof mm.data !== 'string') throw new SnapshotError('snapshot: memory data is not base64 text');
    image.write(parseHex(mm.address, 'memory address'), new Uint8Array(Buffer.from(mm.data, 'base64')));
  }
  return { snapshot: json as Snapshot, registers, symbols, image };
}
