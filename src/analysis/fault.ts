// The fault a stop is about: ESR decoded, FAR and its walk, and pvmfw's verdict (src/pvmfw's
// faultVerdict, plus the states it cannot see from ESR alone: guard-mapped while stage 1 is still
// lazy, and already resolved). At the EL2 vector it is the guest's hypercall, decoded. The handler
// is the stop's generation's (remap at the seed, VALID set in place since late 2023) over its guard
// granule (4 KiB, or the hypervisor's 16 KiB: the granule's pages are checked and validated together).
import { decodeEsr } from '../aarch64/esr';
import type { PhysReader } from '../aarch64/reader';
import type { RegimeConfig } from '../aarch64/regime';
import { translate, type Translation } from '../aarch64/translate';
import { vectorAt } from '../aarch64/vectors';
import { GUARD_CALLS } from '../pvmfw/guardlog';
import type { PvmfwFlavour } from '../pvmfw/generation';
import { faultVerdict, predictAccess, type VerdictContext } from '../pvmfw/verdict';
import type { EsrInfo, FaultInfo, FaultVerdict } from '../shared/protocol';
import { isGuardMappedPending, pageStateAt, type GuardState } from './guardState';
import type { ProgramSymbols } from './input';
import type { Profile } from '../profiles/types';
import { hex, walkSteps } from './pte';
import { formatAddress } from '../shared/format';
import { stepMeaning } from './translation';

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
  granuleWalks: readonly Translation[] = [],
): FaultVerdict {
  const flavour = guard?.firmware;
  const granule = BigInt(flavour?.granule ?? 4096);
  const page = far & ~(granule > 4096n ? granule - 1n : 0xfffn);
  // After the fault stop (stepping the handler, or later), the verdict follows what the handler did
  // to that page instead of being predicted again against tables it has already changed.
  const followed = atFault ? undefined : followedVerdict(esr, far, page, t, guard);
  if (followed) return followed;
  const ctx: VerdictContext = { ...(flavour ? { flavour } : {}), granuleWalks };
  const v = faultVerdict(esr, far, t, lazyBit, ctx);
  if (v.kind !== 'lazyMmio') return { kind: v.kind, summary: v.summary };
  const ipa = formatAddress(page);
  if (t.pa !== undefined)
    return {
      kind: 'lazyMmio',
      summary: `resolved: ${ipa} is mapped now (stage-1 entry valid)`,
      mapIpa: hex(page),
    };
  const pending = guard !== undefined && isGuardMappedPending(guard, page);
  const what = granule > 4096n ? `the ${granule / 1024n} KiB granule ${ipa}` : ipa;
  const make = flavour?.handler === 'validInPlace' ? 'set VALID in place on' : 'make';
  return {
    kind: 'lazyMmio',
    summary: pending
      ? `lazy MMIO: ${what} is MMIO_GUARD_MAPped; handle_mmio_fault still has to ${make} the stage-1 entry${granule > 4096n ? 's' : ''}${make === 'make' ? ' valid' : ''}`
      : `lazy MMIO: handle_mmio_fault will MMIO_GUARD_MAP ${what}${flavour?.handler === 'validInPlace' ? ', then set VALID in place' : ''}`,
    mapIpa: hex(page),
    ...(v.splitLevel !== undefined ? { splitLevel: v.splitLevel } : {}),
    detail: v.summary,
  };
}

const TRANSLATION_FAULT = (esr: bigint) => (esr & ~0x143n) === 0x9600_0004n;

/** A lazy-MMIO fault the handler has served or is serving, said as such. */
function followedVerdict(
  esr: bigint,
  far: bigint,
  page: bigint,
  t: Translation,
  guard: GuardState | undefined,
): FaultVerdict | undefined {
  if (!TRANSLATION_FAULT(esr)) return undefined;
  const flavour: PvmfwFlavour | undefined = guard?.firmware;
  const granule = flavour?.granule ?? 4096;
  const ipa = formatAddress(page);
  const farPage = far & ~0xfffn;
  const state = guard ? pageStateAt(guard, farPage) : undefined;
  const mapIpa = hex(page);
  // The granule's 4 KiB pages as the guard state sees them (one page at a 4 KiB granule).
  const states = Array.from({ length: granule / 4096 }, (_, k) =>
    guard ? pageStateAt(guard, page + BigInt(k * 4096)) : undefined,
  );
  const what = granule > 4096 ? `the ${granule / 1024} KiB granule ${ipa}` : ipa;
  const inPlace = flavour?.handler === 'validInPlace';
  if (t.pa !== undefined) {
    if (state === 'validUnguarded')
      return {
        kind: 'externalAbort',
        summary: `handled, but ${ipa} is valid at stage 1 without MMIO_GUARD_MAP: the retried access gets a synchronous external abort`,
        mapIpa,
      };
    const pending = states.filter((s) => s === 'guardMappedPending').length;
    if (pending > 0)
      return {
        kind: 'lazyMmio',
        summary: `handler running: ${what} MMIO_GUARD_MAPped, ${states.length - pending} of its ${states.length} stage-1 pages valid so far${inPlace ? ' (VALID set in place)' : ''}`,
        mapIpa,
      };
    return {
      // Served: no longer a fault waiting for its handler (the panel styles it as done).
      kind: 'handled',
      summary:
        state === 'guardMapped'
          ? `handled: ${what} is MMIO_GUARD_MAPped and valid at stage 1${inPlace ? ' (VALID set in place)' : ''}`
          : `handled: ${ipa} is valid at stage 1`,
      mapIpa,
    };
  }
  if (state === 'guardMappedPending')
    return {
      kind: 'lazyMmio',
      summary: inPlace
        ? `handler running: MMIO_GUARD_MAP of ${what} done, VALID not yet set in place on its stage-1 entr${granule > 4096 ? 'ies' : 'y'}`
        : `handler running: MMIO_GUARD_MAP of ${ipa} done, its stage-1 entry still lazy`,
      mapIpa,
    };
  return undefined;
}

