// Where the CLI reads a machine from: a live gdbstub (--gdb HOST:PORT) or a snapshot file
// (--snapshot FILE). Both give registers by name and a batched physical reader.

import { readFileSync, statSync } from 'node:fs';
import { batchReader, PhysImage, type PhysReader, REGIME_REGISTERS, type Registers } from '../aarch64';
import {
  loadSnapshot,
  parseSnapshotBytes,
  type ProgramIdentity,
  RecordingReader,
  SnapshotError,
} from '../analysis';
import type { SymbolEntry } from '../elf';
import { connectTcp, type GdbClient } from '../gdb';
import { chooseVcpu, sameThread, vcpuWarning, type VcpuRegisters } from './vcpu';
import type { MemoryPathInfo } from '../target/localRam';
import { RamPort } from '../target/ramPort';

/** Registers every command may need: the three regimes, the fault registers, PSTATE. */
export const ALL_REGISTERS = [
  ...new Set([
    ...REGIME_REGISTERS.el1,
    ...REGIME_REGISTERS.el2,
    ...REGIME_REGISTERS.stage2,
    'SCTLR',
    'ESR_EL1',
    'FAR_EL1',
    'ELR_EL1',
    'SPSR_EL1',
    'VBAR_EL1',
    'VBAR',
    'ESR_EL2',
    'FAR_EL2',
    'HPFAR_EL2',
    'VBAR_EL2',
    'ELR_EL2',
    'pc',
    'cpsr',
    'x0',
    'x1',
  ]),
];

export interface Source {
  /** "gdb 127.0.0.1:1234" or "snapshot file.json". */
  readonly label: string;
  readonly registers: Registers;
  /**
   * Physical reader; `image` holds what it read when the source records (a live session opened for
   * `snapshot`, and every snapshot file), else stays empty.
   */
  readonly reader: PhysReader & { readonly image: PhysImage };
  /** The program's symbols the source knows (a snapshot's; none for a live stub). */
  readonly symbols: readonly SymbolEntry[];
  /** The program a snapshot was taken of, when it recorded one. */
  readonly program?: ProgramIdentity;
  /** A snapshot's capture: when, from where, which format version. */
  readonly capture?: { readonly created: string; readonly source?: string; readonly version: number };
  /** Packets exchanged so far (live only). */
  packets(): number | undefined;
  /** The vCPU whose registers these are (1-based), and every vCPU's translation registers. */
  readonly vcpu?: number;
  readonly vcpus?: readonly VcpuRegisters[];
  /** Said on stderr before the output (the vCPUs' regimes differ). */
  readonly warnings?: readonly string[];
  /** How guest RAM is read (live only): QEMU's memory on this host, or the gdbstub. */
  readonly memoryPath?: MemoryPathInfo;
  close(): Promise<void>;
}

export class CliError extends Error {}

export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:([^:]+):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535)
    throw new CliError(`--gdb expects HOST:PORT (e.g. 127.0.0.1:1234), got '${text}'`);
  return { host: m[1] ?? '127.0.0.1', port };
}

/**
 * A live gdbstub. `record`: keep every range read (only `snapshot` writes them out; copying W1's
 * 2 MB of tables into an image cost a few milliseconds of every other command).
 */
