// The DAP disassemble request over a real fixture ELF's bytes (as the guest would hold them), Capstone,
// and the ELF's symbols and lines; objdump/nm are the oracle.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { disassemble, type CodeMemory } from '../../../src/adapter/disassemble';
import { sharedDisassembler } from '../../../src/disasm';
import { ElfImage } from '../../../src/elf';
import { decodedLine, fixture, nmSymbols, objdumpDisassembly } from '../elf/oracle';

void describe('disassemble request', () => {
  const fx = fixture(5, '-O0');
  const image = ElfImage.parse(fx.bytes);
  const memory: CodeMemory = {
    readMemory: (address, length) => {
      const b = image.bytesAt(address, length);
      return b && b.length > 0
        ? Promise.resolve(b)
        : Promise.reject(new Error(`nothing at 0x${address.toString(16)}`));
    },
  };
  const nm = nmSymbols(fx.path);
  const sym = (n: string) => nm.find((s) => s.name === n)!.value;

  void test('instructionOffset backwards and forwards around a PC, with labels and lines', async () => {
    const decoder = await sharedDisassembler();
    const pc = sym('helper_add') + 8n;
    const body = await disassemble(
      {
        memoryReference: `0x${pc.toString(16)}`,
        instructionOffset: -6,
        instructionCount: 12,
        resolveSymbols: true,
      },
      { memory, decoder, symbols: image },
    );
    assert.equal(body.instructions.length, 12);
    const oracle = objdumpDisassembly(fx.path);
    body.instructions.forEach((insn, i) => {
      const a = pc - 24n + BigInt(i) * 4n;
      assert.equal(BigInt(insn.address), a);
      assert.equal(insn.instruction.split(' ')[0], oracle.get(a), insn.instruction);
    });
    // The label changes exactly at helper_add.
    const at = body.instructions.findIndex((x) => BigInt(x.address) === sym('helper_add'));
    assert.equal(body.instructions[at]?.symbol, 'helper_add');
    assert.notEqual(body.instructions[at - 1]?.symbol, 'helper_add');
    // Lines from DWARF: the location is given on the first instruction and when the file changes.
    const rows = decodedLine(fx.path).filter((r) => r.line !== undefined);
    const expectLine = rows.filter((r) => r.address <= pc).pop()!;
    assert.equal(body.instructions[6]?.line, expectLine.line);
    assert.ok(body.instructions[0]?.location?.path?.endsWith('main.c'));
    assert.ok(body.instructions[at]?.location?.path?.endsWith('util.c'));
  });

  void test('branch targets are named; unreadable memory gives invalid entries, never fewer', async () => {
    const decoder = await sharedDisassembler();
    const start = sym('_start');
    const body = await disassemble(
      { memoryReference: `0x${start.toString(16)}`, instructionCount: 4 },
      { memory, decoder, symbols: image },
    );
    const bl = body.instructions.find((i) => i.instruction.startsWith('bl '));
    assert.ok(bl?.instruction.endsWith('<c_main>'), bl?.instruction);
    const outside = await disassemble(
      { memoryReference: '0x1000', instructionOffset: -2, instructionCount: 4 },
      { memory, decoder },
    );
    assert.equal(outside.instructions.length, 4);
    assert.ok(outside.instructions.every((i) => i.presentationHint === 'invalid'));
    assert.equal(outside.instructions[0]?.address, '0x00000ff8');
  });
});
