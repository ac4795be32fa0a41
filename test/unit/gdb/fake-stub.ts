// A scriptable gdbstub on the in-memory transport, only for faults real QEMU cannot produce (bad
// checksums, NACKs, a stub dying mid-packet, silence). Everything else is tested against QEMU.
import { RspDecoder, encodePacket, framePacket, latin1Text } from '../../../src/gdb/codec';
import { createServer, type Socket } from 'node:net';
import { connectTcpTransport, memoryTransportPair, type Transport } from '../../../src/gdb/transport';

export interface StubActions {
  /** Sends a well-formed packet. */
  reply(text: string | Uint8Array): void;
  /** Sends raw bytes (corrupt packets, partial packets, acks). */
  raw(bytes: Uint8Array | string): void;
  /** Drops the connection. */
  die(): void;
}

/** Called for each packet the client sends; return a reply text, or act through `io`. */
export type StubHandler = (packet: string, io: StubActions, bytes: Uint8Array) => string | undefined | void;

export interface FakeStub {
  readonly clientSide: Transport;
  /** Every packet received by the stub (payload text). */
  readonly received: string[];
  /** Acks/nacks/interrupts the stub received, in order. */
  readonly controls: string[];
  /** When true the stub does not ack incoming packets (default: acks with `+`). */
  silentAcks: boolean;
  /** Answer the next N well-formed packets with `-` instead of handling them. */
  nackNext: number;
  /** Answer packets matching this with `-` (checked after nackNext). */
  nackWhen?: (packet: string) => boolean;
}

/** Standard answers to the connect sequence, so tests can focus on one fault. */
export function basicAnswers(packet: string): string | undefined {
  if (packet.startsWith('qSupported')) return 'PacketSize=1000;vContSupported+;multiprocess+';
  if (packet === 'qqemu.Supported') return '';
  if (packet === '?') return 'T05thread:p01.01;';
  if (packet === 'qAttached') return '1';
  return undefined;
}

export interface StubOptions {
  /** Send everything in 1-3 byte pieces, so the client sees packets split mid-frame. */
  readonly split?: boolean;
}

interface StubEnd {
  send(bytes: Uint8Array): void;
  onData(listener: (chunk: Uint8Array) => void): void;
  close(): void;
}

function attachStub(
  end: StubEnd,
  handler: StubHandler,
  options: StubOptions,
  clientSide: Transport,
): FakeStub {
  const decoder = new RspDecoder();
  const state: FakeStub = { clientSide, received: [], controls: [], silentAcks: false, nackNext: 0 };
  let piece = 0;
  const send = (bytes: Uint8Array) => {
    if (!options.split) return end.send(bytes);
    for (let i = 0; i < bytes.length;) {
      const n = 1 + (piece++ % 3);
      end.send(bytes.subarray(i, i + n));
      i += n;
    }
  };
  let lastSent: Uint8Array | undefined;
  const io: StubActions = {
    reply: (text) => {
      lastSent = encodePacket(text);
      send(lastSent);
    },
    raw: (bytes) => send(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes),
    die: () => end.close(),
  };
  end.onData((chunk) => {
    for (const e of decoder.push(chunk)) {
      if (e.type === 'ack') state.controls.push('+');
      else if (e.type === 'nack') {
        // Like a real stub: resend the last packet.
        state.controls.push('-');
        if (lastSent) send(lastSent);
      } else if (e.type === 'interrupt') {
        state.controls.push('^C');
        const r = handler('\x03', io, new Uint8Array([3]));
        if (typeof r === 'string') io.reply(r);
      } else if (e.type === 'packet') {
        if (!e.checksumOk || state.nackNext > 0 || state.nackWhen?.(latin1Text(e.payload))) {
          if (state.nackNext > 0) state.nackNext--;
          send(Buffer.from('-'));
          continue;
        }
        if (!state.silentAcks) send(Buffer.from('+'));
        const text = latin1Text(e.payload);
        state.received.push(text);
        const r = handler(text, io, e.payload);
        if (typeof r === 'string') io.reply(r);
      }
    }
  });
  return state;
}

/** The fake stub on the in-memory transport pair. */
export function fakeStub(handler: StubHandler, options: StubOptions = {}): FakeStub {
  const [client, stub] = memoryTransportPair();
  return attachStub(stub, handler, options, client);
}

/** The fake stub behind a real TCP socket on 127.0.0.1; `clientSide` is a connected TCP transport. */
export async function fakeStubTcp(
  handler: StubHandler,
  options: StubOptions = {},
): Promise<FakeStub & { shutdown(): Promise<void> }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const clientSide = await connectTcpTransport('127.0.0.1', port, 2000);
  const socket = await accepted;
  socket.setNoDelay(true);
  const end: StubEnd = {
    send: (bytes) => {
      if (!socket.destroyed) socket.write(Uint8Array.from(bytes));
    },
    onData: (listener) => socket.on('data', (b: Buffer) => listener(new Uint8Array(b))),
    close: () => socket.destroy(),
  };
  const state = attachStub(end, handler, options, clientSide);
  return Object.assign(state, {
    shutdown: async () => {
      socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  });
}

export { framePacket };
