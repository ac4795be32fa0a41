// The gate every request passes before dispatch: the envelope, then one typed validator per request
// the adapter implements (the standard DAP requests and the custom ones of src/shared/protocol.ts),
// with size limits so that an oversized request is refused at once instead of tying up the adapter.
// A refusal names the request and the field: "stackTrace: 'threadId' must be an integer, got
// undefined". Also the wording of errors that escape a handler.
import type { DebugProtocol } from '@vscode/debugprotocol';
import type { AttachArguments, LaunchArguments } from '../shared/config';
import { parseProfileOverride } from '../profiles/choose';
import type {
  GuardStateArguments,
  PageTableArguments,
  Regime,
  SelectThreadArguments,
  TableRef,
  TranslateArguments,
} from '../shared/protocol';
import { EXCEPTION_FILTERS } from './exceptions';
import {
  ArgumentError,
  bool,
  type Check,
  describeValue,
  either,
  int,
  list,
  object,
  oneOf,
  optional,
  record,
  str,
} from './validate';

/** Request size limits, each far beyond what any client sends for real use. */
export const LIMITS = {
  /** Expressions, conditions, log messages, names, paths: nothing typed or configured comes close. */
  text: 64 * 1024,
  /** Memory and instruction references, data ids ("p:0x…" is at most 19 characters). */
  reference: 256,
  /** readMemory `count` and writeMemory data (the Memory view reads a few KiB at a time). */
  memoryBytes: 1 << 20,
  /** disassemble `instructionCount` (the Disassembly view asks for a few hundred). */
  instructions: 10_000,
  /** Breakpoints in one set*Breakpoints request, and exception filters. */
  breakpoints: 1000,
  /** pageTable `count` (a 64 KiB-granule table has 8192 entries). */
  tableEntries: 8192,
  /** `qemuArgs` entries and `env` variables of a launch configuration. */
  configItems: 1000,
} as const;

const REGIMES = ['TTBR0_EL1', 'TTBR1_EL1', 'TTBR0_EL2', 'VTTBR_EL2'] as const satisfies readonly Regime[];

const text = str({ max: LIMITS.text });
const reference = str({ max: LIMITS.reference });
const threadId = int({ min: 0 });
const count = (max: number) => int({ min: 0, max });
/** A 64-bit value as `0x…` hex or decimal text (what 64-bit fields look like in protocol.ts). */
const u64: Check<string> = (v, field) => {
  const s = str({
    max: 24,
    pattern: /^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/,
    what: 'a 64-bit 0x… hex or decimal string',
  })(v, field);
  if (BigInt(s) >= 1n << 64n) throw new ArgumentError(`'${field}' does not fit in 64 bits: ${s}`);
  return s;
};
/** A profile setting, checked here so a typo fails the launch with the syntax named. */
const profileText: Check<string> = (v, field) => {
  const s = text(v, field);
  try {
    parseProfileOverride(s);
  } catch (e) {
    throw new ArgumentError(`'${field}': ${e instanceof Error ? e.message : String(e)}`);
  }
  return s;
};
const granularity = optional(oneOf('statement', 'line', 'instruction'));
const breakpointText = {
  condition: optional(text),
  hitCondition: optional(text),
};

const common = {
  program: optional(text),
  stopOnEntry: optional(bool()),
  guardLogSymbol: optional(text),
  lazyFlagBit: optional(int({ min: 55, max: 58 })),
  profile: optional(profileText),
  walkLimit: optional(int({ min: 1 })),
  trace: optional(bool()),
};

const tableRef = object<TableRef>({ table: u64, level: int({ min: -1, max: 3 }), vaBase: u64 });

