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
