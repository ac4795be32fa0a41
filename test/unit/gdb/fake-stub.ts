// A scriptable gdbstub on the in-memory transport, only for faults real QEMU cannot produce (bad
// checksums, NACKs, a stub dying mid-packet, silence). Everything else is tested against QEMU.
import { RspDecoder, encodePacket, framePacket, latin1Text } from '../../../src/gdb/codec';
import { memoryTransportPair, type Transport } from '../../../src/gdb/transport';

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

export function fakeStub(handler: StubHandler): FakeStub {
  const [client, stub] = memoryTransportPair();
  const decoder = new RspDecoder();
  const state: FakeStub = { clientSide: client, received: [], controls: [], silentAcks: false, nackNext: 0 };
  let lastSent: Uint8Array | undefined;
  const io: StubActions = {
    reply: (text) => {
      lastSent = encodePacket(text);
      stub.send(lastSent);
    },
    raw: (bytes) => stub.send(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes),
    die: () => stub.close(),
  };
  stub.onData((chunk) => {
    for (const e of decoder.push(chunk)) {
      if (e.type === 'ack') state.controls.push('+');
      else if (e.type === 'nack') {
        // Like a real stub: resend the last packet.
        state.controls.push('-');
        if (lastSent) stub.send(lastSent);
      } else if (e.type === 'interrupt') {
        state.controls.push('^C');
        const r = handler('\x03', io, new Uint8Array([3]));
        if (typeof r === 'string') io.reply(r);
      } else if (e.type === 'packet') {
        if (!e.checksumOk || state.nackNext > 0 || state.nackWhen?.(latin1Text(e.payload))) {
          if (state.nackNext > 0) state.nackNext--;
          stub.send(Buffer.from('-'));
          continue;
        }
        if (!state.silentAcks) stub.send(Buffer.from('+'));
        const text = latin1Text(e.payload);
        state.received.push(text);
        const r = handler(text, io, e.payload);
        if (typeof r === 'string') io.reply(r);
      }
    }
  });
  return state;
}

export { framePacket };
