/*
 * Stage-1 translation tables as aarch64-paging 0.4.0 builds them for pvmfw: identity map, 4 KiB
 * granule, 39-bit VA (root at level 1), blocks wherever a whole aligned entry is covered, and a
 * block that must be partly remapped is split into a subtable that recreates the old block first,
 * so every other entry keeps the old attributes (that is what keeps lazy entries lazy).
 */
#include <stdint.h>

#include "demo.h"

#define PT_POOL_PAGES 32
#define PT_ASID 1ul

__attribute__((used, aligned(4096))) pte_t pt_root[PT_ENTRIES];
__attribute__((used, aligned(4096))) pte_t pt_pool[PT_POOL_PAGES][PT_ENTRIES];
__attribute__((used)) uint32_t pt_pool_used;

static int is_table(pte_t e, int level)
{
	return level < LEAF_PTE_LEVEL && (e & (PTE_VALID | PTE_TABLE_OR_PAGE)) == (PTE_VALID | PTE_TABLE_OR_PAGE);
}

static pte_t *table_of(pte_t e)
{
	return (pte_t *)(uintptr_t)(e & PTE_OA_MASK);
}

static pte_t *alloc_table(void)
{
	if (pt_pool_used >= PT_POOL_PAGES)
		return 0;
	pte_t *t = pt_pool[pt_pool_used++];
	for (int i = 0; i < PT_ENTRIES; i++)
		t[i] = 0;
	return t;
}

static void tlb_flush_all(void)
{
	__asm__ volatile("dsb ishst\n"
			 "tlbi vmalle1is\n"
			 "dsb ish\n"
			 "isb" ::
				 : "memory");
}

/* A valid entry is replaced only after break-before-make; invalid entries are never in a TLB. */
static void write_entry(pte_t *e, pte_t value, uint64_t va)
{
	pte_t old = *e;
	if ((old & PTE_VALID) && old != value) {
		*e = 0;
		__asm__ volatile("dsb ishst\n"
				 "tlbi vaae1is, %0\n"
				 "dsb ish" ::"r"(va >> PAGE_SHIFT)
				 : "memory");
	}
	*e = value;
}

static int map_level(pte_t *table, int level, uint64_t start, uint64_t end, uint64_t pa, uint64_t flags);

static pte_t *subtable_or_split(pte_t *e, int level, uint64_t entry_base)
{
	if (is_table(*e, level))
		return table_of(*e);
	pte_t old = *e;
	pte_t *sub = alloc_table();
	if (!sub)
		return 0;
	if (old != 0 && !(old & PTE_TABLE_OR_PAGE)) {
		uint64_t gran = 1ul << level_shift(level);
		if (map_level(sub, level + 1, entry_base, entry_base + gran, old & PTE_OA_MASK,
			      old & ~PTE_OA_MASK))
			return 0;
		demo_stats.splits++;
		print("  split level-%d %s block 0x%lx (0x%016lx) into a level-%d table\n", level,
		      (old & MMIO_LAZY_MAP_FLAG) && !(old & PTE_VALID) ? "lazy" : "valid", entry_base, old,
		      level + 1);
	}
	/* The new table must be visible to the walker before the entry that points at it. */
	__asm__ volatile("dsb ishst" ::: "memory");
	if (old & PTE_VALID) {
		*e = 0;
		tlb_flush_all();
	}
	*e = (uint64_t)(uintptr_t)sub | PTE_VALID | PTE_TABLE_OR_PAGE;
	return sub;
}

static int map_level(pte_t *table, int level, uint64_t start, uint64_t end, uint64_t pa, uint64_t flags)
{
	uint64_t gran = 1ul << level_shift(level);
	while (start < end) {
		uint64_t entry_base = start & ~(gran - 1);
		uint64_t entry_end = entry_base + gran;
		uint64_t chunk_end = entry_end < end ? entry_end : end;
		pte_t *e = &table[pt_index(start, level)];
		int whole = start == entry_base && chunk_end == entry_end && !(pa & (gran - 1));
		if (level == LEAF_PTE_LEVEL || (whole && !is_table(*e, level))) {
			pte_t v = (pa & PTE_OA_MASK) | flags | PTE_ACCESSED |
				  (level == LEAF_PTE_LEVEL ? PTE_TABLE_OR_PAGE : 0);
			write_entry(e, v, start);
		} else {
			pte_t *sub = subtable_or_split(e, level, entry_base);
			if (!sub || map_level(sub, level + 1, start, chunk_end, pa, flags))
				return -1;
		}
		pa += chunk_end - start;
		start = chunk_end;
	}
	return 0;
}

