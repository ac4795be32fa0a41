// Standalone debug adapter over stdio (filled in by the debug-adapter work).
process.stderr.write('pvmfw-mmu debug adapter: not built yet\n');
process.exitCode = 2;
