/*
 * pvmfw's MemoryTracker MMIO paths after "pvmfw: Optimize MMIO guard map" (memory.rs), in C with
 * the same function names so breakpoints by name work.
 */
#include <stdint.h>

#include "demo.h"

#define MAX_MMIO_REGIONS 8

struct mmio_range {
	uint64_t start;
	uint64_t end;
};

/* The tracked MMIO ranges (MemoryTracker::mmio_regions): what mmio_unmap_all walks. */
__attribute__((used)) struct mmio_range mmio_regions[MAX_MMIO_REGIONS];
__attribute__((used)) uint32_t mmio_region_count;
/* Scenario a: only the first block fault takes the buggy path. */
static int bug_a_pending = 1;
#if DEMO_GEN >= 2024
__attribute__((used)) uint64_t mmio_guard_granule = PAGE_SIZE;
#endif

NOINLINE_USED int map_device_lazy(uint64_t start, uint64_t end)
{
	return map_range(start, end, ATTR_DEVICE_LAZY);
}

NOINLINE_USED int map_device(uint64_t start, uint64_t end)
{
	return map_range(start, end, ATTR_DEVICE);
}

int map_code(uint64_t start, uint64_t end)
{
	return map_range(start, end, ATTR_CODE);
}

int map_data(uint64_t start, uint64_t end)
{
	return map_range(start, end, ATTR_DATA);
}

int map_rodata(uint64_t start, uint64_t end)
{
	return map_range(start, end, ATTR_RODATA);
}

/* MemoryTracker::map_mmio_range: map lazily, then track the range for mmio_unmap_all. */
NOINLINE_USED int map_mmio_range(uint64_t start, uint64_t end)
{
	if (mmio_region_count >= MAX_MMIO_REGIONS)
		return MT_FULL;
#if DEMO_GEN >= 2024
	/* Guard maps cover whole granules: track (and map lazily) whole granules. */
	start &= ~(MMIO_GUARD_GRANULE - 1);
	end = (end + MMIO_GUARD_GRANULE - 1) & ~(MMIO_GUARD_GRANULE - 1);
#endif
	if (map_device_lazy(start, end)) {
		print("Error during MMIO device mapping\n");
		return MT_FAILED_TO_MAP;
	}
	mmio_regions[mmio_region_count].start = start;
	mmio_regions[mmio_region_count].end = end;
	mmio_region_count++;
	print("map_mmio_range [0x%lx, 0x%lx) lazily\n", start, end);
	return MT_OK;
}

/* Descriptor::flags(): aarch64-paging 0.4.0 knows no other bit. */
static pte_t descriptor_flags(pte_t desc)
{
	if ((desc & ~PTE_OA_MASK) & ~PTE_SUPPORTED_FLAGS)
		panic("Unsupported PTE flags set");
	return desc & ~PTE_OA_MASK;
}

static int is_leaf_pte(pte_t flags, int level)
{
	if (flags & PTE_TABLE_OR_PAGE)
		return level == LEAF_PTE_LEVEL;
	return level < LEAF_PTE_LEVEL;
}

/* Checks whether block flags indicate it should be MMIO guard mapped. */
NOINLINE_USED int verify_lazy_mapped_block(uint64_t start, uint64_t end, pte_t *desc, int level)
{
	(void)start;
	(void)end;
	pte_t flags = descriptor_flags(*desc);
	if (!is_leaf_pte(flags, level))
		return 0; /* table PTEs are not tagged with MMIO_LAZY_MAP_FLAG */
	if ((flags & MMIO_LAZY_MAP_FLAG) && !(flags & PTE_VALID))
		return 0;
	print("  verify_lazy_mapped_block: level-%d entry 0x%016lx is not a lazy invalid leaf\n", level,
	      *desc);
	return -1;
}

