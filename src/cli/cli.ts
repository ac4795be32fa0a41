// Entry point of the `pvmfw-mmu` command as shipped (dist/cli.js, a few lines with a shebang): the CLI
// itself is the bundle next to it, dist/cli-main.js (main.ts), run through V8's code cache.
import { join } from 'node:path';
import { boot } from './codeCache';

boot(join(__dirname, 'cli-main.js'), process.argv.slice(2));
