// `watch-pte ADDRESS` in the Debug Console (and Page Tables' "Watch Entry Writes"): "who writes this
// PTE?". A write watchpoint on the descriptor of the entry that maps ADDRESS, set through a virtual
// address that maps the descriptor's physical address in the current regime (QEMU watches virtual
// addresses); at the stop on the store, the old and the new descriptor decoded side by side. QEMU
// stops before the store completes, so the new value is the stored register's, read from the
// store instruction at PC.
import { decodeDescriptor } from '../aarch64/descriptor';
import { changedFields, fieldChangeText, hex, pteKind } from '../analysis';
import { formatAddress, formatDescriptor } from '../shared/format';
import type { TargetPort } from '../target/port';
import type { StopContext } from '../target/stopContext';
import type { Watchpoint } from '../target/breakpoints';
import type { MmuModel } from './mmu';
import { vaBitsOf } from './mmuConsole';

/** What watch-pte needs of the session's data breakpoints: one stub set shared with the client's. */
export interface PteWatchHost {
  /** Replaces the console's watchpoints (the client's data breakpoints stay); true per one set. */
  setPteWatchpoints(points: readonly Watchpoint[]): Promise<boolean[]>;
}

export interface PteWatch {
  /** The address the user asked about, and the entry that maps it. */
  address: bigint;
  regime: string;
  level: number;
  index: number;
  /** Where the descriptor is: its PA, and the VA the watchpoint is set on. */
  descriptorPa: bigint;
  watchVa: bigint;
  /** The descriptor when the watch was set. */
  descriptor: bigint;
  /** The width the regime's VAs are written in (src/shared/format). */
  vaBits?: number;
}

const DESCRIPTOR_BYTES = 8;

const entryName = (w: PteWatch) =>
  `${w.regime} L${w.level}[${w.index}] of ${formatAddress(w.address, w.vaBits)}`;
const hex16 = formatDescriptor;

export class PteWatches {
  private readonly watches = new Map<bigint, PteWatch>();

  constructor(
    private readonly mmu: MmuModel,
    private readonly host: () => PteWatchHost,
  ) {}

  list(): string {
    if (!this.watches.size) return 'no PTE watches (watch-pte ADDRESS sets one)';
    return [...this.watches.values()]
      .map(
        (w) =>
          `${entryName(w)}: descriptor at PA ${formatAddress(w.descriptorPa)}, watched at VA ${formatAddress(w.watchVa, w.vaBits)}`,
      )
      .join('\n');
  }

  async clear(): Promise<string> {
    const n = this.watches.size;
    this.watches.clear();
    await this.host().setPteWatchpoints([]);
    return `${n} PTE watch${n === 1 ? '' : 'es'} removed`;
  }

  /**
   * Watches the descriptor of the entry that maps `address`: the leaf, or the deepest entry there, or
   * the walk's entry of `level` (a table entry, from the tree).
   */
  async add(address: bigint, level?: number): Promise<string> {
    const r = await this.mmu.translateRequest({ address: hex(address) });
    const k = level === undefined ? r.walk.length - 1 : r.walk.findIndex((s) => s.level === level);
    const step = r.walk[k];
    if (!step || step.descriptor === undefined)
      throw new Error(
        `no translation table entry ${level === undefined ? '' : `of level ${level} `}maps ${formatAddress(address)} (${r.fault ?? 'no walk'})`,
      );
    // Under stage 2 the walk's descriptor addresses are IPAs: the watchpoint needs the PA.
    const pa = BigInt(r.walkPhysical?.[k] ?? step.descriptorAddress);
    const watchVa = await this.vaOf(pa);
    const vaBits = await vaBitsOf(this.mmu, r.regime);
    const w: PteWatch = {
      address,
      regime: r.regime,
      level: step.level,
      index: step.index,
      descriptorPa: pa,
      watchVa,
      descriptor: BigInt(step.descriptor),
      ...(vaBits !== undefined ? { vaBits } : {}),
    };
    const next = new Map(this.watches).set(watchVa, w);
    const ok = await this.host().setPteWatchpoints([...next.keys()].map(toWatchpoint));
    if (ok[ok.length - 1] === false)
      throw new Error(`the gdbstub refused a write watchpoint at ${formatAddress(watchVa)}`);
    this.watches.set(watchVa, w);
    const how = watchVa === pa ? 'identity-mapped' : `mapped at VA ${formatAddress(watchVa, vaBits)}`;
    return `watching ${entryName(w)}: descriptor ${hex16(w.descriptor)} at PA ${formatAddress(pa)} (${how}); the next store to it stops the target`;
  }

  /**
   * A virtual address that maps `pa` in the current regime, for the watchpoint: the identity (pvmfw
   * maps its tables one to one), else none; the error says so.
   */
  private async vaOf(pa: bigint): Promise<bigint> {
    const t = await this.mmu.translateRequest({ address: hex(pa) });
    if (t.ok && t.outputAddress !== undefined && BigInt(t.outputAddress) === pa) return pa;
    throw new Error(
      `no virtual address of ${t.regime} maps the descriptor's PA ${formatAddress(pa)} one to one (${t.ok ? `${formatAddress(pa)} maps to ${t.outputAddress ?? '?'}` : (t.fault ?? 'unmapped')}): QEMU watches virtual addresses, so this descriptor cannot be watched from here`,
    );
  }

