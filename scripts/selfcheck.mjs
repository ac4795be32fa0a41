#!/usr/bin/env node
// The last step of scripts/setup.sh: proves that this machine can run what the tests and the demo run,
// and names the missing piece when it cannot. A green CI on a machine where something was once
// installed by hand proves nothing; this check runs on every fresh install.
//
// 1. Every program and file the code and the tests use is present (with the Debian package that
//    provides it, from scripts/lib/packages.sh).
// 2. A plain `-M virt` QEMU (default NIC) starts, as a user's own command line would.
// 3. QEMU boots the demo firmware to `parked at scenario_done` with the exact command lines the tests
//    (test/harness/demo.ts) and the extension's generated launch configuration
//    (src/shared/demoLaunch.ts) use, each within a bounded time.
// Exit 0 when all is well; 1 with one line per problem otherwise.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const BOOT_TIMEOUT_MS = 30_000;

/** Programs on PATH, and the Debian package (scripts/lib/packages.sh) that installs each. */
const PROGRAMS = {
  'qemu-system-aarch64': 'qemu-system-arm',
  'aarch64-linux-gnu-gcc': 'gcc-aarch64-linux-gnu',
  'aarch64-linux-gnu-objdump': 'binutils-aarch64-linux-gnu',
  'aarch64-linux-gnu-nm': 'binutils-aarch64-linux-gnu',
  'gdb-multiarch': 'gdb-multiarch',
  make: 'make',
  chromium: 'chromium',
  rg: 'ripgrep',
  setpriv: 'util-linux',
  curl: 'curl',
};

/** Files, and what provides them. */
const FILES = {
  '/usr/lib/ipxe/qemu/efi-virtio.rom': 'Debian package ipxe-qemu (the option ROM of -M virt\'s default NIC)',
  '/usr/share/AAVMF/AAVMF_CODE.fd': 'Debian package qemu-efi-aarch64 (UEFI firmware for -M virt)',
  '/usr/bin/rustc': 'Debian package rustc (with rust-src: builds the Rust test fixture)',
  [join(root, 'guest/build/demo.elf')]: '`npm run build:guest`',
  [join(root, 'out/test/harness/demo.js')]: '`npm run build`',
  [join(root, 'dist/cli.js')]: '`npm run build`',
  [join(root, '.vscode-test/code-server/node_modules/.bin/code-server')]: '`bash scripts/install-code-server.sh`',
  [join(process.env.PVMFW_MMU_KERNEL_DIR ?? join(homedir(), '.cache/pvmfw-mmu/kernel'), 'Image')]:
    '`bash scripts/fetch-kernel.sh` (Debian\'s arm64 kernel for the kernel tests)',
};

/** Files QEMU names when it cannot start, and the package that provides them. */
const ROM_PACKAGES = [
  [/^efi-.*\.rom$|^pxe-.*\.rom$/, 'ipxe-qemu'],
  [/^AAVMF|^QEMU_EFI/, 'qemu-efi-aarch64'],
];

const problems = [];

function onPath(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

for (const [cmd, pkg] of Object.entries(PROGRAMS)) {
  if (!onPath(cmd)) problems.push(`${cmd} is not on PATH: install the Debian package ${pkg}`);
}
for (const [file, from] of Object.entries(FILES)) {
  if (!existsSync(file)) problems.push(`${file} is missing: it comes from ${from}`);
}

/** Boots `args` (no gdbstub, running) until the firmware parks, QEMU exits, or the time is up. */
function boot(label, args) {
  return new Promise((resolve) => {
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const finish = (problem) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(problem);
    };
    const onData = (b) => {
      out += b.toString('latin1');
      if (out.includes('parked at scenario_done')) finish(undefined);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (e) => finish(`${label}: cannot run qemu-system-aarch64: ${e.message}`));
    child.on('exit', (code, signal) => {
      if (settled) return;
      const rom = /failed to find romfile "([^"]+)"/.exec(out);
      const pkg = rom && ROM_PACKAGES.find(([re]) => re.test(rom[1]))?.[1];
      const hint = rom
        ? ` QEMU needs ${rom[1]}${pkg ? `, from the Debian package ${pkg}` : ''}; add -nic none to the command line if no network is wanted.`
        : '';
      finish(
        `${label}: QEMU exited (${signal ?? `code ${code}`}) before the demo reached scenario_done.${hint}\n` +
          `  command: qemu-system-aarch64 ${args.join(' ')}\n  output: ${out.trim().split('\n').slice(-5).join('\n          ')}`,
      );
    });
    const timer = setTimeout(
      () =>
        finish(
          `${label}: the demo did not reach scenario_done within ${BOOT_TIMEOUT_MS / 1000} s\n` +
            `  command: qemu-system-aarch64 ${args.join(' ')}\n  output: ${out.trim().split('\n').slice(-5).join('\n          ')}`,
        ),
      BOOT_TIMEOUT_MS,
    );
  });
}

/**
 * A user's own `-M virt` command line, default NIC included, must start too: QEMU exits at once when
 * the NIC's option ROM is missing, and is still running (halted by -S) after a moment otherwise.
 */
function plainVirtStarts() {
  return new Promise((resolve) => {
    const args = ['-M', 'virt', '-cpu', 'max', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-S'];
    const child = spawn('qemu-system-aarch64', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b) => (err += b.toString('latin1')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve(undefined);
    }, 1500);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL') return;
      const rom = /failed to find romfile "([^"]+)"/.exec(err);
      const pkg = rom && ROM_PACKAGES.find(([re]) => re.test(rom[1]))?.[1];
      resolve(
        `a plain -M virt QEMU (default NIC) exited (code ${code}): ${err.trim()}` +
          (pkg ? ` — install the Debian package ${pkg}` : ''),
      );
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve(`cannot run qemu-system-aarch64: ${e.message}`);
    });
  });
}

if (onPath('qemu-system-aarch64')) {
  const problem = await plainVirtStarts();
  if (problem) problems.push(problem);
}

if (onPath('qemu-system-aarch64') && existsSync(join(root, 'out/test/harness/demo.js'))) {
  const { demoQemuArgs: testArgs, demoElf } = require(join(root, 'out/test/harness/demo.js'));
  const { demoQemuArgs: extensionArgs } = require(join(root, 'out/src/shared/demoLaunch.js'));
  if (existsSync(demoElf)) {
    for (const [label, args] of [
      ['the tests\' demo command line', testArgs()],
      ['the extension\'s demo launch configuration', extensionArgs(demoElf)],
    ]) {
      const problem = await boot(label, args);
      if (problem) problems.push(problem);
    }
  }
}

if (problems.length) {
  console.error(`selfcheck: ${problems.length} problem(s):`);
  for (const p of problems) console.error(`- ${p}`);
  process.exit(1);
}
console.log("selfcheck: programs and files present; a plain -M virt QEMU starts; the demo boots with the tests' and the extension's command lines");
