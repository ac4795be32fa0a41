// The output of one monitor command (qRcmd): O packets collected up to a bound. A stub that streams
// output without end must not grow the client without bound: the first MAX_MONITOR_OUTPUT bytes are
// kept, the rest dropped and counted, and the text says so.

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
