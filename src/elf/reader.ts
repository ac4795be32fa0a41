// A little-endian cursor over a byte buffer: the one place that knows how ELF64 and DWARF encode
// integers (fixed widths, LEB128, 32/64-bit DWARF offsets).

export class ElfFormatError extends Error {
  override name = 'ElfFormatError';
}

export class Reader {
  private readonly view: DataView;
  pos: number;

  constructor(
    readonly bytes: Uint8Array,
    pos = 0,
    /** Exclusive end of the readable window (a section, a unit). */
    readonly end = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = pos;
  }

  /** A reader over [start, end) of the same bytes, positioned at start. */
  window(start: number, end: number): Reader {
    if (start < 0 || end > this.bytes.length || start > end) {
      throw new ElfFormatError(`window [${start}, ${end}) outside ${this.bytes.length} bytes`);
    }
    return new Reader(this.bytes, start, end);
  }

  get atEnd(): boolean {
    return this.pos >= this.end;
  }

  private need(n: number): number {
    const p = this.pos;
    if (p + n > this.end) throw new ElfFormatError(`read of ${n} bytes at ${p} past end ${this.end}`);
    this.pos = p + n;
    return p;
  }

  skip(n: number): void {
    this.need(n);
  }

  u8(): number {
    return this.view.getUint8(this.need(1));
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  i8(): number {
    return this.view.getInt8(this.need(1));
  }
  i16(): number {
    return this.view.getInt16(this.need(2), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }
  i64(): bigint {
    return this.view.getBigInt64(this.need(8), true);
  }

  /** A 64-bit field used as a file offset or size: must fit in a JavaScript number. */
  u64n(): number {
    const v = this.u64();
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfFormatError(`offset 0x${v.toString(16)} too large`);
    return Number(v);
  }

  /** Unsigned integer of 1, 2, 4 or 8 bytes. */
  uN(size: number): bigint {
    switch (size) {
      case 1:
        return BigInt(this.u8());
      case 2:
        return BigInt(this.u16());
      case 4:
        return BigInt(this.u32());
      case 8:
        return this.u64();
      default:
        throw new ElfFormatError(`unsupported integer size ${size}`);
    }
  }

  uleb(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
      if ((b & 0x80) === 0) return result;
    }
  }

  /** ULEB128 that is a count, index or offset: a number. */
  ulebn(): number {
    let result = 0;
    let mul = 1;
    for (;;) {
      const b = this.u8();
      result += (b & 0x7f) * mul;
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
  }

  sleb(): bigint {
    let result = 0n;
    let shift = 0n;
    let b: number;
    do {
      b = this.u8();
      result |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    if (b & 0x40) result -= 1n << shift;
    return result;
  }

  slebn(): number {
    return Number(this.sleb());
  }

  /** NUL-terminated string (UTF-8). */
  cstr(): string {
    const start = this.pos;
    let p = start;
    while (p < this.end && this.bytes[p] !== 0) p++;
    if (p >= this.end) throw new ElfFormatError(`unterminated string at ${start}`);
    this.pos = p + 1;
    return utf8.decode(this.bytes.subarray(start, p));
  }

  /** DWARF initial length: returns the unit's length and whether it uses 64-bit offsets. */
  initialLength(): { length: number; offsetSize: 4 | 8 } {
    const l = this.u32();
    if (l === 0xffffffff) return { length: this.u64n(), offsetSize: 8 };
    if (l >= 0xfffffff0) throw new ElfFormatError(`reserved initial length 0x${l.toString(16)}`);
    return { length: l, offsetSize: 4 };
  }

  /** A section offset of the unit's offset size. */
  offset(offsetSize: 4 | 8): number {
    return offsetSize === 8 ? this.u64n() : this.u32();
  }
}

const utf8 = new TextDecoder('utf-8');

/** String at `offset` in a string table section (.strtab, .debug_str, .debug_line_str). */
export function stringAt(table: Uint8Array | undefined, offset: number): string {
  if (!table || offset >= table.length) throw new ElfFormatError(`string offset ${offset} outside table`);
  return new Reader(table, offset).cstr();
}
