/* The demo's fixed memory map (QEMU virt) and the EL1 firmware's internal interfaces. */
#ifndef DEMO_H
#define DEMO_H

#include <stdint.h>

#include "pte.h"

#define NOINLINE_USED __attribute__((noinline, used))

/* QEMU virt board (hw/arm/virt.c). */
#define DEVICE_REGION_START 0x00000000ul
#define DEVICE_REGION_END 0x40000000ul
#define UART_BASE 0x09000000ul   /* PL011 */
#define RTC_BASE 0x09010000ul    /* PL031 */
#define FW_CFG_BASE 0x09020000ul /* fw_cfg data register (big-endian bytes) */
#define VIRTIO_MMIO_BASE 0x0a000000ul
#define VIRTIO_MMIO_WINDOW 0x00200000ul /* tracked as one 2 MiB range: 32 transports x 0x200 */
#define ECAM_BLOCK_START 0x4000000000ul /* 1 GiB aligned lazy block containing the high ECAM */
#define ECAM_BLOCK_END 0x4040000000ul
#define HIGH_ECAM_BASE 0x4010000000ul
#define RAM_BASE 0x40000000ul
#define DTB_BASE 0x40000000ul /* QEMU puts the DTB at the start of RAM for a non-Linux ELF */
#define DTB_WINDOW 0x00200000ul /* up to the image base (QEMU's dtb_limit) */

/* Scenarios selected by "scenario=<x>" in /chosen/bootargs (QEMU -append). */
enum scenario {
	SCENARIO_NORMAL = 'n',
	SCENARIO_A_VALID_BLOCK = 'a',   /* a lazy 2 MiB block made valid, never split */
	SCENARIO_B_NO_GUARD_MAP = 'b',  /* a device page made valid without MMIO_GUARD_MAP */
	SCENARIO_C_LAZY_NORMAL = 'c',   /* the lazy flag on a normal-memory page */
	SCENARIO_D_NO_UNMAP_ALL = 'd',  /* mmio_unmap_all skipped: guard mappings leak */
};

extern volatile uint64_t scenario;

enum mt_error {
	MT_OK = 0,
	MT_FULL,
	MT_FAILED_TO_MAP,
	MT_FAILED_TO_UNMAP,
	MT_HYPERVISOR,
	MT_INVALID_PTE,
};

/* print.c */
void print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *mt_error_str(int err);

/* mmu.c: the aarch64-paging-like table engine (identity map, root at level 1). */
extern pte_t pt_root[PT_ENTRIES];
typedef int (*pte_updater)(uint64_t start, uint64_t end, pte_t *desc, int level);
int map_range(uint64_t start, uint64_t end, uint64_t flags);
int modify_range(uint64_t start, uint64_t end, pte_updater f);
#if DEMO_GEN >= 2024
int split_range(uint64_t start, uint64_t end);
#endif
pte_t *pte_lookup(uint64_t va, int *level);
void mmu_enable(void);

/* hyp.c */
int64_t mmio_guard_info(void);
int64_t mmio_guard_enroll(void);
int64_t mmio_guard_map(uint64_t ipa);
int64_t mmio_guard_unmap(uint64_t ipa);
extern int64_t last_hyp_error;

/* memory.c */
int map_device_lazy(uint64_t start, uint64_t end);
int map_device(uint64_t start, uint64_t end);
int map_code(uint64_t start, uint64_t end);
int map_data(uint64_t start, uint64_t end);
int map_rodata(uint64_t start, uint64_t end);
int map_mmio_range(uint64_t start, uint64_t end);
int handle_mmio_fault(uint64_t addr);
int mmio_unmap_all(void);
int verify_lazy_mapped_block(uint64_t start, uint64_t end, pte_t *desc, int level);
int mmio_guard_unmap_page(uint64_t start, uint64_t end, pte_t *desc, int level);
#if DEMO_GEN >= 2024
/* The MMIO-guard granule MMIO_GUARD_INFO answered (pvmfw since 2024 follows the hypervisor's). */
extern uint64_t mmio_guard_granule;
int mmio_set_valid(uint64_t start, uint64_t end, pte_t *desc, int level);
#define MMIO_GUARD_GRANULE mmio_guard_granule
#else
#define MMIO_GUARD_GRANULE PAGE_SIZE /* PVMFW_PAGE_SIZE at the seed */
#endif

/* exceptions.c */
void sync_exception_current(uint64_t elr, uint64_t spsr);
void panic_park(void) __attribute__((noreturn));
void panic(const char *msg) __attribute__((noreturn));

/* fdt.c */
const char *fdt_bootargs(uint64_t dtb);

/* el1_main.c */
struct demo_stats {
	uint64_t faults;
	uint64_t guard_maps;
	uint64_t guard_unmaps;
	uint64_t splits;
};
extern struct demo_stats demo_stats;
void scenario_done(void) __attribute__((noreturn));

#endif
