// Small typed checkers for request arguments. A request's arguments arrive as any JSON at all (a DAP
// client, a test, another extension's customRequest), so each field a handler reads is checked
// here first and a bad one is refused in words: "'threadId' must be an integer, got undefined".
// No schema library: DAP arguments are small flat objects and a dozen checkers cover them, with the
// types inferred from (and checked against) the argument interfaces the handlers use.
// Pure (no DAP, no I/O): the same checkers can guard a CLI or a future analysis API.

/** A refused argument; the message names the field and says what was wrong with it. */
export class ArgumentError extends Error {}

/** Checks `value` (found at `field`) and returns it with its type, or throws an ArgumentError. */
export type Check<T> = (value: unknown, field: string) => T;

/** A short description of what a client sent, never the whole of a huge value. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  if (typeof v === 'string') {
    return v.length <= 40 ? JSON.stringify(v) : `a string of ${v.length} characters`;
  }
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length} items`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

function fail(field: string, want: string, got: unknown): never {
  throw new ArgumentError(`'${field}' must be ${want}, got ${describeValue(got)}`);
}

function size(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return String(n);
}

export function int(range: { min?: number; max?: number } = {}): Check<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = range;
  return (v, field) => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) return fail(field, 'an integer', v);
    if (v < min || v > max) {
      const want = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `between ${min} and ${max}`;
      throw new ArgumentError(`'${field}' must be ${want}, got ${v}`);
    }
    return v;
  };
}

export function bool(): Check<boolean> {
  return (v, field) => (typeof v === 'boolean' ? v : fail(field, 'true or false', v));
}

/**
 * A string of at most `max` characters (refused before any parsing looks at it), optionally
 * matching `pattern` (which must run in linear time: it sees up to `max` characters).
 */
export function str(opts: { max: number; pattern?: RegExp; what?: string }): Check<string> {
  return (v, field) => {
    if (typeof v !== 'string') return fail(field, 'a string', v);
    if (v.length > opts.max)
      throw new ArgumentError(
        `'${field}' is ${v.length} characters long; the adapter accepts at most ${size(opts.max)}`,
      );
    if (opts.pattern && !opts.pattern.test(v)) return fail(field, opts.what ?? `like ${opts.pattern}`, v);
    return v;
  };
}

export function oneOf<const T extends string>(...values: T[]): Check<T> {
  return (v, field) =>
    typeof v === 'string' && (values as string[]).includes(v)
      ? (v as T)
      : fail(field, `one of ${values.map((x) => `'${x}'`).join(', ')}`, v);
}

/** Absent fields pass; JSON `null` counts as absent (some clients send it for "not set"). */
export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, field) => (v === undefined || v === null ? undefined : check(v, field));
}

export function list<T>(item: Check<T>, opts: { max: number }): Check<T[]> {
  return (v, field) => {
    if (!Array.isArray(v)) return fail(field, 'an array', v);
    if (v.length > opts.max)
      throw new ArgumentError(`'${field}' has ${v.length} items; the adapter accepts at most ${opts.max}`);
    return v.map((x, i) => item(x, `${field}[${i}]`));
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON object whose values all pass `item` (environment variables). */
export function record<T>(item: Check<T>, opts: { max: number }): Check<Record<string, T>> {
  return (v, field) => {
    if (!isObject(v)) return fail(field, 'an object', v);
    const keys = Object.keys(v);
    if (keys.length > opts.max)
      throw new ArgumentError(
        `'${field}' has ${keys.length} entries; the adapter accepts at most ${opts.max}`,
      );
    const out: Record<string, T> = {};
    for (const k of keys) out[k] = item(v[k], `${field}.${k}`);
    return out;
  };
}

/** One of two checks; the error names both. */
export function either<A, B>(a: Check<A>, b: Check<B>, want: string): Check<A | B> {
  return (v, field) => {
    try {
      return a(v, field);
    } catch {
      try {
        return b(v, field);
      } catch {
        return fail(field, want, v);
      }
    }
  };
}

type RequiredKeys<T> = { [K in keyof T]-?: undefined extends T[K] ? never : K }[keyof T];

/**
 * The checks of an object's fields, typed against the interface the handler reads: every required
 * field must have a check, and each check must produce the field's type.
 */
export type Shape<T> = { [K in RequiredKeys<T>]-?: Check<T[K]> } & {
  [K in Exclude<keyof T, RequiredKeys<T>>]?: Check<T[K]>;
};

/**
 * An object whose listed fields pass their checks. Fields not listed are kept as they came (DAP
 * lets clients send more than an adapter reads); a checked field that was null becomes undefined.
 * Returns a shallow copy, so the handler sees only checked values in the listed fields.
 */
export function object<T>(shape: Shape<T>): Check<T> {
  const checks = Object.entries<Check<unknown>>(shape);
  return (v, field) => {
    if (!isObject(v)) return fail(field, 'an object', v);
    const out: Record<string, unknown> = { ...v };
    for (const [k, check] of checks) out[k] = check(v[k], field ? `${field}.${k}` : k);
    return out as T;
  };
}
