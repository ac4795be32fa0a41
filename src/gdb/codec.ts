// The RSP byte codec: a pure state machine. `push(chunk)` consumes any slice of the byte stream (a
// packet may be split anywhere) and returns the complete events it finished. Payloads stay bytes:
// binary replies (qXfer, X) are never decoded as text, and framing never uses a regex.
//
// Wire format: `$payload#xx` (packet), `%payload#xx` (notification), `+`/`-` (ack/nack), 0x03
// (interrupt, client to stub). Inside a payload `}` escapes the next byte (XOR 0x20) and `*` repeats
// the previous byte (count = next byte - 29). The checksum is the sum mod 256 of the raw bytes between
// the start character and `#`, before unescaping.
//
// A stub is not trusted with the client's memory: a packet is capped both as sent (bytes before `#`)
// and as expanded (after `}` and `*`), see packetLimits. Framing is linear in the bytes pushed, whatever
// they are (a chunk of a million `$` used to rescan the rest of the chunk at each one).

export type CodecEvent =
  /** A complete packet. `payload` is unescaped and run-length expanded; `checksumOk` false on mismatch. */
  | {
      readonly type: 'packet';
      readonly payload: Uint8Array;
      readonly checksumOk: boolean;
      readonly raw: Uint8Array;
    }
  | {
      readonly type: 'notification';
      readonly payload: Uint8Array;
      readonly checksumOk: boolean;
      readonly raw: Uint8Array;
    }
  | { readonly type: 'ack' }
  | { readonly type: 'nack' }
  | { readonly type: 'interrupt' }
  /** A payload that framed correctly but whose escapes or run-length encoding are malformed. */
  | { readonly type: 'malformed'; readonly reason: string; readonly raw: Uint8Array }
  /**
   * A packet over the limits, dropped: no `#` within `limit` bytes (`framing`; the decoder then skips
   * to the next `#` or `$`), or an expansion over `limit` bytes (`expansion`).
   */
  | { readonly type: 'tooLarge'; readonly stage: 'framing' | 'expansion'; readonly limit: number };

export interface PacketLimits {
  /** Bytes between the start character and `#`, as sent. */
  readonly maxRawBytes: number;
  /** Bytes of the payload after `}` escapes and `*` run-length expansion. */
  readonly maxPayloadBytes: number;
}

/** The least cap on a packet, whatever PacketSize the stub announced. */
export const MIN_PACKET_CAP = 1 << 20;
/** The largest PacketSize honoured: a stub announcing more must not lift the caps with it. */
export const MAX_PACKET_SIZE = 1 << 20;

/**
 * Caps for a stub announcing `packetSize` (qSupported `PacketSize`; 0 before it is known). The largest
 * legitimate replies are an `m` of 2048 bytes (4096 hex digits; QEMU refuses larger reads), a qXfer
 * chunk and a monitor `O` packet (both within PacketSize, 4096 on QEMU). Four times the announced size,
 * and never under 1 MiB, leaves a wide margin for stubs that under-announce; the same value caps the
 * expansion, since a legitimate run-length encoding only shortens what is within those sizes anyway.
 * Anything larger is a hostile or broken stream: buffering it would only postpone the failure (a 40 MB
 * packet of `*` runs used to ask for an 8 GiB array, an endless packet grew to gigabytes).
 */
export function packetLimits(packetSize = 0): PacketLimits {
  const cap = Math.max(MIN_PACKET_CAP, Math.min(packetSize, MAX_PACKET_SIZE) * 4);
  return { maxRawBytes: cap, maxPayloadBytes: cap };
}

const DOLLAR = 0x24;
const PERCENT = 0x25;
const HASH = 0x23;
const BRACE = 0x7d;
const STAR = 0x2a;
const PLUS = 0x2b;
const MINUS = 0x2d;
const CTRL_C = 0x03;

const enum State {
  Idle,
  Data,
  Checksum1,
  Checksum2,
  /** Dropping the rest of an oversized packet, up to its `#` (or a new `$`). */
  Discard,
}

