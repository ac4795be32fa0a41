// Every QEMU command line the project writes says what it needs. `-M virt` creates a default virtio
// NIC whose option ROM (efi-virtio.rom) only Debian's ipxe-qemu provides, a package that
// `--no-install-recommends` leaves out: without `-nic none` such a QEMU exits before its gdbstub
// listens. This test reads the command lines where users and tests get them (launch configurations,
// snippets, scripts, docs, the extension's generated configuration) and fails on one that would
// create a NIC nobody asked for.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { demoQemuArgs as extensionDemoArgs } from '../../../src/shared/demoLaunch';
import { demoQemuArgs as dapDemoArgs } from '../../dap/support';

const root = join(__dirname, '../../../..');
const read = (p: string) => readFileSync(join(root, p), 'utf8');

/** True when the arguments choose the network themselves instead of taking virt's default NIC. */
function saysNetwork(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-nodefaults') return true;
    if ((a === '-nic' || a === '-net' || a === '-netdev') && i + 1 < args.length) return true;
  }
  return false;
}

interface LaunchLike {
  name?: string;
  label?: string;
  qemuArgs?: string[];
  body?: { qemuArgs?: string[] };
}

/** Strips // comments (launch.json is JSON with comments). */
function parseJsonc(text: string): unknown {
  return JSON.parse(text.replace(/^\s*\/\/.*$/gm, ''));
}

void describe('QEMU command lines', () => {
  void test('package.json launch configurations and snippets', () => {
    const manifest = JSON.parse(read('package.json')) as {
      contributes: {
        debuggers: { initialConfigurations: LaunchLike[]; configurationSnippets: LaunchLike[] }[];
      };
    };
    let seen = 0;
    for (const d of manifest.contributes.debuggers) {
      for (const c of [...d.initialConfigurations, ...d.configurationSnippets]) {
        const args = c.qemuArgs ?? c.body?.qemuArgs;
        if (!args) continue;
        seen++;
        assert.ok(saysNetwork(args), `${c.name ?? c.label}: qemuArgs without -nic none`);
      }
    }
    assert.ok(seen >= 2, 'the manifest has launch configurations with qemuArgs');
  });

  void test('the demo workspace launch.json', () => {
    const launch = parseJsonc(read('demo/.vscode/launch.json')) as { configurations: LaunchLike[] };
    const withArgs = launch.configurations.filter((c) => c.qemuArgs);
    assert.ok(withArgs.length >= 1);
    for (const c of withArgs)
      assert.ok(saysNetwork(c.qemuArgs ?? []), `${c.name}: qemuArgs without -nic none`);
  });

  void test('the configuration the extension generates and the one the DAP tests launch', () => {
    assert.ok(saysNetwork(extensionDemoArgs('/x/demo.elf')));
    assert.ok(saysNetwork(dapDemoArgs()));
    assert.ok(saysNetwork(dapDemoArgs('b')));
  });

  void test('shell scripts and Markdown that start qemu-system-*', () => {
    const files = [
      ...readdirSync(join(root, 'scripts'))
        .filter((f) => f.endsWith('.sh'))
        .map((f) => `scripts/${f}`),
      'README.md',
      'guest/README.md',
      'demo/README.md',
      ...readdirSync(join(root, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    let seen = 0;
    for (const f of files) {
      // A command spans continuation lines ending in a backslash.
      const text = read(f).replace(/\\\n/g, ' ');
      for (const line of text.split('\n')) {
        const m = /(?:^|[\s`$(])(qemu-system-(?:aarch64|arm))\s+(-\S.*)$/.exec(line);
        if (!m || !/-M\s+virt/.test(line)) continue;
        seen++;
        assert.ok(saysNetwork(m[2].split(/\s+/)), `${f}: ${line.trim()}`);
      }
    }
    assert.ok(seen >= 3, `found ${seen} qemu command lines in scripts and docs`);
  });
});
