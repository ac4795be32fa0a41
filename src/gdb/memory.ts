// Memory access: `m` chunked to what QEMU accepts (2048 bytes; more gets E22), `X` (binary) or `M`
// writes, and physical access through QEMU's global `Qqemu.PhyMemMode` switch, restored afterwards.
// Reads are issued strictly, or, when the connect-time self-test showed the stub handles pipelined
// packets in order, with as many in flight as a byte budget of replies allows, the PhyMemMode switch
// and its restore pipelined with them: a batch costs one round trip plus its bytes, however long the
// link.
import { latin1Bytes, latin1Text } from './codec';
import { GdbDesyncError, GdbMemoryFaultError, GdbProtocolError } from './errors';
import { bytesToHex, hexInto } from './hex';
import type { RspLink } from './link';
import { checkReply, expectOk, issueBudgeted, parseError } from './requests';
import type { MemoryRange } from './types';

/** QEMU's gdbstub rejects `m` longer than this with E22. */
export const QEMU_MAX_READ = 2048;

interface Settings {
  readonly timeoutMs: number;
  /** Reply bytes kept in flight by a read (0: strict request/response). */
  readonly readBudget: number;
  readonly packetSize: number;
  /** Called when pipelined requests lost their order: the client then stays strict. */
  readonly onDesync: () => void;
}

interface Chunk {
  readonly range: number;
  readonly offset: number;
  readonly address: bigint;
  readonly length: number;
}

export class MemoryAccess {
  /** QEMU's current PhyMemMode as last set or read by us (the stub allows one client, so it is ours). */
  physicalMode = false;
  /** undefined until the first write tells whether the stub implements `X`. */
  private binaryWrites?: boolean;

  constructor(
    private readonly link: RspLink,
    private readonly settings: () => Settings,
  ) {}

  private maxRead(): number {
    // Hex doubles the size; the reply must fit the stub's packet size.
    return Math.max(16, Math.min(QEMU_MAX_READ, Math.floor(this.settings().packetSize / 2)));
  }

  private maxWrite(): number {
    // `M<addr>,<len>:` plus hex must fit the stub's input buffer; leave room for the header.
    return Math.max(16, Math.floor((this.settings().packetSize - 64) / 2) & ~15);
  }

  private async setPhysicalMode(on: boolean): Promise<void> {
    if (this.physicalMode === on) return;
    const req = `Qqemu.PhyMemMode:${on ? 1 : 0}`;
    expectOk(req, await this.link.request(req, this.settings().timeoutMs));
    this.physicalMode = on;
  }

  /** Runs `fn` in the wanted address space, restoring the previous PhyMemMode even on error. */
  private async inMode<T>(physical: boolean, fn: () => Promise<T>): Promise<T> {
    const previous = this.physicalMode;
    await this.setPhysicalMode(physical);
    try {
      return await fn();
    } finally {
      if (!this.link.isClosed) await this.setPhysicalMode(previous);
    }
  }

  read(address: bigint, length: number, physical: boolean): Promise<Uint8Array> {
    return this.readBatch([{ address, length }], physical).then((r) => r[0]);
  }

