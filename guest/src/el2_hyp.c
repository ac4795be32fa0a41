/*
 * The EL2 stub: a tiny pKVM-like hypervisor. It runs the EL1 firmware under a stage-2 table,
 * answers the SMCCC vendor-hyp MMIO-guard calls, and turns an access to an MMIO page that is not
 * guard-mapped into a synchronous external abort injected into EL1, as pKVM does. Its MMU is off:
 * every address here is physical.
 */
#include <stdint.h>

#include "guard_log.h"
#include "stage2.h"

#define PL011_DR 0x09000000ul
#define PL011_FR 0x09000018ul
#define PL011_FR_TXFF (1u << 5)

#define MMIO_LOW_END 0x40000000ul
#define MMIO_HIGH_START 0x4000000000ul
#define IPA_LIMIT (1ul << (64 - S2_T0SZ))
#define RAM_BLOCK_BASE 0x40000000ul

#if S2_GRANULE_SHIFT == 14
#define S2_POOL_PAGES 8
#else
#define S2_POOL_PAGES 16
#endif
#define ESR_EC(esr) ((uint32_t)((esr) >> 26) & 0x3f)
#define EC_HVC64 0x16
#define EC_SMC64 0x17
#define EC_IABT_LOW 0x20
#define EC_DABT_LOW 0x24
#define ESR_S1PTW (1ul << 7)
#define ESR_ISV (1ul << 24)
#define ESR_IL (1ul << 25)
#define INJECTED_DABT_ESR 0x96000010ul /* EC 0x25 (same EL), IL, DFSC sync external abort */
#define INJECTED_IABT_ESR 0x86000010ul /* EC 0x21 */

#define PSCI_VERSION 0x84000000u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_CPU_ON_64 0xc4000003u

#define KVM_UID_0 0xb66fb428ul
#define KVM_UID_1 0xe911c52eul
#define KVM_UID_2 0x564bcaa9ul
#define KVM_UID_3 0x743a004dul

struct el2_frame {
	uint64_t x[31];
	uint64_t pad;
};

__attribute__((used)) struct guard_log guard_log = {
	.magic = GUARD_LOG_MAGIC,
	.version = GUARD_LOG_VERSION,
	.capacity = GUARD_LOG_CAPACITY,
	.entry_size = sizeof(struct guard_log_entry),
};

__attribute__((used)) struct hyp_state hyp_state = {.magic = HYP_STATE_MAGIC, .granule = S2_GRANULE};

/*
 * Stage-2 root (level 1: 512 entries for a 39-bit IPA at 4 KiB, the first 8 at 16 KiB) and the
 * pool its subtables come from (one granule each).
 */
__attribute__((used, aligned(4096))) uint64_t s2_root[512];
__attribute__((used, aligned(S2_GRANULE))) uint64_t s2_pool[S2_POOL_PAGES][S2_TABLE_ENTRIES];
__attribute__((used)) uint32_t s2_pool_used;

void el2_panic_park(void) __attribute__((noreturn));
extern char secondary_entry[];
/* The EL1 firmware's DTB reader (guest/src/fdt.c): plain loads, fine with the EL2 MMU off. */
const char *fdt_bootargs(uint64_t dtb);

