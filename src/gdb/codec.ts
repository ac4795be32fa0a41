// The RSP byte codec: a pure state machine. `push(chunk)` consumes any slice of the byte stream (a
// packet may be split anywhere) and returns the complete events it finished. Payloads stay bytes:
// binary replies (qXfer, X) are never decoded as text, and framing never uses a regex.
//
// Wire format: `$payload#xx` (packet), `%payload#xx` (notification), `+`/`-` (ack/nack), 0x03
// (interrupt, client to stub). Inside a payload `}` escapes the next byte (XOR 0x20) and `*` repeats
// the previous byte (count = next byte - 29). The checksum is the sum mod 256 of the raw bytes between
// the start character and `#`, before unescaping.

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
  | { readonly type: 'malformed'; readonly reason: string; readonly raw: Uint8Array };

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
  last(): number {
    return this.buf[this.length - 1];
  }
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}

/** Expands `}` escapes and `*` run-length encoding. Returns a string on malformed input. */
export function decodePayload(raw: Uint8Array): Uint8Array | string {
  // Fast path: nothing to expand (the common case for hex replies). Returns `raw` itself.
  // Buffer#indexOf is memchr; TypedArray#indexOf is several times slower on 4 KiB replies.
  const view = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (view.indexOf(BRACE) < 0 && view.indexOf(STAR) < 0) return raw;
  const out = new ByteBuffer();
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i];
    if (b === BRACE) {
      if (i + 1 >= raw.length) return 'escape character at end of packet';
      out.push(raw[++i] ^ 0x20);
    } else if (b === STAR) {
      if (out.length === 0) return 'run-length marker with no preceding byte';
      if (i + 1 >= raw.length) return 'run-length marker at end of packet';
      const count = raw[++i] - 29;
      if (count < 0) return `invalid run-length count byte 0x${raw[i].toString(16)}`;
      const repeated = out.last();
      for (let k = 0; k < count; k++) out.push(repeated);
    } else {
      out.push(b);
    }
  }
  return out.take();
}

export class RspDecoder {
  private state = State.Idle;
  private kind: 'packet' | 'notification' = 'packet';
  private readonly data = new ByteBuffer();
  private sum = 0;
  private checksumHigh = 0;
  private checksumHighValid = false;

  /** Whether the decoder is in the middle of a packet (for diagnostics when a stream ends). */
  get inPacket(): boolean {
    return this.state !== State.Idle;
  }

  push(chunk: Uint8Array): CodecEvent[] {
    const events: CodecEvent[] = [];
    let view: Buffer | undefined;
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
          } else if (b === PLUS) events.push({ type: 'ack' });
          else if (b === MINUS) events.push({ type: 'nack' });
          else if (b === CTRL_C) events.push({ type: 'interrupt' });
          // Anything else between packets is line noise: gdb ignores it too.
          break;
        }
        case State.Data: {
          // Bulk-copy up to the next '#' (or '$', which restarts framing as gdb does after a lost '#').
          view ??= Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
          let j = view.indexOf(HASH, i);
          const dollar = view.indexOf(DOLLAR, i);
          if (j < 0) j = n;
          if (dollar >= 0 && dollar < j) j = dollar;
          let sum = this.sum;
          for (let k = i; k < j; k++) sum += chunk[k];
          this.sum = sum & 0xff;
          this.data.append(chunk, i, j);
          i = j;
          if (i < n) {
            if (chunk[i] === HASH) {
              this.state = State.Checksum1;
            } else {
              // A '$' inside a packet: the previous one was truncated. Start over, report it.
              events.push({
                type: 'malformed',
                reason: 'packet restarted before its end',
                raw: this.data.take(),
              });
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
          const raw = this.data.take();
          const checksumOk = this.checksumHighValid && v >= 0 && ((this.checksumHigh << 4) | v) === this.sum;
          this.state = State.Idle;
          const decoded = decodePayload(raw);
          if (typeof decoded === 'string') events.push({ type: 'malformed', reason: decoded, raw });
          else events.push({ type: this.kind, payload: decoded, checksumOk, raw });
          break;
        }
      }
    }
    return events;
  }
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

/** Escapes then frames: what a sender puts on the wire for `payload`. */
export function encodePacket(payload: Uint8Array | string): Uint8Array {
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

const HEX_DIGITS = new Uint8Array([...'0123456789abcdef'].map((c) => c.charCodeAt(0)));

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
