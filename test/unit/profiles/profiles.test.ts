// Software-bit profiles on descriptors built the way their writers build them: the kernel's own
// macros (Debian linux-source-6.1, arch/arm64/include/asm/pgtable-prot.h and pgtable.h, swap.h,
// arch/arm64/kvm/hyp/) transcribed as formulas here, decoded by src/profiles.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { regimeFromRegisters } from '../../../src/aarch64';
import {
  chooseProfiles,
  entryBits,
  linuxMeaning,
  parseProfileOverride,
  pkvmHostS2Meaning,
  pkvmHypMeaning,
  pvmfwMeaning,
  type EntryBits,
} from '../../../src/profiles';

const BIT = (n: number): bigint => 1n << BigInt(n);
// pgtable-hwdef.h / pgtable-prot.h
const PTE_VALID = BIT(0);
const PTE_TYPE_PAGE = 3n;
const PTE_USER = BIT(6);
const PTE_RDONLY = BIT(7);
const PTE_SHARED = 3n << 8n;
const PTE_AF = BIT(10);
const PTE_NG = BIT(11);
const PTE_PXN = BIT(53);
const PTE_UXN = BIT(54);
const PTE_WRITE = BIT(51);
const PTE_DIRTY = BIT(55);
const PTE_SPECIAL = BIT(56);
const PTE_PROT_NONE = BIT(58);
const PTE_SWP_EXCLUSIVE = BIT(2);
const MT_NORMAL = 0n;
const PTE_ATTRINDX = (i: bigint): bigint => i << 2n;
const _PROT_DEFAULT = PTE_TYPE_PAGE | PTE_AF | PTE_SHARED;
const PROT_NORMAL = _PROT_DEFAULT | PTE_PXN | PTE_UXN | PTE_WRITE | PTE_ATTRINDX(MT_NORMAL);
const _PAGE_DEFAULT = _PROT_DEFAULT | PTE_ATTRINDX(MT_NORMAL);
const PAGE_NONE = (_PAGE_DEFAULT & ~PTE_VALID) | PTE_PROT_NONE | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN;
const _PAGE_KERNEL = PROT_NORMAL | PTE_DIRTY;
const PAGE_SHARED = _PAGE_DEFAULT | PTE_USER | PTE_RDONLY | PTE_NG | PTE_PXN | PTE_UXN | PTE_WRITE;
// pgtable.h: __swp_entry(type, offset)
const swpEntry = (type: bigint, offset: bigint): bigint => (type << 3n) | (offset << 8n);
// pgtable.c: FIELD_PREP(KVM_INVALID_PTE_OWNER_MASK = GENMASK(9, 2), owner_id); pkvm_hyp_id = 1
const ownerPte = (id: bigint): bigint => id << 2n;
// kvm_pgtable.h: KVM_PGTABLE_PROT_SW0 = BIT(55), SW1 = BIT(56); mem_protect.h page states
const SW0 = BIT(55);
const SW1 = BIT(56);

const MAIR = regimeFromRegisters('el1', { MAIR_EL1: 0xff04n, TCR_EL1: 0n, SCTLR_EL1: 1n }).mair;
const FMT = { granule: 4, stage: 1, oa: 'pa48' } as const;
const FMT2 = { granule: 4, stage: 2, oa: 'pa48' } as const;

function bits(raw: bigint, base: EntryBits['base'] = 'TTBR0_EL1', level = 3): EntryBits {
  const fmt = base === 'VTTBR_EL2' ? FMT2 : FMT;
  return entryBits({ raw, level, fmt, base, mair: MAIR });
}

