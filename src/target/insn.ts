// The few A64 encodings run control must recognise without a disassembler (Arm ARM C6).

/** BL imm26 / BLR Xn / BLRAA... : instructions that call and return to the next one. */
export function isCall(insn: number): boolean {
  if ((insn & 0xfc000000) >>> 0 === 0x94000000) return true; // BL
  if ((insn & 0xfffffc1f) >>> 0 === 0xd63f0000) return true; // BLR
  if ((insn & 0xfefff800) >>> 0 === 0xd63f0800) return true; // BLRAA/BLRAB/BLRAAZ/BLRABZ
  return false;
}

/** HVC #imm16. */
export function isHvc(insn: number): boolean {
  return (insn & 0xffe0001f) >>> 0 === 0xd4000002;
}

/** SVC/HVC/SMC: an exception-generating instruction whose step lands in a vector. */
export function isExceptionGenerating(insn: number): boolean {
  return (insn & 0xff000000) >>> 0 === 0xd4000000;
}

export function readU32(bytes: Uint8Array): number {
  return (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0;
}
