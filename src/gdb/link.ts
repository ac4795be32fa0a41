// The packet link: acks (`+`/`-`), retransmission on `-`, matching replies to requests (FIFO, so
// several requests may be in flight), per-request timeouts, and routing of packets nobody asked for
// (stop replies while running, console output) to a listener. A packet over the codec's caps closes
// the connection: what follows it cannot be framed with confidence.
import { RspDecoder, encodePacket, latin1Text, packetLimits, type CodecEvent } from './codec';
import {
  ConnectionClosedError,
  GdbDesyncError,
  GdbPacketTooLargeError,
  GdbProtocolError,
  GdbRetransmitError,
  GdbTimeoutError,
} from './errors';
import type { Transport } from './transport';
import type { GdbStats } from './types';

/** Decides what a received packet means for a request: more output to come, or its final reply. */
export type ReplyFilter = (payload: Uint8Array) => 'intermediate' | 'final';

/** Requests whose reply may be a stop reply. */
const STOP_REQUEST = /^(\?|vCont;|vAttach|vRun|vStopped|[cCsS]([0-9a-fA-F;]|$))/;

const isHex = (b: number) => (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66);

/**
 * `O` + hex: console output (QEMU sends it for monitor commands and semihosting). No reply a plain
 * request waits for has this form (`OK` is too short and not hex), so it is never taken as one.
 */
function isConsoleOutput(p: Uint8Array): boolean {
  if (p[0] !== 0x4f || p.length < 3 || (p.length & 1) === 0) return false;
  for (let i = 1; i < p.length; i++) if (!isHex(p[i])) return false;
  return true;
}

/** `Txx…`, `Sxx`, `Wxx`, `Xxx` on the raw bytes: no ordinary reply starts with these letters. */
function isStopPayload(p: Uint8Array): boolean {
  const c = p[0];
  return (
    (c === 0x54 || c === 0x53 || c === 0x57 || c === 0x58) && p.length >= 3 && isHex(p[1]) && isHex(p[2])
  );
}

interface Pending {
  readonly label: string;
  readonly resolve: (payload: Uint8Array) => void;
  readonly reject: (error: Error) => void;
  readonly filter?: ReplyFilter;
  readonly onIntermediate?: (payload: Uint8Array) => void;
  /** Whether a stop reply can be this request's answer (`?`, `c`, `s`, `vCont`, ...). */
  readonly expectsStop: boolean;
  /** Date.now() after which the request times out (or, once abandoned, its FIFO slot is dropped). */
  deadline: number;
  readonly timeoutMs: number;
  /** Timed out: the caller was told, but a late reply must still be consumed here to keep the FIFO aligned. */
  abandoned: boolean;
}

interface Unacked {
  readonly bytes: Uint8Array;
  readonly label: string;
  attempts: number;
  readonly acked?: () => void;
}

export interface LinkOptions {
  readonly log?: (direction: 'send' | 'recv', payload: string) => void;
  /** Max sends of one packet answered by `-` (default 4). */
  readonly maxAttempts?: number;
  /** How long an abandoned (timed-out) request keeps its FIFO slot for a late reply (default 2000 ms). */
  readonly lateReplyGraceMs?: number;
}

export class RspLink {
  readonly stats: GdbStats = {
    packetsSent: 0,
    packetsReceived: 0,
    bytesSent: 0,
    bytesReceived: 0,
    retransmits: 0,
    badChecksums: 0,
    requests: 0,
    timeouts: 0,
  };
  private readonly decoder = new RspDecoder();
  private readonly pending: Pending[] = [];
  private readonly unacked: Unacked[] = [];
  private unsolicited: (payload: Uint8Array) => void = () => undefined;
  private notification: (payload: Uint8Array) => void = () => undefined;
  private closeListeners: ((error?: Error) => void)[] = [];
  private closedError?: Error;
  private closed = false;
  private closedByClient = false;
  private draining?: Promise<void>;
  private drainActivity?: () => void;
  private watchdog?: NodeJS.Timeout;
  private watchdogAt = Infinity;
  private readonly maxAttempts: number;
  private readonly graceMs: number;

