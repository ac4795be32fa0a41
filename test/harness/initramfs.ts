// Builds the test initramfs: test/fixtures/init/init.c (a static, libc-free /init) compiled with the
// Debian cross toolchain, packed with /dev/console into a newc cpio archive (the format the kernel
// unpacks: Documentation/driver-api/early-userspace/buffer-format.rst) written here, so no cpio tool
// is needed.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const repoRoot = resolve(__dirname, '..', '..', '..');
const CROSS = process.env.CROSS_COMPILE ?? 'aarch64-linux-gnu-';

interface CpioEntry {
  readonly name: string;
  readonly mode: number;
  readonly data?: Uint8Array;
  readonly rdev?: readonly [number, number];
}

const pad4 = (n: number): number => (4 - (n % 4)) % 4;

/** A newc ("070701") archive of the entries, ending with the TRAILER!!! entry. */
export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const all = [...entries, { name: 'TRAILER!!!', mode: 0 }];
  all.forEach((e, ino) => {
    const data = e.data ?? new Uint8Array(0);
    const name = Buffer.from(`${e.name}\0`, 'latin1');
    const fields = [
      ino + 1,
      e.mode,
      0,
      0,
      1,
      0,
      data.length,
      0,
      0,
      e.rdev?.[0] ?? 0,
      e.rdev?.[1] ?? 0,
      name.length,
      0,
    ];
    const header = Buffer.from(
      `070701${fields.map((f) => f.toString(16).padStart(8, '0')).join('')}`,
      'latin1',
    );
    parts.push(
      header,
      name,
      Buffer.alloc(pad4(header.length + name.length)),
      Buffer.from(data),
      Buffer.alloc(pad4(data.length)),
    );
  });
  return Buffer.concat(parts);
}

/** out/fixtures/init/initramfs.cpio, rebuilt when init.c is newer. */
export function buildInitramfs(): string {
  const src = join(repoRoot, 'test', 'fixtures', 'init', 'init.c');
  const outDir = join(repoRoot, 'out', 'fixtures', 'init');
  const bin = join(outDir, 'init');
  const cpio = join(outDir, 'initramfs.cpio');
  if (existsSync(cpio) && statSync(cpio).mtimeMs > statSync(src).mtimeMs) return cpio;
  mkdirSync(outDir, { recursive: true });
  execFileSync(
    `${CROSS}gcc`,
    [
      '-static',
      '-nostdlib',
      '-ffreestanding',
      '-fno-stack-protector',
      '-O2',
      '-Wall',
      '-Werror',
      '-o',
      bin,
      src,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  writeFileSync(
    cpio,
    newcArchive([
      { name: 'dev', mode: 0o040755 },
      { name: 'dev/console', mode: 0o020600, rdev: [5, 1] },
      { name: 'init', mode: 0o100755, data: readFileSync(bin) },
    ]),
  );
  return cpio;
}
