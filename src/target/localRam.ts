// The local fast path: when QEMU runs on this host, guest RAM is read straight from QEMU's memory
// with positioned reads instead of as hex over the gdbstub (a Debian kernel's 2 MB of tables: a few
// milliseconds instead of ~1,000 packets). Two ways, chosen per RAM block from QEMU's own answers:
//
// - a shared memory backend: RAM that QEMU maps from a file (the memfd `sharedRamArgs` adds to every
//   QEMU we launch, or a file the user gave QEMU) is read with pread on that file, reopened through
//   /proc/PID/fd (permission to read QEMU's /proc entries: same user);
// - /proc/PID/mem at the host address `gpa2hva` names (permission to ptrace QEMU: same user and
//   kernel.yama.ptrace_scope allowing it, or root).
//
// Only RAM is read this way: the RAM map is QEMU's own (`info mtree -f`, the CPU's address space, its
// `ram` ranges); device memory, ROM and anything outside the map stay behind the gdbstub. The QEMU is
// the process owning the gdbstub's listening socket on loopback (or the one we launched), and a probe
// read both ways must agree before the path is used. Anything else falls back to the gdbstub, saying why.
import { closeSync, fstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import type { GdbClient } from '../gdb';
import type { PhysRange } from '../aarch64/reader';
import type { MmuChangedEventBody } from '../shared/protocol';
import { pidListeningOn, processName } from './localQemu';
import { switchedOff } from './switches';

/**
 * Which way physical reads of RAM go, for the Debug Console, mmuChanged and the CLI's stats:
 * `shared-memory` (pread on QEMU's RAM file), `proc-mem` (/proc/PID/mem) or `gdbstub` (`m` packets),
 * and one line for users saying what is read how, or why the fast path is not in use.
 */
export type MemoryPathInfo = Readonly<NonNullable<MmuChangedEventBody['memoryPath']>>;

/** One RAM range of the guest's physical address space, as QEMU's flat view lists it. */
export interface RamRange {
  readonly start: bigint;
  /** Exclusive. */
  readonly end: bigint;
  readonly name: string;
}

/**
 * The id of the memfd backend `sharedRamArgs` adds. QEMU names the RAM region after it, so on `virt`
 * it takes the name QEMU's own backend has there (`mach-virt.ram`): `info mtree` reads as without it.
 */
export const SHARED_RAM_ID = 'pvmfw-mmu-ram';
const VIRT_RAM_ID = 'mach-virt.ram';

/** Set to `off` (or `0`) to read everything through the gdbstub (benchmarks compare both paths). */
export const LOCAL_RAM_ENV = 'PVMFW_MMU_LOCAL_RAM';

export function localRamDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return switchedOff(LOCAL_RAM_ENV, env);
}

