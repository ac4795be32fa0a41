// The connect-time exchanges: qSupported parsing, the target description (qXfer with xi:include),
// the pipelining self-test, and the deadline the whole sequence runs under.
import { latin1Text, MAX_PACKET_SIZE } from './codec';
import {
  byteSize,
  GdbHandshakeTimeoutError,
  GdbProtocolError,
  GdbTargetDescriptionError,
  GdbTimeoutError,
} from './errors';
import type { RspLink } from './link';
import { checkReply, issueWindowed } from './requests';
import { includesOf, parseTargetDescription } from './target-xml';
import { isStopReply, parseStopReply } from './stop-reply';
import type { ConnectOptions, RegisterMap, StopEvent } from './types';

type Request = (packet: string) => Promise<Uint8Array>;

const CLIENT_FEATURES = 'qSupported:multiprocess+;swbreak+;hwbreak+;vContSupported+;xmlRegisters=aarch64';

/** What the connect sequence learnt about the stub and the target. */
export interface Handshake {
  readonly features: ReadonlyMap<string, string | boolean>;
  readonly qemuFeatures: ReadonlySet<string>;
  readonly packetSize: number;
  /** Undefined when the stub has no target description or the caller skipped it. */
  readonly registers?: RegisterMap;
  /** The answer to `?`, when it was a stop reply. */
  readonly stop?: StopEvent;
  /** QEMU's PhyMemMode, when the stub has it. */
  readonly physicalMode?: boolean;
  readonly pipelining: boolean;
}

/**
 * qSupported, qqemu.Supported, the target description, `?`, PhyMemMode and the pipelining self-test,
 * all under one deadline (`handshakeTimeoutMs`). Raises the link's packet caps once PacketSize is known.
 */
export async function runHandshake(
  link: RspLink,
  options: ConnectOptions,
  timeoutMs: number,
): Promise<Handshake> {
  const deadline = deadlineRequests(
    (p, ms) => link.request(p, ms),
    timeoutMs,
    options.handshakeTimeoutMs ?? 30_000,
  );
  const raw = deadline.request;
  const want = options.pipelining ?? 'auto';
  if (want !== false) {
    const h = await pipelinedSequence(link, raw, options, timeoutMs, deadline);
    if (h) return h;
  }
  deadline.step('at qSupported');
  const features = parseSupported(latin1Text(await raw(CLIENT_FEATURES)));
  const packetSize = packetSizeOf(features);
  link.setPacketSize(packetSize);
  const wantXml = !options.skipTargetXml && features.get('qXfer:features:read') === true;
  deadline.step('at qqemu.Supported');
  const qemuFeatures = new Set(
    latin1Text(await raw('qqemu.Supported'))
      .split(';')
      .filter(Boolean),
  );
  // Also required for `p` to work at all on QEMU 7.2.
  const registers = wantXml
    ? await readTargetDescription(raw, packetSize, undefined, deadline.step)
    : undefined;
  deadline.step("at the stop query ('?')");
  const reply = latin1Text(await raw('?'));
  deadline.step('at qqemu.PhyMemMode');
  const phy = qemuFeatures.has('PhyMemMode') ? latin1Text(await raw('qqemu.PhyMemMode')) : '';
  return handshakeResult(features, qemuFeatures, packetSize, registers, reply, phy, false);
}

/** PacketSize from qSupported (4096 when absent), clamped: the packet caps grow with it. */
function packetSizeOf(features: ReadonlyMap<string, string | boolean>): number {
  const ps = features.get('PacketSize');
  return typeof ps === 'string' && /^[0-9a-fA-F]{1,8}$/.test(ps)
    ? Math.min(parseInt(ps, 16), MAX_PACKET_SIZE)
    : 4096;
}

/**
 * QEMU's gdbstub answers a qXfer read with at most (PacketSize - 5) / 2 bytes, whatever length is
 * asked: the stride its chunks come at. Another stub's first chunk tells its own.
 */
function qemuChunk(packetSize: number): number {
  return Math.max(64, Math.floor((packetSize - 5) / 2));
}

/**
 * The connect sequence in two flights after the TCP connect (three round trips with it). The first
 * goes out at once: qSupported, the self-test's burst, qqemu.Supported, `?`, qqemu.PhyMemMode and
 * target.xml's first chunks. If the self-test passed, the replies are the strict sequence's; the
 * second flight is every document target.xml includes, all their chunks asked at the stride the stub
 * answers with (QEMU's known rule; another stub's first chunk corrects it at one more round trip).
 * Undefined when the self-test failed: the caller resynchronises and runs the strict sequence.
 */
