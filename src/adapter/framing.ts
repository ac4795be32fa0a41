// DAP's wire framing (`Content-Length: N\r\n\r\n` + N bytes of JSON) as a byte state machine with
// a size limit. @vscode/debugadapter's own reader re-concatenates its whole buffer on every chunk
// (quadratic: a 50 MB request took the adapter 38 s to read) and ends the process on a message that
// is not JSON. Here every body byte is copied once, a body over the limit is skipped as it streams
// in (only its first and last bytes kept, to answer it), and a bad message is reported, never fatal.

export type Frame =
  | { kind: 'message'; message: unknown }
  /** A message over the limit: `head`/`tail` are its first and last bytes, enough to find its seq. */
  | { kind: 'oversized'; length: number; head: string; tail: string }
  | { kind: 'malformed'; reason: string; head: string };

const SEPARATOR = Buffer.from('\r\n\r\n');
/** Headers are a line or two; more than this without a blank line is not DAP. */
const MAX_HEADER = 8192;
/** Bytes of an oversized or malformed body kept to identify its request. */
const KEEP = 4096;

export class MessageReader {
  private header = Buffer.alloc(0);
  /** Body being read: its length and, unless skipped, the chunks so far. */
  private body: { length: number; got: number; parts: Buffer[]; skip: boolean; tail: Buffer } | undefined;

  constructor(private readonly maxMessageBytes: number) {}

  push(chunk: Buffer): Frame[] {
    const frames: Frame[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (this.body) data = this.readBody(data, frames);
      else data = this.readHeader(data, frames);
    }
    return frames;
  }

  private readHeader(data: Buffer, frames: Frame[]): Buffer {
    const buf = this.header.length ? Buffer.concat([this.header, data]) : data;
    const end = buf.indexOf(SEPARATOR);
    if (end < 0) {
      if (buf.length > MAX_HEADER) {
        frames.push({ kind: 'malformed', reason: 'no DAP header (Content-Length)', head: text(buf, KEEP) });
        // Resynchronise on the next header: keep a possible start of one.
        this.header = Buffer.from(buf.subarray(buf.length - SEPARATOR.length + 1));
      } else this.header = Buffer.from(buf);
      return Buffer.alloc(0);
    }
    this.header = Buffer.alloc(0);
    const head = buf.toString('latin1', 0, end);
    // Searched, not anchored: after junk the header may follow the junk's last bytes.
    const m = /Content-Length: *(\d{1,15})/i.exec(head);
    const rest = buf.subarray(end + SEPARATOR.length);
    if (!m) {
      frames.push({
        kind: 'malformed',
        reason: 'a DAP header without Content-Length',
        head: head.slice(0, 200),
      });
      return rest;
    }
    const length = Number(m[1]);
    this.body = { length, got: 0, parts: [], skip: length > this.maxMessageBytes, tail: Buffer.alloc(0) };
    if (length === 0) return this.readBody(rest, frames);
    return rest;
  }

  private readBody(data: Buffer, frames: Frame[]): Buffer {
    const b = this.body;
    if (!b) return data;
    const take = data.subarray(0, b.length - b.got);
    if (!b.skip) b.parts.push(take);
    else {
      if (b.got < KEEP) b.parts.push(Buffer.from(take.subarray(0, KEEP - b.got)));
      b.tail = Buffer.concat([b.tail, take.subarray(Math.max(0, take.length - KEEP))]);
      b.tail = b.tail.subarray(Math.max(0, b.tail.length - KEEP));
    }
    b.got += take.length;
    if (b.got === b.length) {
      this.body = undefined;
      frames.push(finish(b));
    }
    return data.subarray(take.length);
  }
}

function finish(b: { length: number; parts: Buffer[]; skip: boolean; tail: Buffer }): Frame {
  const bytes = Buffer.concat(b.parts);
  if (b.skip)
    return { kind: 'oversized', length: b.length, head: text(bytes, KEEP), tail: text(b.tail, KEEP) };
  try {
    return { kind: 'message', message: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch (e) {
    return { kind: 'malformed', reason: `not JSON (${(e as Error).message})`, head: text(bytes, KEEP) };
  }
}

function text(b: Buffer, max: number): string {
  return b.toString('utf8', 0, Math.min(b.length, max));
}

/**
 * The `seq` and `command` of a request that could not be parsed, from its first and last bytes:
 * clients put them either first (`{"seq":5,"type":"request","command":…`) or last (VS Code:
 * `{"command":…,"arguments":…,"type":"request","seq":5}`). Undefined when not found.
 */
export function identify(head: string, tail: string): { seq: number; command: string } | undefined {
  const seq =
    /^\s*\{[^{}[\]]*?"seq"\s*:\s*(\d{1,15})/.exec(head) ?? /"seq"\s*:\s*(\d{1,15})\s*\}\s*$/.exec(tail);
  const command =
    /^\s*\{[^{}[\]]*?"command"\s*:\s*"([A-Za-z_][\w.-]{0,63})"/.exec(head) ??
    /"command"\s*:\s*"([A-Za-z_][\w.-]{0,63})"[^{}[\]]*\}\s*$/.exec(tail);
  if (!seq || !command) return undefined;
  return { seq: Number(seq[1]), command: command[1] };
}
