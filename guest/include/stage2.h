/* Stage-2 (VTTBR_EL2) descriptors written by the EL2 stub. IPA == PA. */
#ifndef DEMO_STAGE2_H
#define DEMO_STAGE2_H

/* VTCR_EL2: T0SZ 25 (39-bit IPA), SL0 1 (walk starts at level 1), TG0 4 KiB, non-cacheable walks
 * because the stub writes the tables with its own MMU off; PS set at run time from PARange (<= 48). */
#define S2_T0SZ 25

#define S2_VALID (1ul << 0)
#define S2_TABLE_OR_PAGE (1ul << 1)
#define S2_MEMATTR_DEVICE_NGNRE (1ul << 2) /* MemAttr 0b0001 */
#define S2_MEMATTR_NORMAL_WB (0xful << 2)  /* MemAttr 0b1111 */
#define S2AP_RW (3ul << 6)
#define S2_SH_INNER (3ul << 8)
#define S2_AF (1ul << 10)
#define S2_XN (2ul << 53) /* XN[1:0] = 0b10: not executable at EL1/EL0 */

/* RAM: one level-1 1 GiB block at 0x4000_0000 (0x4000_07fd). */
#define S2_RAM_BLOCK (S2_VALID | S2_MEMATTR_NORMAL_WB | S2AP_RW | S2_SH_INNER | S2_AF)
/* Device block (before ENROLL everything MMIO passes through): 0x0040_0000_0000_04c5 | PA. */
#define S2_DEVICE_BLOCK (S2_VALID | S2_MEMATTR_DEVICE_NGNRE | S2AP_RW | S2_AF | S2_XN)
/* Guard-mapped 4 KiB MMIO page: 0x0040_0000_0000_04c7 | PA. */
#define S2_DEVICE_PAGE (S2_DEVICE_BLOCK | S2_TABLE_OR_PAGE)

_Static_assert(S2_RAM_BLOCK == 0x7fdul, "stage-2 RAM block encoding");
_Static_assert(S2_DEVICE_BLOCK == 0x00400000000004c5ul, "stage-2 device block encoding");
_Static_assert(S2_DEVICE_PAGE == 0x00400000000004c7ul, "stage-2 device page encoding");

#endif
