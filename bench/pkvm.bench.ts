// pKVM benchmarks (printed by `npm run bench`, never asserted): Debian's 6.1 kernel under pKVM
// (kvm-arm.mode=protected) and, in the same run, the plain kernel. Printed: each walk a pKVM stop
// has (the host stage 2, the hypervisor's EL2 stage 1, the host's EL1 tables read through stage 2)
// beside the plain kernel's EL1 walk; the cost of the profiles' decode of every leaf against the walks
// alone; the whole analysis of a stop (analyzeStop: walks, profiles, guard gate, fault); the
// ownership summary.
import { loadavg, cpus } from 'node:os';
import {
  batchReader,
  getRegister,
  regimeFromRegisters,
  stage2Reader,
  walk,
  type PhysReader,
  type WalkResult,
} from '../src/aarch64';
import { analyzeStop, ownershipSummary, STOP_REGISTERS } from '../src/analysis';
import { ALL_REGISTERS } from '../src/cli/source';
import type { GdbClient } from '../src/gdb';
import { leafMeaning, profileById, type ProfileId } from '../src/profiles';
import { bootKernelToPanic, PKVM_BOOT, type KernelBootOptions } from '../test/qemu/kernel-boot';

const RUNS = 7;
const best = (xs: number[]): number => Math.min(...xs);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (xs: number[]): string => `best ${best(xs).toFixed(1)} ms, median ${median(xs).toFixed(1)} ms`;

async function timed(f: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < RUNS + 2; r++) {
    const t0 = performance.now();
    await f();
    if (r >= 2) out.push(performance.now() - t0);
  }
  return out;
}

async function registersOf(gdb: GdbClient): Promise<Record<string, bigint | undefined>> {
  const raw: Record<string, bigint | undefined> = Object.fromEntries(
    await gdb.readRegisters([...new Set([...ALL_REGISTERS, ...STOP_REGISTERS])]),
  );
  const regs: Record<string, bigint | undefined> = {};
  for (const n of STOP_REGISTERS) regs[n] = getRegister(raw, n);
  return regs;
}

const readerOf = (gdb: GdbClient): PhysReader =>
  batchReader(
    (r) => gdb.readPhysicalBatch(r),
    (a, l) => gdb.readPhysical(a, l),
    64,
  );

async function withKernel<T>(o: KernelBootOptions, f: (gdb: GdbClient) => Promise<T>): Promise<T> {
  const k = await bootKernelToPanic(o);
  try {
    return await f(k.gdb);
  } finally {
    await k.gdb.close().catch(() => undefined);
    await k.qemu.kill();
  }
}

function decodeAll(w: WalkResult, id: ProfileId): number {
  const p = profileById(id);
  let n = 0;
  const st = w.store;
  for (let i = 0; i < st.length; i++) if (leafMeaning(p, st.leaf(i))) n++;
  return n;
}

async function main(): Promise<void> {
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} on ${cpus().length} CPUs`,
  );
  console.log('booting Debian arm64 kernel (plain) to its root-fs panic...');
  const plain = await withKernel({}, async (gdb) => {
    const regs = await registersOf(gdb);
    const reader = readerOf(gdb);
    const el1 = regimeFromRegisters('el1', regs);
    const w = await walk(el1, reader);
    return { leaves: w.store.length, times: await timed(() => walk(el1, reader)) };
  });
  console.log(`  plain kernel EL1 walk: ${plain.leaves} leaves, ${ms(plain.times)}`);

  console.log('booting the same kernel under pKVM (kvm-arm.mode=protected)...');
  await withKernel(PKVM_BOOT, async (gdb) => {
    const regs = await registersOf(gdb);
    const reader = readerOf(gdb);
    const s2c = regimeFromRegisters('stage2', regs);
    const el2c = regimeFromRegisters('el2', regs);
    const el1c = regimeFromRegisters('el1', regs);
    const s2 = await walk(s2c, reader);
    const el2 = await walk(el2c, reader);
    const el1Reader = stage2Reader(reader, s2.store);
    const el1 = await walk(el1c, el1Reader);
    const tS2 = await timed(() => walk(s2c, reader));
    const tEl2 = await timed(() => walk(el2c, reader));
    const tEl1 = await timed(() => walk(el1c, el1Reader));
    console.log(`  host stage 2 (VTTBR_EL2) walk: ${s2.store.length} leaves, ${ms(tS2)}`);
    console.log(`  hypervisor EL2 (TTBR0_EL2) walk: ${el2.store.length} leaves, ${ms(tEl2)}`);
    console.log(
      `  host EL1 walk through stage 2: ${el1.store.length} leaves, ${ms(tEl1)} -> ${(median(tEl1) / median(plain.times)).toFixed(2)}x the plain kernel's EL1 walk`,
    );
    const walks = median(tS2) + median(tEl2) + median(tEl1);
    // What every leaf costs without a profile: materialising it from the walk's columnar store.
    const tLeaves = await timed(() => {
      let n = 0;
      for (const w of [s2, el2, el1]) for (let i = 0; i < w.store.length; i++) n += w.store.leaf(i).level;
      return n;
    });
    console.log(`  every leaf materialised, no decode (the loop's own cost): ${ms(tLeaves)}`);
    const tProfiles = await timed(() => [
      decodeAll(s2, 'pkvm-host-s2'),
      decodeAll(el2, 'pkvm-hyp'),
      decodeAll(el1, 'linux'),
    ]);
    console.log(
      `  profiles' decode of every leaf (linux, pkvm-hyp, pkvm-host-s2): ${ms(tProfiles)} = ${((median(tProfiles) / walks) * 100).toFixed(1)}% of the three walks (${walks.toFixed(1)} ms)`,
    );
    const input = {
      stopId: 1,
      reason: 'pause',
      threadId: 1,
      registers: regs,
      reader,
      options: { lazyBit: 55, guardLogSymbol: 'guard_log' },
    };
    const tStop = await timed(() => analyzeStop(input));
    const picture = await analyzeStop(input);
    console.log(
      `  analyzeStop (all three walks, profiles ${picture.profiles.el1.profile}/${picture.profiles.el2.profile}/${picture.profiles.stage2.profile}): ${ms(tStop)}`,
    );
    const tOwn = await timed(() => ownershipSummary(picture));
    console.log(`  ownership summary: ${ms(tOwn)}`);
  });
}

void main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
