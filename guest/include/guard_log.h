/*
 * The EL2 stub's log of MMIO-guard hypercalls, at the global symbol `guard_log` (little endian).
 * The debugger reads it by symbol through physical memory; keep this layout in sync with
 * guest/README.md.
 *
 *   offset size field
 *   0x00   4    magic     GUARD_LOG_MAGIC (bytes "GLOG")
 *   0x04   4    version   GUARD_LOG_VERSION
 *   0x08   4    capacity  number of entries in the ring (GUARD_LOG_CAPACITY)
 *   0x0c   4    entry_size sizeof(struct guard_log_entry) = 32
 *   0x10   8    count     entries ever written; the next one goes to entries[count % capacity]
 *   0x18   8    reserved  0
 *   0x20   capacity * 32  entries
 *
 * entry: seq (u64, 1-based: entry k written has seq k, 0 = never written), func (u64, the SMCCC
 * function id in x0), ipa (u64, x1 of MAP/UNMAP, 0 otherwise), result (i64, x0 returned).
 */
#ifndef DEMO_GUARD_LOG_H
#define DEMO_GUARD_LOG_H

#include <stdint.h>

#define GUARD_LOG_MAGIC 0x474f4c47u /* "GLOG" */
#define GUARD_LOG_VERSION 1u
#define GUARD_LOG_CAPACITY 64u

#define SMCCC_VENDOR_HYP_UID 0x8600ff01u
#define MMIO_GUARD_INFO 0xc6000005u
#define MMIO_GUARD_ENROLL 0xc6000006u
#define MMIO_GUARD_MAP 0xc6000007u
#define MMIO_GUARD_UNMAP 0xc6000008u

#define SMCCC_SUCCESS 0
#define SMCCC_NOT_SUPPORTED (-1)
#define SMCCC_INVALID_PARAMETER (-3)

struct guard_log_entry {
	uint64_t seq;
	uint64_t func;
	uint64_t ipa;
	int64_t result;
};

struct guard_log {
	uint32_t magic;
	uint32_t version;
	uint32_t capacity;
	uint32_t entry_size;
	uint64_t count;
	uint64_t reserved;
	struct guard_log_entry entries[GUARD_LOG_CAPACITY];
};

_Static_assert(sizeof(struct guard_log_entry) == 32, "guard_log_entry layout");
_Static_assert(__builtin_offsetof(struct guard_log, entries) == 0x20, "guard_log layout");

/*
 * `hyp_state`: the stub's other state the debugger may show.
 *   0x00 magic "HYPS" (0x53505948), 0x04 enrolled (u32, 0/1), 0x08 guard_mapped (u64, pages mapped
 *   now), 0x10 injected_aborts (u64), 0x18 last_abort_ipa (u64), 0x20 last_abort_far (u64),
 *   0x28 last_abort_esr_el2 (u64), 0x30 s2_repr (u32: 0 valid device pages, 1 pKVM's
 *   KVM_INVALID_PTE_MMIO_NOTE, 2 pKVM's legacy 0x9a9a929e; see stage2.h), 0x34 granule (u32, the
 *   MMIO-guard granule in bytes), 0x38 emulated_accesses (u64, guest device accesses done at EL2
 *   after a stage-2 abort on an annotated entry). guard_mapped counts granules.
 */
#define HYP_STATE_MAGIC 0x53505948u

struct hyp_state {
	uint32_t magic;
	uint32_t enrolled;
	uint64_t guard_mapped;
	uint64_t injected_aborts;
	uint64_t last_abort_ipa;
	uint64_t last_abort_far;
	uint64_t last_abort_esr_el2;
	uint32_t s2_repr;
	uint32_t granule;
	uint64_t emulated_accesses;
};

_Static_assert(__builtin_offsetof(struct hyp_state, emulated_accesses) == 0x38, "hyp_state layout");

#endif
