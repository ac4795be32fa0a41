// Entry point of the `pvmfw-mmu` command-line tool, bundled to dist/cli-main.js; the command users
// run, dist/cli.js (cli.ts), loads it through V8's code cache.
import { runProcess } from './run';

runProcess(process.argv.slice(2));