/** One validator per request; the session's handler table is typed from this one. */
export const REQUEST_ARGS = {
  initialize: object<{ linesStartAt1?: boolean; columnsStartAt1?: boolean; pathFormat?: string }>({
    linesStartAt1: optional(bool()),
    columnsStartAt1: optional(bool()),
    pathFormat: optional(str({ max: 16 })),
  }),
  launch: object<LaunchArguments>({
    ...common,
    qemu: optional(text),
    qemuArgs: optional(list(text, { max: LIMITS.configItems })),
    cwd: optional(text),
    env: optional(record(text, { max: LIMITS.configItems })),
    snapshot: optional(text),
  }),
  attach: object<AttachArguments>({
    ...common,
    gdb: optional(str({ max: LIMITS.reference })),
    onDisconnect: optional(oneOf('continue', 'pause')),
  }),
  configurationDone: object<DebugProtocol.ConfigurationDoneArguments>({}),
  threads: object<Record<string, unknown>>({}),
  stackTrace: object<DebugProtocol.StackTraceArguments>({
    threadId,
    startFrame: optional(int({ min: 0 })),
    levels: optional(int({ min: 0 })),
  }),
  scopes: object<DebugProtocol.ScopesArguments>({ frameId: int() }),
  variables: object<DebugProtocol.VariablesArguments>({
    variablesReference: int({ min: 0 }),
    start: optional(int({ min: 0 })),
    count: optional(int({ min: 0 })),
  }),
  evaluate: object<DebugProtocol.EvaluateArguments>({
    expression: text,
    frameId: optional(int()),
    context: optional(str({ max: 64 })),
  }),
  readMemory: object<DebugProtocol.ReadMemoryArguments>({
    memoryReference: reference,
    offset: optional(int()),
    count: count(LIMITS.memoryBytes),
  }),
  writeMemory: object<DebugProtocol.WriteMemoryArguments>({
    memoryReference: reference,
    offset: optional(int()),
    allowPartial: optional(bool()),
    data: str({
      max: Math.ceil(LIMITS.memoryBytes / 3) * 4,
      pattern: /^[A-Za-z0-9+/]*={0,2}$/,
      what: 'base64 text',
    }),
  }),
  setVariable: object<DebugProtocol.SetVariableArguments>({
    variablesReference: int({ min: 0 }),
    name: str({ max: 64 }),
    value: text,
  }),
  completions: object<DebugProtocol.CompletionsArguments>({
    text,
    column: int({ min: 0 }),
    frameId: optional(int()),
  }),
  continue: object<DebugProtocol.ContinueArguments>({ threadId }),
  next: object<DebugProtocol.NextArguments>({ threadId, granularity }),
  stepIn: object<DebugProtocol.StepInArguments>({ threadId, granularity }),
  stepOut: object<DebugProtocol.StepOutArguments>({ threadId, granularity }),
  pause: object<DebugProtocol.PauseArguments>({ threadId }),
  setBreakpoints: object<DebugProtocol.SetBreakpointsArguments>({
    source: object<DebugProtocol.Source>({ path: optional(text), name: optional(text) }),
    breakpoints: optional(
      list(
        object<DebugProtocol.SourceBreakpoint>({
          line: int({ min: 0 }),
          column: optional(int({ min: 0 })),
          logMessage: optional(text),
          ...breakpointText,
        }),
        { max: LIMITS.breakpoints },
      ),
    ),
    lines: optional(list(int({ min: 0 }), { max: LIMITS.breakpoints })),
  }),
  disassemble: object<DebugProtocol.DisassembleArguments>({
    memoryReference: reference,
    offset: optional(int()),
    instructionOffset: optional(int({ min: -LIMITS.instructions * 1000, max: LIMITS.instructions * 1000 })),
    instructionCount: count(LIMITS.instructions),
    resolveSymbols: optional(bool()),
  }),
  setFunctionBreakpoints: object<DebugProtocol.SetFunctionBreakpointsArguments>({
    breakpoints: list(object<DebugProtocol.FunctionBreakpoint>({ name: text, ...breakpointText }), {
      max: LIMITS.breakpoints,
    }),
  }),
  setInstructionBreakpoints: object<DebugProtocol.SetInstructionBreakpointsArguments>({
    breakpoints: list(
      object<DebugProtocol.InstructionBreakpoint>({
        instructionReference: reference,
        offset: optional(int()),
        ...breakpointText,
      }),
      { max: LIMITS.breakpoints },
    ),
  }),
  setExceptionBreakpoints: object<DebugProtocol.SetExceptionBreakpointsArguments>({
    filters: list(oneOf(...EXCEPTION_FILTERS.map((f) => f.filter)), { max: LIMITS.breakpoints }),
  }),
  dataBreakpointInfo: object<DebugProtocol.DataBreakpointInfoArguments>({
    name: text,
    variablesReference: optional(int({ min: 0 })),
    frameId: optional(int()),
    bytes: optional(int({ min: 1, max: LIMITS.memoryBytes })),
  }),
  setDataBreakpoints: object<DebugProtocol.SetDataBreakpointsArguments>({
    breakpoints: list(
      object<DebugProtocol.DataBreakpoint>({
        dataId: reference,
        accessType: optional(oneOf('read', 'write', 'readWrite')),
        ...breakpointText,
      }),
      { max: LIMITS.breakpoints },
    ),
  }),
  exceptionInfo: object<DebugProtocol.ExceptionInfoArguments>({ threadId }),
  restart: object<DebugProtocol.RestartArguments>({}),
  terminate: object<DebugProtocol.TerminateArguments>({ restart: optional(bool()) }),
  disconnect: object<DebugProtocol.DisconnectArguments>({
    restart: optional(bool()),
    terminateDebuggee: optional(bool()),
    suspendDebuggee: optional(bool()),
  }),
  pageTable: object<PageTableArguments>({
    regime: oneOf(...REGIMES),
    table: optional(tableRef),
    vaStart: optional(u64),
    vaEnd: optional(u64),
    start: optional(int({ min: 0, max: LIMITS.tableEntries })),
    count: optional(count(LIMITS.tableEntries)),
    includeZero: optional(bool()),
  }),
  translate: object<TranslateArguments>({
    address: either(u64, int({ min: 0 }), 'an address: a non-negative integer or a 0x… hex string'),
    regime: optional(oneOf(...REGIMES)),
  }),
  guardState: object<GuardStateArguments>({ omitLog: optional(bool()) }),
  regimes: object<Record<string, unknown>>({}),
  snapshot: object<Record<string, unknown>>({}),
  ownership: object<Record<string, never>>({}),
  selectThread: object<SelectThreadArguments>({ threadId: int({ min: 1 }) }),
} satisfies Record<string, Check<unknown>>;

