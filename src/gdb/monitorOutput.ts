// One monitor command (qRcmd) and its output: O packets collected up to a bound. A stub that streams
// output without end must not grow the client without bound: the first MAX_MONITOR_OUTPUT bytes are
// kept, the rest dropped and counted, and the text says so.
import { asciiToHex, hexToBytes } from './hex';
import type { RspLink } from './link';
import { checkReply } from './requests';

/** Most bytes of monitor output kept (QEMU's `info mtree -f` is a few hundred KiB at most). */
export const MAX_MONITOR_OUTPUT = 16 * 2 ** 20;

export class MonitorOutput {
  private readonly parts: Uint8Array[] = [];
  private kept = 0;
  private dropped = 0;

  constructor(private readonly max = MAX_MONITOR_OUTPUT) {}

  push(bytes: Uint8Array): void {
    if (this.kept + bytes.length > this.max) this.dropped += bytes.length;
    else {
      this.parts.push(bytes);
      this.kept += bytes.length;
    }
  }

  text(): string {
    const text = Buffer.concat(this.parts).toString('utf8');
    return this.dropped
      ? `${text}\n… monitor output cut at ${this.max} bytes (${this.dropped} more dropped)\n`
      : text;
  }
}

/** Sends `qRcmd` for `command` and returns its output (O packets, or a stub's direct hex reply). */
export async function runMonitorCommand(link: RspLink, command: string, timeoutMs: number): Promise<string> {
  const out = new MonitorOutput();
  const reply = await link.request(
    `qRcmd,${asciiToHex(command)}`,
    timeoutMs,
    (p) =>
      p.length > 1 && p[0] === 0x4f /* O */ && !(p.length === 2 && p[1] === 0x4b) ? 'intermediate' : 'final',
    (p) => {
      const bytes = hexToBytes(p, 1);
      if (bytes) out.push(bytes);
    },
  );
  if (reply.length && reply[0] !== 0x4f) {
    // Some stubs answer with the output hex-encoded directly instead of O packets.
    const direct = hexToBytes(reply);
    if (direct && reply[0] !== 0x45) out.push(direct);
    else checkReply(`qRcmd ${command}`, reply);
  } else if (reply.length === 0) checkReply(`qRcmd ${command}`, reply);
  return out.text();
}
