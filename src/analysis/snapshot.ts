// Snapshot format: the inputs of one stop's analysis (registers, every physical range the analysis
// read, the program's symbols) as JSON, so the same analysis runs offline (CLI --snapshot and diff,
// tests, the extension's "export snapshot"). Versioned; 64-bit values are hex strings and memory is
// base64. It lives beside the analysis, not in src/aarch64, because what it records is what
// analyzeStop() reads, the program's identity included. docs/snapshot.md describes every field.

import { gunzipSync, gzipSync } from 'node:zlib';
import { PhysImage, type PhysRange, type PhysReader } from '../aarch64/reader';
import type { SymbolEntry } from '../elf';
import type { ProgramIdentity } from './program';

export const SNAPSHOT_FORMAT = 'pvmfw-mmu-snapshot';
/**
 * 2: `program` (the ELF's identity), `symbols` as an array with sizes and kinds (so a replay names
 * addresses exactly as the live session did), written gzip-compressed. Version 1 files still load.
 */
export const SNAPSHOT_VERSION = 2;

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
  /** Register values by architectural name, hex: the vCPU `vcpu`'s. */
  readonly registers: Readonly<Record<string, string>>;
  /** The vCPU (1-based, the gdbstub's thread order) `registers` belong to. */
  readonly vcpu?: number;
  /** Every vCPU's translation registers, hex (the regimes can differ per vCPU). */
  readonly vcpus?: readonly { readonly vcpu: number; readonly registers: Readonly<Record<string, string>> }[];
  /** The ELF the capture was given (version 2). */
  readonly program?: ProgramIdentity;
  /**
   * The program's symbols: version 2 writes an array (duplicate names kept, sizes and kinds
   * recorded); version 1 wrote a name -> hex address object. Both load.
   */
  readonly symbols?: readonly SnapshotSymbol[] | Readonly<Record<string, string>>;
  /** Physical ranges read, in address order, merged where adjacent. */
  readonly memory: readonly SnapshotMemory[];
}

export interface SnapshotSymbol {
  readonly name: string;
  /** Hex. */
  readonly address: string;
  /** Hex; absent when the ELF records none (assembly labels). */
  readonly size?: string;
  /** Present (true) for STT_FUNC symbols. */
  readonly function?: true;
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
  extra: {
    source?: string;
    /** The program's symbols (an ELF's, with sizes), or bare addresses by name. */
    symbols?: readonly SymbolEntry[] | Readonly<Record<string, bigint>>;
    program?: ProgramIdentity;
    vcpu?: number;
    vcpus?: readonly { vcpu: number; registers: Readonly<Record<string, bigint | undefined>> }[];
  } = {},
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
  const entries = extra.symbols === undefined ? undefined : symbolEntries(extra.symbols);
  const symbols = entries?.map((e): SnapshotSymbol => ({
    name: e.name,
    address: hex(e.address),
    ...(e.size > 0n ? { size: hex(e.size) } : {}),
    ...(e.isFunction ? { function: true as const } : {}),
  }));
  return {
    format: SNAPSHOT_FORMAT,
    version: SNAPSHOT_VERSION,
    created: new Date().toISOString(),
    ...(extra.source ? { source: extra.source } : {}),
    ...(extra.program ? { program: extra.program } : {}),
    registers: regs,
    ...(extra.vcpu !== undefined ? { vcpu: extra.vcpu } : {}),
    ...(extra.vcpus
      ? {
          vcpus: extra.vcpus.map((v) => {
            const r: Record<string, string> = {};
            for (const [k, x] of Object.entries(v.registers)) if (x !== undefined) r[k] = hex(x);
            return { vcpu: v.vcpu, registers: r };
          }),
        }
      : {}),
    ...(symbols ? { symbols } : {}),
    memory,
  };
}

function symbolEntries(s: readonly SymbolEntry[] | Readonly<Record<string, bigint>>): readonly SymbolEntry[] {
  if (isSymbolList(s)) return s;
  return Object.entries(s).map(([name, address]) => ({ name, address, size: 0n, isFunction: false }));
}

function isSymbolList(
  s: readonly SymbolEntry[] | Readonly<Record<string, bigint>>,
): s is readonly SymbolEntry[] {
  return Array.isArray(s);
}

