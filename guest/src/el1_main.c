/*
 * The EL1 firmware: pvmfw's page-table set-up and MMIO-guard use, then a fixed walk over the
 * virt board's devices that exercises every lazy-MMIO path, with the selected bug injected.
 */
#include <stdint.h>

#include "demo.h"

volatile uint64_t scenario = SCENARIO_NORMAL;
struct demo_stats demo_stats;

/* Scenario c: a normal-memory page that gets the lazy flag. */
__attribute__((used, aligned(4096))) volatile uint32_t bug_c_page[PAGE_SIZE / 4];

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];

static const char *scenario_name(uint64_t s)
{
	switch (s) {
	case SCENARIO_A_VALID_BLOCK:
		return "a (valid lazy block never split)";
	case SCENARIO_B_NO_GUARD_MAP:
		return "b (device page made valid without MMIO_GUARD_MAP)";
	case SCENARIO_C_LAZY_NORMAL:
		return "c (lazy flag on a normal-memory page)";
	case SCENARIO_D_NO_UNMAP_ALL:
		return "d (mmio_unmap_all skipped)";
	default:
		return "normal";
	}
}

static uint64_t parse_scenario(const char *args)
{
	static const char key[] = "scenario=";
	for (const char *p = args; *p; p++) {
		unsigned i = 0;
		while (key[i] && p[i] == key[i])
			i++;
		if (key[i])
			continue;
		char c = p[i];
		char next = c ? p[i + 1] : 0;
		if ((c == 'a' || c == 'b' || c == 'c' || c == 'd') && (next == 0 || next == ' '))
			return (uint64_t)c;
		if (c == 'n')
			return SCENARIO_NORMAL;
		print("unknown scenario in bootargs '%s': running normal\n", args);
		return SCENARIO_NORMAL;
	}
	return SCENARIO_NORMAL;
}

/* One plain load, so the abort has a clean syndrome and ELR points at this instruction. */
NOINLINE_USED uint32_t mmio_read32(uint64_t addr)
{
	uint32_t v;
	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(addr) : "memory");
	return v;
}

static void touch(const char *what, uint64_t addr)
{
	print("touch %s @ 0x%lx\n", what, addr);
	uint32_t v = mmio_read32(addr);
	print("  read 0x%08x\n", v);
}

static void show_entry(const char *what, uint64_t va)
{
	int level;
	pte_t *e = pte_lookup(va, &level);
	print("  %s 0x%lx: level-%d entry 0x%016lx\n", what, va, level, *e);
}

/* Scenario b's bug: map a device page valid eagerly, forgetting MMIO_GUARD_MAP. */
NOINLINE_USED void map_device_page_unguarded(uint64_t page)
{
	map_device(page, page + PAGE_SIZE);
	print("  BUG(b): 0x%lx mapped valid without MMIO_GUARD_MAP\n", page);
	show_entry("stage 1", page);
}

/* Scenario c's bug: a RAM page mapped with DATA attributes plus the lazy flag, and no VALID. */
NOINLINE_USED void map_data_lazy(uint64_t page)
{
	map_range(page, page + PAGE_SIZE, (ATTR_DATA & ~PTE_VALID) | MMIO_LAZY_MAP_FLAG);
	print("  BUG(c): normal-memory page 0x%lx carries MMIO_LAZY_MAP_FLAG\n", page);
	show_entry("stage 1", page);
}

