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
  const features = parseSupported(latin1Text(await raw(CLIENT_FEATURES)));
  let packetSize = 4096;
  const ps = features.get('PacketSize');
  // Clamped: the packet caps grow with it, and a stub must not lift them by announcing a huge size.
  if (typeof ps === 'string' && /^[0-9a-fA-F]{1,8}$/.test(ps))
    packetSize = Math.min(parseInt(ps, 16), MAX_PACKET_SIZE);
  link.setPacketSize(packetSize);

  // Whether the stub keeps pipelined requests in order, first: the rest of the sequence then goes out
  // together (a handful of round trips instead of twenty on a long link).
  deadline.step('in the pipelining self-test');
  const want = options.pipelining ?? 'auto';
  let pipelining = want === true;
  if (want === 'auto') {
    pipelining = await pipelineSelfTest(link, Math.max(1, Math.min(timeoutMs, deadline.remainingMs())));
    // A probe lost or answered out of order must not leave a reply for the next request.
    if (!pipelining) link.resync('pipelining self-test failed');
  }

  const wantXml = !options.skipTargetXml && features.get('qXfer:features:read') === true;
  let qemuFeatures: Set<string>;
  let registers: RegisterMap | undefined;
  let reply: string;
  let phy: string;
  if (pipelining) {
    // The queries and the target description in flight together; `qqemu.PhyMemMode` is asked even of
    // a stub without it (it answers an empty packet, which is ignored below).
    deadline.step('at qqemu.Supported, the target description, ? and qqemu.PhyMemMode');
    const queries = Promise.all(['qqemu.Supported', '?', 'qqemu.PhyMemMode'].map((q) => raw(q)));
    const xml = wantXml
      ? readTargetDescription(raw, packetSize, undefined, deadline.step, true)
      : Promise.resolve(undefined);
    // Both awaited before either's error is thrown: nothing is left in flight unobserved.
    const [q, x] = await Promise.allSettled([queries, xml]);
    if (q.status === 'rejected') throw q.reason;
    if (x.status === 'rejected') throw x.reason;
    registers = x.value;
    qemuFeatures = new Set(latin1Text(q.value[0]).split(';').filter(Boolean));
    reply = latin1Text(q.value[1]);
    phy = latin1Text(q.value[2]);
  } else {
    deadline.step('at qqemu.Supported');
    qemuFeatures = new Set(
      latin1Text(await raw('qqemu.Supported'))
        .split(';')
        .filter(Boolean),
    );
    // Also required for `p` to work at all on QEMU 7.2.
    registers = wantXml ? await readTargetDescription(raw, packetSize, undefined, deadline.step) : undefined;
    deadline.step("at the stop query ('?')");
    reply = latin1Text(await raw('?'));
    deadline.step('at qqemu.PhyMemMode');
    phy = qemuFeatures.has('PhyMemMode') ? latin1Text(await raw('qqemu.PhyMemMode')) : '';
  }
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
 * chunks after it are asked for together, 16 at a time, at the offsets that size gives. A chunk of
 * another size ends the guess: the next requests start where the data really ended. The speculative
 * requests past the end are answered (`l`, or an error) and dropped.
 */
export async function readXferPipelined(
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
  let size = len;
  let width = 1;
  for (;;) {
    const reqs = Array.from(
      { length: width },
      (_, j) => `qXfer:${object}:read:${annex}:${(offset + j * size).toString(16)},${len.toString(16)}`,
    );
    const replies = await Promise.allSettled(reqs.map((r) => request(r)));
    let guessed = true;
    for (let j = 0; j < reqs.length && guessed; j++) {
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
      if (width === 1) size = data.length;
      else if (data.length !== size) guessed = false;
    }
    width = guessed ? 16 : 1;
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
 * from them. `progress` hears what is being read, for the handshake deadline's message.
 */
export async function readTargetDescription(
  request: Request,
  packetSize: number,
  limits = TARGET_DESCRIPTION_LIMITS,
  progress: (step: string) => void = () => undefined,
  pipelined = false,
): Promise<RegisterMap> {
  const documents = new Map<string, string>();
  const queue = ['target.xml'];
  const seen = new Set(queue);
  let total = 0;
  // Pipelined: the documents known at a time are read together (target.xml, then what it includes).
  const started = new Map<string, Promise<Uint8Array>>();
  const read = (annex: string, budget: number) =>
    (pipelined ? readXferPipelined : readXfer)(
      request,
      packetSize,
      'features',
      annex,
      budget,
      () =>
        new GdbTargetDescriptionError(
          `the target description is over ${byteSize(limits.maxBytes)} (while reading ${annex})`,
        ),
    );
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
