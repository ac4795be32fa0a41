// Moved to src/elf/symbolTable.ts; kept until session.ts imports it from there.
export * from '../elf/symbolTable';
