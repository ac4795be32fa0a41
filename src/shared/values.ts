// The plain values every custom request, event and webview message is made of.

/** A 64-bit value as `0x`-prefixed lower-case hex. */
export type Hex = string;

/** Which base register a walk starts from. The EL2 ones are present only with EL2 (TTBR0_EL2 when its MMU is on). */
export type Regime = 'TTBR0_EL1' | 'TTBR1_EL1' | 'TTBR0_EL2' | 'VTTBR_EL2';
