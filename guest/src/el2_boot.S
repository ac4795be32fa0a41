/*
 * EL2 entry (QEMU starts an ELF -kernel at EL2 with -M virt,virtualization=on), the stub's
 * exception vectors, and the secondary vCPU's parking loop. Runs with the EL2 MMU off.
 */
	.section .text.boot, "ax"
	.global _start
_start:
	mrs	x0, CurrentEL
	cmp	x0, #(2 << 2)
	b.ne	not_el2
	/* SCTLR_EL2: RES1 bits only; M, A, C off so the stub sees physical memory. */
	ldr	x0, =0x30c50830
	msr	sctlr_el2, x0
	isb
	ldr	x0, =el2_stack_top
	mov	sp, x0
	/* QEMU zero-fills NOBITS, but a guest reset must not depend on the loader. */
	ldr	x0, =__el2_bss_start
	ldr	x1, =__el2_bss_end
1:	cmp	x0, x1
	b.hs	2f
	str	xzr, [x0], #8
	b	1b
2:	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
3:	cmp	x0, x1
	b.hs	4f
	str	xzr, [x0], #8
	b	3b
4:	ldr	x0, =el2_vectors
	msr	vbar_el2, x0
	isb
	bl	el2_main
	/* Enter the EL1 firmware: EL1h, DAIF masked; el1_entry moves code to SP_EL0. */
	ldr	x0, =el1_entry
	msr	elr_el2, x0
	mov	x0, #0x3c5
	msr	spsr_el2, x0
	mov	x0, xzr
	mov	x1, xzr
	eret

	/* Started below EL2 (no virtualization=on): say so on the PL011, then park. */
not_el2:
	ldr	x1, =not_el2_msg
	mov	x2, #0x09000000
1:	ldrb	w3, [x1], #1
	cbz	w3, not_el2_park
2:	ldr	w4, [x2, #0x18]
	tbnz	w4, #5, 2b
	str	w3, [x2]
	b	1b
	.global not_el2_park
not_el2_park:
	wfe
	b	not_el2_park

/* PSCI CPU_ON target: the secondary vCPU parks here forever. */
	.global secondary_entry
	.global secondary_park
secondary_entry:
	mrs	x0, CurrentEL
	lsr	x0, x0, #2
	mrs	x1, mpidr_el1
	and	x1, x1, #0xff
	lsl	x1, x1, #8
	orr	x0, x0, x1
	movz	x1, #0x5ec0, lsl #16
	orr	x0, x0, x1
	ldr	x1, =secondary_state
	str	x0, [x1]
	dsb	sy
secondary_park:
	wfe
	b	secondary_park

	.section .el2.rodata, "a"
not_el2_msg:
	.asciz "\r\npvmfw-demo: not started at EL2: run with -M virt,virtualization=on\r\nparked at not_el2_park\r\n"

	.section .el2.text, "ax"
	.balign 2048
	.global el2_vectors
el2_vectors:
	.irp n, 0, 1, 2, 3, 4, 5, 6, 7
	.balign 0x80
	mov	x0, #\n
	b	el2_unexpected_entry
	.endr
	.balign 0x80		/* +0x400: synchronous from a lower EL, AArch64 */
	b	el2_sync_lower_entry
	.irp n, 9, 10, 11, 12, 13, 14, 15
	.balign 0x80
	mov	x0, #\n
	b	el2_unexpected_entry
	.endr

el2_unexpected_entry:
	mrs	x1, esr_el2
	mrs	x2, elr_el2
	mrs	x3, far_el2
	bl	el2_unexpected
	b	el2_panic_park

/* Save all of x0-x30 (the handler rewrites x0-x3 for SMCCC results), call C, restore, ERET. */
el2_sync_lower_entry:
	sub	sp, sp, #(32 * 8)
	stp	x0, x1, [sp, #(0 * 8)]
	stp	x2, x3, [sp, #(2 * 8)]
	stp	x4, x5, [sp, #(4 * 8)]
	stp	x6, x7, [sp, #(6 * 8)]
	stp	x8, x9, [sp, #(8 * 8)]
	stp	x10, x11, [sp, #(10 * 8)]
	stp	x12, x13, [sp, #(12 * 8)]
	stp	x14, x15, [sp, #(14 * 8)]
	stp	x16, x17, [sp, #(16 * 8)]
	stp	x18, x19, [sp, #(18 * 8)]
	stp	x20, x21, [sp, #(20 * 8)]
	stp	x22, x23, [sp, #(22 * 8)]
	stp	x24, x25, [sp, #(24 * 8)]
	stp	x26, x27, [sp, #(26 * 8)]
	stp	x28, x29, [sp, #(28 * 8)]
	str	x30, [sp, #(30 * 8)]
	mov	x0, sp
	bl	el2_sync_lower
	ldp	x0, x1, [sp, #(0 * 8)]
	ldp	x2, x3, [sp, #(2 * 8)]
	ldp	x4, x5, [sp, #(4 * 8)]
	ldp	x6, x7, [sp, #(6 * 8)]
	ldp	x8, x9, [sp, #(8 * 8)]
	ldp	x10, x11, [sp, #(10 * 8)]
	ldp	x12, x13, [sp, #(12 * 8)]
	ldp	x14, x15, [sp, #(14 * 8)]
	ldp	x16, x17, [sp, #(16 * 8)]
	ldp	x18, x19, [sp, #(18 * 8)]
	ldp	x20, x21, [sp, #(20 * 8)]
	ldp	x22, x23, [sp, #(22 * 8)]
	ldp	x24, x25, [sp, #(24 * 8)]
	ldp	x26, x27, [sp, #(26 * 8)]
	ldp	x28, x29, [sp, #(28 * 8)]
	ldr	x30, [sp, #(30 * 8)]
	add	sp, sp, #(32 * 8)
	eret

	.global el2_panic_park
el2_panic_park:
	wfi
	b	el2_panic_park

	.section .el2.bss, "aw", %nobits
	.balign 16
	.global secondary_state
secondary_state:
	.skip 8
	.balign 16
el2_stack:
	.skip 8192
	.global el2_stack_top
el2_stack_top:
