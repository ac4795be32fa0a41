// ESR_ELx decoder: exception class names, and the data/instruction abort ISS (Arm ARM D19 ESR_EL1).

const fld = (x: bigint, hi: number, lo: number): number =>
  Number((x >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n));
const flag = (x: bigint, n: number): boolean => ((x >> BigInt(n)) & 1n) === 1n;

const EC_NAMES: Record<number, string> = {
  0x00: 'Unknown reason',
  0x01: 'WFI/WFE trapped',
  0x03: 'MCR/MRC (coproc 0b1111) trapped',
  0x04: 'MCRR/MRRC (coproc 0b1111) trapped',
  0x05: 'MCR/MRC (coproc 0b1110) trapped',
  0x06: 'LDC/STC trapped',
  0x07: 'SVE/SIMD/FP access trapped',
  0x0a: 'LD64B/ST64B trapped',
  0x0c: 'MRRC (coproc 0b1110) trapped',
  0x0d: 'Branch Target Exception',
  0x0e: 'Illegal Execution state',
  0x11: 'SVC (AArch32)',
  0x12: 'HVC (AArch32)',
  0x13: 'SMC (AArch32)',
  0x15: 'SVC (AArch64)',
  0x16: 'HVC (AArch64)',
  0x17: 'SMC (AArch64)',
  0x18: 'MSR/MRS/system instruction trapped',
  0x19: 'SVE access trapped',
  0x1a: 'ERET/ERETAA/ERETAB trapped',
  0x1c: 'Pointer authentication failure',
  0x20: 'Instruction Abort, lower EL',
  0x21: 'Instruction Abort, same EL',
  0x22: 'PC alignment fault',
  0x24: 'Data Abort, lower EL',
  0x25: 'Data Abort, same EL',
  0x26: 'SP alignment fault',
  0x28: 'FP exception (AArch32)',
  0x2c: 'FP exception (AArch64)',
  0x2f: 'SError interrupt',
  0x30: 'Breakpoint, lower EL',
  0x31: 'Breakpoint, same EL',
  0x32: 'Software Step, lower EL',
  0x33: 'Software Step, same EL',
  0x34: 'Watchpoint, lower EL',
  0x35: 'Watchpoint, same EL',
  0x38: 'BKPT (AArch32)',
  0x3c: 'BRK (AArch64)',
};

export function ecName(ec: number): string {
  return EC_NAMES[ec] ?? `reserved EC 0x${ec.toString(16)}`;
}

/** Kind of fault a DFSC/IFSC names; `level` is set for the walk-related ones. */
export type FaultType =
  | 'addressSize'
  | 'translation'
  | 'accessFlag'
  | 'permission'
  | 'externalAbort'
  | 'externalAbortOnWalk'
  | 'tagCheck'
  | 'parity'
  | 'parityOnWalk'
  | 'alignment'
  | 'granuleProtection'
  | 'tlbConflict'
  | 'unsupportedAtomic'
  | 'other';

export interface FaultStatus {
  readonly code: number;
  readonly type: FaultType;
  readonly level?: number;
  /** "Translation fault, level 3". */
  readonly name: string;
}

const LEVELLED: [number, FaultType, string][] = [
  [0b000000, 'addressSize', 'Address size fault'],
  [0b000100, 'translation', 'Translation fault'],
  [0b001000, 'accessFlag', 'Access flag fault'],
  [0b001100, 'permission', 'Permission fault'],
  [0b010100, 'externalAbortOnWalk', 'Synchronous External abort on translation table walk'],
  [0b011100, 'parityOnWalk', 'Synchronous parity/ECC error on translation table walk'],
  [0b100100, 'granuleProtection', 'Granule Protection fault on translation table walk'],
];

/** Decodes a DFSC/IFSC (ESR ISS[5:0] of a data or instruction abort). */
export function decodeFsc(code: number): FaultStatus {
  code &= 0x3f;
  for (const [base, type, name] of LEVELLED) {
    if ((code & 0b111100) === base) {
      const level = code & 3;
      return { code, type, level, name: `${name}, level ${level}` };
    }
  }
  const minus1: Record<number, [FaultType, string]> = {
    0b101001: ['addressSize', 'Address size fault'],
    0b101011: ['translation', 'Translation fault'],
    0b010011: ['externalAbortOnWalk', 'Synchronous External abort on translation table walk'],
    0b100011: ['granuleProtection', 'Granule Protection fault on translation table walk'],
  };
  const m = minus1[code];
  if (m) return { code, type: m[0], level: -1, name: `${m[1]}, level -1` };
  const fixed: Record<number, [FaultType, string]> = {
    0b010000: ['externalAbort', 'Synchronous External abort, not on translation table walk'],
    0b010001: ['tagCheck', 'Synchronous Tag Check fault'],
    0b011000: ['parity', 'Synchronous parity/ECC error, not on translation table walk'],
    0b100001: ['alignment', 'Alignment fault'],
    0b101000: ['granuleProtection', 'Granule Protection fault, not on translation table walk'],
    0b110000: ['tlbConflict', 'TLB conflict abort'],
    0b110001: ['unsupportedAtomic', 'Unsupported atomic hardware update fault'],
    0b110100: ['other', 'IMPLEMENTATION DEFINED fault (Lockdown)'],
    0b110101: ['other', 'IMPLEMENTATION DEFINED fault (Unsupported Exclusive or Atomic access)'],
  };
  const f = fixed[code];
  if (f) return { code, type: f[0], name: f[1] };
  return { code, type: 'other', name: `reserved FSC 0b${code.toString(2).padStart(6, '0')}` };
}

