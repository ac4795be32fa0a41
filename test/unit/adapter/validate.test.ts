// The argument checkers (pure): messages in words, limits, null as absent, unknown fields kept, and
// (at compile time) validators typed against the interfaces handlers read.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  bool,
  describeValue,
  either,
  int,
  list,
  object,
  oneOf,
  optional,
  record,
  str,
  type Check,
} from '../../../src/adapter/validate';

function refuses(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ArgumentError, String(e));
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  });
}

void describe('validate', () => {
  void test('describeValue never repeats a huge value', () => {
    assert.equal(describeValue(undefined), 'undefined');
    assert.equal(describeValue(null), 'null');
    assert.equal(describeValue('abc'), '"abc"');
    assert.equal(describeValue('x'.repeat(1000)), 'a string of 1000 characters');
    assert.equal(describeValue(42), '42');
    assert.equal(describeValue([1, 2]), 'an array of 2 items');
    assert.equal(describeValue({}), 'an object');
  });

  void test('int: integers within range, the field named in the refusal', () => {
    assert.equal(int()(7, 'threadId'), 7);
    refuses(() => int()(undefined, 'threadId'), "'threadId' must be an integer, got undefined");
    refuses(() => int()('1', 'threadId'), '\'threadId\' must be an integer, got "1"');
    refuses(() => int()(1.5, 'threadId'), "'threadId' must be an integer, got 1.5");
    refuses(() => int()(2 ** 60, 'n'), /must be an integer/);
    refuses(() => int({ min: 0, max: 10 })(11, 'count'), "'count' must be between 0 and 10, got 11");
    refuses(() => int({ min: 1 })(0, 'walkLimit'), "'walkLimit' must be at least 1, got 0");
  });

  void test('str: a length limit checked before anything reads the text', () => {
    assert.equal(str({ max: 4 })('abcd', 's'), 'abcd');
    refuses(
      () => str({ max: 64 * 1024 })('a'.repeat(100_000), 'expression'),
      "'expression' is 100000 characters long; the adapter accepts at most 64 KiB",
    );
    refuses(() => str({ max: 10 })(42, 'expression'), "'expression' must be a string, got 42");
    refuses(
      () => str({ max: 10, pattern: /^[a-z]+$/, what: 'lower-case letters' })('A', 'x'),
      '\'x\' must be lower-case letters, got "A"',
    );
  });

  void test('oneOf, bool, optional (null is absent)', () => {
    const g = oneOf('line', 'instruction');
    assert.equal(g('line', 'granularity'), 'line');
    refuses(
      () => g('page', 'granularity'),
      "'granularity' must be one of 'line', 'instruction', got \"page\"",
    );
    refuses(() => bool()('yes', 'trace'), '\'trace\' must be true or false, got "yes"');
    assert.equal(optional(bool())(null, 'trace'), undefined);
    assert.equal(optional(bool())(undefined, 'trace'), undefined);
  });

  void test('list and record: item fields named by index or key, lengths bounded', () => {
    const lines = list(int(), { max: 3 });
    assert.deepEqual(lines([1, 2], 'lines'), [1, 2]);
    refuses(() => lines([1, 'x'], 'lines'), '\'lines[1]\' must be an integer, got "x"');
    refuses(() => lines([1, 2, 3, 4], 'lines'), "'lines' has 4 items; the adapter accepts at most 3");
    refuses(() => lines('1,2', 'lines'), '\'lines\' must be an array, got "1,2"');
    const env = record(str({ max: 10 }), { max: 2 });
    assert.deepEqual(env({ A: '1' }, 'env'), { A: '1' });
    refuses(() => env({ A: 1 }, 'env'), "'env.A' must be a string, got 1");
    refuses(() => env([], 'env'), "'env' must be an object, got an array of 0 items");
  });

  void test('either: the refusal says what both accept', () => {
    const address = either(int({ min: 0 }), str({ max: 8, pattern: /^0x[0-9a-f]+$/ }), 'an address');
    assert.equal(address(5, 'address'), 5);
    assert.equal(address('0x10', 'address'), '0x10');
    refuses(() => address(-1, 'address'), "'address' must be an address, got -1");
  });

  void test('object: nested fields by path, unknown fields kept, null fields become undefined', () => {
    interface Bp {
      line: number;
      condition?: string;
    }
    interface Args {
      source: { path?: string };
      breakpoints?: Bp[];
    }
    const check = object<Args>({
      source: object<{ path?: string }>({ path: optional(str({ max: 100 })) }),
      breakpoints: optional(
        list(object<Bp>({ line: int(), condition: optional(str({ max: 10 })) }), { max: 5 }),
      ),
    });
    const ok = check(
      { source: { path: '/a.c', adapterData: 1 }, breakpoints: [{ line: 3, condition: null }] },
      '',
    );
    assert.deepEqual(ok, {
      source: { path: '/a.c', adapterData: 1 },
      breakpoints: [{ line: 3, condition: undefined }],
    });
    refuses(() => check({ breakpoints: [] }, ''), "'source' must be an object, got undefined");
    refuses(
      () => check({ source: {}, breakpoints: [{ line: 'ten' }] }, ''),
      '\'breakpoints[0].line\' must be an integer, got "ten"',
    );
    refuses(() => check([], ''), "'' must be an object, got an array of 0 items");
  });

  void test('shapes are checked against the interface at compile time', () => {
    interface A {
      threadId: number;
      levels?: number;
    }
    // @ts-expect-error a required field without a check
    object<A>({ levels: optional(int()) });
    // @ts-expect-error a check of the wrong type
    object<A>({ threadId: str({ max: 4 }) });
    // @ts-expect-error an optional check for a required field
    object<A>({ threadId: optional(int()) });
    // @ts-expect-error a field the interface does not have
    object<A>({ threadId: int(), threadID: int() });
    const fine: Check<A> = object<A>({ threadId: int(), levels: optional(int()) });
    assert.ok(fine);
  });
});