export async function openGdb(
  hostPort: string,
  resumeOnClose: boolean,
  cpu?: number,
  record = true,
): Promise<Source> {
  const { host, port } = parseHostPort(hostPort);
  let gdb: GdbClient;
  try {
    gdb = await connectTcp(host, port, { timeoutMs: 3000 });
  } catch (e) {
    throw new CliError(
      `cannot connect to the gdbstub at ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  try {
    // The vCPU that stopped, or --cpu's; its registers, and every vCPU's to compare and record.
    // Without --cpu the registers of the vCPU the connection's stop reply names are asked at once,
    // beside the thread list (the vCPU chosen from that list is the same one).
    const stop =
      cpu === undefined && gdb.state === 'stopped'
        ? await gdb.waitForStop(0).catch(() => undefined)
        : undefined;
    const stopped = stop && 'thread' in stop ? stop.thread : undefined;
    const early = stopped && gdb.readRegisters(ALL_REGISTERS, stopped);
    early?.catch(() => undefined);
    const regs = chooseVcpu(gdb, cpu, ALL_REGISTERS, stopped).then(async (choice) => ({
      choice,
      values:
        early && stopped && sameThread(choice.thread, stopped)
          ? await early
          : await gdb.readRegisters(ALL_REGISTERS, choice.thread),
    }));
    // Guest RAM straight from QEMU's memory when it runs on this host, else through the gdbstub: set
    // up meanwhile (its look through /proc runs while the register replies travel). Never throws.
    const ramPort = RamPort.open(gdb, { host, port });
    const [{ choice, values }, ram] = await Promise.all([regs, ramPort]);
    const registers: Record<string, bigint | undefined> = {};
    for (const [k, v] of values) registers[k] = v;
    const physical = batchReader(
      (ranges) => ram.readPhysicalBatch(ranges),
      (a, l) => ram.readPhysical(a, l),
      // Tables per read call: a level's tables at once (one round trip on a long link; the client
      // keeps a byte budget of them in flight), the next chunk read while this one is decoded.
      1024,
    );
    const reader = record
      ? new RecordingReader(physical)
      : { read: physical.read.bind(physical), maxBatch: physical.maxBatch, image: new PhysImage() };
    return {
      label: `gdb ${host}:${port}`,
      vcpu: choice.vcpu,
      vcpus: choice.all,
      warnings: [vcpuWarning(choice)].filter((w): w is string => w !== undefined),
      registers,
      reader,
      symbols: [],
      packets: () => gdb.stats.packetsSent,
      memoryPath: ram.memoryPath,
      close: () => gdb.close(resumeOnClose ? { detach: true } : undefined),
    };
  } catch (e) {
    await gdb.close();
    throw new CliError(`gdbstub at ${host}:${port}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/**
 * Largest snapshot file read: base64 of MAX_SNAPSHOT_BYTES plus room for the JSON around it (and
 * below V8's 512 MiB string limit, which readFileSync would otherwise hit with a raw error).
 */
export const MAX_SNAPSHOT_FILE = 384 * 2 ** 20;

/** A snapshot file: gzip-compressed JSON (what `snapshot` writes) or plain JSON (version 1 files). */
export function openSnapshot(file: string, cpu?: number): Source {
  let bytes: Buffer;
  try {
    const size = statSync(file).size;
    if (size > MAX_SNAPSHOT_FILE)
      throw new CliError(
        `snapshot ${file} is ${(size / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_SNAPSHOT_FILE / 2 ** 20} MiB this tool reads`,
      );
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read snapshot ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let s: ReturnType<typeof loadSnapshot>;
  try {
    s = loadSnapshot(parseSnapshotBytes(bytes));
  } catch (e) {
    if (e instanceof SnapshotError) throw new CliError(`${e.message} (in ${file})`);
    throw e;
  }
  const image: PhysImage = s.image;
  const reader: PhysReader = image;
  // --cpu: that vCPU's translation registers over the captured ones (the fault registers stay the
  // captured vCPU's); a snapshot without vCPUs is its one vCPU.
  let registers: Record<string, bigint> = s.registers;
  const captured = s.vcpu ?? 1;
  if (cpu !== undefined && cpu !== captured) {
    const v = s.vcpus?.find((x) => x.vcpu === cpu);
    if (!v)
      throw new CliError(
        `--cpu ${cpu}: snapshot ${file} records ${s.vcpus?.length ? `vCPUs ${s.vcpus.map((x) => x.vcpu).join(', ')}` : `vCPU ${captured} only`}`,
      );
    registers = { ...s.registers, ...v.registers };
  }
  const vcpu = cpu ?? captured;
  return {
    label: `snapshot ${file}`,
    registers,
    // Older snapshots do not say which vCPU they read: no vCPU is claimed for them.
    ...(s.vcpu !== undefined || cpu !== undefined ? { vcpu } : {}),
    ...(s.vcpus ? { vcpus: s.vcpus } : {}),
    reader: new RecordingReader(reader),
    symbols: s.symbols,
    ...(s.program ? { program: s.program } : {}),
    capture: {
      created: s.snapshot.created,
      ...(s.snapshot.source ? { source: s.snapshot.source } : {}),
      version: s.version,
    },
    packets: () => undefined,
    close: () => Promise.resolve(),
  };
}
