// Snapshot benchmarks (printed by `npm run bench`, never asserted), on a Debian arm64 kernel booted
// to its root-fs panic (W1: ~525 tables, ~2.15 MB of tables):
// 1. Size of a CLI snapshot: gzip-compressed (what `snapshot -o` writes) vs the same JSON plain and
//    vs version 1's indented JSON.
// 2. Load + first tree level (open the file, analyzeStop, the TTBR1_EL1 root table as the tree
//    lists it) against the floor of reading the same file at all (gunzip + JSON.parse), same run.
// 3. `diff --json` of two kernel snapshots (load both, analyse both, diffStops, the JSON written)
//    against the same floor for the two files: two captures a moment apart, and the first against
//    a copy with the access flag of every 16th valid level-3 entry flipped (AF churn).
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeSpsr } from '../src/aarch64';
import {
  diffStops,
  encodeSnapshot,
  loadSnapshot,
  makeSnapshot,
  pageTable,
  parseSnapshotBytes,
} from '../src/analysis';
import { main as cli } from '../src/cli/run';
import { openSnapshot } from '../src/cli/source';
import { cliPicture, type PictureOptions } from '../src/cli/stop';
import { connectTcp } from '../src/gdb';
import { bootKernelToPanic } from '../test/qemu/kernel-boot';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number, d = 1): string => n.toFixed(d);
const mb = (n: number): string => `${fmt(n / 1e6, 2)} MB`;
const OPTIONS: PictureOptions = { lazyBit: 55, maxTables: 100_000 };
const UPPER = 0xffff_0000_0000_0000n;

/** `rounds` timed runs after `warmup` untimed ones: the median, in ms. */
async function time(rounds: number, warmup: number, f: () => unknown): Promise<number> {
  const xs: number[] = [];
  for (let r = 0; r < warmup + rounds; r++) {
    const t0 = performance.now();
    await f();
    if (r >= warmup) xs.push(performance.now() - t0);
  }
  return median(xs);
}

/** The floor: the file read, gunzipped and parsed, nothing validated or analysed. */
function floor(file: string): unknown {
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8'));
}

async function loadAndFirstLevel(file: string): Promise<number> {
  const { picture } = await cliPicture(openSnapshot(file), OPTIONS);
  const root = await pageTable(picture, { regime: 'TTBR1_EL1' });
  return root.entries.length;
}

/** `pvmfw-mmu diff A B --json` in this process, its output discarded: the entries it reports. */
async function diffFiles(a: string, b: string): Promise<number> {
  let out = '';
  await cli(['diff', a, b, '--json'], (s) => (out += s));
  return (JSON.parse(out) as { entries: unknown[] }).entries.length;
}

