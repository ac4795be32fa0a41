/* pvmfw's hyp crate, reduced: SMCCC vendor-hyp calls over HVC #0. */
#include <stdint.h>

#include "demo.h"
#include "guard_log.h"

int64_t last_hyp_error;

static uint64_t hvc_call(uint64_t x0, uint64_t x1)
{
	register uint64_t r0 __asm__("x0") = x0;
	register uint64_t r1 __asm__("x1") = x1;
	register uint64_t r2 __asm__("x2") = 0;
	register uint64_t r3 __asm__("x3") = 0;
	__asm__ volatile("hvc #0" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)::"memory");
	return r0;
}

static const char *smccc_str(int64_t r)
{
	return r == SMCCC_SUCCESS             ? "ok"
	       : r == SMCCC_NOT_SUPPORTED     ? "NOT_SUPPORTED"
	       : r == SMCCC_INVALID_PARAMETER ? "INVALID_PARAMETER"
					      : "error";
}

NOINLINE_USED int64_t mmio_guard_info(void)
{
	int64_t r = (int64_t)hvc_call(MMIO_GUARD_INFO, 0);
	print("hvc MMIO_GUARD_INFO -> %ld (granule)\n", r);
	return r;
}

NOINLINE_USED int64_t mmio_guard_enroll(void)
{
	int64_t r = (int64_t)hvc_call(MMIO_GUARD_ENROLL, 0);
	if (r)
		last_hyp_error = r;
	return r;
}

NOINLINE_USED int64_t mmio_guard_map(uint64_t ipa)
{
	int64_t r = (int64_t)hvc_call(MMIO_GUARD_MAP, ipa);
	print("  hvc MMIO_GUARD_MAP ipa=0x%lx -> %ld (%s)\n", ipa, r, smccc_str(r));
	if (r)
		last_hyp_error = r;
	else
		demo_stats.guard_maps++;
	return r;
}

NOINLINE_USED int64_t mmio_guard_unmap(uint64_t ipa)
{
	int64_t r = (int64_t)hvc_call(MMIO_GUARD_UNMAP, ipa);
	print("  hvc MMIO_GUARD_UNMAP ipa=0x%lx -> %ld (%s)\n", ipa, r, smccc_str(r));
	if (r)
		last_hyp_error = r;
	else
		demo_stats.guard_unmaps++;
	return r;
}
