// A simulated remote link for the benchmarks: a TCP proxy on 127.0.0.1 that delays every byte by a
// one-way delay in each direction and, optionally, limits each direction's bandwidth. Bytes keep their
// order; the proxy listens on loopback only and everything it holds goes when it is closed.
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface LinkOptions {
  /** One-way delay in milliseconds, each direction (round trip: twice this). */
  readonly delayMs: number;
  /** Bytes per second each way; unlimited when absent. */
  readonly bytesPerSecond?: number;
}

export interface LinkProxy {
  readonly port: number;
  close(): Promise<void>;
}

/** Forwards `from` to `to` through a delay line: chunk k leaves at max(arrival + delay, link free). */
function delayLine(from: Socket, to: Socket, o: LinkOptions): void {
  let free = 0;
  const queue: { at: number; data: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].at <= now + 0.5) {
      const { data } = queue.shift()!;
      if (!to.destroyed) to.write(data);
    }
    if (queue.length) timer = setTimeout(pump, Math.max(0, queue[0].at - now));
  };
  from.on('data', (data: Buffer) => {
    const now = performance.now();
    const serialise = o.bytesPerSecond ? (data.length / o.bytesPerSecond) * 1000 : 0;
    free = Math.max(free, now) + serialise;
    queue.push({ at: free + o.delayMs, data });
    timer ??= setTimeout(pump, Math.max(0, queue[0].at - now));
  });
  const end = (): void => {
    if (timer) clearTimeout(timer);
    queue.length = 0;
    to.destroy();
  };
  from.on('close', end);
  from.on('error', end);
}

/** Starts a proxy to 127.0.0.1:`targetPort` on a free loopback port. */
export function startLinkProxy(targetPort: number, o: LinkOptions): Promise<LinkProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect(targetPort, '127.0.0.1');
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    delayLine(client, upstream, o);
    delayLine(upstream, client, o);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      resolve({
        port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