function hexValue(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x61 + 10;
  if (b >= 0x41 && b <= 0x46) return b - 0x41 + 10;
  return -1;
}

/** Growable byte buffer (avoids one array element per byte on 2 KiB replies). */
class ByteBuffer {
  private buf = new Uint8Array(4096);
  length = 0;
  push(b: number): void {
    if (this.length === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = b;
  }
  append(bytes: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.length + n > this.buf.length) {
      let size = this.buf.length * 2;
      while (size < this.length + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(bytes.subarray(start, end), this.length);
    this.length += n;
  }
  get capacity(): number {
    return this.buf.length;
  }
  /** Empties the buffer and gives back memory an oversized packet made it grow to. */
  release(): void {
    this.length = 0;
    if (this.buf.length > 1 << 16) this.buf = new Uint8Array(4096);
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/**
 * The expanded size of a payload, or why it is malformed: one pass and no allocation, so an expansion
 * over the cap is refused before anything is allocated for it.
 */
function expandedLength(raw: Uint8Array): number | string {
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === BRACE) {
      if (i + 1 >= raw.length) return 'escape character at end of packet';
      i++;
      n++;
    } else if (b === STAR) {
      if (n === 0) return 'run-length marker with no preceding byte';
      if (i + 1 >= raw.length) return 'run-length marker at end of packet';
      const count = raw[++i] - 29;
      if (count < 0) return `invalid run-length count byte 0x${raw[i].toString(16)}`;
      n += count;
    } else n++;
  }
  return n;
}

type Expansion = Uint8Array | { readonly malformed: string } | { readonly over: number };

function expand(raw: Uint8Array, maxBytes: number): Expansion {
  // Fast path: nothing to expand (the common case for hex replies). Returns `raw` itself.
  // Buffer#indexOf is memchr; TypedArray#indexOf is several times slower on 4 KiB replies.
  const view = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (view.indexOf(BRACE) < 0 && view.indexOf(STAR) < 0)
    return raw.length > maxBytes ? { over: maxBytes } : raw;
  const size = expandedLength(raw);
  if (typeof size === 'string') return { malformed: size };
  if (size > maxBytes) return { over: maxBytes };
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === BRACE) out[o++] = raw[++i] ^ 0x20;
    else if (b === STAR) {
      const count = raw[++i] - 29;
      out.fill(out[o - 1], o, o + count);
      o += count;
    } else out[o++] = b;
  }
  return out;
}

/**
 * Expands `}` escapes and `*` run-length encoding. Returns a string on malformed input, or when the
 * expansion would exceed `maxBytes`.
 */
export function decodePayload(
  raw: Uint8Array,
  maxBytes = packetLimits().maxPayloadBytes,
): Uint8Array | string {
  const r = expand(raw, maxBytes);
  if (r instanceof Uint8Array) return r;
  return 'malformed' in r ? r.malformed : `payload expands to over ${maxBytes} bytes`;
}

export class RspDecoder {
  private state = State.Idle;
  private kind: 'packet' | 'notification' = 'packet';
  private readonly data = new ByteBuffer();
  /**
   * A packet whose payload lies whole in one chunk, as a view of that chunk (no copy: for memory
   * reads, two copies of every byte and their garbage were most of the client's CPU time).
   */
  private direct: Uint8Array | undefined;
  private sum = 0;
  private checksumHigh = 0;
  private checksumHighValid = false;
  private limits: PacketLimits;

  constructor(limits: PacketLimits = packetLimits()) {
    this.limits = limits;
  }

  /** New caps, e.g. once qSupported has told the stub's PacketSize; applies from the next byte. */
  setLimits(limits: PacketLimits): void {
    this.limits = limits;
  }

  /** Whether the decoder is in the middle of a packet (for diagnostics when a stream ends). */
  get inPacket(): boolean {
    return this.state !== State.Idle;
  }

  /** Memory held for a partial packet (bounded by the raw cap, up to a factor of two for growth). */
  get retainedBytes(): number {
    return this.data.capacity;
  }