  /** The watch a data-breakpoint stop at `address` belongs to. */
  watchAt(address: bigint): PteWatch | undefined {
    for (const [va, w] of this.watches)
      if (address >= va && address < va + BigInt(DESCRIPTOR_BYTES)) return w;
    return undefined;
  }

  /**
   * At a stop on a watched descriptor: the old value (still in memory: QEMU stops before the store),
   * the new one (the store's register), both decoded, and what changed, field by field.
   */
  async describeHit(
    w: PteWatch,
    ctx: StopContext,
    port: TargetPort,
    pc: bigint,
    symbol: string | undefined,
  ): Promise<{ description: string; detail: string }> {
    const old = readU64(await port.readMemory(w.watchVa, DESCRIPTOR_BYTES));
    const store = await storedValue(ctx, port, pc, w.watchVa);
    const p = await this.mmu.current();
    const fmt = p.el1.config.roots.find((r) => r.base === w.regime)?.fmt;
    const kind = (v: bigint) => (fmt ? pteKind(decodeDescriptor(v, w.level, fmt), this.mmu.lazyBit) : '?');
    const at = `${formatAddress(pc)}${symbol ? ` <${symbol}>` : ''}`;
    const lines = [
      `PTE write: ${entryName(w)}, descriptor at PA ${formatAddress(w.descriptorPa)}, by the store at ${at}${store.insn ? ` (${store.insn})` : ''}`,
      `  old ${hex16(old)}  ${kind(old)}`,
    ];
    if (store.value === undefined) lines.push(`  new ?  (${store.why}; step once to see it)`);
    else {
      lines.push(`  new ${hex16(store.value)}  ${kind(store.value)}`);
      const fields =
        fmt && store.value !== old ? changedFields(old, store.value, w.level, fmt, this.mmu.lazyBit) : [];
      lines.push(
        `  changed: ${fields.map(fieldChangeText).join(', ') || 'nothing (the same value is stored again)'}`,
      );
    }
    const short =
      store.value === undefined
        ? `PTE write: ${entryName(w)}`
        : `PTE write: ${entryName(w)}: ${kind(old)} → ${kind(store.value)}`;
    return { description: short, detail: lines.join('\n') };
  }
}

const toWatchpoint = (va: bigint): Watchpoint => ({ type: 2, address: va, length: DESCRIPTOR_BYTES });

function readU64(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = Math.min(b.length, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  return v;
}

/**
 * The 64-bit value the store at `pc` writes to `target`: STR/STUR/STLR Xt (`xzr` is 0) or STP's
 * register whose slot is `target`. Anything else (a 32-bit or byte store, an atomic) is reported
 * as not decoded, with the instruction named.
 */
async function storedValue(
  ctx: StopContext,
  port: TargetPort,
  pc: bigint,
  target: bigint,
): Promise<{ value?: bigint; insn?: string; why?: string }> {
  const { sharedDisassembler } = await import('../disasm');
  const insn = (await sharedDisassembler()).disassemble(await port.readMemory(pc, 4), pc, 1)[0];
  if (!insn?.valid) return { why: 'the instruction at PC does not decode' };
  const text = `${insn.mnemonic} ${insn.operands}`;
  const m = /^(str|stur|stlr|stp|stnp)$/.exec(insn.mnemonic);
  const regs =
    /^((?:[xw](?:\d+|zr))(?:,\s*[xw](?:\d+|zr))?),\s*\[(\w+)(?:,\s*#(-?(?:0x)?[0-9a-f]+))?\](!?)(?:,\s*#(-?(?:0x)?[0-9a-f]+))?$/i.exec(
      insn.operands,
    );
  if (!m || !regs) return { insn: text, why: `${insn.mnemonic} is not a 64-bit register store this decodes` };
  const stored = regs[1].split(/,\s*/);
  if (stored.some((r) => !r.startsWith('x'))) return { insn: text, why: 'not a 64-bit store' };
  const base = await ctx.reg(regs[2] === 'sp' ? 'sp' : regs[2]);
  if (base === undefined) return { insn: text, why: `register ${regs[2]} is unavailable` };
  const num = (s: string | undefined): bigint => {
    if (s === undefined) return 0n;
    const v = BigInt(s.replace(/^-/, ''));
    return s.startsWith('-') ? -v : v;
  };
  // Post-index ([xN], #imm) stores at xN; offset and pre-index add the immediate.
  const address = BigInt.asUintN(64, base + (regs[5] !== undefined ? 0n : num(regs[3])));
  const k = stored.findIndex((_r, i) => address + BigInt(i * 8) === target);
  if (k < 0)
    return {
      insn: text,
      why: `it stores at ${formatAddress(address)}, not at the watched ${formatAddress(target)}`,
    };
  const reg = stored[k];
  if (reg === 'xzr') return { value: 0n, insn: text };
  const value = await ctx.reg(reg);
  return value === undefined ? { insn: text, why: `register ${reg} is unavailable` } : { value, insn: text };
}
