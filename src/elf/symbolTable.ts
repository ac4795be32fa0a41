// Address <-> symbol lookups (stack frames, function breakpoints, evaluate, the fault's ELR), filled
// from an ELF's symbol table or a snapshot's name -> address map; empty when no program is known.
import { demangleRust } from './demangle';
import type { ElfFile } from './elf';

export interface SymbolEntry {
  readonly name: string;
  readonly address: bigint;
  /** 0 when the ELF does not record a size (assembly labels). */
  readonly size: bigint;
  readonly isFunction: boolean;
  /** The symbol's name in the ELF when `name` is its demangled form (Rust). */
  readonly mangled?: string;
}

export interface SymbolMatch {
  readonly symbol: SymbolEntry;
  readonly offset: bigint;
}

export class SymbolTable {
  private readonly sorted: SymbolEntry[];
  private readonly byName = new Map<string, SymbolEntry>();

  constructor(entries: readonly SymbolEntry[]) {
    // Mapping symbols ($x, $d) and empty names carry no meaning for a person reading a stack.
    const named = entries.filter((e) => e.name && !e.name.startsWith('$'));
    this.sorted = [...named].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const e of this.sorted) {
      for (const name of e.mangled ? [e.name, e.mangled] : [e.name]) {
        const prev = this.byName.get(name);
        if (!prev || (e.isFunction && !prev.isFunction)) this.byName.set(name, e);
      }
    }
  }

  static empty(): SymbolTable {
    return new SymbolTable([]);
  }

  /** The ELF's defined function, object and untyped symbols (absolute and undefined ones left out). */
  static fromElf(elf: ElfFile): SymbolTable {
    return new SymbolTable(
      elf
        .symbols()
        .filter(
          (s) =>
            s.shndx !== 0 &&
            s.shndx !== 0xfff1 &&
            (s.type === 'func' || s.type === 'notype' || s.type === 'object'),
        )
        .map((s) => {
          // Rust names read as the source writes them (`rust_opt::find`), in stacks, breakpoints
          // and the disassembly; the mangled name still finds the symbol.
          const d = demangleRust(s.name);
          const e = { name: d ?? s.name, address: s.value, size: s.size, isFunction: s.type === 'func' };
          return d ? { ...e, mangled: s.name } : e;
        }),
    );
  }

  /** A table from names and addresses alone (a snapshot's symbols: no sizes, no types). */
  static fromAddresses(entries: Iterable<[string, bigint]>): SymbolTable {
    return new SymbolTable(
      [...entries].map(([name, address]) => ({ name, address, size: 0n, isFunction: false })),
    );
  }

  /** Every symbol, by address (for a snapshot that must answer what the live session answers). */
  entries(): readonly SymbolEntry[] {
    return this.sorted;
  }

  get size(): number {
    return this.sorted.length;
  }

  lookup(name: string): SymbolEntry | undefined {
    return this.byName.get(name);
  }

  /** The symbol containing `address`: a sized symbol that covers it, else the nearest label below. */
  find(address: bigint): SymbolMatch | undefined {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.sorted[mid].address <= address) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    // Several names can share an address (`_start`, `__image_start`, `IMAGE_BASE`): prefer a
    // function, then a name that is not a linker-script marker.
    const better = (a: SymbolEntry, b: SymbolEntry | undefined): boolean =>
      !b ||
      a.address > b.address ||
      (a.address === b.address &&
        ((a.isFunction && !b.isFunction) ||
          (a.isFunction === b.isFunction && b.name.startsWith('__') && !a.name.startsWith('__'))));
    let sized: SymbolEntry | undefined;
    for (let i = best; i >= 0 && i > best - 32; i--) {
      const s = this.sorted[i];
      if (s.size > 0n && address - s.address < s.size && better(s, sized)) sized = s;
    }
    if (sized) return { symbol: sized, offset: address - sized.address };
    const at = this.sorted[best].address;
    let label: SymbolEntry | undefined;
    // Only an unsized label stretches to the next symbol; a sized one ends where its size says.
    for (let i = best; i >= 0 && this.sorted[i].address === at; i--) {
      if (this.sorted[i].size === 0n && better(this.sorted[i], label)) label = this.sorted[i];
    }
    if (!label || address - at >= 0x10000n) return undefined;
    return { symbol: label, offset: address - at };
  }

  /** `name+0x1c`, or undefined when no symbol covers the address. */
  describe(address: bigint): string | undefined {
    const m = this.find(address);
    if (!m) return undefined;
    return m.offset === 0n ? m.symbol.name : `${m.symbol.name}+0x${m.offset.toString(16)}`;
  }

  /** Names starting with `prefix` (for completions). */
  complete(prefix: string, limit = 50): string[] {
    const out: string[] = [];
    for (const name of this.byName.keys()) {
      if (name.startsWith(prefix)) out.push(name);
      if (out.length >= limit) break;
    }
    return out;
  }
}
