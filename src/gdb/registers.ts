// Register access: `p`/`P` by the numbers of the target description, and the checks a reply passes
// before it becomes a value. A reply that is not the register's value (not hex, or not its size) is
// an error naming the register, never a number: a value the stub did not give must not reach a
// decision (an unreadable SCTLR taken as 0 reads as "MMU off").
import { latin1Text } from './codec';
import { GdbDesyncError, RegisterReplyError, RegisterUnavailableError } from './errors';
import { bigIntToLeBytes, bytesToHex, hexToBytes, leBytesToBigInt } from './hex';
import type { RspLink } from './link';
import { expectOk, issueWindowed, parseError } from './requests';
import type { RegisterInfo, RegisterMap } from './types';

/** Registers asked for by a number the target description does not list: their size is unknown. */
const UNDESCRIBED = new WeakSet<RegisterInfo>();

/** The register by name or number; a number outside the description is read without a size check. */
export function lookupRegister(map: RegisterMap, register: string | number): RegisterInfo {
  const info = map.get(register);
  if (info) return info;
  if (typeof register === 'number') {
    const guess: RegisterInfo = {
      name: `r${register}`,
      regnum: register,
      bitsize: 64,
      type: 'int',
      feature: '',
    };
    UNDESCRIBED.add(guess);
    return guess;
  }
  throw new RegisterUnavailableError(register, 'not in the target description');
}

/** Up to `max` bytes of a reply as printable text, for messages about junk replies. */
function preview(bytes: Uint8Array, max = 16): string {
  let s = '';
  for (const b of bytes.subarray(0, max))
    s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return bytes.length > max ? `${s}...` : s;
}

const isX = (b: number) => b === 0x78 || b === 0x58;

/** Checks a `p` reply against the register (hex, exactly its size) and returns its target-order bytes. */
export function parseRegisterReply(info: RegisterInfo, req: string, reply: Uint8Array): Uint8Array {
  if (reply.length === 0) throw new RegisterUnavailableError(info.name, `stub returned nothing for '${req}'`);
  if (parseError(req, reply))
    throw new RegisterUnavailableError(info.name, `'${req}' failed: ${latin1Text(reply.subarray(0, 40))}`);
  if (reply.every(isX)) throw new RegisterUnavailableError(info.name, 'value not available (xx)');
  const digits = Math.ceil(info.bitsize / 8) * 2;
  // The size check comes first: it is free, and a reply of the wrong size is wrong whatever it holds.
  if (!UNDESCRIBED.has(info) && reply.length !== digits)
    throw new RegisterReplyError(
      info.name,
      req,
      `${reply.length} characters ('${preview(reply)}') where its ${info.bitsize} bits take ${digits} hex digits`,
    );
  const bytes = hexToBytes(reply);
  if (!bytes) throw new RegisterReplyError(info.name, req, `'${preview(reply)}', which is not hex`);
  return bytes;
}

interface Settings {
  readonly timeoutMs: number;
  readonly window: number;
  /** Called when pipelined requests lost their order: the client then stays strict. */
  readonly onDesync: () => void;
}

export class RegisterAccess {
  constructor(
    private readonly link: RspLink,
    private readonly settings: () => Settings,
  ) {}

  async read(info: RegisterInfo): Promise<Uint8Array> {
    const req = `p${info.regnum.toString(16)}`;
    return parseRegisterReply(info, req, await this.link.request(req, this.settings().timeoutMs));
  }

  /**
   * Values in the order of `infos`; an unavailable register (`Enn`, `xx`, empty) is undefined, a reply
   * that is not a value (RegisterReplyError) fails the whole read.
   */
  async readMany(infos: readonly RegisterInfo[]): Promise<(bigint | undefined)[]> {
    const packets = infos.map((r) => `p${r.regnum.toString(16)}`);
    const parse = (reply: Uint8Array, i: number) => {
      try {
        return leBytesToBigInt(parseRegisterReply(infos[i], packets[i], reply));
      } catch (e) {
        if (e instanceof RegisterUnavailableError) return undefined;
        throw e;
      }
    };
    const { window, timeoutMs, onDesync } = this.settings();
    try {
      return await issueWindowed(this.link, packets, window, timeoutMs, parse);
    } catch (e) {
      if (!(e instanceof GdbDesyncError) || window === 1) throw e;
      onDesync();
      return issueWindowed(this.link, packets, 1, timeoutMs, parse);
    }
  }

  async write(info: RegisterInfo, value: bigint): Promise<void> {
    const req = `P${info.regnum.toString(16)}=${bytesToHex(bigIntToLeBytes(value, Math.ceil(info.bitsize / 8)))}`;
    const reply = await this.link.request(req, this.settings().timeoutMs);
    if (reply.length === 0) throw new RegisterUnavailableError(info.name, 'stub does not support writing it');
    expectOk(req, reply);
  }
}