#define sysreg_read(r)                                        \
	({                                                    \
		uint64_t __v;                                 \
		__asm__ volatile("mrs %0, " #r : "=r"(__v)); \
		__v;                                          \
	})
#define sysreg_write(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((uint64_t)(v)))

static void el2_putc(char c)
{
	while (*(volatile uint32_t *)PL011_FR & PL011_FR_TXFF)
		;
	*(volatile uint32_t *)PL011_DR = (uint32_t)(unsigned char)c;
}

static void el2_puts(const char *s)
{
	while (*s) {
		if (*s == '\n')
			el2_putc('\r');
		el2_putc(*s++);
	}
}

static void el2_puthex(uint64_t v)
{
	el2_puts("0x");
	int shift = 60;
	while (shift > 0 && ((v >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		el2_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

static int64_t smc_call(uint64_t x0, uint64_t x1, uint64_t x2, uint64_t x3)
{
	register uint64_t r0 __asm__("x0") = x0;
	register uint64_t r1 __asm__("x1") = x1;
	register uint64_t r2 __asm__("x2") = x2;
	register uint64_t r3 __asm__("x3") = x3;
	__asm__ volatile("smc #0" : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)::"memory");
	return (int64_t)r0;
}

static void guard_log_append(uint64_t func, uint64_t ipa, int64_t result)
{
	struct guard_log_entry *e = &guard_log.entries[guard_log.count % GUARD_LOG_CAPACITY];
	e->func = func;
	e->ipa = ipa;
	e->result = result;
	e->seq = guard_log.count + 1;
	guard_log.count++;
}

static int is_mmio_ipa(uint64_t ipa)
{
	return ipa < MMIO_LOW_END || (ipa >= MMIO_HIGH_START && ipa < IPA_LIMIT);
}

static uint64_t *s2_alloc_table(void)
{
	if (s2_pool_used >= S2_POOL_PAGES)
		return 0;
	uint64_t *t = s2_pool[s2_pool_used++];
	for (unsigned i = 0; i < S2_TABLE_ENTRIES; i++)
		t[i] = 0;
	return t;
}

static unsigned s2_shift(int level)
{
	return S2_GRANULE_SHIFT + S2_TABLE_BITS * (unsigned)(3 - level);
}

/* Level-3 entry for ipa, creating level-2/3 tables when create is set. */
static uint64_t *s2_leaf(uint64_t ipa, int create)
{
	uint64_t *table = s2_root;
	for (int level = 1; level < 3; level++) {
		uint64_t *e = &table[(ipa >> s2_shift(level)) & (S2_TABLE_ENTRIES - 1)];
		if ((*e & 3) != 3) {
			if (*e != 0 || !create)
				return 0;
			uint64_t *sub = s2_alloc_table();
			if (!sub)
				return 0;
			__asm__ volatile("dsb ishst" ::: "memory");
			*e = (uint64_t)sub | S2_VALID | S2_TABLE_OR_PAGE;
		}
		table = (uint64_t *)(*e & 0x0000fffffffff000ul);
	}
	return &table[(ipa >> S2_GRANULE_SHIFT) & (S2_TABLE_ENTRIES - 1)];
}

#if S2_GRANULE_SHIFT == 14
/* The level-2 table under s2_root[index] (16 KiB: no level-1 blocks), created on first use. */
static uint64_t *s2_l2_table(unsigned index)
{
	if (!(s2_root[index] & S2_VALID)) {
		uint64_t *t = s2_alloc_table();
		if (!t)
			return 0;
		s2_root[index] = (uint64_t)t | S2_VALID | S2_TABLE_OR_PAGE;
	}
	return (uint64_t *)(s2_root[index] & 0x0000fffffffff000ul);
}

/* Fills (or, with attrs 0, clears) [ipa, ipa + 1 GiB) with 32 MiB level-2 blocks. */
static void s2_blocks_1g(uint64_t ipa, uint64_t attrs)
{
	uint64_t *l2 = s2_l2_table((unsigned)(ipa >> s2_shift(1)) & (S2_TABLE_ENTRIES - 1));
	unsigned first = (unsigned)(ipa >> s2_shift(2)) & (S2_TABLE_ENTRIES - 1);
	for (unsigned i = 0; l2 && i < (1u << (30 - s2_shift(2))); i++)
		l2[first + i] = attrs ? (ipa + ((uint64_t)i << s2_shift(2))) | attrs : 0;
}
#endif

/* The entry a guard-mapped granule gets in the stage-2 representation selected at boot. */
static uint64_t s2_guard_entry(uint64_t ipa)
{
	switch (hyp_state.s2_repr) {
	case S2_REPR_PKVM_NOTE:
		return KVM_INVALID_PTE_MMIO_NOTE;
	case S2_REPR_PKVM_LEGACY:
		return KVM_MMIO_NOTE_LEGACY;
	default:
		return ipa | S2_DEVICE_PAGE;
	}
}

static int s2_is_guard_entry(uint64_t e, uint64_t ipa)
{
	return e != 0 && e == s2_guard_entry(ipa);
}

static void s2_tlb_flush_ipa(uint64_t ipa)
{
	/* Break: the stage-2 entry is gone; drop it and every combined stage-1+2 entry of this VMID. */
	__asm__ volatile("dsb ishst\n"
			 "tlbi ipas2e1is, %0\n"
			 "dsb ish\n"
			 "tlbi vmalle1is\n"
			 "dsb ish\n"
			 "isb" ::"r"(ipa >> 12)
			 : "memory");
}

static int64_t guard_enroll(void)
{
	if (!hyp_state.enrolled) {
		/* From now on MMIO reaches EL1 only granule by granule, through MMIO_GUARD_MAP. */
#if S2_GRANULE_SHIFT == 14
		s2_blocks_1g(0, 0);
		s2_blocks_1g(MMIO_HIGH_START, 0);
#else
		s2_root[0] = 0;
		s2_root[MMIO_HIGH_START >> 30] = 0;
#endif
		__asm__ volatile("dsb ishst\n"
				 "tlbi vmalls12e1is\n"
				 "dsb ish\n"
				 "isb" ::
					 : "memory");
		hyp_state.enrolled = 1;
	}
	return SMCCC_SUCCESS;
}

static int64_t guard_map(uint64_t ipa)
{
	if (!hyp_state.enrolled || (ipa & (S2_GRANULE - 1)) || !is_mmio_ipa(ipa))
		return SMCCC_INVALID_PARAMETER;
	uint64_t *e = s2_leaf(ipa, 1);
	if (!e)
		return SMCCC_INVALID_PARAMETER;
	if (!s2_is_guard_entry(*e, ipa)) {
		/* Invalid -> valid (or annotated) needs no TLB maintenance; the barrier orders it before the ERET. */
		*e = s2_guard_entry(ipa);
		__asm__ volatile("dsb ishst" ::: "memory");
		hyp_state.guard_mapped++;
	}
	return SMCCC_SUCCESS;
}

static int64_t guard_unmap(uint64_t ipa)
{
	if (!hyp_state.enrolled || (ipa & (S2_GRANULE - 1)) || !is_mmio_ipa(ipa))
		return SMCCC_INVALID_PARAMETER;
	uint64_t *e = s2_leaf(ipa, 0);
	if (!e || !s2_is_guard_entry(*e, ipa))
		return SMCCC_INVALID_PARAMETER;
	*e = 0;
	s2_tlb_flush_ipa(ipa);
	hyp_state.guard_mapped--;
	return SMCCC_SUCCESS;
}

static void handle_hvc(struct el2_frame *f)
{
	uint32_t fid = (uint32_t)f->x[0];
	int64_t ret;

	switch (fid) {
	case SMCCC_VENDOR_HYP_UID:
		f->x[0] = KVM_UID_0;
		f->x[1] = KVM_UID_1;
		f->x[2] = KVM_UID_2;
		f->x[3] = KVM_UID_3;
		return;
	case MMIO_GUARD_INFO:
		ret = (int64_t)S2_GRANULE;
		guard_log_append(fid, 0, ret);
		break;
	case MMIO_GUARD_ENROLL:
		ret = guard_enroll();
		guard_log_append(fid, 0, ret);
		break;
	case MMIO_GUARD_MAP:
		ret = guard_map(f->x[1]);
		guard_log_append(fid, f->x[1], ret);
		break;
	case MMIO_GUARD_UNMAP:
		ret = guard_unmap(f->x[1]);
		guard_log_append(fid, f->x[1], ret);
		break;
	case PSCI_VERSION:
	case PSCI_SYSTEM_OFF:
	case PSCI_SYSTEM_RESET:
		/* QEMU implements PSCI behind the SMC conduit when EL2 exists. */
		ret = smc_call(fid, f->x[1], f->x[2], f->x[3]);
		break;
	default:
		ret = SMCCC_NOT_SUPPORTED;
		break;
	}
	f->x[0] = (uint64_t)ret;
}

static void inject_external_abort(uint64_t esr_el2)
{
	uint64_t far = sysreg_read(far_el2);
	uint64_t ipa = ((sysreg_read(hpfar_el2) >> 4) << 12) | (far & 0xfff);
	uint64_t spsr = sysreg_read(spsr_el2);
	uint64_t mode = spsr & 0xf;
	/* Vector offset as if EL1 had taken the abort itself: EL1t +0x000, EL1h +0x200, EL0 +0x400. */
	uint64_t offset = mode == 0x4 ? 0x000 : mode == 0x5 ? 0x200 : 0x400;

	hyp_state.injected_aborts++;
	hyp_state.last_abort_ipa = ipa;
	hyp_state.last_abort_far = far;
	hyp_state.last_abort_esr_el2 = esr_el2;
	el2_puts("[el2] stage-2 fault: IPA ");
	el2_puthex(ipa);
	el2_puts(" is not MMIO-guard mapped (ESR_EL2 ");
	el2_puthex(esr_el2);
	el2_puts("): injecting a synchronous external abort into EL1\n");

	sysreg_write(esr_el1, ESR_EC(esr_el2) == EC_DABT_LOW ? INJECTED_DABT_ESR : INJECTED_IABT_ESR);
	sysreg_write(far_el1, far);
	sysreg_write(elr_el1, sysreg_read(elr_el2));
	sysreg_write(spsr_el1, spsr);
	sysreg_write(elr_el2, sysreg_read(vbar_el1) + offset);
	sysreg_write(spsr_el2, 0x3c5); /* EL1h, DAIF masked */
}

/*
 * pKVM's representation: a guard-mapped granule is an invalid annotated stage-2 entry, so the
 * guest's access aborts to EL2, which performs it for the guest (pKVM forwards it to the VMM) when
 * the syndrome describes it (ISV), and steps over the instruction. Returns 0 when the access is not
 * one to forward: the caller injects the external abort, as for an unguarded page.
 */
static int emulate_guarded_access(struct el2_frame *f, uint64_t esr)
{
	if (hyp_state.s2_repr == S2_REPR_VALID || !(esr & ESR_ISV))
		return 0;
	uint64_t ipa = ((sysreg_read(hpfar_el2) >> 4) << 12) | (sysreg_read(far_el2) & 0xfff);
	uint64_t *e = s2_leaf(ipa & ~(S2_GRANULE - 1), 0);
	if (!e || !s2_is_guard_entry(*e, ipa & ~(S2_GRANULE - 1)))
		return 0;
	unsigned sas = (unsigned)(esr >> 22) & 3; /* access size 1 << sas bytes */
	unsigned srt = (unsigned)(esr >> 16) & 31;
	int sign = (esr >> 21) & 1, sf = (esr >> 15) & 1, write = (esr >> 6) & 1;
	if (write) {
		uint64_t v = srt == 31 ? 0 : f->x[srt];
		if (sas == 0)
			*(volatile uint8_t *)ipa = (uint8_t)v;
		else if (sas == 1)
			*(volatile uint16_t *)ipa = (uint16_t)v;
		else if (sas == 2)
			*(volatile uint32_t *)ipa = (uint32_t)v;
		else
			*(volatile uint64_t *)ipa = v;
	} else {
		uint64_t v = sas == 0 ? *(volatile uint8_t *)ipa
			     : sas == 1 ? *(volatile uint16_t *)ipa
			     : sas == 2 ? *(volatile uint32_t *)ipa
					: *(volatile uint64_t *)ipa;
		if (sign && sas < 3) {
			unsigned bits = 8u << sas;
			v = (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
		}
		if (!sf)
			v &= 0xffffffffu;
		if (srt != 31)
			f->x[srt] = v;
	}
	hyp_state.emulated_accesses++;
	sysreg_write(elr_el2, sysreg_read(elr_el2) + (esr & ESR_IL ? 4 : 2));
	return 1;
}

/* `s2=pkvm` / `s2=pkvm-legacy` in /chosen/bootargs (-append) selects pKVM's representation. */
static uint32_t s2_repr_from_bootargs(void)
{
	const char *args = fdt_bootargs(RAM_BLOCK_BASE);
	static const char key[] = "s2=pkvm";
	for (const char *a = args; a && *a; a++) {
		unsigned i = 0;
		while (key[i] && a[i] == key[i])
			i++;
		if (key[i] || (a != args && a[-1] != ' '))
			continue;
		if (a[i] == 0 || a[i] == ' ')
			return S2_REPR_PKVM_NOTE;
		if (a[i] == '-' && a[i + 1] == 'l')
			return S2_REPR_PKVM_LEGACY;
	}
	return S2_REPR_VALID;
}

void el2_unexpected(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far)
{
	el2_puts("[el2] unexpected exception: vector ");
	el2_puthex(vector);
	el2_puts(" ESR_EL2 ");
	el2_puthex(esr);
	el2_puts(" ELR_EL2 ");
	el2_puthex(elr);
	el2_puts(" FAR_EL2 ");
	el2_puthex(far);
	el2_puts("\n");
}

void el2_sync_lower(struct el2_frame *f)
{
	uint64_t esr = sysreg_read(esr_el2);

	switch (ESR_EC(esr)) {
	case EC_HVC64:
		handle_hvc(f);
		return;
	case EC_SMC64:
		/* A trapped SMC returns to itself: step over it. */
		f->x[0] = (uint64_t)SMCCC_NOT_SUPPORTED;
		sysreg_write(elr_el2, sysreg_read(elr_el2) + 4);
		return;
	case EC_DABT_LOW:
		if (!(esr & ESR_S1PTW) && emulate_guarded_access(f, esr))
			return;
		/* fall through */
	case EC_IABT_LOW:
		if (!(esr & ESR_S1PTW)) {
			inject_external_abort(esr);
			return;
		}
		break;
	default:
		break;
	}
	el2_unexpected(0x400, esr, sysreg_read(elr_el2), sysreg_read(far_el2));
	el2_panic_park();
}

void el2_main(void)
{
	uint64_t parange = sysreg_read(id_aa64mmfr0_el1) & 0xf;
	uint64_t ps = parange > 5 ? 5 : parange; /* 4 KiB granule without LPA2: at most 48 bits */

	el2_puts("\npvmfw-demo: EL2 stub up, MMIO guard hypervisor\n");
	hyp_state.s2_repr = s2_repr_from_bootargs();
	if (hyp_state.s2_repr != S2_REPR_VALID)
		el2_puts("[el2] s2=pkvm: guard maps are annotated invalid entries, accesses emulated\n");

	/* Before ENROLL every MMIO range passes through, as when a VMM handles it. */
#if S2_GRANULE_SHIFT == 14
	s2_blocks_1g(0, S2_DEVICE_BLOCK);
	s2_blocks_1g(RAM_BLOCK_BASE, S2_RAM_BLOCK);
	s2_blocks_1g(MMIO_HIGH_START, S2_DEVICE_BLOCK);
#else
	s2_root[0] = 0 | S2_DEVICE_BLOCK;
	s2_root[RAM_BLOCK_BASE >> 30] = RAM_BLOCK_BASE | S2_RAM_BLOCK;
	s2_root[MMIO_HIGH_START >> 30] = MMIO_HIGH_START | S2_DEVICE_BLOCK;
#endif

	/* VTCR_EL2: RES1 bit 31, PS, TG0, SH0/ORGN0/IRGN0 0 (non-cacheable walks), SL0, T0SZ. */
	sysreg_write(vtcr_el2, (1ul << 31) | (ps << 16) | S2_VTCR_TG0_SL0 | S2_T0SZ);
	sysreg_write(vttbr_el2, (uint64_t)s2_root | (1ul << 48)); /* VMID 1 */
	/* HCR_EL2: RW (EL1 is AArch64), TSC (trap SMC), SWIO, VM (stage 2 on). */
	sysreg_write(hcr_el2, (1ul << 31) | (1ul << 19) | (1ul << 1) | (1ul << 0));
	sysreg_write(cptr_el2, 0x33ff);
	sysreg_write(hstr_el2, 0);
	sysreg_write(cnthctl_el2, 3);
	sysreg_write(cntvoff_el2, 0);
	sysreg_write(vpidr_el2, sysreg_read(midr_el1));
	sysreg_write(vmpidr_el2, sysreg_read(mpidr_el1));
	sysreg_write(sctlr_el1, 0x30d00800); /* RES1 bits, MMU off: the firmware turns it on */
	__asm__ volatile("isb\n"
			 "tlbi alle1\n"
			 "dsb nsh\n"
			 "isb" ::
				 : "memory");
	el2_puts("[el2] stage 2 on: VTTBR_EL2 ");
	el2_puthex(sysreg_read(vttbr_el2));
	el2_puts(" VTCR_EL2 ");
	el2_puthex(sysreg_read(vtcr_el2));
	el2_puts("\n");

	/* Start vCPU 1 in the parking loop (QEMU starts secondaries powered off). */
	int64_t r = smc_call(PSCI_CPU_ON_64, 1, (uint64_t)secondary_entry, 0);
	el2_puts("[el2] PSCI CPU_ON cpu1 -> ");
	if (r == 0) {
		el2_puts("0 (parked at secondary_park)");
	} else {
		el2_puts("error ");
		el2_puthex((uint64_t)r);
		el2_puts(" (single vCPU?)");
	}
	el2_puts("\n[el2] entering EL1 firmware\n");
}
