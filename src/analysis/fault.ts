// The fault a stop is about: ESR decoded, FAR and its walk, and pvmfw's verdict (src/pvmfw's
// faultVerdict, plus the states it cannot see from ESR alone: guard-mapped while stage 1 is still
// lazy, and already resolved). At the EL2 vector it is the guest's hypercall, decoded.
import { decodeEsr } from '../aarch64/esr';
import type { PhysReader } from '../aarch64/reader';
import type { RegimeConfig } from '../aarch64/regime';
import { translate, type Translation } from '../aarch64/translate';
import { vectorAt } from '../aarch64/vectors';
import { GUARD_CALLS } from '../pvmfw/guardlog';
import { faultVerdict, predictAccess } from '../pvmfw/verdict';
import type { EsrInfo, FaultInfo, FaultVerdict } from '../shared/protocol';
import { isGuardMappedPending, pageStateAt, type GuardState } from './guardState';
import type { ProgramSymbols } from './input';
import { hex, walkSteps } from './pte';

export function esrInfo(raw: bigint): EsrInfo {
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
export function verdictForFault(
  esr: bigint,
  far: bigint,
  t: Translation,
  lazyBit: number,
  guard: GuardState | undefined,
  atFault = true,
): FaultVerdict {
  const page = far & ~0xfffn;
  // After the fault stop (stepping the handler, or later), the verdict follows what the handler did
  // to that page instead of being predicted again against tables it has already changed.
  const followed = atFault ? undefined : followedVerdict(esr, page, t, guard);
  if (followed) return followed;
  const v = faultVerdict(esr, far, t, lazyBit);
  if (v.kind !== 'lazyMmio') return { kind: v.kind, summary: v.summary };
  const ipa = `0x${page.toString(16).padStart(8, '0')}`;
  if (t.pa !== undefined)
    return {
      kind: 'lazyMmio',
      summary: `resolved: ${ipa} is mapped now (stage-1 entry valid)`,
      mapIpa: hex(page),
    };
  const pending = guard !== undefined && isGuardMappedPending(guard, page);
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

const TRANSLATION_FAULT = (esr: bigint) => (esr & ~0x143n) === 0x9600_0004n;

/** A lazy-MMIO fault the handler has served or is serving, said as such. */
function followedVerdict(
  esr: bigint,
  page: bigint,
  t: Translation,
  guard: GuardState | undefined,
): FaultVerdict | undefined {
  if (!TRANSLATION_FAULT(esr)) return undefined;
  const ipa = `0x${page.toString(16).padStart(8, '0')}`;
  const state = guard ? pageStateAt(guard, page) : undefined;
  const mapIpa = hex(page);
  if (t.pa !== undefined) {
    if (state === 'validUnguarded')
      return {
        kind: 'externalAbort',
        summary: `handled, but ${ipa} is valid at stage 1 without MMIO_GUARD_MAP: the retried access gets a synchronous external abort`,
        mapIpa,
      };
    return {
      kind: 'lazyMmio',
      summary:
        state === 'guardMapped'
          ? `handled: ${ipa} is MMIO_GUARD_MAPped and valid at stage 1`
          : `handled: ${ipa} is valid at stage 1`,
      mapIpa,
    };
  }
  if (state === 'guardMappedPending')
    return {
      kind: 'lazyMmio',
      summary: `handler running: MMIO_GUARD_MAP of ${ipa} done, its stage-1 entry still lazy`,
      mapIpa,
    };
  return undefined;
}

/** The verdict an access to the translated address would get now (lazy MMIO and so on). */
export function verdictForAccess(t: Translation, lazyBit: number): FaultVerdict | undefined {
  const v = predictAccess(t, false, lazyBit);
  if (!v) return undefined;
  return {
    kind: v.kind,
    summary: v.summary,
    ...(v.mapIpa !== undefined ? { mapIpa: hex(v.mapIpa) } : {}),
    ...(v.splitLevel !== undefined ? { splitLevel: v.splitLevel } : {}),
  };
}

export interface FaultInput {
  readonly registers: Readonly<Record<string, bigint | undefined>>;
  readonly reader: PhysReader;
  readonly symbols?: ProgramSymbols;
  readonly lazyBit: number;
  /** The EL1&0 stage-1 regime of the stop (FAR is translated through it). */
  readonly el1: RegimeConfig;
  readonly guard: GuardState | undefined;
  /** Whether the stop is the fault itself (else the verdict follows the handler's progress). */
  readonly atFault: boolean;
}

/** The fault of a stop: at the EL2 vector the guest's hypercall, else ESR_EL1/FAR_EL1 and the verdict. */
export async function faultInfo(input: FaultInput): Promise<FaultInfo | undefined> {
  const r = input.registers;
  const describe = (a: bigint) => input.symbols?.describe(a);
  const pc = r.pc ?? 0n;
  const v2 = vectorAt(pc, r.VBAR_EL2);
  if (v2) {
    const esr = r.ESR_EL2 ?? 0n;
    const ec = Number((esr >> 26n) & 0x3fn);
    const elr = r.ELR_EL2 ?? 0n;
    const fid = Number((r.x0 ?? 0n) & 0xffffffffn);
    const name = GUARD_CALLS[fid];
    const sym = describe(elr);
    return {
      vector: `${v2} (EL2)`,
      esr: esrInfo(esr),
      far: hex(r.FAR_EL2 ?? 0n),
      elr: hex(elr),
      ...(sym ? { elrSymbol: sym } : {}),
      walk: [],
      verdict:
        ec === 0x16 && name
          ? {
              kind: 'other',
              summary: `${name}${name.endsWith('MAP') ? `(${hex(r.x1 ?? 0n)})` : ''} hypercall from EL1`,
            }
          : { kind: 'other', summary: `${decodeEsr(esr).ecName} taken to EL2` },
    };
  }
  const esr = r.ESR_EL1;
  if (esr === undefined || esr === 0n) return undefined;
  const far = r.FAR_EL1 ?? 0n;
  const elr = r.ELR_EL1 ?? 0n;
  const t = await translate(input.el1, input.reader, far);
  const v1 = vectorAt(pc, r.VBAR_EL1);
  const sym = describe(elr);
  return {
    ...(v1 ? { vector: v1 } : {}),
    esr: esrInfo(esr),
    far: hex(far),
    elr: hex(elr),
    ...(sym ? { elrSymbol: sym } : {}),
    walk: walkSteps(t.steps, input.lazyBit),
    verdict: verdictForFault(esr, far, t, input.lazyBit, input.guard, input.atFault),
  };
}