/* MMIO guard unmaps page. */
NOINLINE_USED int mmio_guard_unmap_page(uint64_t start, uint64_t end, pte_t *desc, int level)
{
	pte_t flags = descriptor_flags(*desc);
	/* Only a page that was touched is VALID and guard-mapped; lazy pages never were. */
	if (is_leaf_pte(flags, level) && (flags & PTE_VALID)) {
		if (!(flags & MMIO_LAZY_MAP_FLAG))
			panic("assertion failed: Attempting MMIO guard unmap for non-device pages");
		if (end - start != PAGE_SIZE) {
			print("  level-%d leaf 0x%016lx covers [0x%lx, 0x%lx): 0x%lx bytes, not 0x%lx\n", level,
			      *desc, start, end, end - start, PAGE_SIZE);
			panic("assertion `left == right` failed: Failed to break down block mapping before "
			      "MMIO guard mapping");
		}
		if (start % PAGE_SIZE)
			panic("assertion `left == right` failed: page_base % PVMFW_PAGE_SIZE");
#if DEMO_GEN >= 2024
		/* One UNMAP per guard granule: the handler made all of its pages valid together. */
		if (start % MMIO_GUARD_GRANULE)
			return 0;
#endif
		/* IPA == VA here; 0x0 is a valid MMIO address, so no virt_to_phys. */
		if (mmio_guard_unmap(start)) {
			print("Error MMIO guard unmapping\n");
			return -1;
		}
	}
	return 0;
}

#if DEMO_GEN >= 2024
/* Late 2023: a lazy leaf becomes valid in place (bit 0 set, every other bit kept), no remap. */
NOINLINE_USED int mmio_set_valid(uint64_t start, uint64_t end, pte_t *desc, int level)
{
	(void)start;
	(void)end;
	pte_t flags = descriptor_flags(*desc);
	if (!is_leaf_pte(flags, level))
		return 0;
	if (level != LEAF_PTE_LEVEL || !(flags & MMIO_LAZY_MAP_FLAG))
		return -1;
	*desc |= PTE_VALID; /* invalid -> valid: no break-before-make, never in a TLB */
	return 0;
}
#endif

/* Makes the lazy guard granule [page, end) valid: remapped as device at the seed, VALID set in place
 * on its 4 KiB pages (blocks broken down first, their bits kept) since late 2023. */
#if DEMO_GEN >= 2024
static int map_guard_granule(uint64_t page, uint64_t end)
{
	if (split_range(page, end) || modify_range(page, end, mmio_set_valid))
		return -1;
	__asm__ volatile("dsb ishst\n"
			 "isb" ::
				 : "memory");
	return 0;
}
#else
/* Maps a single device page, breaking up block mappings if necessary. */
#define map_guard_granule(page, end) map_device(page, end)
#endif

/* The injected bug of scenario a: make a lazy block valid in place instead of splitting it. */
NOINLINE_USED int map_device_without_split(uint64_t page)
{
	int level;
	pte_t *e = pte_lookup(page, &level);
	if (level == LEAF_PTE_LEVEL)
		return map_guard_granule(page, page + MMIO_GUARD_GRANULE);
	*e |= PTE_VALID;
	__asm__ volatile("dsb ishst\n"
			 "isb" ::
				 : "memory");
	bug_a_pending = 0;
	print("  BUG(a): level-%d lazy block made valid without splitting: 0x%016lx\n", level, *e);
	return 0;
}

/*
 * Handles translation fault for blocks flagged for lazy MMIO mapping by enabling the page table
 * entry and MMIO guard mapping the block. Breaks apart a block entry if required.
 */
NOINLINE_USED int handle_mmio_fault(uint64_t addr)
{
	/* The guard granule around addr: 4 KiB at the seed, MMIO_GUARD_INFO's answer since 2024. */
	uint64_t page = addr & ~(MMIO_GUARD_GRANULE - 1);
	uint64_t end = page + MMIO_GUARD_GRANULE;
	if (modify_range(page, end, verify_lazy_mapped_block))
		return MT_INVALID_PTE;
	if (mmio_guard_map(page))
		return MT_HYPERVISOR;
	int r = scenario == SCENARIO_A_VALID_BLOCK && bug_a_pending ? map_device_without_split(page)
								    : map_guard_granule(page, end);
	if (r)
		return MT_FAILED_TO_MAP;
	int level;
	pte_t *e = pte_lookup(page, &level);
	print("  mapped page 0x%lx: level-%d entry 0x%016lx\n", page, level, *e);
	return MT_OK;
}

/* Unmaps all tracked MMIO regions from the MMIO guard (not from the page table). */
NOINLINE_USED int mmio_unmap_all(void)
{
	for (uint32_t i = 0; i < mmio_region_count; i++) {
		if (modify_range(mmio_regions[i].start, mmio_regions[i].end, mmio_guard_unmap_page))
			return MT_FAILED_TO_UNMAP;
	}
	return MT_OK;
}