export class SnapshotError extends Error {}

/** Memory bytes a snapshot may hold: far beyond any real capture, refused before allocating. */
export const MAX_SNAPSHOT_BYTES = 256 * 2 ** 20;

/** Physical addresses are at most 52 bits (FEAT_LPA); runs must end at or below that. */
const PA_LIMIT = 2 ** 52;

/** How a JSON value looks, for messages ("the string \"1\"", "null", "an array"). */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  switch (typeof v) {
    case 'string': {
      const q = JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
      return `the string ${q}`;
    }
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return String(v);
    default:
      return 'an object';
  }
}

function fail(path: string, message: string): never {
  throw new SnapshotError(`snapshot ${path}: ${message}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `name` as a path step: `.TCR_EL1`, or `["odd key"]`. */
const step = (name: string): string =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;

/** A hex string of at most 64 bits (leading zeros allowed). */
function parseHex(v: unknown, path: string, example: string): bigint {
  if (typeof v !== 'string') fail(path, `expected a hex string like "${example}", got ${describe(v)}`);
  const m = /^0x0*([0-9a-f]{0,17})$/i.exec(v);
  if (!m) fail(path, `expected a hex string like "${example}", got ${describe(v)}`);
  if (m[1].length > 16) fail(path, `${v} is wider than 64 bits`);
  return BigInt(v);
}

function hexMap(v: unknown, path: string): Record<string, bigint> {
  if (!isObject(v)) fail(path, `expected an object of hex strings, got ${describe(v)}`);
  const out: Record<string, bigint> = {};
  for (const [k, x] of Object.entries(v)) out[k] = parseHex(x, path + step(k), '0x1f');
  return out;
}

/** Decoded length of strict base64 (RFC 4648 alphabet, padded, no whitespace), or the problem. */
function base64Length(s: string): number | string {
  if (s.length % 4 !== 0) return `length ${s.length} is not a multiple of 4`;
  let end = s.length;
  if (s.endsWith('=')) end--;
  if (end < s.length && s[end - 1] === '=') end--;
  const bad = s.slice(0, end).search(/[^A-Za-z0-9+/]/);
  if (bad >= 0) return `character ${JSON.stringify(s[bad])} at offset ${bad}`;
  return (s.length / 4) * 3 - (s.length - end);
}

/**
 * Validates and loads a parsed snapshot JSON value. Every problem is a SnapshotError naming the
 * field ("snapshot memory[3].data: not valid base64 (…)"). The memory runs are decoded into one
 * buffer (at most `maxBytes`, checked before allocating) in address order.
 */
export function loadSnapshot(json: unknown, maxBytes = MAX_SNAPSHOT_BYTES): LoadedSnapshot {
  if (!isObject(json)) throw new SnapshotError(`snapshot: expected a JSON object, got ${describe(json)}`);
  const o = json;
  if (o.format !== SNAPSHOT_FORMAT)
    fail('format', `expected ${JSON.stringify(SNAPSHOT_FORMAT)}, got ${describe(o.format)}`);
  if (typeof o.version !== 'number') fail('version', `expected a number, got ${describe(o.version)}`);
  if (!Number.isInteger(o.version) || o.version < 1)
    fail('version', `expected a positive integer, got ${describe(o.version)}`);
  if (o.version > SNAPSHOT_VERSION)
    fail(
      'version',
      `${o.version} is newer than this tool reads (up to ${SNAPSHOT_VERSION}): a newer pvmfw-mmu wrote it`,
    );
  if (typeof o.created !== 'string')
    fail('created', `expected an ISO time string, got ${describe(o.created)}`);
  if (o.source !== undefined && typeof o.source !== 'string')
    fail('source', `expected a string, got ${describe(o.source)}`);
  const program = o.program === undefined ? undefined : loadProgram(o.program);
  const registers = hexMap(o.registers, 'registers');
  if (o.vcpu !== undefined && (typeof o.vcpu !== 'number' || !Number.isInteger(o.vcpu) || o.vcpu < 1))
    fail('vcpu', `expected a vCPU number (1, 2, …), got ${describe(o.vcpu)}`);
  const vcpus = loadVcpus(o.vcpus);
  const symbols = loadSymbols(o.symbols);
  const image = loadMemory(o.memory, maxBytes);
  return {
    snapshot: json as unknown as Snapshot,
    version: o.version,
    ...(program ? { program } : {}),
    registers,
    ...(typeof o.vcpu === 'number' ? { vcpu: o.vcpu } : {}),
    ...(vcpus ? { vcpus } : {}),
    symbols,
    image,
  };
}

/** The vCPUs a snapshot records (at most 512), each with its registers. */
function loadVcpus(v: unknown): { vcpu: number; registers: Record<string, bigint> }[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) fail('vcpus', `expected an array, got ${describe(v)}`);
  if (v.length > 512) fail('vcpus', `${v.length} entries: more than the 512 vCPUs this tool reads`);
  return (v as unknown[]).map((x, i) => {
    if (!isObject(x) || typeof x.vcpu !== 'number' || !Number.isInteger(x.vcpu) || x.vcpu < 1)
      fail(`vcpus[${i}]`, `expected { vcpu: N, registers }, got ${describe(x)}`);
    return { vcpu: x.vcpu, registers: hexMap(x.registers, `vcpus[${i}].registers`) };
  });
}

export interface LoadedSnapshot {
  snapshot: Snapshot;
  version: number;
  program?: ProgramIdentity;
  registers: Record<string, bigint>;
  vcpu?: number;
  vcpus?: { vcpu: number; registers: Record<string, bigint> }[];
  /** The program's symbols (version 1 files: addresses only, size 0). */
  symbols: SymbolEntry[];
  image: PhysImage;
}

function loadProgram(v: unknown): ProgramIdentity {
  if (!isObject(v)) fail('program', `expected an object with name and sha256, got ${describe(v)}`);
  if (typeof v.name !== 'string' || v.name === '')
    fail('program.name', `expected a file name, got ${describe(v.name)}`);
  if (typeof v.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(v.sha256))
    fail('program.sha256', `expected 64 lowercase hex digits, got ${describe(v.sha256)}`);
  if (v.buildId !== undefined && (typeof v.buildId !== 'string' || !/^([0-9a-f]{2})+$/.test(v.buildId)))
    fail('program.buildId', `expected lowercase hex bytes, got ${describe(v.buildId)}`);
  return {
    name: v.name,
    sha256: v.sha256,
    ...(typeof v.buildId === 'string' ? { buildId: v.buildId } : {}),
  };
}

/** Version 2's array of symbols, or version 1's name -> address object. */
function loadSymbols(v: unknown): SymbolEntry[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) {
    if (!isObject(v)) fail('symbols', `expected an array of symbols, got ${describe(v)}`);
    return Object.entries(hexMap(v, 'symbols')).map(([name, address]) => ({
      name,
      address,
      size: 0n,
      isFunction: false,
    }));
  }
  return (v as unknown[]).map((e, k): SymbolEntry => {
    const at = `symbols[${k}]`;
    if (!isObject(e)) fail(at, `expected an object with name and address, got ${describe(e)}`);
    if (typeof e.name !== 'string') fail(`${at}.name`, `expected a string, got ${describe(e.name)}`);
    if (e.function !== undefined && typeof e.function !== 'boolean')
      fail(`${at}.function`, `expected true or nothing, got ${describe(e.function)}`);
    return {
      name: e.name,
      address: parseHex(e.address, `${at}.address`, '0x40080000'),
      size: e.size === undefined ? 0n : parseHex(e.size, `${at}.size`, '0x40'),
      isFunction: e.function === true,
    };
  });
}

/** gzip's two magic bytes: a snapshot file starting with them is gzip-compressed JSON. */
const GZIP_MAGIC = [0x1f, 0x8b] as const;

/** JSON text a snapshot file may hold once decompressed (below V8's 512 MiB string limit). */
export const MAX_SNAPSHOT_TEXT = 384 * 2 ** 20;

/** A snapshot as a file's bytes: gzip-compressed JSON (or plain JSON, `gzip: false`). */
export function encodeSnapshot(s: Snapshot, opts: { gzip?: boolean } = {}): Buffer {
  const text = JSON.stringify(s);
  return opts.gzip === false ? Buffer.from(`${text}\n`) : gzipSync(text);
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/**
 * A snapshot file's bytes as a JSON value: gunzipped when they start with gzip's magic (1f 8b), read
 * as JSON text otherwise (version 1 files, hand-edited files). Problems are SnapshotErrors; the
 * decompressed text is capped at `maxText` before it is allocated in full.
 */
export function parseSnapshotBytes(bytes: Uint8Array, maxText = MAX_SNAPSHOT_TEXT): unknown {
  let text: Buffer;
  if (isGzip(bytes)) {
    try {
      text = gunzipSync(bytes, { maxOutputLength: maxText });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError)
        throw new SnapshotError(
          `snapshot: decompresses to more than the ${(maxText / 2 ** 20).toFixed(0)} MiB of JSON this tool reads`,
        );
      throw new SnapshotError(`snapshot: corrupt gzip data (${e instanceof Error ? e.message : String(e)})`);
    }
  } else {
    if (bytes.length > maxText)
      throw new SnapshotError(
        `snapshot: ${(bytes.length / 2 ** 20).toFixed(0)} MiB of JSON, more than the ${(maxText / 2 ** 20).toFixed(0)} MiB this tool reads`,
      );
    text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  try {
    return JSON.parse(text.toString('utf8'));
  } catch (e) {
    throw new SnapshotError(
      `snapshot: not JSON${isGzip(bytes) ? ' inside the gzip data' : ' (nor gzip)'}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

function loadMemory(memory: unknown, maxBytes: number): PhysImage {
  if (!Array.isArray(memory)) fail('memory', `expected an array, got ${describe(memory)}`);
  const runs = memory as unknown[];
  const n = runs.length;
  const address = new Float64Array(n);
  const length = new Float64Array(n);
  let total = 0;
  let sorted = true;
  for (let k = 0; k < n; k++) {
    const m = runs[k];
    const at = `memory[${k}]`;
    if (!isObject(m)) fail(at, `expected an object with address and data, got ${describe(m)}`);
    const a = parseHex(m.address, `${at}.address`, '0x40000000');
    if (typeof m.data !== 'string') fail(`${at}.data`, `expected a base64 string, got ${describe(m.data)}`);
    const len = base64Length(m.data);
    if (typeof len === 'string') fail(`${at}.data`, `not valid base64 (${len})`);
    if (a + BigInt(len) > BigInt(PA_LIMIT))
      fail(at, `0x${a.toString(16)} + ${len} bytes runs past the 52-bit physical address space`);
    total += len;
    if (total > maxBytes)
      fail(
        'memory',
        `memory[0..${k}] hold ${total.toLocaleString('en-US')} bytes, more than the ${maxBytes.toLocaleString('en-US')} bytes this tool loads`,
      );
    address[k] = Number(a);
    length[k] = len;
    if (k > 0 && address[k] < address[k - 1]) sorted = false;
  }
  // Address order (makeSnapshot writes it so; anything else is sorted here), then no overlaps.
  const order = Uint32Array.from({ length: n }, (_, k) => k);
  if (!sorted) order.sort((x, y) => address[x] - address[y] || x - y);
  let prev = -1;
  for (let k = 0; k < n; k++) {
    const cur = order[k];
    if (length[cur] === 0) continue;
    if (prev >= 0 && address[prev] + length[prev] > address[cur])
      fail(
        `memory[${Math.max(prev, cur)}]`,
        `its bytes overlap memory[${Math.min(prev, cur)}] (at 0x${address[cur].toString(16)})`,
      );
    prev = cur;
  }
  // One buffer for every run, filled in address order so adjacent runs end up adjacent in it.
  const bytes = new Uint8Array(total);
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const runAddress = new Float64Array(n);
  const runOffset = new Float64Array(n);
  const runLength = new Float64Array(n);
  let off = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    view.write((runs[i] as { data: string }).data, off, length[i], 'base64');
    runAddress[k] = address[i];
    runOffset[k] = off;
    runLength[k] = length[i];
    off += length[i];
  }
  return PhysImage.fromRuns(bytes, runAddress, runOffset, runLength);
}