  /**
   * Frames the bytes of `chunk` (any split of the stream). A payload may be a view of `chunk`: the
   * caller hands over chunks it does not write to again (a socket's reads are fresh buffers).
   */
  push(chunk: Uint8Array): CodecEvent[] {
    const events: CodecEvent[] = [];
    let view: Buffer | undefined;
    // Positions of the next '#' and '$' at or after i (n: none left in this chunk), found once and
    // reused until i passes them: searching afresh at every '$' made framing quadratic in the chunk.
    let nextHash = -1;
    let nextDollar = -1;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      switch (this.state) {
        case State.Idle: {
          const b = chunk[i++];
          if (b === DOLLAR || b === PERCENT) {
            this.kind = b === DOLLAR ? 'packet' : 'notification';
            this.state = State.Data;
            this.sum = 0;
            this.data.length = 0;
            this.direct = undefined;
          } else if (b === PLUS) events.push({ type: 'ack' });
          else if (b === MINUS) events.push({ type: 'nack' });
          else if (b === CTRL_C) events.push({ type: 'interrupt' });
          // Anything else between packets is line noise: gdb ignores it too.
          break;
        }
        case State.Data:
        case State.Discard: {
          // Bulk-copy up to the next '#' (or '$', which restarts framing as gdb does after a lost '#').
          // A delimiter right here is settled without a search: a native indexOf call costs more
          // than the byte (a stream of `$` is nothing but restarts).
          let j = i;
          const here = chunk[i];
          if (here !== HASH && here !== DOLLAR) {
            view ??= Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            if (nextHash < i) nextHash = indexOrEnd(view, HASH, i);
            if (nextDollar < i) nextDollar = indexOrEnd(view, DOLLAR, i);
            j = Math.min(nextHash, nextDollar);
          }
          if (this.state === State.Data) {
            if (this.data.length + (j - i) > this.limits.maxRawBytes) {
              events.push({ type: 'tooLarge', stage: 'framing', limit: this.limits.maxRawBytes });
              this.data.release();
              this.state = State.Discard;
            } else if (j > i) {
              let sum = this.sum;
              for (let k = i; k < j; k++) sum += chunk[k];
              this.sum = sum & 0xff;
              // The whole payload here (its '#' in this chunk, nothing before it in another): a view.
              if (this.data.length === 0 && j < n && chunk[j] === HASH) this.direct = chunk.subarray(i, j);
              else this.data.append(chunk, i, j);
            }
          }
          i = j;
          if (i < n) {
            if (chunk[i] === HASH) {
              // The checksum of a discarded packet is noise to the Idle state (hex digits only).
              this.state = this.state === State.Discard ? State.Idle : State.Checksum1;
            } else {
              // A '$' inside a packet: the previous one was truncated. Start over, and report it
              // unless nothing was lost (`$$`).
              if (this.state === State.Data && this.data.length > 0)
                events.push({
                  type: 'malformed',
                  reason: 'packet restarted before its end',
                  raw: this.data.take(),
                });
              this.state = State.Data;
              this.data.length = 0;
              this.kind = 'packet';
              this.sum = 0;
            }
            i++;
          }
          break;
        }
        case State.Checksum1: {
          const v = hexValue(chunk[i++]);
          this.checksumHigh = v;
          this.checksumHighValid = v >= 0;
          this.state = State.Checksum2;
          break;
        }
        case State.Checksum2: {
          const v = hexValue(chunk[i++]);
          const raw = this.direct ?? this.data.take();
          this.direct = undefined;
          const checksumOk = this.checksumHighValid && v >= 0 && ((this.checksumHigh << 4) | v) === this.sum;
          this.state = State.Idle;
          const decoded = expand(raw, this.limits.maxPayloadBytes);
          if (decoded instanceof Uint8Array)
            events.push({ type: this.kind, payload: decoded, checksumOk, raw });
          else if ('malformed' in decoded) events.push({ type: 'malformed', reason: decoded.malformed, raw });
          else events.push({ type: 'tooLarge', stage: 'expansion', limit: decoded.over });
          break;
        }
      }
    }
    return events;
  }
}

