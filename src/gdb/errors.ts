// Typed errors of the GDB remote client. Callers (adapter, CLI, UI) switch on the class, never on
// message text, so each failure the UI may want to explain has its own class.

/** Base class of every error raised by src/gdb. */
export class GdbError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A request got no (complete) reply within its timeout. The connection stays usable. */
export class GdbTimeoutError extends GdbError {
  constructor(
    readonly request: string,
    readonly timeoutMs: number,
  ) {
    super(`no reply to '${request}' within ${timeoutMs} ms`);
  }
}

/** The stub answered `Enn` (or `E.text`). `code` is the number (NaN for the text form). */
export class GdbErrorReply extends GdbError {
  constructor(
    readonly request: string,
    readonly code: number,
    readonly text?: string,
  ) {
    super(
      `'${request}' failed: E${Number.isNaN(code) ? `.${text ?? ''}` : code.toString(16).padStart(2, '0')}`,
    );
  }
}

/**
 * `E14` (EFAULT) on a memory access: for a virtual read, the address has no valid translation in the
 * selected vCPU's current regime (unmapped, or an invalid PTE such as a pvmfw lazy-MMIO page); for a
 * physical read, nothing backs the address.
 */
export class GdbMemoryFaultError extends GdbErrorReply {
  constructor(
    request: string,
    readonly address: bigint,
    readonly length: number,
    readonly physical: boolean,
  ) {
    super(request, 0x14);
    this.message = `${physical ? 'physical' : 'virtual'} access of ${length} bytes at 0x${address.toString(16)} faulted (E14${physical ? '' : ': no valid translation'})`;
  }
}

/** The stub answered with an empty packet: it does not support the request. */
export class GdbUnsupportedError extends GdbError {
  constructor(readonly request: string) {
    super(`stub does not support '${request}'`);
  }
}

/** A register the target XML does not describe, or that the stub cannot read right now. */
export class RegisterUnavailableError extends GdbError {
  constructor(
    readonly register: string,
    readonly reason: string,
  ) {
    super(`register ${register} unavailable: ${reason}`);
  }
}

/** The reply did not parse as the protocol says it should. */
export class GdbProtocolError extends GdbError {}

/** The connection closed (by the stub, the network, or close()) while a request was pending. */
export class ConnectionClosedError extends GdbError {
  constructor(
    readonly reason: string,
    cause?: Error,
  ) {
    super(`connection closed: ${reason}`, { cause });
  }
}

/** Nothing listens at host:port (ECONNREFUSED). */
export class ConnectRefusedError extends GdbError {
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`connection to ${host}:${port} refused (is QEMU running with -gdb tcp:${host}:${port}?)`);
  }
}

/** TCP connect did not complete within the timeout. */
export class ConnectTimeoutError extends GdbError {
  constructor(
    readonly host: string,
    readonly port: number,
    readonly timeoutMs: number,
  ) {
    super(`connection to ${host}:${port} timed out after ${timeoutMs} ms`);
  }
}

/** The stub kept rejecting (`-`) our packet. */
export class GdbRetransmitError extends GdbError {
  constructor(
    readonly request: string,
    readonly attempts: number,
  ) {
    super(`'${request}' rejected by the stub ${attempts} times (bad link?)`);
  }
}

/** The operation is not allowed in the current run state (e.g. reading memory while running). */
export class GdbStateError extends GdbError {}

/**
 * With several requests in flight the stub rejected one of ours (`-`) or sent a corrupt reply: the
 * reply order can no longer be trusted. Pending requests fail with this; the link drains until the
 * stub is quiet, and the client retries strictly (one request at a time).
 */
export class GdbDesyncError extends GdbProtocolError {}

/**
 * The stub sent a packet larger than the client accepts (see packetLimits in codec.ts): either no `#`
 * within the cap, or a run-length encoding that expands past it. No legitimate reply comes close, and
 * after a lost frame the byte stream cannot be trusted, so the connection is closed.
 */
export class GdbPacketTooLargeError extends ConnectionClosedError {
  constructor(
    readonly limit: number,
    readonly stage: 'framing' | 'expansion',
  ) {
    super(`packet over ${byteSize(limit)}`);
    this.message =
      stage === 'framing'
        ? `the gdbstub sent a packet over ${byteSize(limit)} without ending it: closing the connection`
        : `the gdbstub sent a packet whose run-length encoding expands to over ${byteSize(limit)}: closing the connection`;
  }
}

/** The target description (target.xml and its xi:includes) is malformed or over the client's limits. */
export class GdbTargetDescriptionError extends GdbProtocolError {}

/** The connect sequence (qSupported, target description, self-test) overran its deadline. */
export class GdbHandshakeTimeoutError extends GdbTimeoutError {
  constructor(
    timeoutMs: number,
    /** What the client was doing when the deadline passed. */
    readonly step: string,
  ) {
    super('connect handshake', timeoutMs);
    this.message = `the gdbstub did not complete the connect handshake within ${timeoutMs} ms (stuck ${step})`;
  }
}

/** A register read answered with something that is not the register's value: not hex, or not its size. */
export class RegisterReplyError extends GdbProtocolError {
  constructor(
    readonly register: string,
    readonly request: string,
    readonly detail: string,
  ) {
    super(`register ${register}: '${request}' answered ${detail}`);
  }
}

/** `1 MiB`, `64 KiB`, or a byte count: limits read better in the unit they were chosen in. */
export function byteSize(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1 << 10 && n % (1 << 10) === 0) return `${n / (1 << 10)} KiB`;
  return `${n} bytes`;
}
