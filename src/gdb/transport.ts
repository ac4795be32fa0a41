// Byte transports under the client: TCP for QEMU, an in-memory pair for tests and the fake stub.
import { Socket } from 'node:net';
import { ConnectRefusedError, ConnectTimeoutError, ConnectionClosedError, GdbError } from './errors';

export interface Transport {
  send(bytes: Uint8Array): void;
  /** Registers the (single) data listener. */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Called once when the transport closes; `error` set when it did not close cleanly. */
  onClose(listener: (error?: Error) => void): void;
  close(): void;
  readonly closed: boolean;
}

/** Connects to host:port with a timeout; errors are ConnectRefusedError / ConnectTimeoutError / GdbError. */
export function connectTcpTransport(host: string, port: number, timeoutMs = 5000): Promise<Transport> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectTimeoutError(host, port, timeoutMs));
    }, timeoutMs);
    const onError = (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      if (e.code === 'ECONNREFUSED') reject(new ConnectRefusedError(host, port));
      else reject(new GdbError(`connecting to ${host}:${port} failed: ${e.code ?? e.message}`, { cause: e }));
    };
    socket.once('error', onError);
    socket.connect(port, host, () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // Small request packets must not wait for Nagle: the fast path depends on latency.
      socket.setNoDelay(true);
      resolve(new TcpTransport(socket, `${host}:${port}`));
    });
  });
}

class TcpTransport implements Transport {
  private dataListener?: (chunk: Uint8Array) => void;
  private closeListeners: ((error?: Error) => void)[] = [];
  private closeError?: Error;
  private pending: Uint8Array[] = [];
  private outgoing: Uint8Array[] = [];
  closed = false;

  constructor(
    private readonly socket: Socket,
    private readonly peer: string,
  ) {
    socket.on('data', (b: Buffer) => {
      const chunk = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      if (this.dataListener) this.dataListener(chunk);
      else this.pending.push(Uint8Array.from(chunk));
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ECONNRESET' ? 'reset by peer' : (e.code ?? e.message);
      this.closeError = new ConnectionClosedError(`${this.peer}: ${why}`, e);
    });
    socket.on('close', () => {
      this.closed = true;
      const err = this.closeError;
      for (const l of this.closeListeners) l(err);
      this.closeListeners = [];
    });
    socket.on('end', () => {
      // The stub closed its side (QEMU exited or dropped us).
      this.closeError ??= new ConnectionClosedError(`${this.peer}: closed by the stub`);
      socket.destroy();
    });
  }

  send(bytes: Uint8Array): void {
    if (this.closed || this.socket.destroyed) throw new ConnectionClosedError(`${this.peer}: already closed`);
    // Coalesce what is sent in one microtask run (the acks of a chunk's replies and the requests that
    // refill the window) into one write: with small packets the syscall, not the bytes, is the cost.
    // (Deferring further, to setImmediate, measured slower: QEMU then idles waiting for requests.)
    this.outgoing.push(bytes);
    if (this.outgoing.length === 1) queueMicrotask(this.flush);
  }
  private readonly flush = (): void => {
    const parts = this.outgoing;
    this.outgoing = [];
    if (this.socket.destroyed || parts.length === 0) return;
    this.socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  };
  onData(listener: (chunk: Uint8Array) => void): void {
    this.dataListener = listener;
    for (const c of this.pending) listener(c);
    this.pending = [];
  }
  onClose(listener: (error?: Error) => void): void {
    if (this.closed) listener(this.closeError);
    else this.closeListeners.push(listener);
  }
  close(): void {
    this.socket.destroy();
  }
}

/** One end of an in-memory pair. Delivery is asynchronous (microtask) like a socket's. */
class MemoryEnd implements Transport {
  peer?: MemoryEnd;
  private dataListener?: (chunk: Uint8Array) => void;
  private queued: Uint8Array[] = [];
  private closeListeners: ((error?: Error) => void)[] = [];
  private closeError?: Error;
  closed = false;

  send(bytes: Uint8Array): void {
    if (this.closed) throw new ConnectionClosedError('memory transport: already closed');
    const copy = Uint8Array.from(bytes);
    const peer = this.peer;
    queueMicrotask(() => peer?.deliver(copy));
  }
  deliver(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.dataListener) this.dataListener(chunk);
    else this.queued.push(chunk);
  }
  onData(listener: (chunk: Uint8Array) => void): void {
    this.dataListener = listener;
    for (const c of this.queued) listener(c);
    this.queued = [];
  }
  onClose(listener: (error?: Error) => void): void {
    if (this.closed) listener(this.closeError);
    else this.closeListeners.push(listener);
  }
  /** Closes both ends; `error` is reported to the peer (simulates a reset). */
  close(error?: Error): void {
    if (this.closed) return;
    this.finish(undefined);
    const peer = this.peer;
    queueMicrotask(() => peer?.finish(error ?? new ConnectionClosedError('closed by the peer')));
  }
  private finish(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const l of this.closeListeners) l(error);
    this.closeListeners = [];
  }
}

/** Two connected in-memory transports: what one sends, the other receives. */
export function memoryTransportPair(): [
  Transport & { close(error?: Error): void },
  Transport & { close(error?: Error): void },
] {
  const a = new MemoryEnd();
  const b = new MemoryEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