int map_range(uint64_t start, uint64_t end, uint64_t flags)
{
	if ((start | end) & (PAGE_SIZE - 1))
		return -1;
	int r = map_level(pt_root, ROOT_LEVEL, start, end, start, flags);
	/* Make the new entries visible to the walker before the next access (or the ERET). */
	__asm__ volatile("dsb ishst\n"
			 "isb" ::
				 : "memory");
	return r;
}

static int modify_level(pte_t *table, int level, uint64_t start, uint64_t end, pte_updater f)
{
	uint64_t gran = 1ul << level_shift(level);
	while (start < end) {
		uint64_t entry_end = (start & ~(gran - 1)) + gran;
		uint64_t chunk_end = entry_end < end ? entry_end : end;
		pte_t *e = &table[pt_index(start, level)];
		int r = f(start, chunk_end, e, level);
		if (r)
			return r;
		if (is_table(*e, level)) {
			r = modify_level(table_of(*e), level + 1, start, chunk_end, f);
			if (r)
				return r;
		}
		start = chunk_end;
	}
	return 0;
}

#if DEMO_GEN >= 2024
/*
 * Breaks every block covering [start, end) down to 4 KiB pages that keep the block's attributes
 * (aarch64-paging's split), without touching a leaf's bits: the late-2023 fault handler then sets
 * VALID in place on the pages instead of remapping them.
 */
NOINLINE_USED int split_range(uint64_t start, uint64_t end)
{
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		int level;
		pte_t *e;
		while (e = pte_lookup(va, &level), level < LEAF_PTE_LEVEL)
			if (!*e || !subtable_or_split(e, level, va & ~((1ul << level_shift(level)) - 1)))
				return -1;
	}
	__asm__ volatile("dsb ishst\n"
			 "isb" ::
				 : "memory");
	return 0;
}
#endif

/* Calls f on every entry (tables and leaves) that the walks of [start, end) go through. */
int modify_range(uint64_t start, uint64_t end, pte_updater f)
{
	return modify_level(pt_root, ROOT_LEVEL, start, end, f);
}

pte_t *pte_lookup(uint64_t va, int *level)
{
	pte_t *table = pt_root;
	for (int l = ROOT_LEVEL;; l++) {
		pte_t *e = &table[pt_index(va, l)];
		if (!is_table(*e, l)) {
			*level = l;
			return e;
		}
		table = table_of(*e);
	}
}

void mmu_enable(void)
{
	uint64_t mmfr0, sctlr;
	__asm__ volatile("mrs %0, id_aa64mmfr0_el1" : "=r"(mmfr0));
	/* vmbase: TG0 4K, TG1 4K, EPD1, inner/outer WB walks, inner shareable, T0SZ 25, IPS = PARange. */
	uint64_t tcr = 25ul | (1ul << 8) | (1ul << 10) | (3ul << 12) | (0ul << 14) | (1ul << 23) |
		       (2ul << 30) | ((mmfr0 & 0xf) << 32);
	uint64_t ttbr0 = (uint64_t)(uintptr_t)pt_root | (PT_ASID << 48);

	__asm__ volatile("msr mair_el1, %0" ::"r"(0xff04ul));
	__asm__ volatile("msr tcr_el1, %0" ::"r"(tcr));
	__asm__ volatile("msr ttbr0_el1, %0" ::"r"(ttbr0));
	__asm__ volatile("dsb ish\n"
			 "isb\n"
			 "tlbi vmalle1\n"
			 "dsb nsh\n"
			 "isb" ::
				 : "memory");
	__asm__ volatile("mrs %0, sctlr_el1" : "=r"(sctlr));
	sctlr |= (1ul << 0) | (1ul << 2) | (1ul << 3) | (1ul << 12) | (1ul << 19); /* M C SA I WXN */
	__asm__ volatile("msr sctlr_el1, %0\n"
			 "isb" ::"r"(sctlr)
			 : "memory");
}
