/*
 * Stage-2 (VTTBR_EL2) descriptors written by the EL2 stub. IPA == PA.
 * S2_GRANULE_SHIFT selects the stub's stage-2 granule, which is also the MMIO-guard granule it
 * answers MMIO_GUARD_INFO with: 12 (4 KiB, default) or 14 (16 KiB, demo-16k.elf).
 */
#ifndef DEMO_STAGE2_H
#define DEMO_STAGE2_H

#ifndef S2_GRANULE_SHIFT
#define S2_GRANULE_SHIFT 12
#endif
#if S2_GRANULE_SHIFT != 12 && S2_GRANULE_SHIFT != 14
#error "S2_GRANULE_SHIFT is 12 (4 KiB) or 14 (16 KiB)"
#endif
#define S2_GRANULE (1ul << S2_GRANULE_SHIFT)
#define S2_TABLE_BITS (S2_GRANULE_SHIFT - 3)
#define S2_TABLE_ENTRIES (1u << S2_TABLE_BITS)

/*
 * VTCR_EL2: T0SZ 25 (39-bit IPA), walk starting at level 1 (4 KiB: SL0 1, 512 root entries;
 * 16 KiB: SL0 2, 8 root entries), non-cacheable walks because the stub writes the tables with its
 * own MMU off; PS set at run time from PARange (<= 48). 16 KiB has no level-1 blocks: RAM and the
 * pre-ENROLL passthrough are 32 MiB level-2 blocks there.
 */
#define S2_T0SZ 25
#if S2_GRANULE_SHIFT == 14
#define S2_VTCR_TG0_SL0 ((2ul << 14) | (2ul << 6))
#else
#define S2_VTCR_TG0_SL0 ((0ul << 14) | (1ul << 6))
#endif

#define S2_VALID (1ul << 0)
#define S2_TABLE_OR_PAGE (1ul << 1)
#define S2_MEMATTR_DEVICE_NGNRE (1ul << 2) /* MemAttr 0b0001 */
#define S2_MEMATTR_NORMAL_WB (0xful << 2)  /* MemAttr 0b1111 */
#define S2AP_RW (3ul << 6)
#define S2_SH_INNER (3ul << 8)
#define S2_AF (1ul << 10)
#define S2_XN (2ul << 53) /* XN[1:0] = 0b10: not executable at EL1/EL0 */

/* RAM: one level-1 1 GiB block at 0x4000_0000 (0x4000_07fd); 32 MiB level-2 blocks at 16 KiB. */
#define S2_RAM_BLOCK (S2_VALID | S2_MEMATTR_NORMAL_WB | S2AP_RW | S2_SH_INNER | S2_AF)
/* Device block (before ENROLL everything MMIO passes through): 0x0040_0000_0000_04c5 | PA. */
#define S2_DEVICE_BLOCK (S2_VALID | S2_MEMATTR_DEVICE_NGNRE | S2AP_RW | S2_AF | S2_XN)
/* Guard-mapped MMIO page (one granule): 0x0040_0000_0000_04c7 | PA. */
#define S2_DEVICE_PAGE (S2_DEVICE_BLOCK | S2_TABLE_OR_PAGE)

/*
 * `-append s2=pkvm...`: guard maps recorded as Android's pKVM records them, as an invalid level-3
 * entry carrying an annotation, the access then forwarded (emulated here) after the stage-2 abort.
 *   s2=pkvm         newer kernels: KVM_INVALID_PTE_MMIO_NOTE, bit 11, in an otherwise zero entry
 *   s2=pkvm-legacy  older kernels: the whole entry equals 0x9a9a929e
 */
#define S2_REPR_VALID 0u
#define S2_REPR_PKVM_NOTE 1u
#define S2_REPR_PKVM_LEGACY 2u
#define KVM_INVALID_PTE_MMIO_NOTE (1ul << 11)
#define KVM_MMIO_NOTE_LEGACY 0x9a9a929eul

_Static_assert(S2_RAM_BLOCK == 0x7fdul, "stage-2 RAM block encoding");
_Static_assert(S2_DEVICE_BLOCK == 0x00400000000004c5ul, "stage-2 device block encoding");
_Static_assert(S2_DEVICE_PAGE == 0x00400000000004c7ul, "stage-2 device page encoding");
_Static_assert((KVM_MMIO_NOTE_LEGACY & S2_VALID) == 0 && (KVM_INVALID_PTE_MMIO_NOTE & S2_VALID) == 0,
	       "pKVM's annotations are invalid entries");

#endif