async function pipelinedSequence(
  link: RspLink,
  raw: Request,
  options: ConnectOptions,
  timeoutMs: number,
  deadline: ReturnType<typeof deadlineRequests>,
): Promise<Handshake | undefined> {
  deadline.step('at qSupported and the pipelining self-test');
  const supported = raw(CLIENT_FEATURES);
  const selfTest =
    options.pipelining === true
      ? Promise.resolve(true)
      : pipelineSelfTest(link, Math.max(1, Math.min(timeoutMs, deadline.remainingMs())));
  const queries = ['qqemu.Supported', '?', 'qqemu.PhyMemMode'].map((q) => raw(q));
  // Asked before the stub says it has qXfer (an empty reply then) and before its PacketSize is known
  // (4096 assumed; a stub answers at most what fits its own).
  // Once the self-test has failed, the read stops asking (its next chunks would land in the strict
  // sequence's replies).
  let failed = false;
  const ahead: Request = (packet) =>
    failed ? Promise.reject(new GdbProtocolError('pipelining self-test failed')) : raw(packet);
  const firstChunks = options.skipTargetXml
    ? undefined
    : readXferPipelined(
        ahead,
        4096,
        'features',
        'target.xml',
        TARGET_DESCRIPTION_LIMITS.maxBytes,
        undefined,
        {
          stride: qemuChunk(4096),
          width: 2,
        },
      );
  const flight: Promise<unknown>[] = [supported, ...queries, ...(firstChunks ? [firstChunks] : [])];
  // Everything in flight is observed whatever happens (a failed self-test rejects it all).
  for (const p of flight) p.catch(() => undefined);
  if (!(await selfTest)) {
    // A probe lost or answered out of order: nothing in flight is trusted (the resync fails it and
    // drops what still arrives), and the strict sequence starts again from qSupported.
    failed = true;
    link.resync('pipelining self-test failed');
    await Promise.allSettled(flight);
    return undefined;
  }
  const features = parseSupported(latin1Text(await supported));
  const packetSize = packetSizeOf(features);
  link.setPacketSize(packetSize);
  deadline.step('at qqemu.Supported, the target description, ? and qqemu.PhyMemMode');
  const [q, x] = await Promise.allSettled([Promise.all(queries), firstChunks]);
  if (q.status === 'rejected') throw q.reason;
  const qemuFeatures = new Set(latin1Text(q.value[0]).split(';').filter(Boolean));
  const wantXml = !options.skipTargetXml && features.get('qXfer:features:read') === true;
  let registers: RegisterMap | undefined;
  if (wantXml) {
    // target.xml asked before the stub's PacketSize was known may have been refused (a stub with
    // smaller packets): then it is read again, at the size the stub announced.
    registers = await readTargetDescription(raw, packetSize, undefined, deadline.step, true, {
      ...(x.status === 'fulfilled' && x.value ? { first: x.value } : {}),
      stride: qemuFeatures.size ? qemuChunk(packetSize) : Math.max(64, packetSize - 5),
    });
  }
  return handshakeResult(
    features,
    qemuFeatures,
    packetSize,
    registers,
    latin1Text(q.value[1]),
    latin1Text(q.value[2]),
    true,
  );
}

function handshakeResult(
  features: Map<string, string | boolean>,
  qemuFeatures: Set<string>,
  packetSize: number,
  registers: RegisterMap | undefined,
  reply: string,
  phy: string,
  pipelining: boolean,
): Handshake {
  const stop = isStopReply(reply) ? parseStopReply(reply) : undefined;
  const physicalMode = qemuFeatures.has('PhyMemMode') ? phy === '1' : undefined;
  return {
    features,
    qemuFeatures,
    packetSize,
    ...(registers ? { registers } : {}),
    ...(stop ? { stop } : {}),
    ...(physicalMode !== undefined ? { physicalMode } : {}),
    pipelining,
  };
}

/** `name=value`, `name+`, `name-` items of a qSupported reply. */
export function parseSupported(reply: string): Map<string, string | boolean> {
  const features = new Map<string, string | boolean>();
  for (const item of reply.split(';')) {
    if (!item) continue;
    const eq = item.indexOf('=');
    if (eq >= 0) features.set(item.slice(0, eq), item.slice(eq + 1));
    else if (item.endsWith('+')) features.set(item.slice(0, -1), true);
    else if (item.endsWith('-')) features.set(item.slice(0, -1), false);
    else features.set(item, true);
  }
  return features;
}

/**
 * `qXfer:<object>:read:<annex>:offset,length` until the `l` (last) chunk. `tooLarge` is thrown once
 * the object passes `maxBytes`: a stub that never sends `l` must not be read forever.
 */