const UNIT: Record<string, number> = { '': 2 ** 20, B: 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** Bytes of a QEMU `-m` value (`512M`, `1G`, `size=2G`, `1024`: MiB when bare), or undefined. */
export function parseRamSize(value: string): number | undefined {
  const m = /^(?:size=)?(\d+(?:\.\d+)?)([BKMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * UNIT[m[2].toUpperCase()];
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/**
 * The arguments that back a QEMU's RAM with a memfd it shares (`share=on`), so that RAM can be read
 * with pread while QEMU is stopped; undefined when the command line already chooses how RAM is backed
 * (a memory backend, -numa, -mem-path) or has no `-m` with a plain size. A memfd has no name in any
 * file system: nothing is left behind whatever way QEMU or we end, and its memory goes with the last
 * descriptor (QEMU's, and ours, closed when the connection closes).
 */
export function sharedRamArgs(args: readonly string[]): string[] | undefined {
  let size: number | undefined;
  let virt = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const value = (flag: string): string | undefined =>
      a === flag ? args[i + 1] : a.startsWith(`${flag}=`) ? a.slice(flag.length + 1) : undefined;
    if (/memory-backend|^-numa$|^-mem-path$|^-mem-prealloc$/.test(a)) return undefined;
    const machine = value('-M') ?? value('-machine');
    const type = machine?.split(',').find((p, k) => (k === 0 && !p.includes('=')) || p.startsWith('type='));
    if (type !== undefined) virt = /^(type=)?virt(-\d+\.\d+)?$/.test(type);
    const m = value('-m') ?? value('--m');
    if (m !== undefined) {
      // Only a plain size: slots/maxmem (hot-plug) are left to QEMU's default backend.
      size = m.includes(',') ? undefined : parseRamSize(m);
      if (size === undefined) return undefined;
    }
  }
  if (size === undefined) return undefined;
  const id = virt ? VIRT_RAM_ID : SHARED_RAM_ID;
  return [
    '-object',
    `memory-backend-memfd,id=${id},size=${size},share=on`,
    '-machine',
    `memory-backend=${id}`,
  ];
}

/**
 * The `ram` ranges of the flat view the CPU sees (`AS "cpu-memory-0"`, else `AS "memory"`) in the
 * output of `info mtree -f`. ROM, ROM devices and I/O are not RAM.
 */
export function parseRamMap(mtree: string): RamRange[] {
  const views = mtree.split(/^FlatView #\d+\s*$/m).slice(1);
  const view =
    views.find((v) => /^\s*AS "cpu-memory-0"/m.test(v)) ?? views.find((v) => /^\s*AS "memory"/m.test(v));
  const out: RamRange[] = [];
  for (const m of (view ?? '').matchAll(/^\s*([0-9a-f]+)-([0-9a-f]+) \(prio -?\d+, ram\): (\S+)/gim))
    out.push({ start: BigInt(`0x${m[1]}`), end: BigInt(`0x${m[2]}`) + 1n, name: m[3] });
  return out;
}

export function isLoopback(host: string): boolean {
  return /^(127\.\d+\.\d+\.\d+|::1|\[::1\]|localhost)$/i.test(host);
}

interface Segment {
  /** Guest-physical, as numbers (RAM ends well below 2^53). */
  readonly start: number;
  readonly end: number;
  readonly fd: number;
  /** File position of `start`. */
  readonly pos: number;
}

interface Mapping {
  readonly start: number;
  readonly end: number;
  readonly shared: boolean;
  readonly offset: number;
  readonly inode: number;
  readonly path: string;
}

const MAPS_LINE = /^([0-9a-f]+)-([0-9a-f]+) \S\S\S(\S) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/;

/**
 * QEMU's /proc/PID/maps. Only the lines a lookup lands on are parsed in full (a QEMU maps a few
 * hundred regions; a walk needs the one or two holding guest RAM).
 */
class QemuMaps {
  private readonly lines: string[];

  constructor(text: string) {
    this.lines = text.split('\n');
  }

  private parse(k: number): Mapping | undefined {
    const m = MAPS_LINE.exec(this.lines[k] ?? '');
    if (!m) return undefined;
    return {
      start: parseInt(m[1], 16),
      end: parseInt(m[2], 16),
      shared: m[3] === 's',
      offset: parseInt(m[4], 16),
      inode: Number(m[5]),
      path: m[6],
    };
  }

  /**
   * The mapping holding `hva`, extended over the mappings that continue it in the same file (the
   * kernel splits one mmap into several entries when parts of it get other flags, e.g. madvise).
   */
  fileMapping(hva: number): Mapping | undefined {
    const k = this.lines.findIndex((line) => {
      const dash = line.indexOf('-');
      if (dash <= 0) return false;
      const space = line.indexOf(' ', dash);
      return hva >= parseInt(line.slice(0, dash), 16) && hva < parseInt(line.slice(dash + 1, space), 16);
    });
    const first = k < 0 ? undefined : this.parse(k);
    if (!first) return undefined;
    let end = first.end;
    for (let j = k + 1; j < this.lines.length; j++) {
      const m = this.parse(j);
      const same = m && m.inode === first.inode && m.path === first.path && m.shared === first.shared;
      if (!m || !same || m.start !== end || m.offset !== first.offset + (m.start - first.start)) break;
      end = m.end;
    }
    return { ...first, end };
  }
}

function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}` : err instanceof Error ? err.message : String(e);
}

/** An error saying the fast path is unavailable; its message is the user-facing reason. */
class Unavailable extends Error {}

/**
 * Guest RAM read locally. `read` serves a range that lies inside one RAM block and returns undefined
 * for anything else (the caller then asks the gdbstub).
 */
export class LocalRam {
  private closed = false;
  /** Ranges served and bytes read locally (figures for benchmarks and tests). */
  reads = 0;
  bytes = 0;

  private constructor(
    private readonly segments: Segment[],
    private readonly fds: number[],
    readonly info: MemoryPathInfo,
  ) {}

  /**
   * Sets up the fast path for the QEMU behind `gdb` (connected to host:port; `pid` when we launched
   * it). Never throws: without a fast path the answer is the gdbstub with the reason.
   */
  static async open(
    gdb: GdbClient,
    where: { host: string; port: number; pid?: number; procMemOnly?: boolean },
  ): Promise<{ ram?: LocalRam; info: MemoryPathInfo }> {
    const stub = (why: string): { info: MemoryPathInfo } => ({
      info: { path: 'gdbstub', detail: `everything through the gdbstub: ${why}` },
    });
    if (localRamDisabled()) return stub(`local RAM reads disabled by ${LOCAL_RAM_ENV}`);
    if (process.platform !== 'linux') return stub('local RAM reads need Linux /proc');
    if (!isLoopback(where.host)) return stub(`QEMU is not on this host: ${where.host}`);
    // QEMU's RAM map is asked at once, beside the requests already in flight; the look through /proc
    // below is synchronous: the requests go out first, so it runs while their replies travel. (Behind
    // a port forward the map's reply is not used: one query's bytes.)
    const mtree = gdb.queryMonitor('info mtree -f');
    mtree.catch(() => undefined);
    await new Promise<void>((resolve) => setImmediate(resolve));
    let pid = where.pid ?? pidListeningOn(where.port);
    for (let attempt = 0; ; attempt++) {
      if (pid === undefined)
        return stub(
          `no process of this user listens on port ${where.port}: QEMU runs as another user or in another namespace`,
        );
      // A port forward (ssh -L, a proxy) listens here for a QEMU elsewhere.
      const comm = processName(pid);
      if (comm !== undefined && !comm.startsWith('qemu'))
        return stub(`port ${where.port} belongs to ${comm} (pid ${pid}), not to QEMU: a port forward?`);
      let ranges: RamRange[];
      try {
        ranges = parseRamMap(await mtree);
      } catch (e) {
        return stub(`the stub has no QEMU monitor for its RAM map: ${errText(e)}`);
      }
      if (!ranges.length) return stub('QEMU listed no RAM');
      const fds: number[] = [];
      try {
        const ram = await LocalRam.build(gdb, pid, ranges, fds, where.procMemOnly === true);
        return { ram, info: ram.info };
      } catch (e) {
        for (const fd of fds) closeSync(fd);
        // The QEMU found by its command line may not be the one listening (another naming the port):
        // once, the listening socket's owner.
        const owner =
          where.pid === undefined && attempt === 0
            ? pidListeningOn(where.port, { socketsOnly: true })
            : undefined;
        if (owner !== undefined && owner !== pid) {
          pid = owner;
          continue;
        }
        if (e instanceof Unavailable) return stub(e.message);
        return stub(`local RAM unavailable: ${errText(e)}`);
      }
    }
  }

  /**
   * The RAM blocks' host addresses (`gpa2hva`) and the probe reads through the gdbstub go out together
   * (one round trip); QEMU's mappings are read meanwhile. Then the blocks are opened and the probe
   * read both ways must agree.
   */
  private static async build(
    gdb: GdbClient,
    pid: number,
    ranges: RamRange[],
    fds: number[],
    procMemOnly: boolean,
  ): Promise<LocalRam> {
    const hvas = Promise.all(ranges.map((r) => gdb.queryMonitor(`gpa2hva 0x${r.start.toString(16)}`)));
    const probes = ranges.map((r) => ({ address: r.start, length: Math.min(256, Number(r.end - r.start)) }));
    const remote = gdb.readPhysicalBatch(probes);
    // Both observed at once: the first to fail must not leave the other's failure unhandled.
    remote.catch(() => undefined);
    hvas.catch(() => undefined);
    // QEMU's mappings are read synchronously: let both requests go out first.
    await new Promise<void>((resolve) => setImmediate(resolve));
    let maps: QemuMaps;
    try {
      maps = new QemuMaps(readFileSync(`/proc/${pid}/maps`, 'latin1'));
    } catch (e) {
      throw new Unavailable(`cannot read /proc/${pid}/maps (${errText(e)}): QEMU runs as another user`);
    }
    const replies = await hvas;
    // Descriptors of QEMU's open files by (path, inode), opened on first use.
    const files = new Map<string, number>();
    let memFd: number | undefined;
    const segments: Segment[] = [];
    const kinds = new Set<'shared-memory' | 'proc-mem'>();
    for (const [k, r] of ranges.entries()) {
      const reply = replies[k];
      const m = /is (0x[0-9a-f]+)/i.exec(reply);
      if (!m) throw new Unavailable(`gpa2hva 0x${r.start.toString(16)} answered '${reply.trim()}'`);
      const hva = Number(BigInt(m[1]));
      const start = Number(r.start);
      const end = Number(r.end);
      const map = maps.fileMapping(hva);
      const fileBacked =
        !procMemOnly && map && map.shared && map.path.startsWith('/') && hva + (end - start) <= map.end;
      if (map && fileBacked) {
        const key = `${map.inode}:${map.path}`;
        let fd = files.get(key);
        if (fd === undefined) {
          fd = openQemuFile(pid, map);
          if (fd !== undefined) {
            fds.push(fd);
            files.set(key, fd);
          }
        }
        if (fd !== undefined) {
          segments.push({ start, end, fd, pos: map.offset + hva - map.start });
          kinds.add('shared-memory');
          continue;
        }
      }
      if (memFd === undefined) {
        try {
          memFd = openSync(`/proc/${pid}/mem`, 'r');
        } catch (e) {
          throw new Unavailable(
            `cannot open /proc/${pid}/mem (${errText(e)}): reading QEMU's memory needs the right to ptrace it (same user and kernel.yama.ptrace_scope 0, or root)`,
          );
        }
        fds.push(memFd);
      }
      segments.push({ start, end, fd: memFd, pos: hva });
      kinds.add('proc-mem');
    }
    const mib = Math.round(segments.reduce((n, s) => n + s.end - s.start, 0) / 2 ** 20);
    const how = kinds.has('shared-memory')
      ? kinds.has('proc-mem')
        ? `QEMU's shared memory backend and /proc/${pid}/mem`
        : `QEMU's shared memory backend (pid ${pid})`
      : `/proc/${pid}/mem`;
    const info: MemoryPathInfo = {
      path: kinds.has('shared-memory') ? 'shared-memory' : 'proc-mem',
      detail: `guest RAM (${mib} MiB) read from ${how}; device memory through the gdbstub`,
    };
    segments.sort((a, b) => a.start - b.start);
    const ram = new LocalRam(segments, fds, info);
    ram.verify(probes, await remote);
    return ram;
  }

  /** The first 256 bytes of every RAM block, read both ways, must be equal. */
  private verify(probes: readonly PhysRange[], remote: readonly Uint8Array[]): void {
    probes.forEach((p, i) => {
      const local = this.read(p.address, p.length);
      if (!local || local.some((b, k) => b !== remote[i][k]))
        throw new Unavailable(
          `local RAM reads at 0x${p.address.toString(16)} differ from the gdbstub's: not using them`,
        );
    });
    this.reads = 0;
    this.bytes = 0;
  }

  private segmentOf(a: number, length: number): Segment | undefined {
    // A handful of RAM blocks: a linear search is as fast as anything.
    for (const s of this.segments) if (a >= s.start && a + length <= s.end) return s;
    return undefined;
  }

  /** Whether [address, address + length) lies inside one local RAM block. */
  covers(address: bigint, length: number): boolean {
    return !this.closed && this.segmentOf(Number(address), length) !== undefined;
  }

  /** The bytes, or undefined when the range is not local RAM. Throws on an I/O error. */
  read(address: bigint, length: number): Uint8Array | undefined {
    if (this.closed) return undefined;
    const a = Number(address);
    const s = this.segmentOf(a, length);
    if (!s) return undefined;
    const out = new Uint8Array(length);
    this.readInto(s, a, out);
    return out;
  }

  /** Fills `into` from block `s` at guest address `a`. Throws on an I/O error. */
  private readInto(s: Segment, a: number, into: Uint8Array): void {
    const length = into.length;
    let done = 0;
    while (done < length) {
      const n = readSync(s.fd, into, done, length - done, s.pos + a - s.start + done);
      if (n <= 0) throw new Error(`local RAM read at 0x${(a + done).toString(16)} ended early`);
      done += n;
    }
    this.reads++;
    this.bytes += length;
  }

  /**
   * Reads every range that is local RAM; the others are undefined. Ranges that follow each other in
   * one block, in address order whatever the order asked (a kernel's 525 tables lie in 9 runs), are
   * read with one pread. The results are views into one buffer: `scratch` when it is given and large
   * enough (then they last until the caller writes it again: copy what is kept), else one allocated
   * for the call (a walk's level of tables is one allocation, not one a table).
   */
  readMany(ranges: readonly PhysRange[], scratch?: Uint8Array): (Uint8Array | undefined)[] {
    const out: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(ranges.length);
    const at = ranges.map((r) => Number(r.address));
    const order = ranges.map((_, k) => k);
    if (at.some((a, k) => k > 0 && a < at[k - 1])) order.sort((x, y) => at[x] - at[y]);
    const runs: { ks: number[]; s: Segment; a: number; length: number }[] = [];
    let total = 0;
    let i = 0;
    while (i < order.length) {
      const first = order[i];
      const a = at[first];
      const s = this.closed ? undefined : this.segmentOf(a, ranges[first].length);
      if (!s) {
        out[first] = undefined;
        i++;
        continue;
      }
      // Extend over the ranges that continue this one inside the same block.
      const ks = [first];
      let end = a + ranges[first].length;
      for (i++; i < order.length; i++) {
        const k = order[i];
        if (at[k] !== end || end + ranges[k].length > s.end) break;
        ks.push(k);
        end += ranges[k].length;
      }
      runs.push({ ks, s, a, length: end - a });
      total += end - a;
    }
    const slab = scratch && scratch.length >= total ? scratch : new Uint8Array(total);
    let off = 0;
    for (const r of runs) {
      const whole = slab.subarray(off, off + r.length);
      this.readInto(r.s, r.a, whole);
      this.reads += r.ks.length - 1;
      let o = 0;
      for (const k of r.ks) {
        out[k] = whole.subarray(o, o + ranges[k].length);
        o += ranges[k].length;
      }
      off += r.length;
    }
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds) {
      try {
        closeSync(fd);
      } catch {
        // already closed
      }
    }
  }
}

/** Opens the file QEMU maps at `map` through its /proc/PID/fd entry (same inode), or undefined. */
function openQemuFile(pid: number, map: Mapping): number | undefined {
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  for (const n of fds) {
    const link = `/proc/${pid}/fd/${n}`;
    try {
      if (readlinkSync(link) !== map.path) continue;
      const fd = openSync(link, 'r');
      if (fstatSync(fd).ino === map.inode) return fd;
      closeSync(fd);
    } catch {
      // not ours to open: try the next, then /proc/PID/mem
    }
  }
  return undefined;
}
