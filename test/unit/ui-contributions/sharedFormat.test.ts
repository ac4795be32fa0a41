// One way to write things (src/shared/format.ts), as the tree, the webview and the console use it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  addressDigits,
  formatAddress,
  formatChange,
  formatDescriptor,
  formatPageState,
  formatPages,
  formatRange,
} from '../../../src/shared/format';
import { regimeVaBits } from '../../../src/aarch64/format';
import { copiedText, entryLabel } from '../../../src/ui/format';
import { rtcPte } from './pteFixture';

void describe('shared formatter', () => {
  void test('addresses padded to the regime width, never under 8 digits; descriptors 16 digits', () => {
    assert.equal(addressDigits(39), 10);
    assert.equal(addressDigits(48), 12);
    assert.equal(addressDigits(25), 8);
    assert.equal(formatAddress('0x9010000', 39), '0x0009010000');
    assert.equal(formatAddress(0x9010000n), '0x09010000');
    assert.equal(formatAddress('0xffff000000000000', 48), '0xffff000000000000');
    assert.equal(formatDescriptor('0xe0000009010402'), '0x00e0000009010402');
    assert.equal(formatDescriptor(0n), '0x0000000000000000');
  });

  void test('ranges first–last, counts grouped and pluralised; a regime width from its roots', () => {
    assert.equal(formatRange('0x9010000', '0x9011000'), '0x09010000–0x09010fff');
    assert.equal(formatRange(0x40_0000_0000n, 0x40_4000_0000n), '0x4000000000–0x403fffffff');
    assert.equal(formatPages(1), '1 page');
    assert.equal(formatPages(262144), '262,144 pages');
    const root = (enabled: boolean, inputBits: number, vaStart: bigint) => ({ enabled, inputBits, vaStart });
    // TTBR0 only (pvmfw): its input size; TTBR1 in use (Linux): all 64 bits; nothing enabled: 64.
    assert.equal(regimeVaBits({ roots: [root(true, 39, 0n), root(false, 39, 0n)] } as never), 39);
    assert.equal(
      regimeVaBits({ roots: [root(true, 48, 0n), root(true, 48, 0xffff_0000_0000_0000n)] } as never),
      64,
    );
    assert.equal(regimeVaBits({ roots: [] }), 64);
  });

  void test('state names and changes in the views words', () => {
    assert.equal(formatPageState('guardMapped'), 'guard-mapped');
    assert.equal(formatPageState('guardMappedPending'), 'mapped, stage 1 pending');
    assert.equal(formatPageState('untracked'), 'untracked');
    assert.equal(
      formatChange(formatPageState('lazy'), formatPageState('guardMapped')),
      'untouched (lazy) → guard-mapped',
    );
  });

  void test('the tree writes entries with it', () => {
    const e = rtcPte();
    assert.equal(entryLabel(e, 39), 'L3[16] 0x0009010000');
    assert.equal(entryLabel(e), 'L3[16] 0x09010000');
    assert.equal(
      copiedText(e, 39),
      'Copied 0x00e0000009010402: TTBR0_EL1 L3[16] descriptor (VA 0x0009010000, lazy MMIO)',
    );
  });
});