export async function readXfer(
  request: Request,
  packetSize: number,
  object: string,
  annex: string,
  maxBytes = Infinity,
  tooLarge: () => Error = () => new GdbProtocolError(`qXfer:${object} ${annex} is over ${maxBytes} bytes`),
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const len = Math.max(64, packetSize - 5);
  for (;;) {
    const req = `qXfer:${object}:read:${annex}:${offset.toString(16)},${len.toString(16)}`;
    const reply = await request(req);
    checkReply(req, reply);
    const marker = reply[0];
    if (marker !== 0x6d /* m */ && marker !== 0x6c /* l */)
      throw new GdbProtocolError(`bad qXfer reply to ${req}`);
    const data = reply.subarray(1);
    offset += data.length;
    if (offset > maxBytes) throw tooLarge();
    chunks.push(data);
    if (marker === 0x6c || data.length === 0) break;
  }
  return Buffer.concat(chunks);
}

/**
 * `readXfer` with the round trips cut: the first chunk tells the size the stub answers with, then the
 * chunks after it are asked for together, 16 at a time, at the offsets that size gives. `guess` asks
 * `width` chunks at once from the start, at a `stride` the caller expects the stub to answer with. A
 * chunk of another size ends the guess: the next requests start where the data really ended (at that
 * chunk's size when it was the first of its batch, else one chunk to learn it). The speculative
 * requests past the end are answered (`l`, or an error) and dropped.
 */
export async function readXferPipelined(
  request: Request,
  packetSize: number,
  object: string,
  annex: string,
  maxBytes = Infinity,
  tooLarge: () => Error = () => new GdbProtocolError(`qXfer:${object} ${annex} is over ${maxBytes} bytes`),
  guess?: { readonly stride: number; readonly width: number },
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const len = Math.max(64, packetSize - 5);
  let size = guess ? Math.max(1, guess.stride) : len;
  let width = guess ? Math.max(1, guess.width) : 1;
  for (;;) {
    const reqs = Array.from(
      { length: width },
      (_, j) => `qXfer:${object}:read:${annex}:${(offset + j * size).toString(16)},${len.toString(16)}`,
    );
    const replies = await Promise.allSettled(reqs.map((r) => request(r)));
    // Where the offsets stopped matching the data (the next batch starts at the real end).
    let miss = -1;
    for (let j = 0; j < reqs.length && miss < 0; j++) {
      const r = replies[j];
      if (r.status === 'rejected') throw r.reason;
      const reply = r.value;
      checkReply(reqs[j], reply);
      const marker = reply[0];
      if (marker !== 0x6d /* m */ && marker !== 0x6c /* l */)
        throw new GdbProtocolError(`bad qXfer reply to ${reqs[j]}`);
      const data = reply.subarray(1);
      offset += data.length;
      if (offset > maxBytes) throw tooLarge();
      chunks.push(data);
      if (marker === 0x6c || data.length === 0) return Buffer.concat(chunks);
      if (data.length !== size) {
        miss = j;
        size = data.length;
      }
    }
    // A batch's first chunk is always at the real offset: its size is the stub's chunk size.
    width = miss === -1 || miss === 0 || reqs.length === 1 ? 16 : 1;
  }
}

/**
 * Bounds on the target description. QEMU 7.2 `-cpu max` sends 4 documents, about 40 KiB; the caps
 * leave two orders of magnitude for other stubs and CPUs while keeping a hostile one from occupying
 * the client (each annex is fetched once, whatever the number of references to it).
 */
export const TARGET_DESCRIPTION_LIMITS = { maxDocuments: 256, maxBytes: 4 << 20 };

/**
 * target.xml and every document it includes (each annex fetched once), then the register map built
 * from them. `progress` hears what is being read, for the handshake deadline's message. Pipelined, the
 * documents known at a time are read together; `ahead` gives target.xml already read and the stride
 * the stub's chunks come at, so each document's first 16 chunks are asked at once (32 KiB from QEMU,
 * whose aarch64 documents for a Cortex-A57 are 1.5-11 KiB: fewer chunks asked past their ends than
 * with 32), the rest 16 at a time.
 */
