// The translation of one address as every front end reports it: through stage 1 and, where stage 2
// applies to EL1&0 (HCR_EL2.VM = 1), through stage 2, with the combined memory type and permissions.
// The adapter's translate request, the Debug Console and the CLI's `translate` all call this.
import { formatPerms } from '../aarch64/leaf';
import type { PhysReader } from '../aarch64/reader';
import { regimeFromRegisters, type RegimeConfig, type Registers } from '../aarch64/regime';
import type { Access, Translation } from '../aarch64/translate';
import { stage2For, translateTwoStage, type TwoStageTranslation } from '../aarch64/twoStage';
import type { TranslateResponseBody } from '../shared/protocol';
import { entryBits } from '../profiles/entry';
import type { Profile } from '../profiles/types';
import { hex, walkSteps } from './pte';

/** VA -> (IPA ->) PA of an EL1&0 address at a stop with these registers, over physical memory. */
export function translateEl1(
  registers: Registers,
  reader: PhysReader,
  va: bigint,
  access: Access = {},
): Promise<TwoStageTranslation> {
  return translateTwoStage(regimeFromRegisters('el1', registers), stage2For(registers), reader, va, access);
}

type Stage2Body = NonNullable<TranslateResponseBody['stage2']>;

/** The profile's meaning of the last descriptor a walk read (a zero entry included: pKVM's idmap). */
export function stepMeaning(t: Translation, c: RegimeConfig, profile: Profile): string | undefined {
  const last = t.steps[t.steps.length - 1];
  if (!last || last.desc === undefined || last.decoded?.type === 'table') return undefined;
  const root = c.roots.find((r) => r.base === t.base);
  if (!root) return undefined;
  return profile.meaning(
    entryBits({
      raw: last.desc,
      level: last.level,
      fmt: root.fmt,
      base: root.base,
      mair: c.mair,
      fwb: c.fwb,
    }),
  )?.label;
}

/** A stage-2 walk in the protocol's words: the IPA, the walk, where it ends or why it faults. */
export function stage2Body(
  t2: Translation,
  lazyBit: number | undefined,
  s1ptw?: { level: number; tableIpa: bigint },
  s2?: { readonly profile: Profile; readonly config: RegimeConfig },
): Stage2Body {
  const meaning = s2 && stepMeaning(t2, s2.config, s2.profile);
  return {
    ...(meaning ? { meaning } : {}),
    ok: t2.pa !== undefined && !t2.fault,
    ipa: hex(t2.va),
    walk: walkSteps(t2.steps, lazyBit),
    ...(t2.pa !== undefined ? { outputAddress: hex(t2.pa) } : {}),
    ...(t2.fault ? { fault: t2.fault.message, faultKind: t2.fault.kind, level: t2.fault.level } : {}),
    ...(s1ptw ? { s1ptw: { level: s1ptw.level, tableIpa: hex(s1ptw.tableIpa) } } : {}),
    ...(t2.memType && !t2.leafInvalid ? { memoryType: t2.memType.name } : {}),
    ...(t2.perms !== undefined && !t2.leafInvalid ? { permissions: formatPerms('stage2', t2.perms) } : {}),
  };
}

/**
 * The two-stage part of a translate response: the IPA, the final PA as `outputAddress`, the
 * stage-2 walk, the combined attributes and the fault of whichever stage refused the access.
 */
export function twoStageBody(
  x: TwoStageTranslation,
  lazyBit: number | undefined,
  s2?: { readonly profile: Profile; readonly config: RegimeConfig },
): Pick<
  TranslateResponseBody,
  'ok' | 'ipa' | 'outputAddress' | 'stage2' | 'combined' | 'fault' | 'faultStage' | 'walkPhysical'
> {
  const s1 = x.stage1;
  const out: ReturnType<typeof twoStageBody> = { ok: x.pa !== undefined && !x.fault };
  if (!x.twoStage) {
    // Single stage: the output address is the PA (or the PA an invalid leaf names).
    const pa = s1.pa ?? s1.shadowPa;
    if (pa !== undefined) out.outputAddress = hex(pa);
  } else {
    if (x.ipa !== undefined) out.ipa = hex(x.ipa);
    const pa = x.pa ?? x.ipaPa;
    if (pa !== undefined) out.outputAddress = hex(pa);
    if (x.stage2) out.stage2 = stage2Body(x.stage2, lazyBit, x.fault?.s1ptw, s2);
    out.walkPhysical = s1.steps.map((_s, k) => {
      const w = x.tableWalks?.[k];
      return w?.pa !== undefined ? hex(w.pa) : null;
    });
  }
  if (x.memType && x.perms !== undefined)
    out.combined = { memoryType: x.memType.name, permissions: formatPerms('el1&0', x.perms) };
  if (x.fault) {
    out.fault = x.fault.message;
    out.faultStage = x.fault.stage;
  }
  return out;
}