void describe('linux profile (arm64 Linux 6.1)', () => {
  void test('PAGE_NONE (mprotect PROT_NONE) is PROT_NONE, a present page with no access', () => {
    const m = linuxMeaning(bits(PAGE_NONE | 0x4567_8000n));
    assert.ok(m);
    assert.match(m.label, /^PROT_NONE/);
    assert.equal(m.mapping, true);
  });
  void test('swap entries: type and offset from __swp_entry(), exclusive bit', () => {
    const m = linuxMeaning(bits(swpEntry(1n, 0x1234n) | PTE_SWP_EXCLUSIVE));
    assert.equal(m?.label, 'swap type 1 offset 0x1234, exclusive');
    assert.notEqual(m?.mapping, true);
    const big = linuxMeaning(bits(swpEntry(26n, (1n << 50n) - 1n)));
    assert.equal(big?.label, `swap type 26 offset 0x${((1n << 50n) - 1n).toString(16)}`);
  });
  void test('special swap types follow MAX_SWAPFILES = 27 (Debian 6.1 config): migration entries name the page', () => {
    // SWP_MIGRATION_WRITE = MAX_SWAPFILES + SWP_HWPOISON_NUM + 2 = 30; offset is the PFN.
    const m = linuxMeaning(bits(swpEntry(30n, 0x41234n)));
    assert.equal(m?.label, 'migration (write) entry, page 0x41234000');
    assert.equal(linuxMeaning(bits(swpEntry(27n, 0x10n)))?.label, 'hwpoison entry, page 0x10000');
  });
  void test('valid PTEs: the kernel’s PAGE_KERNEL is dirty and writable; a clean shared user page is clean', () => {
    assert.equal(linuxMeaning(bits(_PAGE_KERNEL | 0x4000_0000n, 'TTBR1_EL1'))?.label, 'writable, dirty');
    assert.equal(linuxMeaning(bits(PAGE_SHARED | 0x4000_0000n))?.label, 'writable, clean');
    const hw = linuxMeaning(bits((PAGE_SHARED & ~PTE_RDONLY) | 0x4000_0000n));
    assert.equal(hw?.label, 'writable, dirty (hardware DBM)');
    assert.match(linuxMeaning(bits(PAGE_SHARED | PTE_SPECIAL))?.label ?? '', /special/);
  });
  void test('zero entries and table levels mean nothing; kernel invalid entries are not swap', () => {
    assert.equal(linuxMeaning(bits(0n)), undefined);
    assert.equal(linuxMeaning(bits(swpEntry(1n, 5n), 'TTBR0_EL1', 0)), undefined);
    assert.match(linuxMeaning(bits(swpEntry(1n, 5n), 'TTBR1_EL1'))?.label ?? '', /no Linux meaning/);
  });
});

void describe('pkvm profiles (Linux 6.1 arch/arm64/kvm/hyp)', () => {
  void test('host stage 2: owner ids in invalid entries, the lazy identity map for zero entries', () => {
    assert.equal(
      pkvmHostS2Meaning(bits(ownerPte(1n), 'VTTBR_EL2'))?.label,
      'owner: hyp (the host may not access it)',
    );
    assert.equal(pkvmHostS2Meaning(bits(ownerPte(7n), 'VTTBR_EL2'))?.label, 'owner: id 7');
    assert.match(
      pkvmHostS2Meaning(bits(0n, 'VTTBR_EL2', 2))?.label ?? '',
      /identity-maps it on the host’s next access/,
    );
    assert.equal(pkvmHostS2Meaning(bits(ownerPte(1n), 'VTTBR_EL2', 0)), undefined); // level 0: no leaves
  });
  void test('page states in bits 55-56 on valid entries of both pKVM regimes', () => {
    const page = 0x4000_0000n | 0x7c3n;
    assert.equal(pkvmHostS2Meaning(bits(page, 'VTTBR_EL2'))?.label, 'owned');
    assert.equal(pkvmHostS2Meaning(bits(page | SW1, 'VTTBR_EL2'))?.label, 'shared-borrowed');
    assert.equal(pkvmHypMeaning(bits(page | SW0, 'TTBR0_EL2'))?.label, 'shared-owned');
    assert.equal(pkvmHypMeaning(bits(page | SW0 | SW1, 'TTBR0_EL2'))?.label, 'reserved');
  });
});