export async function readTargetDescription(
  request: Request,
  packetSize: number,
  limits = TARGET_DESCRIPTION_LIMITS,
  progress: (step: string) => void = () => undefined,
  pipelined = false,
  ahead: { readonly first?: Uint8Array; readonly stride?: number } = {},
): Promise<RegisterMap> {
  const documents = new Map<string, string>();
  const queue = ['target.xml'];
  const seen = new Set(queue);
  let total = 0;
  const started = new Map<string, Promise<Uint8Array>>();
  if (pipelined && ahead.first) started.set('target.xml', Promise.resolve(ahead.first));
  const tooLarge = (annex: string) => () =>
    new GdbTargetDescriptionError(
      `the target description is over ${byteSize(limits.maxBytes)} (while reading ${annex})`,
    );
  const read = (annex: string, budget: number) =>
    pipelined
      ? readXferPipelined(
          request,
          packetSize,
          'features',
          annex,
          budget,
          tooLarge(annex),
          ahead.stride ? { stride: ahead.stride, width: 16 } : undefined,
        )
      : readXfer(request, packetSize, 'features', annex, budget, tooLarge(annex));
  for (let k = 0; k < queue.length; k++) {
    const annex = queue[k];
    progress(`reading the target description (${annex}, document ${k + 1}, ${total} bytes so far)`);
    if (pipelined)
      // Each document read together may use what is left of the cap; the sum is checked below.
      for (const a of queue.slice(k)) if (!started.has(a)) started.set(a, read(a, limits.maxBytes - total));
    const pending = started.get(annex);
    // The others are awaited in turn; keep their rejections observed meanwhile.
    for (const p of started.values()) p.catch(() => undefined);
    const bytes = pending ? await pending : await read(annex, limits.maxBytes - total);
    total += bytes.length;
    if (total > limits.maxBytes)
      throw new GdbTargetDescriptionError(
        `the target description is over ${byteSize(limits.maxBytes)} (while reading ${annex})`,
      );
    const xml = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    documents.set(annex, xml);
    for (const href of includesOf(xml)) {
      if (seen.has(href)) continue;
      if (seen.size >= limits.maxDocuments)
        throw new GdbTargetDescriptionError(
          `the target description includes more than ${limits.maxDocuments} documents (${href} in ${annex})`,
        );
      seen.add(href);
      queue.push(href);
    }
  }
  return parseTargetDescription(documents);
}

/**
 * A request function for the connect sequence: every request's timeout is cut to what is left of the
 * deadline, and running out of it is a GdbHandshakeTimeoutError saying what was being done. Per-request
 * timeouts alone do not bound the sequence: a stub may answer each request promptly, forever.
 */
export function deadlineRequests(
  send: (packet: string, timeoutMs: number) => Promise<Uint8Array>,
  requestTimeoutMs: number,
  handshakeTimeoutMs: number,
): { request: Request; step: (text: string) => void; remainingMs: () => number } {
  const deadline = Date.now() + handshakeTimeoutMs;
  let step = 'at qSupported';
  const remainingMs = () => deadline - Date.now();
  return {
    step: (text) => {
      step = text;
    },
    remainingMs,
    async request(packet) {
      const left = remainingMs();
      if (left <= 0) throw new GdbHandshakeTimeoutError(handshakeTimeoutMs, step);
      try {
        return await send(packet, Math.min(requestTimeoutMs, left));
      } catch (e) {
        if (e instanceof GdbTimeoutError && left < requestTimeoutMs)
          throw new GdbHandshakeTimeoutError(handshakeTimeoutMs, step);
        throw e;
      }
    },
  };
}

/**
 * Sends a burst of cheap queries with distinct, deterministic replies back to back, in one round trip:
 * the stub must process pipelined packets in order and drop none. Any mismatch or error means strict
 * request/response from now on.
 */
export async function pipelineSelfTest(link: RspLink, timeoutMs: number): Promise<boolean> {
  const probes = Object.keys(PROBE_SHAPES);
  try {
    const burst = [...probes, ...probes.slice().reverse(), ...probes];
    const got = await issueWindowed(link, burst, burst.length, timeoutMs, (r) => latin1Text(r));
    // Every reply has its own request's form and the same request got the same reply each time (a
    // reordering, even a full reversal, breaks one or the other), and the replies differ enough to
    // tell the requests apart.
    const first = new Map<string, string>();
    for (const [i, p] of burst.entries()) {
      if (!PROBE_SHAPES[p].test(got[i])) return false;
      const seen = first.get(p);
      if (seen === undefined) first.set(p, got[i]);
      else if (seen !== got[i]) return false;
    }
    return new Set(first.values()).size >= 3;
  } catch {
    return false;
  }
}

/** The self-test's queries: cheap, side-effect free, each with a reply of its own form. */
const PROBE_SHAPES: Record<string, RegExp> = {
  qAttached: /^[01]$/,
  'vCont?': /^vCont(;|$)/,
  qC: /^QC/,
  'qqemu.sstepbits': /^(ENABLE=|$)/,
  qfThreadInfo: /^[ml]/,
};
