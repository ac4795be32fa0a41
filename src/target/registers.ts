// Which registers the General and System scopes show, the names QEMU may give them, and how each
// system register expands into named fields (decoders from src/aarch64).
import { decodeEsr } from '../aarch64/esr';
import { decodeMair } from '../aarch64/mair';
import {
  decodeHcr,
  decodeSctlr,
  decodeSpsr,
  decodeTcrEl1,
  decodeTcrEl2,
  decodeVtcr,
} from '../aarch64/sysregs';

export const GENERAL_REGISTERS: readonly string[] = [
  ...Array.from({ length: 31 }, (_, i) => `x${i}`),
  'sp',
  'pc',
  'cpsr',
];

export interface SystemRegister {
  /** Name shown (Arm ARM). */
  name: string;
  /** Names QEMU may use, tried in order (7.2 keeps the AArch32 base name for some). */
  aliases: readonly string[];
  el: 1 | 2;
  decode?: (v: bigint) => string[];
}

const hex = (v: bigint) => `0x${v.toString(16)}`;

function ttbrFields(v: bigint): string[] {
  return [
    `BADDR = ${hex(v & 0x0000_ffff_ffff_fffen)}`,
    `ASID/VMID = ${hex(v >> 48n)}`,
    `CnP = ${Number(v & 1n)}`,
  ];
}

function mairFields(v: bigint): string[] {
  return decodeMair(v).map(
    (t, i) => `Attr${i} = 0x${((v >> BigInt(8 * i)) & 0xffn).toString(16).padStart(2, '0')} (${t.name})`,
  );
}

function farFields(v: bigint): string[] {
  return [`page = ${hex(v & ~0xfffn)}`, `offset = ${hex(v & 0xfffn)}`];
}

function vbarFields(v: bigint): string[] {
  return [
    `Synchronous, current EL SP0 = ${hex(v)}`,
    `Synchronous, current EL SPx = ${hex(v + 0x200n)}`,
    `Synchronous, lower EL AArch64 = ${hex(v + 0x400n)}`,
  ];
}

export const SYSTEM_REGISTERS: readonly SystemRegister[] = [
  { name: 'SCTLR_EL1', aliases: ['SCTLR_EL1', 'SCTLR'], el: 1, decode: (v) => decodeSctlr(v).fields },
  { name: 'TTBR0_EL1', aliases: ['TTBR0_EL1'], el: 1, decode: ttbrFields },
  { name: 'TTBR1_EL1', aliases: ['TTBR1_EL1'], el: 1, decode: ttbrFields },
  { name: 'TCR_EL1', aliases: ['TCR_EL1'], el: 1, decode: (v) => decodeTcrEl1(v).fields },
  { name: 'MAIR_EL1', aliases: ['MAIR_EL1'], el: 1, decode: mairFields },
  { name: 'VBAR_EL1', aliases: ['VBAR_EL1', 'VBAR'], el: 1, decode: vbarFields },
  { name: 'ESR_EL1', aliases: ['ESR_EL1'], el: 1, decode: (v) => decodeEsr(v).fields },
  { name: 'FAR_EL1', aliases: ['FAR_EL1'], el: 1, decode: farFields },
  { name: 'ELR_EL1', aliases: ['ELR_EL1'], el: 1 },
  { name: 'SPSR_EL1', aliases: ['SPSR_EL1'], el: 1, decode: (v) => decodeSpsr(v).fields },
  { name: 'HCR_EL2', aliases: ['HCR_EL2'], el: 2, decode: (v) => decodeHcr(v).fields },
  { name: 'SCTLR_EL2', aliases: ['SCTLR_EL2'], el: 2, decode: (v) => decodeSctlr(v).fields },
  { name: 'TTBR0_EL2', aliases: ['TTBR0_EL2'], el: 2, decode: ttbrFields },
  { name: 'TCR_EL2', aliases: ['TCR_EL2'], el: 2, decode: (v) => decodeTcrEl2(v).fields },
  { name: 'MAIR_EL2', aliases: ['MAIR_EL2'], el: 2, decode: mairFields },
  { name: 'VTTBR_EL2', aliases: ['VTTBR_EL2'], el: 2, decode: ttbrFields },
  { name: 'VTCR_EL2', aliases: ['VTCR_EL2'], el: 2, decode: (v) => decodeVtcr(v).fields },
  { name: 'VBAR_EL2', aliases: ['VBAR_EL2'], el: 2, decode: vbarFields },
  { name: 'ESR_EL2', aliases: ['ESR_EL2'], el: 2, decode: (v) => decodeEsr(v).fields },
  { name: 'FAR_EL2', aliases: ['FAR_EL2'], el: 2, decode: farFields },
  {
    name: 'HPFAR_EL2',
    aliases: ['HPFAR_EL2'],
    el: 2,
    decode: (v) => [`FIPA page = ${hex((v >> 4n) << 12n)}`],
  },
  { name: 'ELR_EL2', aliases: ['ELR_EL2'], el: 2 },
  { name: 'SPSR_EL2', aliases: ['SPSR_EL2'], el: 2, decode: (v) => decodeSpsr(v).fields },
];

export function cpsrFields(v: bigint): string[] {
  return decodeSpsr(v).fields;
}

/** Resolves the Arm name of a system register to the name the stub uses, if it has one. */
export function stubName(name: string, has: (n: string) => boolean): string | undefined {
  const entry = SYSTEM_REGISTERS.find((r) => r.name.toLowerCase() === name.toLowerCase());
  for (const a of entry?.aliases ?? [name]) if (has(a)) return a;
  return has(name) ? name : undefined;
}

export function formatHex64(v: bigint): string {
  return `0x${v.toString(16).padStart(16, '0')}`;
}