  constructor(
    private readonly transport: Transport,
    private readonly options: LinkOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 4;
    this.graceMs = options.lateReplyGraceMs ?? 2000;
    transport.onData((chunk) => this.receive(chunk));
    transport.onClose((error) => this.shutdown(error ?? new ConnectionClosedError('transport closed')));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get inFlight(): number {
    return this.pending.length;
  }

  /** Raises the packet caps to what a stub announcing `packetSize` may legitimately send. */
  setPacketSize(packetSize: number): void {
    this.decoder.setLimits(packetLimits(packetSize));
  }

  /** Packets that arrive with no request waiting (stop replies, `O` output while running). */
  onUnsolicited(listener: (payload: Uint8Array) => void): void {
    this.unsolicited = listener;
  }

  /** `%` notifications (non-stop mode; QEMU does not send them, but a stub may). */
  onNotification(listener: (payload: Uint8Array) => void): void {
    this.notification = listener;
  }

  /** `error` is undefined when close() was called, else why the connection went away. */
  onClose(listener: (error?: Error) => void): void {
    if (this.closed) listener(this.closedByClient ? undefined : this.closedError);
    else this.closeListeners.push(listener);
  }

  /**
   * Sends a packet and resolves with its final reply. Several requests may be in flight: replies are
   * matched in order. `filter` lets a request consume intermediate packets (qRcmd `O` output).
   */
  request(
    payload: Uint8Array | string,
    timeoutMs: number,
    filter?: ReplyFilter,
    onIntermediate?: (payload: Uint8Array) => void,
  ): Promise<Uint8Array> {
    if (this.draining)
      return this.draining.then(() => this.request(payload, timeoutMs, filter, onIntermediate));
    const label = typeof payload === 'string' ? payload : latin1Text(payload.subarray(0, 40));
    return new Promise<Uint8Array>((resolve, reject) => {
      if (this.closed) {
        reject(this.closedError ?? new ConnectionClosedError('closed'));
        return;
      }
      const entry: Pending = {
        label,
        resolve,
        reject,
        filter,
        onIntermediate,
        expectsStop: STOP_REQUEST.test(label),
        abandoned: false,
        deadline: Date.now() + timeoutMs,
        timeoutMs,
      };
      this.pending.push(entry);
      this.armWatchdog(entry.deadline);
      this.watchdog?.ref();
      this.stats.requests++;
      try {
        this.sendPacket(payload, label);
      } catch (e) {
        this.pending.splice(this.pending.indexOf(entry), 1);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Sends a packet whose reply comes later as an unsolicited packet (vCont); resolves on its ack. */
  sendAwaitingAck(payload: Uint8Array | string, timeoutMs: number): Promise<void> {
    const label = typeof payload === 'string' ? payload : 'binary packet';
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stats.timeouts++;
        reject(new GdbTimeoutError(`${label} (ack)`, timeoutMs));
      }, timeoutMs);
      try {
        this.sendPacket(payload, label, () => {
          clearTimeout(timer);
          resolve();
        });
      } catch (e) {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  /** Sends raw bytes outside any packet (the `\x03` interrupt). */
  sendRaw(bytes: Uint8Array): void {
    if (this.closed) throw this.closedError ?? new ConnectionClosedError('closed');
    this.stats.bytesSent += bytes.length;
    this.transport.send(bytes);
  }

  close(): void {
    this.closedByClient = true;
    this.shutdown(new ConnectionClosedError('closed by the client'));
    this.transport.close();
  }

  private sendPacket(payload: Uint8Array | string, label: string, acked?: () => void): void {
    if (this.closed) throw this.closedError ?? new ConnectionClosedError('closed');
    const bytes = encodePacket(payload);
    this.unacked.push({ bytes, label, attempts: 1, acked });
    this.options.log?.('send', typeof payload === 'string' ? payload : latin1Text(payload));
    this.stats.packetsSent++;
    this.stats.bytesSent += bytes.length;
    this.transport.send(bytes);
  }

  /**
   * One timer for all pending requests instead of one per request (a 4 MiB read is 2048 requests).
   * It keeps the process alive only while requests are pending, so a finished tool exits at once.
   */
  private armWatchdog(deadline: number): void {
    if (deadline >= this.watchdogAt) return;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdogAt = deadline;
    this.watchdog = setTimeout(this.checkDeadlines, Math.max(0, deadline - Date.now()));
    if (this.pending.length === 0) this.watchdog.unref();
  }

  private readonly checkDeadlines = (): void => {
    this.watchdog = undefined;
    this.watchdogAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const entry of [...this.pending]) {
      if (entry.deadline <= now) this.timeout(entry, now);
      if (this.pending.includes(entry)) next = Math.min(next, entry.deadline);
    }
    if (next < Infinity) this.armWatchdog(next);
  };

  private timeout(entry: Pending, now: number): void {
    if (entry.abandoned) {
      // The grace period for a late reply is over too: drop the slot so later requests line up.
      const i = this.pending.indexOf(entry);
      if (i >= 0) this.pending.splice(i, 1);
      return;
    }
    this.stats.timeouts++;
    entry.abandoned = true;
    entry.deadline = now + this.graceMs;
    entry.reject(new GdbTimeoutError(entry.label, entry.timeoutMs));
  }

  /**
   * Runs from the transport's data callback: anything thrown here would be an uncaught exception in
   * the host process, so an unexpected failure closes the connection instead, and pending requests
   * are rejected with it.
   */
  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    try {
      this.receiveEvents(chunk);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      this.fail(
        new GdbProtocolError(`error while handling data from the gdbstub (${why}): connection closed`),
      );
    }
  }

  private receiveEvents(chunk: Uint8Array): void {
    this.stats.bytesReceived += chunk.length;
    const events = this.decoder.push(chunk);
    const tooLarge = events.find((e) => e.type === 'tooLarge');
    if (tooLarge) {
      // What was framed before it is still delivered, so a request it answered does not fail.
      this.receiveDecoded(events.slice(0, events.indexOf(tooLarge)));
      this.fail(new GdbPacketTooLargeError(tooLarge.limit, tooLarge.stage));
      return;
    }
    this.receiveDecoded(events);
  }

  private receiveDecoded(events: readonly CodecEvent[]): void {
    if (this.draining) {
      this.drainActivity?.();
      // Keep the stub's decoder happy, but nothing received now can be matched to a request.
      const n = events.filter((e) => e.type === 'packet').length;
      if (n && !this.closed) this.transport.send(Buffer.from('+'.repeat(n), 'latin1'));
      return;
    }
    // Acks for every packet of this chunk go out in one write: one syscall, not one per reply.
    let acks = '';
    for (const ev of events) {
      if (this.closed) return;
      switch (ev.type) {
        case 'ack': {
          const u = this.unacked.shift();
          u?.acked?.();
          break;
        }
        case 'nack': {
          const u = this.unacked[0];
          if (!u) break;
          if (this.pending.length > 1) {
            // Resending now would put this request's reply after later ones.
            this.desync(`stub rejected '${u.label}' while ${this.pending.length} requests were in flight`);
            return;
          }
          if (u.attempts >= this.maxAttempts) {
            this.unacked.shift();
            this.failOldest(new GdbRetransmitError(u.label, u.attempts));
            break;
          }
          u.attempts++;
          this.stats.retransmits++;
          this.stats.bytesSent += u.bytes.length;
          this.transport.send(u.bytes);
          break;
        }
        case 'packet':
          this.stats.packetsReceived++;
          if (!ev.checksumOk) {
            this.stats.badChecksums++;
            if (this.pending.length > 1) {
              // The stub resends only its last packet: an earlier lost reply cannot be recovered.
              this.desync(`corrupt reply while ${this.pending.length} requests were in flight`);
              return;
            }
            acks += '-';
            break;
          }
          acks += '+';
          this.options.log?.('recv', latin1Text(ev.payload));
          this.dispatch(ev.payload);
          break;
        case 'notification':
          if (ev.checksumOk) this.notification(ev.payload);
          break;
        case 'malformed':
          // Framed but undecodable: ask for it again, as for a bad checksum.
          this.stats.badChecksums++;
          acks += '-';
          break;
        case 'interrupt':
        case 'tooLarge':
          break;
      }
    }
    if (acks && !this.closed) {
      this.stats.bytesSent += acks.length;
      this.transport.send(Buffer.from(acks, 'latin1'));
    }
  }

  private dispatch(payload: Uint8Array): void {
    const head = this.pending[0];
    if (!head) {
      this.unsolicited(payload);
      return;
    }
    // A stop reply can never answer qSupported, m, p, ...: QEMU sends one unasked when a debugger
    // attaches to a running guest (it pauses the VM), possibly before the first reply. Taking it for
    // that reply would shift every later reply by one.
    if (!head.expectsStop && isStopPayload(payload)) {
      this.unsolicited(payload);
      return;
    }
    // Console output ahead of a reply (a filtered request such as qRcmd wants it as its output).
    if (!head.filter && isConsoleOutput(payload)) {
      this.unsolicited(payload);
      return;
    }
    const kind = head.filter ? head.filter(payload) : 'final';
    if (kind === 'intermediate') {
      if (!head.abandoned) head.onIntermediate?.(payload);
      return;
    }
    this.pending.shift();
    if (this.pending.length === 0) this.watchdog?.unref();
    if (!head.abandoned) head.resolve(payload);
  }

  /**
   * After an exchange that went wrong (a pipelining probe answered out of order, a dropped packet):
   * forgets every pending and abandoned request and discards what arrives until the stub has been
   * quiet for `quietMs`, so the next request's reply is its own.
   */
  resync(reason: string, quietMs = 100): void {
    this.desync(reason, quietMs);
  }

  /**
   * Fails everything pending and discards what arrives until the stub has been quiet for
   * `quietMs`; requests made meanwhile wait for that.
   */
  private desync(reason: string, quietMs = 100): void {
    const error = new GdbDesyncError(reason);
    for (const p of this.pending.splice(0)) if (!p.abandoned) p.reject(error);
    this.unacked.length = 0;
    this.draining = new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.draining = undefined;
          this.drainActivity = undefined;
          resolve();
        }, quietMs);
      };
      this.drainActivity = arm;
      arm();
    });
  }

  private failOldest(error: Error): void {
    const head = this.pending.shift();
    if (head) {
      if (!head.abandoned) head.reject(error);
    }
  }

  /** The stream can no longer be trusted: close it, and fail everything pending with `error`. */
  private fail(error: Error): void {
    this.shutdown(error);
    this.transport.close();
  }

  private shutdown(error: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.closedError = error;
    if (this.watchdog) clearTimeout(this.watchdog);
    for (const p of this.pending.splice(0)) if (!p.abandoned) p.reject(error);
    this.unacked.length = 0;
    for (const l of this.closeListeners) l(this.closedByClient ? undefined : error);
    this.closeListeners = [];
  }
}
