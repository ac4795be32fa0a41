/* pvmfw exceptions.rs at the seed: classify ESR_EL1 with pvmfw's masks; park instead of reboot. */
#include <stdint.h>

#include "demo.h"

#define ESR_TRANSLATION_FAULT_MASK 0x143ul /* DFSC level bits, WnR, CM */
#define ESR_TRANSLATION_FAULT 0x96000004ul
#define ESR_PERMISSION_FAULT_MASK 0x103ul
#define ESR_PERMISSION_FAULT 0x9600004cul
#define ESR_32BIT_EXT_DABT 0x96000010ul /* what pKVM injects for MMIO that is not guard-mapped */

/* Last panic message, for the debugger (NULL while nothing failed). */
__attribute__((used)) const char *volatile panic_message;

NOINLINE_USED __attribute__((noreturn)) void panic_park(void)
{
	for (;;)
		__asm__ volatile("wfi");
}

void panic(const char *msg)
{
	panic_message = msg;
	print("panic: %s\nparked at panic_park\n", msg);
	panic_park();
}

static uint64_t read_esr(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, esr_el1" : "=r"(v));
	return v;
}

static uint64_t read_far(void)
{
	uint64_t v;
	__asm__ volatile("mrs %0, far_el1" : "=r"(v));
	return v;
}

NOINLINE_USED void sync_exception_current(uint64_t elr, uint64_t spsr)
{
	uint64_t esr = read_esr();
	uint64_t far = read_far();
	(void)spsr;

	if ((esr & ~ESR_TRANSLATION_FAULT_MASK) == ESR_TRANSLATION_FAULT) {
		demo_stats.faults++;
		print("fault #%lu: FAR=0x%lx ESR=0x%lx (translation fault, level %lu, %s) ELR=0x%lx -> "
		      "handle_mmio_fault\n",
		      demo_stats.faults, far, esr, esr & 3, esr & (1ul << 6) ? "write" : "read", elr);
		int r = handle_mmio_fault(far);
		if (r) {
			print("handle_mmio_fault(0x%lx) failed: %s (hypervisor error %ld)\n", far,
			      mt_error_str(r), last_hyp_error);
			panic("sync_exception_current: failed to handle an MMIO fault");
		}
		return;
	}
	if ((esr & ~ESR_PERMISSION_FAULT_MASK) == ESR_PERMISSION_FAULT) {
		print("fault: FAR=0x%lx ESR=0x%lx (permission fault) ELR=0x%lx\n", far, esr, elr);
		panic("sync_exception_current: unhandled permission fault");
	}
	if (esr == ESR_32BIT_EXT_DABT) {
		print("fault: FAR=0x%lx ESR=0x%lx (synchronous external abort) ELR=0x%lx\n", far, esr, elr);
		print("  the hypervisor refused the access: page 0x%lx is not MMIO-guard mapped\n",
		      far & ~(PAGE_SIZE - 1));
		panic("sync_exception_current: external abort");
	}
	print("fault: FAR=0x%lx ESR=0x%lx ELR=0x%lx: unexpected\n", far, esr, elr);
	panic("sync_exception_current: unexpected exception");
}

void unexpected_exception(uint64_t vector, uint64_t esr, uint64_t far, uint64_t elr)
{
	print("unexpected exception at VBAR_EL1+0x%lx: ESR=0x%lx FAR=0x%lx ELR=0x%lx\n", vector * 0x80,
	      esr, far, elr);
	panic("unexpected exception");
}
