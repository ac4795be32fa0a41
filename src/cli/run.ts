// Entry point of the `pvmfw-mmu` command-line tool (filled in by the table-engine work).
process.stderr.write('pvmfw-mmu: no commands yet\n');
process.exitCode = 2;