NOINLINE_USED __attribute__((noreturn)) void scenario_done(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

static void init_page_table(void)
{
	print("EL1: building page tables (pvmfw memory tracker)\n");
	if (map_device_lazy(DEVICE_REGION_START, DEVICE_REGION_END) ||
	    map_rodata(DTB_BASE, DTB_BASE + DTB_WINDOW) ||
	    map_code((uint64_t)__text_start, (uint64_t)__text_end) ||
	    map_rodata((uint64_t)__rodata_start, (uint64_t)__rodata_end) ||
	    map_data((uint64_t)__data_start, (uint64_t)__data_end) ||
	    map_device(UART_BASE, UART_BASE + PAGE_SIZE))
		panic("init_page_table: failed to map");
}

void el1_main(void)
{
	init_page_table();
	mmu_enable();
	int64_t granule = mmio_guard_info();
#if DEMO_GEN >= 2024
	/* pvmfw since 2024 guard-maps in the hypervisor's granule: a power of two, 4 KiB to 64 KiB. */
	if (granule < (int64_t)PAGE_SIZE || granule > 0x10000 || (granule & (granule - 1)))
		panic("MMIO guard granule unsupported");
	mmio_guard_granule = (uint64_t)granule;
#else
	if (granule != (int64_t)PAGE_SIZE)
		panic("MMIO guard granule is not 4 KiB");
#endif
	/* No console output between ENROLL and the console's MAP: the stub would refuse it. */
	if (mmio_guard_enroll() || mmio_guard_map(UART_BASE))
		panic("MMIO guard: enroll/console map failed");
	print("hvc MMIO_GUARD_ENROLL -> 0 (console guard-mapped right after)\n");
	print("EL1: MMU on, TTBR0_EL1 root at 0x%lx (pt_root)\n", (uint64_t)pt_root);
	show_entry("console", UART_BASE);

	const char *args = fdt_bootargs(DTB_BASE);
	if (!args)
		print("no DTB at 0x%lx: running normal\n", DTB_BASE);
	else
		scenario = parse_scenario(args);
	print("scenario: %s\n", scenario_name(scenario));

	if (map_mmio_range(RTC_BASE, RTC_BASE + PAGE_SIZE) ||
	    map_mmio_range(FW_CFG_BASE, FW_CFG_BASE + PAGE_SIZE) ||
	    map_mmio_range(VIRTIO_MMIO_BASE, VIRTIO_MMIO_BASE + VIRTIO_MMIO_WINDOW) ||
	    map_mmio_range(ECAM_BLOCK_START, ECAM_BLOCK_END))
		panic("map_mmio_range failed");
	show_entry("rtc", RTC_BASE);
	show_entry("virtio-mmio", VIRTIO_MMIO_BASE);
	show_entry("pcie ecam", HIGH_ECAM_BASE);

	touch("PL031 RTC", RTC_BASE);
	touch("virtio-mmio #0", VIRTIO_MMIO_BASE);
	touch("virtio-mmio #1 (same page)", VIRTIO_MMIO_BASE + 0x200);
	if (scenario == SCENARIO_B_NO_GUARD_MAP)
		map_device_page_unguarded(FW_CFG_BASE);
	touch("fw_cfg", FW_CFG_BASE);
	touch("PCIe ECAM (high)", HIGH_ECAM_BASE);
	if (scenario == SCENARIO_C_LAZY_NORMAL) {
		uint64_t page = (uint64_t)bug_c_page;
		map_data_lazy(page);
		print("write normal memory @ 0x%lx\n", page);
		bug_c_page[0] = 0xc0ffee;
	}

	if (scenario == SCENARIO_D_NO_UNMAP_ALL) {
		print("BUG(d): mmio_unmap_all skipped\n");
	} else {
		print("mmio_unmap_all\n");
		int r = mmio_unmap_all();
		if (r) {
			print("mmio_unmap_all failed: %s\n", mt_error_str(r));
			panic("mmio_unmap_all failed");
		}
	}
	uint64_t leaked = demo_stats.guard_maps - demo_stats.guard_unmaps - 1;
	print("summary: scenario=%c faults=%lu guard_maps=%lu guard_unmaps=%lu splits=%lu "
	      "still_guard_mapped=%lu (console + %lu leaked)\n",
	      (char)scenario, demo_stats.faults, demo_stats.guard_maps, demo_stats.guard_unmaps,
	      demo_stats.splits, demo_stats.guard_maps - demo_stats.guard_unmaps, leaked);
	if (leaked)
		print("LEAK: %lu MMIO pages are still guard-mapped in stage 2\n", leaked);
	print("parked at scenario_done\n");
	scenario_done();
}
