// The `pvmfw-mmu` command-line tool: walk, translate, guard, snapshot over a live gdbstub or a
// snapshot file, and diff of two snapshots (main.ts runs it; tests call main() directly). Exit
// codes: 0 ok, 1 runtime failure (unreachable stub, unreadable or invalid snapshot; one line on
// stderr, never a stack trace), 2 bad arguments; `guard` exits 3 when it finds error-severity
// anomalies, `translate` 4 when the access faults.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_MAX_TABLES, MAX_STORE_TABLES } from '../aarch64';
import { encodeSnapshot, programLabel } from '../analysis';
import { parseProfileOverride, PROFILE_SYNTAX, type ProfileOverride } from '../profiles';
import { CliError, openGdb, openSnapshot, type Source } from './source';
import { runGuard, runSnapshot, runTranslate, runWalk, type CommonOptions } from './commands';
import { runDiff } from './diff';

const USAGE = `usage: pvmfw-mmu <command> (--gdb HOST:PORT | --snapshot FILE) [options]
       pvmfw-mmu diff A B [--json] [--elf FILE]

commands:
  walk       [--regime el1|el2|stage2] [--leaves] [--json]   translation tables: regions (or every leaf)
             [--final-pa]                                     under stage 2: each IPA's PA as well
  translate  VA [--regime ...] [--write] [--exec] [--el0]    per-level walk of one address, PA or fault
  guard      [--elf FILE | --guard-log ADDR] [--json]         lazy-MMIO report with anomalies
  snapshot   -o FILE [--elf FILE | --guard-log ADDR]          registers, every range read, the program's
                                                              identity: gzip JSON, for --snapshot and diff
  diff       A B [--json] [--elf FILE | --guard-log ADDR]     what changed from snapshot A to snapshot B:
                                                              table entries and their fields, guard-state
                                                              transitions, guard calls, regions, anomalies

options:
  --gdb HOST:PORT     QEMU gdbstub (the guest is stopped while attached; --resume detaches and resumes)
  --snapshot FILE     read a snapshot written by 'snapshot' instead of a live target
  --elf FILE          the guest ELF: symbols (the guard-call log) and, in snapshots, its identity
  --lazy-bit N        descriptor bit used as MMIO_LAZY_MAP_FLAG (default 55)
  --max-tables N      cap on tables walked, in 4 KiB tables (default ${DEFAULT_MAX_TABLES})
  --profile P         what software bits mean: ${PROFILE_SYNTAX}
                      (default auto: chosen per regime from the program's symbols and the registers)
  --cpu N             the vCPU to read (1-based, default: the one that stopped)
  --json              one JSON object on stdout
  --no-progress       no progress bar on stderr
`;

class UsageError extends Error {}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        gdb: { type: 'string' },
        snapshot: { type: 'string' },
        regime: { type: 'string' },
        json: { type: 'boolean' },
        leaves: { type: 'boolean' },
        write: { type: 'boolean' },
        exec: { type: 'boolean' },
        el0: { type: 'boolean' },
        elf: { type: 'string' },
        'guard-log': { type: 'string' },
        'lazy-bit': { type: 'string' },
        'max-tables': { type: 'string' },
        profile: { type: 'string' },
        'final-pa': { type: 'boolean' },
        cpu: { type: 'string' },
        output: { type: 'string', short: 'o' },
        resume: { type: 'boolean' },
        'no-progress': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}

