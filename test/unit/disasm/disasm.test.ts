// src/disasm (Capstone) against objdump on the fixture's .text, plus the words it cannot decode.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Disassembler, sharedDisassembler } from '../../../src/disasm';
import { ElfFile } from '../../../src/elf';
import { fixture, nmSymbols, objdumpDisassembly } from '../elf/oracle';

void describe('disassemble (Capstone AArch64)', () => {
  void test('every .text word decodes to the mnemonic objdump prints', async () => {
    const fx = fixture(5, '-O2');
    const elf = ElfFile.parse(fx.bytes);
    const text = elf.section('.text')!;
    const cs = await sharedDisassembler();
    const insns = cs.disassemble(elf.dataOf(text), text.addr);
    const oracle = objdumpDisassembly(fx.path);
    assert.equal(insns.length, text.size / 4);
    let compared = 0;
    for (const i of insns) {
      const want = oracle.get(i.address);
      if (!want || want.startsWith('.')) continue;
      assert.equal(i.mnemonic, want, `0x${i.address.toString(16)}: ${i.mnemonic} ${i.operands}`);
      assert.equal(i.bytes.length, 4);
      compared++;
    }
    // objdump prints data (.word) for literal pools and '...' for zero padding: every other word
    // in .text was compared.
    const end = text.addr + BigInt(text.size);
    const code = [...oracle].filter(([a, m]) => a >= text.addr && a < end && !m.startsWith('.')).length;
    assert.equal(compared, code);
    assert.ok(compared > insns.length / 2, `${compared} of ${insns.length} compared`);
  });

  void test('known instructions of the assembly fixture, with operands', async () => {
    const fx = fixture(4, '-O0');
    const elf = ElfFile.parse(fx.bytes);
    const at = nmSymbols(fx.path).find((s) => s.name === 'asm_double')!.value;
    const cs = await sharedDisassembler();
    const got = cs.disassemble(elf.bytesAt(at, 20)!, at);
    assert.deepEqual(
      got.map((i) => `${i.mnemonic} ${i.operands}`.trim()),
      ['add x0, x0, x0', 'nop', 'ret', 'hvc #0', 'ret'],
    );
    assert.equal(got[3].address, at + 12n);
  });

  void test('count limits the listing; kernel-range addresses stay unsigned', async () => {
    const cs = await sharedDisassembler();
    const nop = Uint8Array.of(0x1f, 0x20, 0x03, 0xd5);
    const bytes = new Uint8Array(16);
    for (let i = 0; i < 4; i++) bytes.set(nop, i * 4);
    const high = 0xffff_8000_0800_0000n;
    const got = cs.disassemble(bytes, high, 2);
    assert.deepEqual(
      got.map((i) => [i.address, i.mnemonic]),
      [
        [high, 'nop'],
        [high + 4n, 'nop'],
      ],
    );
    // A branch target is computed from the 64-bit address.
    const bl = cs.disassemble(Uint8Array.of(0x02, 0x00, 0x00, 0x94), high);
    assert.equal(bl[0].mnemonic, 'bl');
    assert.equal(bl[0].operands, `#0x${(high + 8n).toString(16)}`);
  });

  void test('an undecodable word becomes .inst and decoding resumes after it', async () => {
    const cs = await Disassembler.load();
    try {
      // 0x00000000 is UDF #0 in newer Capstone; 0xffffffff is unallocated in every version.
      const bytes = Uint8Array.of(
        0x1f,
        0x20,
        0x03,
        0xd5,
        0xff,
        0xff,
        0xff,
        0xff,
        0xc0,
        0x03,
        0x5f,
        0xd6,
        0x01,
      );
      const got = cs.disassemble(bytes, 0x1000n);
      assert.deepEqual(
        got.map((i) => [i.address, i.mnemonic, i.operands, i.valid]),
        [
          [0x1000n, 'nop', '', true],
          [0x1004n, '.inst', '0xffffffff', false],
          [0x1008n, 'ret', '', true],
          [0x100cn, '.byte', '0x01', false],
        ],
      );
    } finally {
      cs.close();
    }
  });
});