  /** `scratch`: decoded into when it holds every range (see GdbClient.readPhysicalBatch). */
  async readBatch(
    ranges: readonly MemoryRange[],
    physical: boolean,
    scratch?: Uint8Array,
  ): Promise<Uint8Array[]> {
    const max = this.maxRead();
    const chunks: Chunk[] = [];
    for (const r of ranges)
      if (!Number.isInteger(r.length) || r.length < 0) throw new RangeError(`bad read length ${r.length}`);
    const total = ranges.reduce((n, r) => n + r.length, 0);
    let at = 0;
    const out = ranges.map((r) => {
      if (!scratch || scratch.length < total) return new Uint8Array(r.length);
      at += r.length;
      return scratch.subarray(at - r.length, at);
    });
    ranges.forEach((r, range) => {
      for (let offset = 0; offset < r.length; offset += max) {
        chunks.push({
          range,
          offset,
          address: r.address + BigInt(offset),
          length: Math.min(max, r.length - offset),
        });
      }
    });
    if (chunks.length === 0) return out;
    const { readBudget, timeoutMs, onDesync } = this.settings();
    const previous = this.physicalMode;
    const mode = (on: boolean) => `Qqemu.PhyMemMode:${on ? 1 : 0}`;
    let restored = previous === physical;
    // [switch], the reads, [restore]: one pipeline. `force`: switch and restore whatever we believe
    // QEMU's mode is (after a desync it is unknown).
    const issue = (budget: number, force: boolean) => {
      const switching = force || previous !== physical;
      const first = switching ? 1 : 0;
      const packets = [
        ...(switching ? [mode(physical)] : []),
        ...chunks.map((c) => `m${c.address.toString(16)},${c.length.toString(16)}`),
        ...(switching ? [mode(previous)] : []),
      ];
      const isRead = (i: number) => i >= first && i < first + chunks.length;
      // A reply's bytes on the wire: `$`, two hex digits a byte, `#xx`.
      const cost = (i: number) => (isRead(i) ? chunks[i - first].length * 2 + 4 : 6);
      return issueBudgeted(this.link, packets, cost, budget, timeoutMs, (reply, i) => {
        if (!isRead(i)) {
          expectOk(packets[i], reply);
          this.physicalMode = i === 0 ? physical : previous;
          if (i > 0) restored = true;
          return;
        }
        const c = chunks[i - first];
        const err = parseError(packets[i], reply);
        if (err) {
          if (err.code === 0x14) throw new GdbMemoryFaultError(packets[i], c.address, c.length, physical);
          throw err;
        }
        if (reply.length !== c.length * 2 || !hexInto(reply, out[c.range], c.offset)) {
          throw new GdbProtocolError(
            `'${packets[i]}' answered ${reply.length} bytes ('${latin1Text(reply.subarray(0, 16))}'), expected ${c.length * 2} hex digits`,
          );
        }
      });
    };
    try {
      await issue(readBudget, false);
    } catch (e) {
      if (!(e instanceof GdbDesyncError) || readBudget === 0) throw e;
      // The stub lost the order of pipelined requests: from now on one at a time, and redo it all.
      onDesync();
      restored = false;
      await issue(0, true);
    } finally {
      // A read failed before the restore was sent: restore it now (the error is what is reported).
      if (!restored && !this.link.isClosed) {
        this.physicalMode = !previous;
        await this.setPhysicalMode(previous).catch(() => undefined);
      }
    }
    return out;
  }

  async write(address: bigint, data: Uint8Array, physical: boolean): Promise<void> {
    const max = this.maxWrite();
    const { timeoutMs } = this.settings();
    await this.inMode(physical, async () => {
      for (let offset = 0; offset < data.length || (offset === 0 && data.length === 0); offset += max) {
        const part = data.subarray(offset, Math.min(data.length, offset + max));
        const at = address + BigInt(offset);
        const header = `${at.toString(16)},${part.length.toString(16)}:`;
        let reply: Uint8Array | undefined;
        if (this.binaryWrites !== false) {
          const head = latin1Bytes(`X${header}`);
          const packet = new Uint8Array(head.length + part.length);
          packet.set(head);
          packet.set(part, head.length);
          reply = await this.link.request(packet, timeoutMs);
          if (reply.length === 0) {
            this.binaryWrites = false;
            reply = undefined;
          } else this.binaryWrites = true;
        }
        const req = `M${header}${bytesToHex(part)}`;
        reply ??= await this.link.request(req, timeoutMs);
        const err = parseError(req, reply);
        if (err?.code === 0x14) throw new GdbMemoryFaultError(req.slice(0, 30), at, part.length, physical);
        checkReply(req.slice(0, 30), reply);
        expectOk(req.slice(0, 30), reply);
        if (data.length === 0) break;
      }
    });
  }
}