function indexOrEnd(view: Buffer, byte: number, from: number): number {
  const at = view.indexOf(byte, from);
  return at < 0 ? view.length : at;
}

const NEEDS_ESCAPE = new Uint8Array(256);
NEEDS_ESCAPE[DOLLAR] = 1;
NEEDS_ESCAPE[HASH] = 1;
NEEDS_ESCAPE[BRACE] = 1;
NEEDS_ESCAPE[STAR] = 1;

/** Escapes `$ # } *` so any bytes (an `X` payload, a binary argument) survive framing. */
export function escapeBinary(data: Uint8Array): Uint8Array {
  let extra = 0;
  for (let i = 0; i < data.length; i++) extra += NEEDS_ESCAPE[data[i]];
  if (extra === 0) return data;
  const out = new Uint8Array(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const b = data[i];
    if (NEEDS_ESCAPE[b]) {
      out[o++] = BRACE;
      out[o++] = b ^ 0x20;
    } else out[o++] = b;
  }
  return out;
}

/** Frames an already-escaped payload as `$payload#xx` (or `%...` for a notification). */
export function framePacket(payload: Uint8Array, start: '$' | '%' = '$'): Uint8Array {
  const out = new Uint8Array(payload.length + 4);
  out[0] = start.charCodeAt(0);
  out.set(payload, 1);
  let sum = 0;
  for (let i = 0; i < payload.length; i++) sum += payload[i];
  sum &= 0xff;
  out[payload.length + 1] = HASH;
  out[payload.length + 2] = HEX_DIGITS[sum >> 4];
  out[payload.length + 3] = HEX_DIGITS[sum & 0xf];
  return out;
}

/** Characters a text payload cannot carry as they are: the escaped four and anything past Latin-1. */
const NOT_PLAIN = /[$#}*\u0100-\uffff]/;

/** Escapes then frames: what a sender puts on the wire for `payload`. */
export function encodePacket(payload: Uint8Array | string): Uint8Array {
  if (typeof payload === 'string' && !NOT_PLAIN.test(payload)) {
    // A plain text command (nearly every request): framed as text, one native conversion.
    let sum = 0;
    for (let i = 0; i < payload.length; i++) sum += payload.charCodeAt(i);
    sum &= 0xff;
    return Buffer.from(`$${payload}#${HEX_TEXT[sum >> 4]}${HEX_TEXT[sum & 0xf]}`, 'latin1');
  }
  const bytes = typeof payload === 'string' ? latin1Bytes(payload) : payload;
  return framePacket(escapeBinary(bytes));
}

/**
 * Run-length encodes a payload the way stubs may (for tests and the fake stub): runs of 4+ identical
 * bytes become `b*c`, avoiding the count bytes `#` and `$` as the protocol requires.
 */
export function runLengthEncode(escaped: Uint8Array): Uint8Array {
  const out = new ByteBuffer();
  let i = 0;
  while (i < escaped.length) {
    const b = escaped[i];
    if (b === BRACE) {
      // An escape pair is copied as is: its second byte is data, not a run start.
      out.push(b);
      if (i + 1 < escaped.length) out.push(escaped[i + 1]);
      i += 2;
      continue;
    }
    let run = 1;
    while (i + run < escaped.length && escaped[i + run] === b && run < 98) run++;
    let repeat = run - 1;
    // Count byte = repeat + 29; 6 and 7 would give '#' and '$'.
    if (repeat === 6 || repeat === 7) repeat = 5;
    out.push(b);
    if (repeat >= 3) {
      out.push(STAR);
      out.push(repeat + 29);
      i += repeat + 1;
    } else i++;
  }
  return out.take();
}

const HEX_TEXT = '0123456789abcdef';
const HEX_DIGITS = new Uint8Array([...HEX_TEXT].map((c) => c.charCodeAt(0)));

/** Latin-1 bytes of an ASCII command (packet text is ASCII; never used on binary data). */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Latin-1 text of a reply known to be textual (hex, stop replies, XML); one char per byte. */
export function latin1Text(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}
