// The text parts of gdb's value printing that need no types: characters and strings escaped as gdb
// escapes them, C strings read from memory, and `<repeats N times>` runs. Pure.

/** gdb's escaping of a character inside a string (`\"`, `\\`, `\n`, octal for the rest). */
export function escapeChar(c: number, quote: string): string {
  const named: Record<number, string> = {
    7: '\\a',
    8: '\\b',
    9: '\\t',
    10: '\\n',
    11: '\\v',
    12: '\\f',
    13: '\\r',
    27: '\\033',
  };
  if (named[c]) return named[c];
  if (c === quote.charCodeAt(0) || c === 0x5c) return `\\${String.fromCharCode(c)}`;
  if (c >= 0x20 && c < 0x7f) return String.fromCharCode(c);
  return `\\${c.toString(8).padStart(3, '0')}`;
}

export function formatString(bytes: Uint8Array): string {
  let s = '"';
  for (const b of bytes) s += escapeChar(b, '"');
  return `${s}"`;
}

/** Reads a NUL-terminated string (at most `max` bytes). */
export async function readCString(
  mem: { read(address: bigint, size: number): Promise<Uint8Array> },
  address: bigint,
  max = 200,
): Promise<Uint8Array | undefined> {
  const out: number[] = [];
  for (let chunk = 0; chunk < max; chunk += 32) {
    let bytes: Uint8Array;
    try {
      bytes = await mem.read(address + BigInt(chunk), 32);
    } catch {
      return out.length ? new Uint8Array(out) : undefined;
    }
    for (const b of bytes) {
      if (b === 0 || out.length >= max) return new Uint8Array(out);
      out.push(b);
    }
  }
  return new Uint8Array(out);
}

/** gdb collapses 10 or more equal elements in a row into `X <repeats N times>`. */
export function repeats(texts: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < texts.length;) {
    let j = i;
    while (j < texts.length && texts[j] === texts[i]) j++;
    if (j - i >= 10) out.push(`${texts[i]} <repeats ${j - i} times>`);
    else for (let k = i; k < j; k++) out.push(texts[k]);
    i = j;
  }
  return out;
}
