// Which process on this host is the QEMU behind a gdb port: the one whose command line names the
// port, else the owner of the listening socket. Only this user's processes can be read (and only
// their memory used), so another user's QEMU is never found. Used by the local fast path (localRam.ts)
// and by the launcher (qemuProcess.ts) to tell a port in use.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { basename } from 'node:path';

/**
 * The newest of this user's QEMUs whose command line names gdb port `port` (-gdb tcp::PORT, -s for
 * 1234), looked for from the highest pid down: a QEMU started after the one listening could not have
 * bound the port and has exited, so the first found is the one (and the scan usually stops after the
 * few processes started since it). A wrong pick is caught by the probe read (LocalRam.verify).
 */
function newestQemuNamingPort(pids: readonly string[], port: number): number | undefined {
  const names = new RegExp(`(^|[:=])${port}(,|$)`);
  const newestFirst = pids.map(Number).sort((a, b) => b - a);
  for (const pid of newestFirst) {
    let args: string[];
    try {
      if (!isQemu(pid)) continue;
      args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
    } catch {
      continue; // gone, or not ours to read
    }
    const gdb = args.some((a, i) => (args[i - 1] === '-gdb' || args[i - 1] === '-chardev') && names.test(a));
    if (gdb || (port === 1234 && args.includes('-s'))) return pid;
  }
  return undefined;
}

/**
 * The QEMU process listening on 127.0.0.1:port (or [::1], or any address), or undefined: the newest
 * QEMU whose command line names the port, else the owner of the listening socket (the kernel's socket
 * tables cost milliseconds to read, so they come second; `socketsOnly` asks them alone).
 */
export function pidListeningOn(port: number, how: { socketsOnly?: boolean } = {}): number | undefined {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  return (how.socketsOnly ? undefined : newestQemuNamingPort(pids, port)) ?? socketOwner(pids, port);
}

/** `socket:[inode]` of the sockets listening on `port` in a socket table (IPv4, IPv6). */
export function listeningInodes(port: number): Set<string> {
  const want = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[1].endsWith(want) && f[3] === '0A') inodes.add(`socket:[${f[9]}]`);
    }
    if (inodes.size) break;
  }
  return inodes;
}

/** The process owning the socket listening on `port`, QEMUs searched first. */
function socketOwner(pids: readonly string[], port: number): number | undefined {
  const inodes = listeningInodes(port);
  if (!inodes.size) return undefined;
  // QEMUs first: the scan of every process's descriptors is the slow part.
  const qemus = pids.filter((p) => isQemu(p));
  for (const pid of [...qemus, ...pids.filter((p) => !qemus.includes(p))]) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // another user's process, or gone
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}

/**
 * Whether a process of this user runs a QEMU binary: the name of its executable (/proc/PID/exe, one
 * readlink: reading every process's comm file cost 3-14 ms on a loaded machine with 100 processes,
 * the links under 1 ms). Another user's process cannot be read (nor its memory): not ours to use.
 */
function isQemu(pid: number | string): boolean {
  try {
    return basename(readlinkSync(`/proc/${pid}/exe`)).startsWith('qemu');
  } catch {
    return false;
  }
}

/** A process's command name (/proc/PID/comm), or undefined when it cannot be read. */
export function processName(pid: number | string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return undefined;
  }
}
