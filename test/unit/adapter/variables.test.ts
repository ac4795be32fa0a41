// The register views when the stub cannot read some registers (a failure real QEMU does not produce
// on demand, hence a fake register source): they show as "unavailable" and nothing else breaks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { GdbClient, RegisterInfo } from '../../../src/gdb';
import { makeRegisterMap } from '../../../src/gdb/target-xml';
import { StopContext } from '../../../src/target/stopContext';
import { SymbolTable } from '../../../src/elf/symbolTable';
import { VariableStore } from '../../../src/adapter/variables';
import { GENERAL_REGISTERS } from '../../../src/target/registers';

const names = [...GENERAL_REGISTERS, 'TTBR0_EL1', 'TCR_EL1', 'SCTLR', 'ESR_EL1'];
const infos: RegisterInfo[] = names.map((name, regnum) => ({
  name,
  regnum,
  bitsize: 64,
  type: 'int',
  feature: 'test',
}));
const values = new Map<string, bigint | undefined>(names.map((n, i) => [n, BigInt(i)]));
values.set('x7', undefined); // the stub answered E.. for these
values.set('TCR_EL1', undefined);
values.set('cpsr', 0x3c5n);
values.set('TTBR0_EL1', 0x1000040241000n);

const fakeStub = {
  registers: makeRegisterMap(infos),
  readRegister: (n: string) => {
    const v = values.get(n);
    return v === undefined ? Promise.reject(new Error('E14')) : Promise.resolve(v);
  },
  readRegisters: (ns: readonly string[]) => Promise.resolve(new Map(ns.map((n) => [n, values.get(n)]))),
} as unknown as GdbClient;

void describe('variables', () => {
  const ctx = new StopContext(fakeStub, 1, 1);
  const src = {
    ctx,
    symbols: SymbolTable.empty(),
    fault: () => Promise.resolve(undefined),
    memoryReference: () => undefined,
  };

  void test('General: unreadable registers are "unavailable", cpsr decodes', async () => {
    const store = new VariableStore();
    const vars = await store.variables({ kind: 'general' }, src);
    assert.equal(vars.length, GENERAL_REGISTERS.length);
    assert.equal(vars.find((v) => v.name === 'x7')?.value, 'unavailable');
    assert.equal(vars.find((v) => v.name === 'x8')?.value, '0x0000000000000008');
    const cpsr = vars.find((v) => v.name === 'cpsr');
    assert.match(cpsr?.value ?? '', /^0x3c5 EL1h$/);
    const fields = await store.variables(
      store.get(cpsr?.variablesReference ?? 0) ?? { kind: 'lines', lines: [] },
      src,
    );
    assert.ok(
      fields.some((f) => f.name === 'DAIF' && f.value === 'DAIF'),
      JSON.stringify(fields),
    );
  });

  void test('System: EL2 registers absent from the XML are left out, unreadable ones unavailable, AArch32 names resolved', async () => {
    const store = new VariableStore();
    const vars = await store.variables({ kind: 'system' }, src);
    assert.ok(!vars.some((v) => v.name.endsWith('_EL2')));
    assert.equal(vars.find((v) => v.name === 'TCR_EL1')?.value, 'unavailable');
    assert.equal(
      vars.find((v) => v.name === 'SCTLR_EL1')?.value,
      `0x${values.get('SCTLR')?.toString(16).padStart(16, '0')}`,
    );
    assert.equal(vars.find((v) => v.name === 'MAIR_EL1')?.value, 'unavailable', 'not in the XML at all');
    const ttbr = vars.find((v) => v.name === 'TTBR0_EL1');
    const fields = await store.variables(
      store.get(ttbr?.variablesReference ?? 0) ?? { kind: 'lines', lines: [] },
      src,
    );
    assert.deepEqual(
      fields.map((f) => `${f.name}=${f.value}`),
      ['BADDR=0x40241000', 'ASID/VMID=0x1', 'CnP=0'],
    );
  });
});
