// GDB Remote Serial Protocol client for QEMU's gdbstub (pure: no vscode import).
//
// Layers, bottom up: codec.ts (byte state machine: framing, checksums, escapes, RLE), transport.ts
// (TCP and an in-memory pair), link.ts (acks, retransmission, request/reply matching, timeouts),
// client.ts (the commands), target-xml.ts (register map), stop-reply.ts.
//
// Typical use:
//   const gdb = await connectTcp('127.0.0.1', port, { timeoutMs: 5000 });
//   const ttbr0 = await gdb.readRegister('TTBR0_EL1');
//   const [l1] = await gdb.readPhysicalBatch([{ address: ttbr0 & 0xffff_ffff_f000n, length: 4096 }]);
//   await gdb.close();
export * from './types';
export * from './errors';
export { connectTcp, connectTransport, RspClient } from './client';
export { connectTcpTransport, memoryTransportPair, type Transport } from './transport';
export {
  RspDecoder,
  encodePacket,
  escapeBinary,
  framePacket,
  runLengthEncode,
  decodePayload,
  packetLimits,
  type CodecEvent,
  type PacketLimits,
} from './codec';
export { parseStopReply, parseThreadId, formatThreadId } from './stop-reply';
export { parseTargetDescription } from './target-xml';
export { QEMU_MAX_READ } from './memory';
