// Where the CLI reads a machine from: a live gdbstub (--gdb HOST:PORT) or a snapshot file
// (--snapshot FILE). Both give registers by name and a batched physical reader.

import { readFileSync, statSync } from 'node:fs';
import { batchReader, PhysImage, type PhysReader, REGIME_REGISTERS, type Registers } from '../aarch64';
import { loadSnapshot, RecordingReader, SnapshotError } from '../analysis';
import { connectTcp, type GdbClient } from '../gdb';

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
  /** Physical reader (recording, so a snapshot can be written from a live session). */
  readonly reader: RecordingReader;
  /** Symbol addresses known to the source (from a snapshot, or added from --elf). */
  readonly symbols: Map<string, bigint>;
  /** Packets exchanged so far (live only). */
  packets(): number | undefined;
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

export async function openGdb(hostPort: string, resumeOnClose: boolean): Promise<Source> {
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
    const values = await gdb.readRegisters(ALL_REGISTERS);
    const registers: Record<string, bigint | undefined> = {};
    for (const [k, v] of values) registers[k] = v;
    const reader = new RecordingReader(
      batchReader(
        (ranges) => gdb.readPhysicalBatch(ranges),
        (a, l) => gdb.readPhysical(a, l),
        64, // tables per read call: the next chunk is read while this one is decoded
      ),
    );
    return {
      label: `gdb ${host}:${port}`,
      registers,
      reader,
      symbols: new Map(),
      packets: () => gdb.stats.packetsSent,
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

export function openSnapshot(file: string): Source {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_SNAPSHOT_FILE)
      throw new CliError(
        `snapshot ${file} is ${(size / 2 ** 20).toFixed(0)} MiB, more than the ${MAX_SNAPSHOT_FILE / 2 ** 20} MiB this tool reads`,
      );
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read snapshot ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new CliError(`snapshot ${file} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  let s: ReturnType<typeof loadSnapshot>;
  try {
    s = loadSnapshot(json);
  } catch (e) {
    if (e instanceof SnapshotError) throw new CliError(`${e.message} (in ${file})`);
    throw e;
  }
  const image: PhysImage = s.image;
  const reader: PhysReader = image;
  return {
    label: `snapshot ${file}`,
    registers: s.registers,
    reader: new RecordingReader(reader),
    symbols: new Map(Object.entries(s.symbols)),
    packets: () => undefined,
    close: () => Promise.resolve(),
  };
}
