// Which profile applies to each regime of a stop: chosen from the evidence (the program's symbols,
// the translation registers) and said with it, or set by the user. A Linux kernel or pKVM walked with
// the automatic choice gets none of pvmfw's rules; the demo firmware (and pvmfw) keeps all of them.
import { regimeFromRegisters, type Registers } from '../aarch64/regime';
import { linuxProfile } from './linux';
import { pkvmHostS2Profile, pkvmHypProfile } from './pkvm';
import { noneProfile, pvmfwMeaning, pvmfwProfile } from './pvmfw';
import {
  PROFILE_IDS,
  type Profile,
  type ProfileChoice,
  type ProfileId,
  type ProfileRegime,
  type RegimeProfiles,
} from './types';

/** The profiles each regime may take ('none' fits all). */
const FITS: Readonly<Record<ProfileRegime, readonly ProfileId[]>> = {
  el1: ['pvmfw', 'linux', 'none'],
  el2: ['pkvm-hyp', 'none'],
  stage2: ['pvmfw', 'pkvm-host-s2', 'none'],
};

/** A user's choice: `auto`, one profile, `pkvm` (all three pKVM regimes), or `el1=linux,stage2=none`. */
export type ProfileOverride = Partial<Record<ProfileRegime, ProfileId>>;

export const PROFILE_SYNTAX =
  "auto | pvmfw | linux | pkvm | none | a list like 'el1=linux,el2=pkvm-hyp,stage2=pkvm-host-s2'";

/** Parses a profile setting; throws a sentence naming what is wrong. */
export function parseProfileOverride(text: string | undefined): ProfileOverride {
  const t = (text ?? '').trim();
  if (t === '' || t === 'auto') return {};
  if (t === 'pkvm') return { el1: 'linux', el2: 'pkvm-hyp', stage2: 'pkvm-host-s2' };
  if (t === 'none') return { el1: 'none', el2: 'none', stage2: 'none' };
  if (!t.includes('=')) {
    const id = t as ProfileId;
    if (!PROFILE_IDS.includes(id)) throw new Error(`unknown profile '${t}': expected ${PROFILE_SYNTAX}`);
    const regime = (Object.keys(FITS) as ProfileRegime[]).find((r) => r !== 'stage2' && FITS[r].includes(id));
    if (!regime) return { stage2: id };
    return { [regime]: id };
  }
  const out: ProfileOverride = {};
  for (const part of t.split(',')) {
    const [r, p] = part.split('=').map((s) => s.trim());
    if (r !== 'el1' && r !== 'el2' && r !== 'stage2')
      throw new Error(`'${part}': the regime must be el1, el2 or stage2 (${PROFILE_SYNTAX})`);
    if (p !== 'auto') {
      if (!FITS[r].includes(p as ProfileId))
        throw new Error(`'${part}': the ${r} regime takes ${FITS[r].join(', ')} or auto`);
      out[r] = p as ProfileId;
    }
  }
  return out;
}

/** What the automatic choice looks at. */
export interface ProfileEvidence {
  readonly registers: Registers;
  /** Address of a program symbol, when a program is known. */
  readonly symbol?: (name: string) => bigint | undefined;
  /** The guard-log symbol pvmfw's hypervisor side fills (the demo's EL2 stub). */
  readonly guardLogSymbol?: string;
}

const PVMFW_MARKERS = ['handle_mmio_fault', 'mmio_guard_map'];

function autoEl1(ev: ProfileEvidence): ProfileChoice {
  const markers = [...PVMFW_MARKERS, ...(ev.guardLogSymbol ? [ev.guardLogSymbol] : [])];
  const marker = ev.symbol && markers.find((m) => ev.symbol?.(m) !== undefined);
  if (marker) return auto('pvmfw', `the program defines ${marker}`);
  const ttbr1 = regimeFromRegisters('el1', ev.registers).roots.find((r) => r.base === 'TTBR1_EL1');
  if (ttbr1?.enabled && ttbr1.ttbr !== 0n)
    return auto(
      'linux',
      'TTBR1_EL1 maps the upper half (TCR_EL1.EPD1 = 0): a Linux kernel’s split address space; pvmfw uses TTBR0_EL1 alone',
    );
  if (ev.symbol) return auto('none', `the program defines none of ${markers.join(', ')}: not pvmfw`);
  return auto('pvmfw', 'no program symbols and TTBR1_EL1 unused: pvmfw’s single identity map assumed');
}

const bit = (v: bigint | undefined, n: number): boolean => v !== undefined && ((v >> BigInt(n)) & 1n) === 1n;

function autoStage2(ev: ProfileEvidence, el1: ProfileChoice): ProfileChoice {
  const hcr = ev.registers.HCR_EL2;
  if (!bit(hcr, 0)) return auto('none', 'HCR_EL2.VM = 0: no stage 2 for EL1&0');
  if (el1.profile === 'pvmfw')
    return auto('pvmfw', 'stage 2 under pvmfw: the hypervisor’s side of its MMIO guard');
  if (el1.profile === 'linux' && !bit(hcr, 34))
    return auto(
      'pkvm-host-s2',
      'a Linux host at EL1 under an nVHE stage 2, HCR_EL2.VM = 1 and E2H = 0: pKVM’s host stage 2',
    );
  return auto('none', `stage 2 under a ${el1.profile} EL1 regime: no software meaning known`);
}

function autoEl2(ev: ProfileEvidence, s2: ProfileChoice): ProfileChoice {
  const el2 = regimeFromRegisters('el2', ev.registers);
  if (!el2.roots.some((r) => r.enabled)) return auto('none', 'the EL2 stage-1 MMU is off');
  if (s2.profile === 'pkvm-host-s2')
    return auto('pkvm-hyp', 'nVHE hypervisor tables beside pKVM’s host stage 2');
  return auto('none', 'no known hypervisor owns the EL2 tables');
}

function auto(profile: ProfileId, evidence: string): ProfileChoice {
  return { profile, evidence, overridden: false };
}

export function chooseProfiles(ev: ProfileEvidence, override: ProfileOverride = {}): RegimeProfiles {
  const set = (r: ProfileRegime, a: () => ProfileChoice): ProfileChoice => {
    const o = override[r];
    return o ? { profile: o, evidence: 'set by the user', overridden: true } : a();
  };
  const el1 = set('el1', () => autoEl1(ev));
  const stage2 = set('stage2', () => autoStage2(ev, el1));
  const el2 = set('el2', () => autoEl2(ev, stage2));
  return { el1, el2, stage2 };
}

/** The profile object of an id (pvmfw's with the configured lazy bit). */
export function profileById(id: ProfileId, lazyBit?: number): Profile {
  switch (id) {
    case 'pvmfw':
      return lazyBit === undefined
        ? pvmfwProfile
        : { ...pvmfwProfile, meaning: (e) => pvmfwMeaning(e, lazyBit) };
    case 'linux':
      return linuxProfile;
    case 'pkvm-hyp':
      return pkvmHypProfile;
    case 'pkvm-host-s2':
      return pkvmHostS2Profile;
    case 'none':
      return noneProfile;
  }
}

/** One line per regime: "el1: linux (TTBR1_EL1 maps …)". */
export function profileLines(p: RegimeProfiles): string[] {
  return (['el1', 'el2', 'stage2'] as const).map((r) => `${r}: ${p[r].profile} (${p[r].evidence})`);
}
