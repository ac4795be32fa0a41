// Types for the parts of @alexaltea/capstone-js (an Emscripten build of Capstone 5) that src/disasm
// uses. The package ships no declarations.
declare module '@alexaltea/capstone-js' {
  interface CapstoneInstruction {
    id: number;
    /** Read as a signed i64 by the binding: normalise with BigInt.asUintN(64, …). */
    address: bigint;
    size: number;
    bytes: number[];
    mnemonic: string;
    op_str: string;
  }
  interface CapstoneHandle {
    /** Throws a string when the first instruction cannot be decoded. */
    disasm(buffer: Uint8Array | number[], address: bigint | number, max?: number): CapstoneInstruction[];
    close(): void;
  }
  interface CapstoneModule {
    ARCH_ARM64: number;
    MODE_ARM: number;
    Capstone: new (arch: number, mode: number) => CapstoneHandle;
  }
  interface ModuleOptions {
    wasmBinary?: Uint8Array;
    locateFile?: (path: string, scriptDirectory: string) => string;
  }
  function MCapstone(options?: ModuleOptions): Promise<CapstoneModule>;
  export = MCapstone;
}
