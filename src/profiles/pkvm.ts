// pKVM's meaning of the hypervisor's tables, from Debian's linux-source-6.1 arch/arm64/kvm/hyp/:
// - nvhe/mem_protect.h: the page state in software bits 0-1 (KVM_PGTABLE_PROT_SW0/SW1 = descriptor
//   bits 55/56, kvm_pgtable.h): 00 owned, 01 shared-owned, 10 shared-borrowed, 11 reserved;
// - pgtable.c: an invalid stage-2 entry carries its owner id in bits [9:2] (KVM_INVALID_PTE_OWNER_MASK);
//   nvhe/mem_protect.c: owner 0 is the host (PKVM_ID_HOST), pkvm_hyp_id = 1;
// - nvhe/mem_protect.c host_stage2_idmap(): the host's stage 2 is an identity map built lazily, on the
//   host's first access to each range (handle_host_mem_abort).
import { bitOf, type EntryBits, type Meaning, type Profile } from './types';

export const PKVM_PAGE_STATES = ['owned', 'shared-owned', 'shared-borrowed', 'reserved'] as const;
export type PkvmPageState = (typeof PKVM_PAGE_STATES)[number];

/** Owner ids of pKVM 6.1 (enum pkvm_component_id; pkvm_hyp_id). */
export const PKVM_OWNERS: Readonly<Record<number, string>> = { 0: 'host', 1: 'hyp' };

export function pkvmPageState(e: { lo: number; hi: number }): PkvmPageState {
  return PKVM_PAGE_STATES[(bitOf(e, 55) ? 1 : 0) | (bitOf(e, 56) ? 2 : 0)];
}

/** The owner id of an invalid stage-2 entry (bits [9:2]). */
export function pkvmOwnerId(e: { lo: number }): number {
  return (e.lo >>> 2) & 0xff;
}

const ownerName = (id: number): string => PKVM_OWNERS[id] ?? `id ${id}`;

function stateMeaning(e: EntryBits, whose: string): Meaning {
  const s = pkvmPageState(e);
  return new StateMeaning(s, e, whose);
}

/** A page state's meaning; its field line is built when asked (listings need only the label). */
class StateMeaning implements Meaning {
  constructor(
    readonly label: PkvmPageState,
    private readonly e: EntryBits,
    private readonly whose: string,
  ) {}

  get fields(): string[] {
    return stateFields(this.e, this.label, this.whose);
  }
}

function stateFields(e: EntryBits, s: PkvmPageState, whose: string): string[] {
  return [
    `bits [56:55] page state = 0b${(bitOf(e, 56) ? '1' : '0') + (bitOf(e, 55) ? '1' : '0')} (${s}: ${
      s === 'owned'
        ? `owned by ${whose} exclusively`
        : s === 'shared-owned'
          ? `owned by ${whose}, shared with another component`
          : s === 'shared-borrowed'
            ? `shared with ${whose}, owned by another component`
            : 'reserved for future use (lending)'
    })`,
  ];
}

export function pkvmHypMeaning(e: EntryBits): Meaning | undefined {
  if (!e.leafLevel) return undefined;
  if (e.valid) return stateMeaning(e, 'the hypervisor');
  if (e.lo === 0 && e.hi === 0) return undefined;
  return {
    label: 'invalid with bits (pKVM writes none in its EL2 tables)',
    fields: ['pKVM annotates invalid entries only in stage-2 tables'],
  };
}

/** The meaning of a zero host stage-2 entry: not mapped yet, pKVM maps it on the host's access. */
export const PKVM_IDMAP_PENDING: Meaning = {
  label: 'not mapped yet: pKVM identity-maps it on the host’s next access',
  fields: ['descriptor 0: owner host (id 0), no mapping yet (host_stage2_idmap() on the host’s abort)'],
};

export function pkvmHostS2Meaning(e: EntryBits): Meaning | undefined {
  if (!e.leafLevel) return undefined;
  if (e.valid) return stateMeaning(e, 'the host');
  if (e.lo === 0 && e.hi === 0) return PKVM_IDMAP_PENDING;
  const id = pkvmOwnerId(e);
  const rest = e.hi !== 0 || (e.lo & ~0x3fc) !== 0;
  const owner = ownerName(id);
  return {
    label: `owner: ${owner}${id === 1 ? ' (the host may not access it)' : ''}`,
    fields: [
      `bits [9:2] owner id = ${id} (${owner})${id === 0 ? ': the host, mapped again on its next access' : ''}`,
      ...(rest ? ['bits outside [9:2] set: pKVM writes only the owner id in an invalid entry'] : []),
    ],
  };
}

export const pkvmHypProfile: Profile = {
  id: 'pkvm-hyp',
  title: 'pKVM hypervisor EL2 stage 1 (Linux 6.1 arch/arm64/kvm/hyp)',
  lazyMmio: false,
  meaning: pkvmHypMeaning,
};

export const pkvmHostS2Profile: Profile = {
  id: 'pkvm-host-s2',
  title: 'pKVM host stage 2 (Linux 6.1 arch/arm64/kvm/hyp)',
  lazyMmio: false,
  meaning: pkvmHostS2Meaning,
};
