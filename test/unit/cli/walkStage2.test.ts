// A stage-1 walk under an active stage 2 outputs IPAs: the CLI says so (column IPA, a note) and
// --final-pa gives each the PA stage 2 maps it to, on a stage 2 that is not an identity map
// (twoStageFixtures: RAM IPAs 0x8000_0000.. sit at PA 0x1_0000_0000..), text and JSON.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeStop, makeSnapshot, pageTable, translateQuery } from '../../../src/analysis';
import { entryDescription } from '../../../src/ui/format';
import { main } from '../../../src/cli/run';
import { ramPa, twoStageLike } from '../aarch64/twoStageFixtures';

function snapshotFile(): string {
  const { mem, regs } = twoStageLike().build();
  const file = join(mkdtempSync(join(tmpdir(), 'pvmfw-mmu-walk-s2-')), 'stop.json');
  writeFileSync(file, JSON.stringify(makeSnapshot(regs, mem, { source: 'unit test' })));
  return file;
}

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await main(args, (s) => (out += s));
  return { code, out };
}

void describe('walk under stage 2: IPAs said as such, PAs on request', () => {
  const file = snapshotFile();
  void test('text: the IPA column and the note; --final-pa adds the PA through stage 2', async () => {
    const plain = await run(['walk', '--snapshot', file]);
    assert.equal(plain.code, 0);
    assert.match(plain.out, /^VA +IPA +SIZE/m);
    assert.match(plain.out, /note +stage 2 is on \(HCR_EL2\.VM = 1\): the output addresses are IPAs/);
    const pa = await run(['walk', '--snapshot', file, '--final-pa']);
    assert.match(pa.out, /^VA +IPA +PA \(stage 2\) +SIZE/m);
    // VAs padded to the regime's 39 bits, IPAs and PAs as every view writes them (8 digits or more).
    const code = ramPa(0x8020_0000n).toString(16).padStart(8, '0');
    assert.match(pa.out, new RegExp(`^0x0080200000 0x80200000 +0x${code} `, 'm'));
    // The lazy 1 GiB block's IPA 0x4000_0000: stage 2 maps nothing there.
    assert.match(pa.out, /^0x0040000000 0x40000000 +- /m);
  });
  void test('JSON: outputAddresses names IPA and each leaf carries finalPa', async () => {
    const r = await run(['walk', '--snapshot', file, '--json', '--final-pa']);
    const j = JSON.parse(r.out) as {
      outputAddresses: string;
      leaves: { va: string; pa: string; finalPa: string | null }[];
    };
    assert.equal(j.outputAddresses, 'IPA');
    const code = j.leaves.find((l) => l.va === '0x80200000');
    assert.equal(code?.finalPa, `0x${ramPa(0x8020_0000n).toString(16)}`);
    assert.equal(j.leaves.find((l) => l.va === '0x40000000')?.finalPa, null);
  });
});

void describe('Page Tables under stage 2: the entries say IPA and carry the final PA', () => {
  void test('pageTable marks stage-1 outputs as IPAs and gives the PA stage 2 maps each to', async () => {
    const { mem, regs } = twoStageLike().build();
    const p = await analyzeStop({
      stopId: 1,
      reason: 'pause',
      threadId: 1,
      registers: regs,
      reader: mem,
      options: { lazyBit: 55, guardLogSymbol: 'guard_log' },
    });
    // Down to the code pages at IPA 0x8020_0000 (L1[2] -> L2[1] -> L3).
    const l1 = await pageTable(p, { regime: 'TTBR0_EL1' });
    const l2 = await pageTable(p, {
      regime: 'TTBR0_EL1',
      table: l1.entries.find((e) => e.index === 2)!.child!,
    });
    const l3 = await pageTable(p, {
      regime: 'TTBR0_EL1',
      table: l2.entries.find((e) => e.index === 1)!.child!,
    });
    const code = l3.entries.find((e) => e.index === 0)!;
    assert.equal(code.outputIsIpa, true);
    assert.equal(code.outputAddress, '0x80200000');
    assert.equal(code.finalAddress, `0x${ramPa(0x8020_0000n).toString(16)}`);
    // The descriptor itself sits at an IPA: its PA is where the two-stage translate of the same VA
    // says the hardware fetched it (walkPhysical, another path through stage 2).
    const walk = await translateQuery(p, { address: code.vaStart });
    assert.equal(code.descriptorAddress, walk.walk[walk.walk.length - 1].descriptorAddress);
    assert.ok(code.descriptorPa, 'the descriptor has a PA');
    assert.notEqual(code.descriptorPa, code.descriptorAddress);
    assert.equal(code.descriptorPa, walk.walkPhysical?.[walk.walk.length - 1]);
    // A table entry's output is an IPA too, but no leaf PA is claimed for it.
    assert.equal(l1.entries.find((e) => e.index === 2)!.finalAddress, undefined);
    assert.equal(
      entryDescription(code, false, undefined, true).includes(
        `(PA 0x${ramPa(0x8020_0000n).toString(16).padStart(8, '0')})`,
      ),
      true,
      entryDescription(code, false, undefined, true),
    );
    assert.match(entryDescription(code, false, undefined, false), /→ IPA 0x80200000 ·/);
  });
});

void describe("pKVM's lazy identity map: host tables stage 2 does not map yet are read at PA = IPA", () => {
  /** The fixture with stage 2's RAM block removed and the stage-1 tables also at PA = IPA. */
  function unmappedRam() {
    const f = twoStageLike();
    f.s2.set(f.s2l1, 2, 0n);
    const { mem, regs } = f.build();
    for (const [ipa, bytes] of f.s1.t.mem.entries()) mem.write(ipa, bytes);
    return { mem, regs };
  }
  const picture = (profile?: Record<string, string>) => {
    const { mem, regs } = unmappedRam();
    return analyzeStop({
      stopId: 1,
      reason: 'pause',
      threadId: 1,
      registers: regs,
      reader: mem,
      options: { lazyBit: 55, guardLogSymbol: 'guard_log', ...(profile ? { profile } : {}) },
    });
  };
  void test('under pkvm-host-s2 the walk reads them; under another stage-2 profile it reports S1PTW', async () => {
    const plain = await picture();
    assert.ok(plain.el1.result.diagnostics.some((d) => /not mapped by stage 2/.test(d.message)));
    const pkvm = await picture({ el1: 'linux', stage2: 'pkvm-host-s2' });
    assert.equal(pkvm.profiles.stage2.profile, 'pkvm-host-s2');
    assert.deepEqual(
      pkvm.el1.result.diagnostics.filter((d) => /not mapped by stage 2/.test(d.message)),
      [],
    );
    assert.ok(pkvm.el1.result.store.length > plain.el1.result.store.length);
  });
});