export type RequestCommand = keyof typeof REQUEST_ARGS;
export type RequestArguments<C extends RequestCommand> = ReturnType<(typeof REQUEST_ARGS)[C]>;

function isRequestCommand(c: string): c is RequestCommand {
  return Object.prototype.hasOwnProperty.call(REQUEST_ARGS, c);
}

export type CheckedRequest =
  { ok: true; command: RequestCommand; args: unknown } | { ok: false; command: string; message: string };

/** The envelope and the arguments of a request, checked; the message of a refusal is in words. */
export function checkRequest(request: unknown): CheckedRequest {
  const r = (typeof request === 'object' && request !== null ? request : {}) as Partial<
    Record<'command' | 'arguments', unknown>
  >;
  const command =
    typeof r.command === 'string' && r.command.length <= 64 && /^[A-Za-z_][\w.-]*$/.test(r.command)
      ? r.command
      : undefined;
  if (command === undefined)
    return {
      ok: false,
      command: '?',
      message: `a request needs a 'command' name, got ${describeValue(r.command)}`,
    };
  if (!isRequestCommand(command))
    return { ok: false, command, message: `'${command}' is not a request this debug adapter implements` };
  // DAP lets a client omit `arguments` when it has none to give.
  const raw = r.arguments ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    return {
      ok: false,
      command,
      message: `${command}: 'arguments' must be an object, got ${describeValue(raw)}`,
    };
  try {
    return { ok: true, command, args: REQUEST_ARGS[command](raw, '') };
  } catch (e) {
    if (e instanceof ArgumentError) return { ok: false, command, message: `${command}: ${e.message}` };
    throw e;
  }
}

/**
 * The message of an error that escaped a handler. Errors the adapter raises on purpose already
 * say what went wrong; a JavaScript runtime error (a bug here, not the user's) says so and names
 * the request, instead of reaching the user as "Cannot read properties of undefined".
 */
export function failureMessage(command: string, e: unknown): string {
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError)
    return `${command}: internal error in the debug adapter (${e.name}: ${e.message}); the session keeps running`;
  if (e instanceof Error) return e.message || `${command} failed (${e.name})`;
  return `${command} failed: ${String(e)}`;
}

/** Error messages travel in one response and one notification: keep them short. */
const MAX_MESSAGE = 2000;

/** A failed response to `request` (whatever it looked like), with `message` for the user. */
/**
 * Requests whose errors the client shows in place (the Debug Console, a hover, a watch, the views'
 * own requests): a notification on top would say the same thing twice. Errors of explicit actions
 * (launch, continue, setVariable, ...) still notify, except a request that raced a resume.
 */
const SHOWN_IN_PLACE: ReadonlySet<string> = new Set([
  'evaluate',
  'completions',
  'threads',
  'stackTrace',
  'scopes',
  'variables',
  'readMemory',
  'disassemble',
  'exceptionInfo',
  'dataBreakpointInfo',
  'pageTable',
  'translate',
  'guardState',
  'regimes',
]);

/** Whether an error answer to `command` should pop a notification in the client. */
export function showUserFor(command: string, message: string): boolean {
  if (SHOWN_IN_PLACE.has(command)) return false;
  // A step or a view request that lost a race with a resume: the next stop answers it.
  return !/the target is running/.test(message);
}

export function errorResponse(request: unknown, message: string): DebugProtocol.ErrorResponse {
  const r = (typeof request === 'object' && request !== null ? request : {}) as Partial<
    Record<'seq' | 'command', unknown>
  >;
  const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE)}…` : message;
  return {
    type: 'response',
    seq: 0,
    request_seq: typeof r.seq === 'number' ? r.seq : 0,
    command: typeof r.command === 'string' ? r.command.slice(0, 64) : '?',
    success: false,
    message: text,
    // `format` is a template: braces would be read as placeholders.
    body: {
      error: {
        id: 1001,
        format: text.replace(/[{}]/g, ''),
        showUser: showUserFor(typeof r.command === 'string' ? r.command : '', text),
      },
    },
  };
}
