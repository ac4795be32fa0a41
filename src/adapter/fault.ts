// The fault a stop is about: ESR decoded, FAR and its walk, and pvmfw's verdict (src/pvmfw's
// faultVerdict, plus the states it cannot see from ESR alone: guard-mapped while stage 1 is still
// lazy, and already resolved). At the EL2 vector it is the guest's hypercall, decoded.
import { decodeEsr } from '../aarch64/esr';
import type { Translation } from '../aarch64/translate';
import { faultVerdict, predictAccess } from '../pvmfw/verdict';
import type { EsrInfo, FaultInfo, FaultVerdict } from '../shared/protocol';
import { GUARD_CALLS } from './exceptions';
import type { GuardModel } from './guard';
import type { MmuModel, MmuState } from './mmu';
import { hex, walkSteps } from './pte';
import { vectorAt } from './stack';
import type { StopContext } from './stopContext';
import type { SymbolTable } from './symbols';

export class Faults {
  constructor(
    private readonly mmu: MmuModel,
    private readonly guard: GuardModel,
    private readonly symbols: () => SymbolTable,
  ) {}

  private esrInfo(raw: bigint): EsrInfo {
    const e = decodeEsr(raw);
    return {
      raw: hex(raw),
      ec: e.ec,
      ecName: e.ecName,
      il: e.il,
      iss: hex(e.iss),
      ...(e.abort ? { fsc: e.abort.fsc.code, fscName: e.abort.fsc.name, wnr: e.abort.wnr } : {}),
      fields: e.fields,
    };
  }

  /**
   * pvmfw's reading of a data abort (src/pvmfw's faultVerdict: sync_exception_current's masks, then
   * handle_mmio_fault's checks along the walk), plus the two states it cannot see from ESR alone:
   * the page already MMIO_GUARD_MAPped while stage 1 is still lazy, and the fault already resolved.
   */
  verdictForFault(esr: bigint, far: bigint, t: Translation): FaultVerdict {
    const page = far & ~0xfffn;
    const v = faultVerdict(esr, far, t, this.mmu.lazyBit);
    if (v.kind !== 'lazyMmio') return { kind: v.kind, summary: v.summary };
    const ipa = `0x${page.toString(16).padStart(8, '0')}`;
    if (t.pa !== undefined)
      return {
        kind: 'lazyMmio',
        summary: `resolved: ${ipa} is mapped now (stage-1 entry valid)`,
        mapIpa: hex(page),
      };
    const pending = this.guard.isPending(page);
    return {
      kind: 'lazyMmio',
      summary: pending
        ? `lazy MMIO: ${ipa} is MMIO_GUARD_MAPped; handle_mmio_fault still has to make the stage-1 entry valid`
        : `lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP ${ipa}`,
      mapIpa: hex(page),
      ...(v.splitLevel !== undefined ? { splitLevel: v.splitLevel } : {}),
      detail: v.summary,
    };
  }

  /** The verdict an access to the translated address would get now (lazy MMIO and so on). */
  verdictForAccess(st: MmuState, t: Translation): FaultVerdict | undefined {
    void st;
    const v = predictAccess(t, false, this.mmu.lazyBit);
    if (!v) return undefined;
    return {
      kind: v.kind,
      summary: v.summary,
      ...(v.mapIpa !== undefined ? { mapIpa: hex(v.mapIpa) } : {}),
      ...(v.splitLevel !== undefined ? { splitLevel: v.splitLevel } : {}),
    };
  }

  async faultInfo(ctx: StopContext, st: MmuState): Promise<FaultInfo | undefined> {
    const r = await ctx.regs([
      'pc',
      'VBAR_EL1',
      'VBAR_EL2',
      'ESR_EL1',
      'FAR_EL1',
      'ELR_EL1',
      'ESR_EL2',
      'FAR_EL2',
      'ELR_EL2',
      'x0',
      'x1',
    ]);
    const pc = r.get('pc') ?? 0n;
    const v2 = vectorAt(pc, r.get('VBAR_EL2'));
    if (v2) {
      const esr = r.get('ESR_EL2') ?? 0n;
      const ec = Number((esr >> 26n) & 0x3fn);
      const elr = r.get('ELR_EL2') ?? 0n;
      const fid = Number((r.get('x0') ?? 0n) & 0xffffffffn);
      const name = GUARD_CALLS[fid];
      return {
        vector: `${v2} (EL2)`,
        esr: this.esrInfo(esr),
        far: hex(r.get('FAR_EL2') ?? 0n),
        elr: hex(elr),
        ...(this.symbols().describe(elr) ? { elrSymbol: this.symbols().describe(elr) } : {}),
        walk: [],
        verdict:
          ec === 0x16 && name
            ? {
                kind: 'other',
                summary: `${name}${name.endsWith('MAP') ? `(${hex(r.get('x1') ?? 0n)})` : ''} hypercall from EL1`,
              }
            : { kind: 'other', summary: `${decodeEsr(esr).ecName} taken to EL2` },
      };
    }
    const esr = r.get('ESR_EL1');
    if (esr === undefined || esr === 0n) return undefined;
    const far = r.get('FAR_EL1') ?? 0n;
    const elr = r.get('ELR_EL1') ?? 0n;
    const { t } = await this.mmu.translateRaw(st, far, far >> 63n ? 'TTBR1_EL1' : 'TTBR0_EL1');
    const v1 = vectorAt(pc, r.get('VBAR_EL1'));
    return {
      ...(v1 ? { vector: v1 } : {}),
      esr: this.esrInfo(esr),
      far: hex(far),
      elr: hex(elr),
      ...(this.symbols().describe(elr) ? { elrSymbol: this.symbols().describe(elr) } : {}),
      walk: walkSteps(t.steps, this.mmu.lazyBit),
      verdict: this.verdictForFault(esr, far, t),
    };
  }
}
