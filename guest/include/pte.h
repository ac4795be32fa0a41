/*
 * Stage-1 descriptor bits and pvmfw's attribute sets (aarch64-paging 0.4.0 `Attributes`).
 * DEMO_GEN selects the pvmfw generation the EL1 firmware reproduces: 2023 (default) the seed
 * change; 2024 the late-2023 encodings pvmfw ships since (DEVICE_LAZY = SWFLAG_0 | AttrIndx 0 |
 * UXN | AF, the fault handler setting VALID in place, the MMIO-guard granule from MMIO_GUARD_INFO).
 */
#ifndef DEMO_PTE_H
#define DEMO_PTE_H

#include <stdint.h>

#ifndef DEMO_GEN
#define DEMO_GEN 2023
#endif
#if DEMO_GEN != 2023 && DEMO_GEN != 2024
#error "DEMO_GEN is 2023 (the seed) or 2024 (late-2023 encodings)"
#endif

typedef uint64_t pte_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ul << PAGE_SHIFT)
#define PT_ENTRIES 512
#define LEAF_PTE_LEVEL 3
#define ROOT_LEVEL 1

/* aarch64-paging 0.4.0 Attributes: the complete set it understands. */
#define PTE_VALID (1ul << 0)
#define PTE_TABLE_OR_PAGE (1ul << 1)
#define PTE_DEVICE_NGNRE 0ul /* AttrIndx 0 */
#define PTE_NORMAL ((1ul << 2) | (3ul << 8)) /* AttrIndx 1, inner shareable */
#define PTE_USER (1ul << 6)
#define PTE_READ_ONLY (1ul << 7)
#define PTE_ACCESSED (1ul << 10)
#define PTE_NON_GLOBAL (1ul << 11)
#define PTE_DBM (1ul << 51)
#define PTE_EXECUTE_NEVER (3ul << 53)
#define PTE_UXN (1ul << 54) /* aarch64-paging 0.6 splits EXECUTE_NEVER into PXN and UXN */
#define PTE_SWFLAG_0 (1ul << 55)
#define PTE_SWFLAG_1 (1ul << 56)
#define PTE_SWFLAG_2 (1ul << 57)
#define PTE_SWFLAG_3 (1ul << 58)

#define PTE_OA_MASK 0x0000fffffffff000ul
/* Descriptor::flags() returns None when a bit outside OA and this set is set. */
#define PTE_SUPPORTED_FLAGS                                                                    \
	(PTE_VALID | PTE_TABLE_OR_PAGE | PTE_NORMAL | PTE_USER | PTE_READ_ONLY | PTE_ACCESSED | \
	 PTE_NON_GLOBAL | PTE_DBM | PTE_EXECUTE_NEVER | PTE_SWFLAG_0 | PTE_SWFLAG_1 |          \
	 PTE_SWFLAG_2 | PTE_SWFLAG_3 | PTE_SUPPORTED_LATER)
#if DEMO_GEN >= 2024
/* aarch64-paging 0.6 adds ATTRIBUTE_INDEX_0..2 (bits 2-4), NS (5) and both shareability bits. */
#define PTE_SUPPORTED_LATER (0x1cul | (1ul << 5) | (3ul << 8))
#else
#define PTE_SUPPORTED_LATER 0ul
#endif

/* pvmfw mmu.rs */
#define MMIO_LAZY_MAP_FLAG PTE_SWFLAG_0
#define ATTR_MEMORY (PTE_VALID | PTE_NORMAL | PTE_NON_GLOBAL)
#if DEMO_GEN >= 2024
#define ATTR_DEVICE_LAZY (MMIO_LAZY_MAP_FLAG | PTE_DEVICE_NGNRE | PTE_UXN | PTE_ACCESSED)
#else
#define ATTR_DEVICE_LAZY (MMIO_LAZY_MAP_FLAG | PTE_DEVICE_NGNRE | PTE_EXECUTE_NEVER)
#endif
#define ATTR_DEVICE (ATTR_DEVICE_LAZY | PTE_VALID)
#define ATTR_CODE (ATTR_MEMORY | PTE_READ_ONLY)
#define ATTR_DATA (ATTR_MEMORY | PTE_EXECUTE_NEVER)
#define ATTR_RODATA (ATTR_MEMORY | PTE_READ_ONLY | PTE_EXECUTE_NEVER)

/* Resulting encodings (map_range adds ACCESSED, and TABLE_OR_PAGE at level 3). */
#if DEMO_GEN >= 2024
#define ENC_LAZY_BLOCK 0x00c0000000000400ul
#define ENC_LAZY_PAGE 0x00c0000000000402ul
#define ENC_DEVICE_PAGE 0x00c0000000000403ul
#else
#define ENC_LAZY_BLOCK 0x00e0000000000400ul
#define ENC_LAZY_PAGE 0x00e0000000000402ul
#define ENC_DEVICE_PAGE 0x00e0000000000403ul
#endif
#define ENC_DATA_PAGE 0x0060000000000f07ul
#define ENC_CODE_PAGE 0x0000000000000f87ul
#define ENC_RODATA_PAGE 0x0060000000000f87ul

static inline unsigned level_shift(int level)
{
	return PAGE_SHIFT + 9u * (unsigned)(LEAF_PTE_LEVEL - level);
}

static inline unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)((va >> level_shift(level)) & (PT_ENTRIES - 1));
}

/* The attribute sets must produce DESIGN.md's encodings exactly. */
_Static_assert((ATTR_DEVICE_LAZY | PTE_ACCESSED) == ENC_LAZY_BLOCK, "lazy block encoding");
_Static_assert((ATTR_DEVICE_LAZY | PTE_ACCESSED | PTE_TABLE_OR_PAGE) == ENC_LAZY_PAGE, "lazy page encoding");
_Static_assert((ATTR_DEVICE | PTE_ACCESSED | PTE_TABLE_OR_PAGE) == ENC_DEVICE_PAGE, "device page encoding");
_Static_assert((ATTR_DATA | PTE_ACCESSED | PTE_TABLE_OR_PAGE) == ENC_DATA_PAGE, "DATA encoding");
_Static_assert((ATTR_CODE | PTE_ACCESSED | PTE_TABLE_OR_PAGE) == ENC_CODE_PAGE, "CODE encoding");
_Static_assert((ATTR_RODATA | PTE_ACCESSED | PTE_TABLE_OR_PAGE) == ENC_RODATA_PAGE, "RODATA encoding");

#endif
