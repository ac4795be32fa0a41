// A profile says what the software bits of one regime's descriptors, and the contents of its invalid
// entries, mean to the software that wrote them. The architecture leaves bits [58:55] and every bit of
// an invalid entry to software: pvmfw, Linux and pKVM each give them their own meaning.
import type { BaseRegister } from '../aarch64/regime';

export const PROFILE_IDS = ['pvmfw', 'linux', 'pkvm-hyp', 'pkvm-host-s2', 'none'] as const;
export type ProfileId = (typeof PROFILE_IDS)[number];

/** The regimes a stop has, each with a profile of its own. */
export type ProfileRegime = 'el1' | 'el2' | 'stage2';

/** One descriptor as a profile sees it: its two 32-bit halves and where it sits. */
export interface EntryBits {
  readonly lo: number;
  readonly hi: number;
  readonly level: number;
  /** Bit 0. */
  readonly valid: boolean;
  /** Whether a leaf (block or page) can sit at this level: invalid entries there are leaves-to-be. */
  readonly leafLevel: boolean;
  readonly base: BaseRegister;
  /** Whether AttrIndx (stage 1) or MemAttr (stage 2) names a Device memory type. */
  readonly device: boolean;
}

/** What the software meant by an entry, next to the raw bits it came from. */
export interface Meaning {
  /** A few words: "PROT_NONE", "swap type 0 offset 0x1234", "owner: hyp", "shared-borrowed". */
  readonly label: string;
  /** One line per software field, with the bits it sits in: "bit 55 PTE_DIRTY = 1". */
  readonly fields: readonly string[];
  /**
   * For an invalid entry: whether its other bits still describe a mapping (Linux's PROT_NONE, a
   * pvmfw lazy entry), so its permissions and memory type mean something. Swap entries and pKVM's
   * owner annotations are not mappings: their bits decode to nothing architectural.
   */
  readonly mapping?: boolean;
}

export interface Profile {
  readonly id: ProfileId;
  /** Who writes the tables and which sources the meanings come from. */
  readonly title: string;
  /** Whether pvmfw's lazy-MMIO rules (lazy entries, guard state, the seed's invariants) apply. */
  readonly lazyMmio: boolean;
  /** The meaning of an entry's software bits, or undefined when they carry none. */
  meaning(e: EntryBits): Meaning | undefined;
}

/** The profile of one regime and why it was chosen. */
export interface ProfileChoice {
  readonly profile: ProfileId;
  /** The evidence, in a sentence: "TTBR1_EL1 maps the upper half: a Linux kernel". */
  readonly evidence: string;
  /** Set by the user (launch configuration, setting, --profile) rather than chosen automatically. */
  readonly overridden: boolean;
}

export type RegimeProfiles = Readonly<Record<ProfileRegime, ProfileChoice>>;

/** Bit `n` (0..63) of a descriptor given as halves. */
export function bitOf(e: { lo: number; hi: number }, n: number): boolean {
  return n < 32 ? ((e.lo >>> n) & 1) === 1 : ((e.hi >>> (n - 32)) & 1) === 1;
}

/** The descriptor as a BigInt, for the rare fields wider than 32 bits. */
export function rawOf(e: { lo: number; hi: number }): bigint {
  return (BigInt(e.hi >>> 0) << 32n) | BigInt(e.lo >>> 0);
}

export const hexOf = (v: bigint | number): string => `0x${BigInt(v).toString(16)}`;
