// The Debug Console language: parsing and address arithmetic (pure).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  evalAddress,
  ExpressionError,
  parseAddressExpr,
  parseExpression,
  CONSOLE_HELP,
} from '../../../src/adapter/evaluate';
import { parseHostPort } from '../../../src/target/connect';
import {
  memoryReference,
  parseMemoryReference,
  fromLittleEndian,
  toLittleEndian,
} from '../../../src/adapter/memory';

const regs = new Map<string, bigint>([
  ['x0', 0x9010000n],
  ['pc', 0x40219f0cn],
  ['TTBR0_EL1', 0x1000040241000n],
]);
const lookup = {
  register: (n: string) => Promise.resolve(regs.get(n) ?? regs.get(n.toLowerCase())),
  symbol: (n: string) => (n === 'pt_root' ? 0x40241000n : undefined),
};

void describe('evaluate', () => {
  void test('commands', () => {
    assert.deepEqual(parseExpression('monitor info mtree -f'), { kind: 'monitor', command: 'info mtree -f' });
    assert.equal(parseExpression('guard').kind, 'guard');
    const pte = parseExpression('pte 0x9010000');
    assert.equal(pte.kind, 'pte');
    assert.throws(() => parseExpression('translate'), ExpressionError);
    assert.throws(() => parseExpression('monitor'), ExpressionError);
  });

  void test('memory reads: width, physical, parenthesised address', () => {
    const e = parseExpression('*(u32*)p:(pt_root + 8)');
    assert.equal(e.kind, 'deref');
    if (e.kind !== 'deref') return;
    assert.equal(e.width, 4);
    assert.equal(e.physical, true);
    assert.equal(e.address.terms.length, 2);
    assert.equal(parseExpression('*(uint64_t *) $x0').kind, 'deref');
    assert.throws(() => parseExpression('*x0'), /\*\(u64\*\)ADDRESS/);
  });

  void test('address arithmetic over registers and symbols, 64-bit wrap', async () => {
    assert.equal(await evalAddress(parseAddressExpr('$x0 + 0x10'), lookup), 0x9010010n);
    assert.equal(await evalAddress(parseAddressExpr('pt_root - 8 + 16'), lookup), 0x40241008n);
    assert.equal(await evalAddress(parseAddressExpr('pc'), lookup), 0x40219f0cn);
    assert.equal(await evalAddress(parseAddressExpr('$TTBR0_EL1'), lookup), 0x1000040241000n);
    assert.equal(await evalAddress(parseAddressExpr('0 - 1'), lookup), (1n << 64n) - 1n);
    assert.equal(await evalAddress(parseAddressExpr('1_000'), lookup), 1000n);
    await assert.rejects(evalAddress(parseAddressExpr('$nope'), lookup), /register nope is unavailable/);
    await assert.rejects(
      evalAddress(parseAddressExpr('nothing_here'), lookup),
      /no symbol or register named 'nothing_here'/,
    );
    assert.throws(() => parseAddressExpr('1 + + 2'), ExpressionError);
  });

  void test('memory references and host:port', () => {
    assert.deepEqual(parseMemoryReference('p:0x1000'), { space: 'physical', address: 0x1000n });
    assert.deepEqual(parseMemoryReference('v:0x10'), { space: 'virtual', address: 0x10n });
    assert.deepEqual(parseMemoryReference('4096'), { space: 'virtual', address: 4096n });
    assert.throws(() => parseMemoryReference('x:1'));
    assert.equal(memoryReference('physical', 0x9000000n), 'p:0x9000000');
    assert.equal(fromLittleEndian(toLittleEndian(0x0102030405060708n, 8)), 0x0102030405060708n);
    assert.deepEqual(parseHostPort(undefined), { host: '127.0.0.1', port: 1234 });
    assert.deepEqual(parseHostPort('localhost:9000'), { host: 'localhost', port: 9000 });
    assert.deepEqual(parseHostPort('[::1]:77'), { host: '::1', port: 77 });
    assert.deepEqual(parseHostPort('5555'), { host: '127.0.0.1', port: 5555 });
    assert.throws(() => parseHostPort('host:99999'));
  });
});

void describe('the Debug Console can be discovered', () => {
  void test('help (and ?) lists every command with its syntax', () => {
    assert.deepEqual(parseExpression('help'), { kind: 'help' });
    assert.deepEqual(parseExpression(' ? '), { kind: 'help' });
    for (const cmd of [
      'pte ADDRESS',
      'translate ADDRESS',
      'guard',
      '*(u64*)ADDRESS',
      'monitor COMMAND',
      '$REGISTER',
    ])
      assert.ok(CONSOLE_HELP.includes(cmd), cmd);
    // Every command help names parses as that command.
    assert.equal(parseExpression('pte 0x9010000').kind, 'pte');
    assert.equal(parseExpression('translate $FAR_EL1').kind, 'translate');
    assert.equal(parseExpression('*(u32*)p:0x9000000').kind, 'deref');
  });
});
