// Reply classification and the windowed issuer shared by register and memory requests.
import { latin1Text } from './codec';
import { GdbErrorReply, GdbUnsupportedError } from './errors';
import type { RspLink } from './link';

/** Throws GdbErrorReply for `Enn` / `E.text`, GdbUnsupportedError for an empty reply. */
export function checkReply(request: string, reply: Uint8Array, emptyIsError = true): void {
  if (reply.length === 0) {
    if (emptyIsError) throw new GdbUnsupportedError(request);
    return;
  }
  if (reply[0] === 0x45 /* E */) {
    const err = parseError(request, reply);
    if (err) throw err;
  }
}

/** `Enn` (two hex digits) or `E.message`; undefined when the reply is not an error. */
export function parseError(request: string, reply: Uint8Array): GdbErrorReply | undefined {
  if (reply[0] !== 0x45) return undefined;
  const text = latin1Text(reply);
  if (/^E[0-9a-fA-F]{2}$/.test(text)) return new GdbErrorReply(request, parseInt(text.slice(1), 16));
  if (text.startsWith('E.')) return new GdbErrorReply(request, NaN, text.slice(2));
  return undefined;
}

export function expectOk(request: string, reply: Uint8Array): void {
  checkReply(request, reply);
  if (latin1Text(reply) !== 'OK')
    throw new GdbErrorReply(request, NaN, `unexpected reply '${latin1Text(reply).slice(0, 40)}'`);
}

/**
 * Issues `packets` with at most `window` in flight and parses each reply in order. Stops issuing at the
 * first error, waits for what is in flight (so the reply FIFO stays aligned), then throws it.
 */
export async function issueWindowed<T>(
  link: RspLink,
  packets: readonly string[],
  window: number,
  timeoutMs: number,
  parse: (reply: Uint8Array, index: number) => T,
): Promise<T[]> {
  const results = new Array<T>(packets.length);
  if (packets.length === 0) return results;
  let next = 0;
  let active = 0;
  let failure: unknown;
  let failed = false;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      while (!failed && next < packets.length && active < window) {
        const i = next++;
        active++;
        link
          .request(packets[i], timeoutMs)
          .then(
            (reply) => {
              if (failed) return;
              try {
                results[i] = parse(reply, i);
              } catch (e) {
                failed = true;
                failure = e;
              }
            },
            (e: unknown) => {
              if (!failed) {
                failed = true;
                failure = e;
              }
            },
          )
          .finally(() => {
            active--;
            if (active === 0 && (failed || next >= packets.length)) resolve();
            else pump();
          });
      }
    };
    pump();
  });
  if (failed) throw failure;
  return results;
}