/** The verdict an access to the translated address would get now (lazy MMIO and so on). */
export function verdictForAccess(
  t: Translation,
  lazyBit: number,
  flavour?: PvmfwFlavour,
): FaultVerdict | undefined {
  const v = predictAccess(t, false, lazyBit, flavour ? { flavour } : {});
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
  /** Stage 2 of the stop and its profile, for an abort taken to EL2 (the IPA's walk and meaning). */
  readonly stage2?: { readonly config: RegimeConfig; readonly profile: Profile };
}

/**
 * A guest's (or pKVM host's) abort taken to EL2 from a lower EL: ESR_EL2 EC 0x20 (instruction) or
 * 0x24 (data). HPFAR_EL2.FIPA (bits [43:4]) holds IPA[51:12] for stage-2 faults and S1PTW; the page
 * offset is FAR_EL2's. Undefined for other exceptions, or without HPFAR_EL2.
 */
async function stage2Abort(input: FaultInput, esr: bigint): Promise<FaultInfo['stage2']> {
  const r = input.registers;
  const e = decodeEsr(esr);
  if ((e.ec !== 0x20 && e.ec !== 0x24) || !e.abort || r.HPFAR_EL2 === undefined || !input.stage2)
    return undefined;
  const ipa = (((r.HPFAR_EL2 >> 4n) & ((1n << 40n) - 1n)) << 12n) | ((r.FAR_EL2 ?? 0n) & 0xfffn);
  const t = await translate(input.stage2.config, input.reader, ipa);
  const meaning = stepMeaning(t, input.stage2.config, input.stage2.profile);
  return {
    ipa: hex(ipa),
    s1ptw: e.abort.s1ptw,
    walk: walkSteps(t.steps, undefined),
    ...(t.fault ? { fault: t.fault.message } : {}),
    ...(meaning ? { meaning } : {}),
  };
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
    const stage2 = await stage2Abort(input, esr);
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
      ...(stage2 ? { stage2 } : {}),
      verdict: stage2
        ? {
            kind: 'other',
            summary: `${decodeEsr(esr).abort?.fsc.name ?? decodeEsr(esr).ecName} at IPA ${stage2.ipa}${stage2.s1ptw ? ' (S1PTW: fetching a stage-1 table)' : ''}, taken to EL2${stage2.meaning ? `: ${stage2.meaning}` : ''}`,
          }
        : ec === 0x16 && name
          ? {
              kind: 'other',
              summary: `${name}${name.endsWith('MAP') ? `(${formatAddress(r.x1 ?? 0n)})` : ''} hypercall from EL1`,
            }
          : { kind: 'other', summary: `${decodeEsr(esr).ecName} taken to EL2` },
    };
  }
  const esr = r.ESR_EL1;
  if (esr === undefined || esr === 0n) return undefined;
  const far = r.FAR_EL1 ?? 0n;
  const elr = r.ELR_EL1 ?? 0n;
  const t = await translate(input.el1, input.reader, far);
  // handle_mmio_fault checks every 4 KiB page of the guard granule, not only FAR's.
  const granule = BigInt(input.guard?.firmware?.granule ?? 4096);
  const base = far & ~(granule - 1n);
  const others: Translation[] = [];
  for (let p = base; granule > 4096n && p < base + granule; p += 4096n)
    if (p !== (far & ~0xfffn)) others.push(await translate(input.el1, input.reader, p));
  const v1 = vectorAt(pc, r.VBAR_EL1);
  const sym = describe(elr);
  return {
    ...(v1 ? { vector: v1 } : {}),
    esr: esrInfo(esr),
    far: hex(far),
    elr: hex(elr),
    ...(sym ? { elrSymbol: sym } : {}),
    walk: walkSteps(t.steps, input.lazyBit),
    verdict: verdictForFault(esr, far, t, input.lazyBit, input.guard, input.atFault, others),
  };
}
