// Entry point of the `pvmfw-mmu` command-line tool (bundled to dist/cli.js with a shebang).
import { runProcess } from './run';

runProcess(process.argv.slice(2));
