// ELF64 little-endian container: header, section headers, symbol tables (.symtab, .dynsym).
import { ElfFormatError, Reader, stringAt } from './reader';

export const EM_AARCH64 = 183;
const SHT_SYMTAB = 2;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;

export interface Section {
  name: string;
  type: number;
  flags: bigint;
  addr: bigint;
  offset: number;
  size: number;
  link: number;
  entsize: number;
}

export type SymbolType = 'notype' | 'object' | 'func' | 'section' | 'file' | 'common' | 'tls' | 'other';
export type SymbolBinding = 'local' | 'global' | 'weak' | 'other';

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  type: SymbolType;
  binding: SymbolBinding;
  /** Section header index; 0 = undefined, 0xfff1 = absolute. */
  shndx: number;
  table: '.symtab' | '.dynsym';
}

export interface ElfHeader {
  type: number;
  machine: number;
  entry: bigint;
}

const SYMBOL_TYPES: SymbolType[] = ['notype', 'object', 'func', 'section', 'file', 'common', 'tls'];
const SYMBOL_BINDINGS: SymbolBinding[] = ['local', 'global', 'weak'];

export class ElfFile {
  private constructor(
    readonly bytes: Uint8Array,
    readonly header: ElfHeader,
    readonly sections: Section[],
  ) {}

  static parse(bytes: Uint8Array): ElfFile {
    if (
      bytes.length < 64 ||
      bytes[0] !== 0x7f ||
      bytes[1] !== 0x45 ||
      bytes[2] !== 0x4c ||
      bytes[3] !== 0x46
    ) {
      throw new ElfFormatError('not an ELF file (bad magic)');
    }
    if (bytes[4] !== 2) throw new ElfFormatError('not a 64-bit ELF file (EI_CLASS is not ELFCLASS64)');
    if (bytes[5] !== 1) throw new ElfFormatError('not a little-endian ELF file (EI_DATA is not ELFDATA2LSB)');
    const r = new Reader(bytes, 16);
    const type = r.u16();
    const machine = r.u16();
    r.u32(); // e_version
    const entry = r.u64();
    r.u64(); // e_phoff
    const shoff = r.u64n();
    r.u32(); // e_flags
    r.u16(); // e_ehsize
    r.u16(); // e_phentsize
    r.u16(); // e_phnum
    const shentsize = r.u16();
    let shnum = r.u16();
    let shstrndx = r.u16();
    const sections: Section[] = [];
    if (shoff !== 0) {
      if (shentsize < 64) throw new ElfFormatError(`section header size ${shentsize} < 64`);
      // Extended numbering: the real counts live in section header 0.
      const first = readSectionHeader(new Reader(bytes, shoff));
      if (shnum === 0) shnum = Number(first.size);
      if (shstrndx === 0xffff) shstrndx = first.link;
      const raw = [];
      for (let i = 0; i < shnum; i++) raw.push(readSectionHeader(new Reader(bytes, shoff + i * shentsize)));
      const shstr = raw[shstrndx];
      const names = shstr ? slice(bytes, shstr.offset, shstr.size) : undefined;
      for (const s of raw) sections.push({ ...s, name: names ? stringAt(names, s.nameOffset) : '' });
    }
    return new ElfFile(bytes, { type, machine, entry }, sections);
  }

  section(name: string): Section | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of a section (empty for SHT_NOBITS such as .bss), or undefined when absent. */
  sectionData(name: string): Uint8Array | undefined {
    const s = this.section(name);
    return s ? this.dataOf(s) : undefined;
  }

  dataOf(s: Section): Uint8Array {
    return s.type === SHT_NOBITS ? new Uint8Array(0) : slice(this.bytes, s.offset, s.size);
  }

  /** Symbols of .symtab and .dynsym (index 0, the null symbol, left out). */
  symbols(): ElfSymbol[] {
    const out: ElfSymbol[] = [];
    for (const s of this.sections) {
      if (s.type !== SHT_SYMTAB && s.type !== SHT_DYNSYM) continue;
      const table = s.type === SHT_SYMTAB ? '.symtab' : '.dynsym';
      const strtab = this.sections[s.link];
      const names = strtab ? this.dataOf(strtab) : undefined;
      const data = this.dataOf(s);
      const entsize = s.entsize || 24;
      for (let off = entsize; off + 24 <= data.length; off += entsize) {
        const r = new Reader(data, off);
        const nameOffset = r.u32();
        const info = r.u8();
        r.u8(); // st_other
        const shndx = r.u16();
        const value = r.u64();
        const size = r.u64();
        out.push({
          name: names && nameOffset ? stringAt(names, nameOffset) : '',
          value,
          size,
          type: SYMBOL_TYPES[info & 0xf] ?? 'other',
          binding: SYMBOL_BINDINGS[info >> 4] ?? 'other',
          shndx,
          table,
        });
      }
    }
    return out;
  }

  /** True when an allocated section (SHF_ALLOC) covers `addr`: the address is part of the image. */
  isMapped(addr: bigint): boolean {
    return this.sections.some(
      (s) => (s.flags & 2n) !== 0n && addr >= s.addr && addr < s.addr + BigInt(s.size),
    );
  }

  /** The section (SHF_ALLOC) whose memory image holds `addr`, with the file bytes from there on. */
  bytesAt(addr: bigint, length: number): Uint8Array | undefined {
    for (const s of this.sections) {
      if ((s.flags & 2n) === 0n || s.type === SHT_NOBITS) continue;
      if (addr >= s.addr && addr < s.addr + BigInt(s.size)) {
        const start = Number(addr - s.addr);
        return this.dataOf(s).subarray(start, Math.min(s.size, start + length));
      }
    }
    return undefined;
  }
}

function readSectionHeader(r: Reader): Omit<Section, 'name'> & { nameOffset: number } {
  const nameOffset = r.u32();
  const type = r.u32();
  const flags = r.u64();
  const addr = r.u64();
  const offset = r.u64n();
  const size = r.u64n();
  const link = r.u32();
  r.u32(); // sh_info
  r.u64(); // sh_addralign
  const entsize = r.u64n();
  return { nameOffset, type, flags, addr, offset, size, link, entsize };
}

function slice(bytes: Uint8Array, offset: number, size: number): Uint8Array {
  if (offset + size > bytes.length) {
    throw new ElfFormatError(`section [${offset}, ${offset + size}) outside the ${bytes.length}-byte file`);
  }
  return bytes.subarray(offset, offset + size);
}
