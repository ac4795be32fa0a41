/*
 * EL1 firmware entry and exception vectors (vmbase style): the firmware runs on SP_EL0, so a data
 * abort in its code enters at VBAR_EL1 + 0x000 and the handler runs on SP_EL1.
 */
	.section .text.el1_entry, "ax"
	.global el1_entry
el1_entry:
	ldr	x0, =el1_exception_stack_top
	mov	sp, x0			/* SP_EL1: exception handlers */
	ldr	x0, =vector_table_el1
	msr	vbar_el1, x0
	isb
	msr	spsel, #0
	ldr	x0, =el1_stack_top
	mov	sp, x0			/* SP_EL0: everything else */
	bl	el1_main
	b	panic_park

/* Caller-saved registers, ELR_EL1 and SPSR_EL1: 24 slots (192 bytes, 16-byte aligned). */
.macro save_volatile_to_stack
	sub	sp, sp, #(8 * 24)
	stp	x0, x1, [sp, #(8 * 0)]
	stp	x2, x3, [sp, #(8 * 2)]
	stp	x4, x5, [sp, #(8 * 4)]
	stp	x6, x7, [sp, #(8 * 6)]
	stp	x8, x9, [sp, #(8 * 8)]
	stp	x10, x11, [sp, #(8 * 10)]
	stp	x12, x13, [sp, #(8 * 12)]
	stp	x14, x15, [sp, #(8 * 14)]
	stp	x16, x17, [sp, #(8 * 16)]
	stp	x18, x29, [sp, #(8 * 18)]
	mrs	x0, elr_el1
	mrs	x1, spsr_el1
	stp	x30, x0, [sp, #(8 * 20)]
	str	x1, [sp, #(8 * 22)]
.endm

.macro restore_volatile_from_stack
	ldp	x30, x0, [sp, #(8 * 20)]
	ldr	x1, [sp, #(8 * 22)]
	msr	elr_el1, x0
	msr	spsr_el1, x1
	ldp	x0, x1, [sp, #(8 * 0)]
	ldp	x2, x3, [sp, #(8 * 2)]
	ldp	x4, x5, [sp, #(8 * 4)]
	ldp	x6, x7, [sp, #(8 * 6)]
	ldp	x8, x9, [sp, #(8 * 8)]
	ldp	x10, x11, [sp, #(8 * 10)]
	ldp	x12, x13, [sp, #(8 * 12)]
	ldp	x14, x15, [sp, #(8 * 14)]
	ldp	x16, x17, [sp, #(8 * 16)]
	ldp	x18, x29, [sp, #(8 * 18)]
	add	sp, sp, #(8 * 24)
.endm

	.section .text.vectors, "ax"
	.balign 2048
	.global vector_table_el1
vector_table_el1:
	.balign 0x80		/* +0x000: synchronous, current EL with SP_EL0 */
	b	sync_exception_sp0_entry
	.irp n, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
	.balign 0x80
	mov	x0, #\n
	b	unexpected_exception_entry
	.endr

	/* Past the 2 KiB table, so no handler code sits in a vector slot (a debugger that names the
	 * slot of a PC would otherwise call this code "SError, lower EL AArch32"). */
	.balign 0x80
sync_exception_sp0_entry:
	save_volatile_to_stack
	mrs	x0, elr_el1
	mrs	x1, spsr_el1
	bl	sync_exception_current
	restore_volatile_from_stack
	eret

unexpected_exception_entry:
	mrs	x1, esr_el1
	mrs	x2, far_el1
	mrs	x3, elr_el1
	bl	unexpected_exception
	b	panic_park
