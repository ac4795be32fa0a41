// Shared by the demo-firmware QEMU tests: builds guest/build/demo.elf, reads its symbols with nm (so
// no address is hard-coded), and walks stage 1 / stage 2 through physical reads of the gdb client.
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import type { GdbClient } from '../../src/gdb';
import { demoAppend, type DemoStage2, type DemoVariant } from '../../src/shared/demoLaunch';
import { demoElfFor } from '../harness/demo';
import type { QemuOptions } from '../harness/qemu';

export { demoElfFor, type DemoStage2, type DemoVariant };
export const repoRoot = resolve(__dirname, '../../..');
export const demoElf = resolve(repoRoot, 'guest/build/demo.elf');

/** `make -C guest` (a no-op when up to date) so the tests never run a stale image. */
export function buildGuest(): void {
  execFileSync('make', ['-s', '-C', resolve(repoRoot, 'guest')], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export type Symbols = ReadonlyMap<string, bigint>;

export function loadSymbols(elf = demoElf): Symbols {
  const nm = process.env.AARCH64_NM ?? 'aarch64-linux-gnu-nm';
  const text = execFileSync(nm, [elf], { encoding: 'utf8' });
  const out = new Map<string, bigint>();
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+) \w (\S+)$/.exec(line.trim());
    if (m) out.set(m[2], BigInt(`0x${m[1]}`));
  }
  return out;
}

export function sym(symbols: Symbols, name: string): bigint {
  const v = symbols.get(name);
  if (v === undefined) throw new Error(`demo.elf has no symbol ${name}`);
  return v;
}

export type Scenario = 'normal' | 'a' | 'b' | 'c' | 'd';

/** A firmware build and the stub's stage-2 representation: what a variant test boots. */
export interface Firmware {
  readonly variant?: DemoVariant;
  readonly s2?: DemoStage2;
}

export function demoQemu(
  scenario: Scenario,
  extra: Partial<QemuOptions> = {},
  fw: Firmware = {},
): QemuOptions {
  const append = demoAppend(scenario, fw.s2);
  return {
    kernel: demoElfFor(fw.variant),
    machine: 'virt,virtualization=on',
    cpu: 'max',
    memory: '512M',
    ...extra,
    extraArgs: [...(append ? ['-append', append] : []), ...(extra.extraArgs ?? [])],
  };
}

export const OA_MASK = 0x0000_ffff_ffff_f000n;

export async function readU64(gdb: GdbClient, pa: bigint): Promise<bigint> {
  const b = await gdb.readPhysical(pa, 8);
  return Buffer.from(b).readBigUInt64LE(0);
}

export interface WalkStep {
  readonly level: number;
  /** Physical address of the descriptor. */
  readonly address: bigint;
  readonly value: bigint;
}

/**
 * The descriptors a level-1-rooted walk with a 39-bit input (stage 1 with T0SZ 25, or stage 2 with
 * T0SZ 25 and SL0 for level 1) goes through for `address`, ending at the first entry that is not a
 * table. `pageShift` 12 for the 4 KiB granule, 14 for 16 KiB (demo-16k.elf's stage 2).
 */
export async function walk(
  gdb: GdbClient,
  root: bigint,
  address: bigint,
  pageShift = 12,
): Promise<WalkStep[]> {
  const steps: WalkStep[] = [];
  const g = BigInt(pageShift);
  const stride = g - 3n;
  const oa = OA_MASK & ~((1n << g) - 1n);
  let table = root & oa;
  for (let level = 1; level <= 3; level++) {
    const shift = g + stride * BigInt(3 - level);
    const at = table + ((address >> shift) & ((1n << stride) - 1n)) * 8n;
    const value = await readU64(gdb, at);
    steps.push({ level, address: at, value });
    if (level === 3 || (value & 3n) !== 3n) break;
    table = value & oa;
  }
  return steps;
}

/** The entry at `level` of the walk, or throws when the walk stopped earlier. */
export async function entryAt(
  gdb: GdbClient,
  root: bigint,
  address: bigint,
  level: number,
  pageShift = 12,
): Promise<bigint> {
  const steps = await walk(gdb, root, address, pageShift);
  const step = steps.find((s) => s.level === level);
  if (!step) {
    const seen = steps.map((s) => `L${s.level}=0x${s.value.toString(16)}`).join(' ');
    throw new Error(`walk of 0x${address.toString(16)} stops before level ${level}: ${seen}`);
  }
  return step.value;
}

export const hex = (v: bigint): string => `0x${v.toString(16).padStart(16, '0')}`;

// Encodings of DESIGN.md (stage 1) and guest/include/stage2.h (stage 2).
export const LAZY_BLOCK = 0x00e0_0000_0000_0400n;
export const LAZY_PAGE = 0x00e0_0000_0000_0402n;
export const DEVICE_PAGE = 0x00e0_0000_0000_0403n;
export const S2_DEVICE_PAGE = 0x0040_0000_0000_04c7n;
export const S2_RAM_BLOCK = 0x0000_0000_0000_07fdn;
// Late 2023 (demo-2024.elf, demo-16k.elf): DEVICE_LAZY = SWFLAG_0 | AttrIndx 0 | UXN | AF.
export const LAZY_BLOCK_2024 = 0x00c0_0000_0000_0400n;
export const LAZY_PAGE_2024 = 0x00c0_0000_0000_0402n;
export const DEVICE_PAGE_2024 = 0x00c0_0000_0000_0403n;
// pKVM's guard-map annotations (-append s2=pkvm / s2=pkvm-legacy): invalid stage-2 entries.
export const KVM_INVALID_PTE_MMIO_NOTE = 0x800n;
export const KVM_MMIO_NOTE_LEGACY = 0x9a9a929en;

export interface GuardLogEntry {
  readonly seq: bigint;
  readonly func: bigint;
  readonly ipa: bigint;
  readonly result: bigint;
}

/** Decodes `guard_log` (layout in guest/include/guard_log.h). */
export async function readGuardLog(
  gdb: GdbClient,
  at: bigint,
): Promise<{ magic: number; capacity: number; count: bigint; entries: GuardLogEntry[] }> {
  const head = Buffer.from(await gdb.readPhysical(at, 0x20));
  const magic = head.readUInt32LE(0);
  const capacity = head.readUInt32LE(8);
  const entrySize = head.readUInt32LE(12);
  const count = head.readBigUInt64LE(16);
  const n = Number(count < BigInt(capacity) ? count : BigInt(capacity));
  const body = Buffer.from(await gdb.readPhysical(at + 0x20n, capacity * entrySize));
  const entries: GuardLogEntry[] = [];
  const first = count > BigInt(capacity) ? Number(count % BigInt(capacity)) : 0;
  for (let i = 0; i < n; i++) {
    const o = ((first + i) % capacity) * entrySize;
    entries.push({
      seq: body.readBigUInt64LE(o),
      func: body.readBigUInt64LE(o + 8),
      ipa: body.readBigUInt64LE(o + 16),
      result: body.readBigInt64LE(o + 24),
    });
  }
  return { magic, capacity, count, entries };
}

export const MMIO_GUARD_INFO = 0xc600_0005n;
export const MMIO_GUARD_ENROLL = 0xc600_0006n;
export const MMIO_GUARD_MAP = 0xc600_0007n;
export const MMIO_GUARD_UNMAP = 0xc600_0008n;