async function run(): Promise<void> {
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  console.log('booting Debian arm64 kernel to its root-fs panic...');
  const k = await bootKernelToPanic();
  const dir = mkdtempSync(join(tmpdir(), 'pvmfw-mmu-snapbench-'));
  const target = `127.0.0.1:${k.qemu.port}`;
  const files = ['kernel-a', 'kernel-b', 'kernel-af'].map((n) => join(dir, `${n}.snap.gz`));
  try {
    // The gdbstub takes one client: the CLI's, in this process, as `pvmfw-mmu snapshot --gdb`.
    await k.gdb.close();
    const t0 = performance.now();
    await cli(['snapshot', '--gdb', target, '--no-progress', '-o', files[0]], () => undefined);
    const captureMs = performance.now() - t0;
    // A moment later: run the kernel on (its panic loop), stop it again in EL1 kernel text.
    const gdb = await connectTcp(k.qemu.host, k.qemu.port, { timeoutMs: 5000, requestTimeoutMs: 10_000 });
    await gdb.resume('continue');
    await new Promise((r) => setTimeout(r, 300));
    await gdb.interrupt(5000);
    for (let i = 0; ; i++) {
      if (decodeSpsr(await gdb.readRegister('cpsr')).el === 1 && (await gdb.readRegister('pc')) >= UPPER)
        break;
      if (i > 100_000) throw new Error('kernel never came back to EL1 kernel text');
      await gdb.step(undefined, 5000);
    }
    await gdb.close();
    await cli(['snapshot', '--gdb', target, '--no-progress', '-o', files[1]], () => undefined);

    // 1. Sizes.
    const snap = loadSnapshot(parseSnapshotBytes(readFileSync(files[0])));
    const json = snap.snapshot;
    const { picture } = await cliPicture(openSnapshot(files[0]), OPTIONS);
    const tables = [...picture.tables.values()];
    const tableBytes = tables.reduce((n, t) => n + t.words.byteLength, 0);
    const gz = statSync(files[0]).size;
    const plain = encodeSnapshot(json, { gzip: false }).length;
    const v1 = Buffer.byteLength(JSON.stringify(json, null, 1));
    console.log(
      `kernel snapshot: ${tables.length} tables (${mb(tableBytes)} of tables), ${mb(snap.image.size)} of memory in ${json.memory.length} runs, captured in ${fmt(captureMs, 0)} ms`,
    );
    console.log(
      `  file: gzip ${mb(gz)} vs plain JSON ${mb(plain)} (${fmt(plain / gz, 1)}x smaller) vs version 1's indented JSON ${mb(v1)} (${fmt(v1 / gz, 1)}x)`,
    );

    // 2. Load + first tree level against the floor of reading the file.
    const rounds = 9;
    const base = await time(rounds, 2, () => floor(files[0]));
    let rootEntries = 0;
    const load = await time(rounds, 2, async () => (rootEntries = await loadAndFirstLevel(files[0])));
    const loadOnly = await time(rounds, 2, () => openSnapshot(files[0]));
    console.log(
      `  load + analyzeStop + TTBR1_EL1 root (${rootEntries} entries): median ${fmt(load)} ms vs gunzip + JSON.parse alone ${fmt(base)} ms -> ${fmt(load / base, 1)}x (load and validate alone ${fmt(loadOnly)} ms, ${fmt(loadOnly / base, 1)}x)`,
    );

    // 3. diff against reading both files: two captures, then A against its AF-churned copy.
    let flipped = 0;
    for (const t of tables) {
      if (t.info.level !== 3 || t.info.base !== 'TTBR1_EL1') continue;
      for (let i = 0; i < t.words.length / 2; i += 16) {
        if ((t.words[2 * i] & 3) !== 3) continue;
        const v = (BigInt(t.words[2 * i + 1] >>> 0) << 32n) | BigInt(t.words[2 * i] >>> 0);
        snap.image.write64(t.info.pa + BigInt(i * 8), v ^ 0x400n);
        flipped++;
      }
    }
    writeFileSync(files[2], encodeSnapshot(makeSnapshot(snap.registers, snap.image, { source: 'AF churn' })));
    for (const [label, b] of [
      ['two captures 300 ms apart', files[1]],
      [`A and a copy with ${flipped} AF bits flipped`, files[2]],
    ] as const) {
      const floor2 = await time(rounds, 2, () => [files[0], b].map(floor));
      let changed = 0;
      const diff = await time(rounds, 2, async () => (changed = await diffFiles(files[0], b)));
      const pa = (await cliPicture(openSnapshot(files[0]), OPTIONS)).picture;
      const pb = (await cliPicture(openSnapshot(b), OPTIONS)).picture;
      const pure = await time(rounds, 2, () => diffStops(pa, pb));
      console.log(
        `  diff --json, ${label} (${changed} entries changed): median ${fmt(diff)} ms vs gunzip + JSON.parse of both ${fmt(floor2)} ms -> ${fmt(diff / floor2, 1)}x; diffStops alone on the two pictures ${fmt(pure, 2)} ms`,
      );
    }
  } finally {
    await k.qemu.kill();
  }
}

void run().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