export interface AbortIss {
  /** Instruction syndrome valid (data aborts: SAS/SSE/SRT/SF/AR hold the access). */
  readonly isv: boolean;
  /** Access size in bytes when ISV. */
  readonly accessSize?: number;
  readonly sse?: boolean;
  /** Register transferred (x<srt>) when ISV. */
  readonly srt?: number;
  readonly sf?: boolean;
  readonly ar?: boolean;
  /** FAR not valid. */
  readonly fnv: boolean;
  /** External abort type (implementation defined). */
  readonly ea: boolean;
  /** Cache maintenance (data aborts). */
  readonly cm: boolean;
  /** Stage-2 fault on a stage-1 walk. */
  readonly s1ptw: boolean;
  /** Write not Read (data aborts). */
  readonly wnr: boolean;
  readonly fsc: FaultStatus;
}

export interface Esr {
  readonly raw: bigint;
  readonly ec: number;
  readonly ecName: string;
  /** 32-bit instruction (IL = 1). */
  readonly il: boolean;
  readonly iss: number;
  /** Set for data and instruction aborts (EC 0x20, 0x21, 0x24, 0x25). */
  readonly abort?: AbortIss & { readonly kind: 'data' | 'instruction' };
  /** HVC/SVC/SMC immediate (ISS[15:0]) for those classes. */
  readonly imm16?: number;
  readonly fields: string[];
}

export function decodeEsr(raw: bigint): Esr {
  const ec = fld(raw, 31, 26);
  const iss = fld(raw, 24, 0);
  const il = flag(raw, 25);
  const fields = [
    `EC = 0x${ec.toString(16).padStart(2, '0')} (${ecName(ec)})`,
    `IL = ${il ? '32-bit' : '16-bit'} instruction`,
  ];
  const base = { raw, ec, ecName: ecName(ec), il, iss, fields };
  if (ec === 0x24 || ec === 0x25 || ec === 0x20 || ec === 0x21) {
    const data = ec >= 0x24;
    const isv = data && flag(raw, 24);
    const fsc = decodeFsc(iss & 0x3f);
    const abort = {
      kind: data ? ('data' as const) : ('instruction' as const),
      isv,
      ...(isv
        ? {
            accessSize: 1 << fld(raw, 23, 22),
            sse: flag(raw, 21),
            srt: fld(raw, 20, 16),
            sf: flag(raw, 15),
            ar: flag(raw, 14),
          }
        : {}),
      fnv: flag(raw, 10),
      ea: flag(raw, 9),
      cm: data && flag(raw, 8),
      s1ptw: flag(raw, 7),
      wnr: data && flag(raw, 6),
      fsc,
    };
    fields.push(`${data ? 'DFSC' : 'IFSC'} = 0x${fsc.code.toString(16).padStart(2, '0')} (${fsc.name})`);
    if (data) fields.push(`WnR = ${abort.wnr ? 1 : 0} (${abort.wnr ? 'write' : 'read'})`);
    if (data)
      fields.push(
        isv
          ? `ISV = 1: ${abort.accessSize}-byte access, x${abort.srt}${abort.sse ? ' sign-extended' : ''}${abort.sf ? ' (64-bit reg)' : ''}${abort.ar ? ' acquire/release' : ''}`
          : 'ISV = 0 (no instruction syndrome)',
      );
    fields.push(
      `FnV = ${abort.fnv ? 1 : 0}${abort.fnv ? ' (FAR not valid)' : ''}, EA = ${abort.ea ? 1 : 0}, S1PTW = ${abort.s1ptw ? 1 : 0}${data ? `, CM = ${abort.cm ? 1 : 0}` : ''}`,
    );
    return { ...base, abort };
  }
  if (ec === 0x15 || ec === 0x16 || ec === 0x17 || ec === 0x11 || ec === 0x12 || ec === 0x13) {
    const imm16 = iss & 0xffff;
    fields.push(`imm16 = 0x${imm16.toString(16)}`);
    return { ...base, imm16 };
  }
  fields.push(`ISS = 0x${iss.toString(16)}`);
  return base;
}
