// The exception vector table (Arm ARM D1.3): VBAR_ELx + 0x80 * entry, 16 entries in 0x800 bytes.

export const VECTOR_NAMES = [
  'Synchronous, current EL with SP0',
  'IRQ, current EL with SP0',
  'FIQ, current EL with SP0',
  'SError, current EL with SP0',
  'Synchronous, current EL with SPx',
  'IRQ, current EL with SPx',
  'FIQ, current EL with SPx',
  'SError, current EL with SPx',
  'Synchronous, lower EL AArch64',
  'IRQ, lower EL AArch64',
  'FIQ, lower EL AArch64',
  'SError, lower EL AArch64',
  'Synchronous, lower EL AArch32',
  'IRQ, lower EL AArch32',
  'FIQ, lower EL AArch32',
  'SError, lower EL AArch32',
];

/** Which vector entry `pc` is in, if any: each entry is 0x80 bytes of a 0x800-byte table. */
export function vectorAt(pc: bigint, vbar: bigint | undefined): string | undefined {
  if (vbar === undefined || vbar === 0n) return undefined;
  if (pc < vbar || pc >= vbar + 0x800n) return undefined;
  return VECTOR_NAMES[Number((pc - vbar) >> 7n)];
}