function profileOption(v: string): ProfileOverride {
  try {
    return parseProfileOverride(v);
  } catch (e) {
    throw new UsageError(`--profile: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function intOption(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new UsageError(`--${name} expects an integer in [${min}, ${max}], got '${v}'`);
  return Number(v);
}

export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const { values: o, positionals } = parse(argv);
  if (o.help || positionals.length === 0) {
    out(USAGE);
    return o.help ? 0 : 2;
  }
  const [command, ...rest] = positionals;
  if (!['walk', 'translate', 'guard', 'snapshot', 'diff'].includes(command))
    throw new UsageError(`unknown command '${command}' (walk, translate, guard, snapshot, diff)`);
  if (command === 'diff') {
    if (rest.length !== 2) throw new UsageError('diff expects two snapshot files (diff A B)');
    if (o.gdb || o.snapshot)
      throw new UsageError('diff reads the two snapshots it is given, not --gdb or --snapshot');
  } else if (!o.gdb === !o.snapshot)
    throw new UsageError('give exactly one of --gdb HOST:PORT or --snapshot FILE');
  const regime = o.regime ?? 'el1';
  if (regime !== 'el1' && regime !== 'el2' && regime !== 'stage2')
    throw new UsageError(`--regime expects el1, el2 or stage2, got '${regime}'`);
  if (command === 'translate' && rest.length !== 1)
    throw new UsageError('translate expects one address (e.g. translate 0x9000000)');
  if (command !== 'translate' && command !== 'diff' && rest.length > 0)
    throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (command === 'snapshot' && !o.output) throw new UsageError('snapshot needs -o FILE');
  const common: CommonOptions = {
    regime,
    json: !!o.json,
    lazyBit: intOption(o['lazy-bit'], 'lazy-bit', 0, 63) ?? 55,
    maxTables: intOption(o['max-tables'], 'max-tables', 1, MAX_STORE_TABLES - 8) ?? DEFAULT_MAX_TABLES,
    progress: !o['no-progress'] && !o.json && process.stderr.isTTY === true,
    out,
    ...(o.elf ? { elf: o.elf } : {}),
    ...(o['guard-log'] ? { guardLog: o['guard-log'] } : {}),
    ...(o.profile ? { profile: profileOption(o.profile) } : {}),
    ...(o['final-pa'] ? { finalPa: true } : {}),
  };
  if (command === 'diff') return runDiff(rest[0], rest[1], common);
  const cpu = intOption(o.cpu, 'cpu', 1, 512);
  const source: Source = o.gdb
    ? await openGdb(o.gdb, !!o.resume, cpu, command === 'snapshot')
    : openSnapshot(o.snapshot!, cpu);
  for (const w of source.warnings ?? []) process.stderr.write(`pvmfw-mmu: ${w}\n`);
  try {
    switch (command) {
      case 'walk':
        return await runWalk(source, common, !!o.leaves);
      case 'translate':
        return await runTranslate(source, common, rest[0], {
          write: !!o.write,
          exec: !!o.exec,
          el0: !!o.el0,
        });
      case 'guard':
        return await runGuard(source, common);
      default: {
        const snap = await runSnapshot(source, common);
        const bytes = encodeSnapshot(snap);
        try {
          writeFileSync(o.output!, bytes);
        } catch (e) {
          throw new CliError(
            `cannot write snapshot ${o.output}: ${e instanceof Error ? e.message : String(e)}`,
          );
        }
        const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
        const memory = source.reader.image.size;
        out(
          `snapshot: ${Object.keys(snap.registers).length} registers, ${snap.memory.length} memory runs (${kib(memory)}), ${snap.program ? `program ${programLabel(snap.program)}` : 'no program (--elf records it)'} -> ${o.output} (${kib(bytes.length)} gzip)\n`,
        );
        return 0;
      }
    }
  } finally {
    await source.close();
  }
}

export { UsageError };

/** The one line a failure prints: the message's first line (never a stack trace). */
function failureLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return `pvmfw-mmu: ${text.split('\n')[0] || (e instanceof Error ? e.name : 'failed')}\n`;
}

/** Runs the CLI as a process: one clear line on stderr and a non-zero exit code on failure. */
export function runProcess(argv: string[]): void {
  // A reader of stdout that goes away (`| head`) ends the run quietly, as with other tools.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(failureLine(e));
    process.exit(1);
  });
  // Last resort for errors outside main's promise (a socket event, a timer): the same one line.
  process.on('uncaughtException', (e) => {
    process.stderr.write(failureLine(e));
    process.exit(1);
  });
  main(argv).then(
    (code) => {
      process.exitCode = code;
      // Done: end now rather than when the event loop drains (the gdbstub's socket closing, a
      // timer of the connection), once stdout has taken everything written (pipes are synchronous
      // on Linux; elsewhere they may not be).
      if (process.stdout.writableLength > 0) process.stdout.once('drain', () => process.exit(code));
      else process.exit(code);
    },
    (e: unknown) => {
      process.stderr.write(failureLine(e));
      if (e instanceof UsageError) process.stderr.write("run 'pvmfw-mmu --help' for usage\n");
      process.exitCode = e instanceof UsageError ? 2 : 1;
    },
  );
}
