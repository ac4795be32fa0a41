// The Debug Console's `x/NFU ADDRESS`: gdb's examine over the stopped target, virtual (through the
// vCPU's regime) or physical (`p:`). Reads go through readSpan, so a fault ends the dump at the first
// unreadable page and the walk says why; device memory is read only on purpose (the console).
import type { ExamineFormat } from './evaluate';
import { fromLittleEndian, memoryReference, readSpan } from './memory';
import type { TargetPort } from '../target/port';

export interface ExamineRequest {
  unit: 1 | 2 | 4 | 8;
  count: number;
  format: ExamineFormat;
  physical: boolean;
}

/** What `x` needs of the session. */
export interface ExamineHost {
  readonly port: TargetPort;
  isDevice(space: 'virtual' | 'physical', address: bigint): Promise<boolean>;
  explainUnreadable(space: 'virtual' | 'physical', address: bigint): Promise<string>;
  /** `name+0x10` for an address inside a symbol (virtual dumps only). */
  describe(address: bigint): string | undefined;
}

/** Bytes per dump line: 16, as a hex editor shows them (two giant words, four words, …). */
const LINE_BYTES = 16;

function unitText(bytes: Uint8Array, unit: number, format: ExamineFormat): string {
  const v = fromLittleEndian(bytes);
  if (format === 'u') return v.toString();
  if (format === 'd') return BigInt.asIntN(unit * 8, v).toString();
  return `0x${v.toString(16).padStart(unit * 2, '0')}`;
}

/** One address column wide enough for the addresses dumped (at least 8 digits, as the views pad). */
function addressColumn(last: bigint): (a: bigint) => string {
  const digits = Math.max(8, last.toString(16).length);
  return (a) => `0x${a.toString(16).padStart(digits, '0')}`;
}

export async function examine(
  h: ExamineHost,
  req: ExamineRequest,
  address: bigint,
  explicit: boolean,
  refusedFrom: string,
): Promise<{ result: string; variablesReference: number; memoryReference: string }> {
  const space = req.physical ? 'physical' : 'virtual';
  const at = (a: bigint) => `${req.physical ? 'p:' : ''}0x${a.toString(16)}`;
  const length = req.unit * req.count;
  // Reading a device register runs the device model (a UART read pops a byte): every page the dump
  // touches is checked (at most two: a dump is at most 4096 bytes).
  if (!explicit)
    for (let page = address & ~0xfffn; page < address + BigInt(length); page += 0x1000n) {
      const a = page < address ? address : page;
      if (await h.isDevice(space, a))
        throw new Error(
          `${at(a)} is device memory: reading it has side effects, so x reads it only from the Debug Console; refused ${refusedFrom}`,
        );
    }
  const r = await readSpan(h.port, { space, address }, length);
  const whole = r.data.length - (r.data.length % req.unit);
  if (whole === 0 && r.faultAt !== undefined) throw new Error(await h.explainUnreadable(space, r.faultAt));
  const col = addressColumn(BigInt.asUintN(64, address + BigInt(Math.max(0, whole - 1))));
  const lines: string[] = [];
  for (let off = 0; off < whole; off += LINE_BYTES) {
    const a = BigInt.asUintN(64, address + BigInt(off));
    const sym = req.physical ? undefined : h.describe(a);
    const units: string[] = [];
    for (let k = off; k < Math.min(off + LINE_BYTES, whole); k += req.unit)
      units.push(unitText(r.data.subarray(k, k + req.unit), req.unit, req.format));
    lines.push(`${req.physical ? 'p:' : ''}${col(a)}${sym ? ` <${sym}>` : ''}: ${units.join(' ')}`);
  }
  if (r.faultAt !== undefined) {
    const why = await h.explainUnreadable(space, r.faultAt);
    lines.push(`(stopped at ${at(r.faultAt)}: ${why})`);
  }
  return {
    result: lines.join('\n'),
    variablesReference: 0,
    memoryReference: memoryReference(space, address),
  };
}
