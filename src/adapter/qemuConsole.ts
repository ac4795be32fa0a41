// QEMU's own output as the Debug Console shows it. QEMU writes "qemu-system-aarch64: terminating on
// signal 15 from pid N (node)" to stderr when it is sent SIGTERM: when N is this adapter (its Stop
// or Restart killing the QEMU it launched), that is the goodbye the user asked for, not an error,
// so it goes to the console category instead of the red stderr one. Any other stderr stays stderr.

export type QemuOutputCategory = 'console' | 'stderr' | 'stdout';

/** Splits one chunk of QEMU output into runs by category (usually one run, the chunk as it came). */
export function qemuOutput(
  text: string,
  category: QemuOutputCategory,
  ownPid: number = process.pid,
): { text: string; category: QemuOutputCategory }[] {
  if (category !== 'stderr' || !text.includes('terminating on signal')) return [{ text, category }];
  const goodbye = new RegExp(`^\\S*: terminating on signal 15 from pid ${ownPid}\\b`);
  const out: { text: string; category: QemuOutputCategory }[] = [];
  for (const line of text.split(/(?<=\n)/)) {
    const c: QemuOutputCategory = goodbye.test(line) ? 'console' : 'stderr';
    const last = out[out.length - 1];
    if (last && last.category === c) last.text += line;
    else out.push({ text: line, category: c });
  }
  return out;
}

/**
 * QEMU's stderr as whole lines. QEMU writes one message in several write()s (measured with strace:
 * "qemu-system-aarch64:", " ", "terminating on signal 15 from pid N (node)", "\n"), so under load a
 * read can end inside a line, and the goodbye, cut in two, would go out red. A partial stderr line
 * waits for its newline, or `holdMs` (a message without one), or the next stdout/console output
 * (flushed first, so the order stays), or `flush()` when QEMU exits.
 */
export class QemuOutputLines {
  private pending = '';
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly emit: (text: string, category: QemuOutputCategory) => void,
    private readonly ownPid: number = process.pid,
    private readonly holdMs = 100,
  ) {}

  push(text: string, category: QemuOutputCategory): void {
    if (category !== 'stderr') {
      this.flush();
      this.send(text, category);
      return;
    }
    const all = this.pending + text;
    const cut = all.lastIndexOf('\n') + 1;
    this.pending = all.slice(cut);
    if (cut) this.send(all.slice(0, cut), 'stderr');
    this.arm();
  }

  /** Sends a partial stderr line as it is (QEMU exited, or it never ended the line). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const rest = this.pending;
    this.pending = '';
    if (rest) this.send(rest, 'stderr');
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    this.timer = setTimeout(() => this.flush(), this.holdMs);
    this.timer.unref?.();
  }

  private send(text: string, category: QemuOutputCategory): void {
    for (const o of qemuOutput(text, category, this.ownPid)) this.emit(o.text, o.category);
  }
}
