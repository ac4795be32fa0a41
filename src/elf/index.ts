// Public surface of src/elf: ELF64 symbols and DWARF line tables / functions, pure over a byte buffer.
export { ElfImage, type FunctionInfo, type LineAddress, type SymbolHit } from './image';
export type { SourceLocation, LineRange } from './lineIndex';
export {
  ElfFile,
  EM_AARCH64,
  type ElfSymbol,
  type Section,
  type SymbolType,
  type SymbolBinding,
} from './elf';
export type { CompileUnit, DwarfFunction } from './dwarfInfo';
export type { LineTable, LineRow, LineFile } from './dwarfLine';
export { ElfFormatError } from './reader';
export { SymbolTable, type SymbolEntry, type SymbolMatch } from './symbolTable';