void describe('pvmfw profile', () => {
  const DEVICE_LAZY = BIT(55) | PTE_ATTRINDX(0n) | PTE_UXN | PTE_AF; // late 2023; MAIR Attr0 = Device
  void test('lazy entries pending and mapped; DEVICE_LAZY recognised', () => {
    assert.match(pvmfwMeaning(bits(DEVICE_LAZY | 0x900_0000n))?.label ?? '', /pending/);
    assert.match(pvmfwMeaning(bits(DEVICE_LAZY | 3n | 0x900_0000n))?.label ?? '', /mapped/);
    assert.match(pvmfwMeaning(bits(DEVICE_LAZY | 0x900_0000n))?.fields.join('\n') ?? '', /DEVICE_LAZY/);
    assert.equal(pvmfwMeaning(bits(PTE_AF | 3n | 0x900_0000n)), undefined);
  });
  void test('pKVM’s MMIO guard annotations in stage 2', () => {
    assert.match(pvmfwMeaning(bits(0x9a9a929en, 'VTTBR_EL2'))?.label ?? '', /guard-mapped MMIO/);
    assert.match(pvmfwMeaning(bits(BIT(11), 'VTTBR_EL2'))?.fields[0] ?? '', /KVM_INVALID_PTE_MMIO_NOTE/);
  });
});

void describe('choosing profiles', () => {
  const linuxRegs = {
    TCR_EL1: 0x0000_0035_b559_3519n, // T0SZ = T1SZ = 25... EPD1 = 0
    TTBR0_EL1: 0x4185_7000n,
    TTBR1_EL1: 0x4185_8001n,
    SCTLR_EL1: 1n,
    MAIR_EL1: 0xff04n,
  };
  void test('the program’s symbols decide first: the demo (handle_mmio_fault) is pvmfw even with TTBR1', () => {
    const p = chooseProfiles({
      registers: linuxRegs,
      symbol: (n) => (n === 'handle_mmio_fault' ? 0x4000n : undefined),
    });
    assert.equal(p.el1.profile, 'pvmfw');
    assert.match(p.el1.evidence, /handle_mmio_fault/);
  });
  void test('TTBR1_EL1 in use: linux; under an nVHE stage 2: pKVM host stage 2 and EL2', () => {
    assert.equal(chooseProfiles({ registers: linuxRegs }).el1.profile, 'linux');
    const p = chooseProfiles({
      registers: {
        ...linuxRegs,
        HCR_EL2: 1n,
        VTTBR_EL2: 0x7f60_9001n,
        VTCR_EL2: 0x8002_3559n,
        TTBR0_EL2: 0x7f20_3001n,
        TCR_EL2: 0x8080_3510n,
        SCTLR_EL2: 0x30c5_183dn,
        MAIR_EL2: 0xff04n,
      },
    });
    assert.deepEqual([p.el1.profile, p.stage2.profile, p.el2.profile], ['linux', 'pkvm-host-s2', 'pkvm-hyp']);
    assert.equal(
      chooseProfiles({ registers: { ...linuxRegs, HCR_EL2: 1n | BIT(34) } }).stage2.profile,
      'none',
    );
  });
  void test('a program without pvmfw’s symbols and no TTBR1: none; no program at all: pvmfw', () => {
    const regs = { ...linuxRegs, TCR_EL1: linuxRegs.TCR_EL1 | BIT(23) };
    assert.equal(chooseProfiles({ registers: regs, symbol: () => undefined }).el1.profile, 'none');
    assert.equal(chooseProfiles({ registers: regs }).el1.profile, 'pvmfw');
  });
  void test('overrides: one profile, pkvm, per-regime lists, and clear errors', () => {
    assert.deepEqual(parseProfileOverride('linux'), { el1: 'linux' });
    assert.deepEqual(parseProfileOverride('pkvm-host-s2'), { stage2: 'pkvm-host-s2' });
    assert.deepEqual(parseProfileOverride('pkvm'), { el1: 'linux', el2: 'pkvm-hyp', stage2: 'pkvm-host-s2' });
    assert.deepEqual(parseProfileOverride('el1=none, stage2=auto'), { el1: 'none' });
    assert.deepEqual(parseProfileOverride('auto'), {});
    assert.throws(() => parseProfileOverride('windows'), /unknown profile 'windows'/);
    assert.throws(() => parseProfileOverride('el2=linux'), /el2 regime takes pkvm-hyp, none or auto/);
    assert.throws(() => parseProfileOverride('el3=none'), /regime must be el1, el2 or stage2/);
    const p = chooseProfiles({ registers: linuxRegs }, { el1: 'pvmfw' });
    assert.deepEqual([p.el1.profile, p.el1.overridden], ['pvmfw', true]);
  });
});
