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
 * Issues `packets` with at most `window` in flight and parses each reply. Replies come back in request
 * order (the link matches them FIFO); each of `window` workers awaits its own request, so a strict
 * loop (window 1) costs one await per packet. At the first error no new request is issued; what is in
 * flight is awaited (keeping the reply FIFO aligned) and the error is thrown.
 */
export async function issueWindowed<T>(
  link: RspLink,
  packets: readonly string[],
  window: number,
  timeoutMs: number,
  parse: (reply: Uint8Array, index: number) => T,
): Promise<T[]> {
  const results = new Array<T>(packets.length);
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < packets.length) {
      const i = next++;
      try {
        results[i] = parse(await link.request(packets[i], timeoutMs), i);
      } catch (e) {
        if (!failed) {
          failed = true;
          failure = e;
        }
      }
    }
  };
  const workers: Promise<void>[] = [];
  for (let w = 0; w < Math.min(window, packets.length); w++) workers.push(worker());
  await Promise.all(workers);
  if (failed) throw failure;
  return results;
}

/**
 * Issues `packets` keeping the reply bytes expected in flight (`cost(i)`) within `budget`: a bound in
 * bytes, not in requests, so a long link is kept full however small or large the replies are. At least
 * one request is always in flight; a budget of 0 is strict request/response. Replies are matched in
 * order (the link's FIFO) and parsed as they come; at the first error no new request is issued, what is
 * in flight is awaited (the FIFO stays aligned) and the error is thrown.
 */
export function issueBudgeted<T>(
  link: RspLink,
  packets: readonly string[],
  cost: (index: number) => number,
  budget: number,
  timeoutMs: number,
  parse: (reply: Uint8Array, index: number) => T,
): Promise<T[]> {
  const results = new Array<T>(packets.length);
  if (packets.length === 0) return Promise.resolve(results);
  return new Promise((resolve, reject) => {
    let next = 0;
    let inFlight = 0;
    let bytes = 0;
    let failed = false;
    let failure: unknown;
    const settle = (): void => {
      if (inFlight > 0) return;
      if (failed) reject(failure instanceof Error ? failure : new Error(String(failure)));
      else if (next >= packets.length) resolve(results);
    };
    const pump = (): void => {
      while (!failed && next < packets.length && (inFlight === 0 || bytes + cost(next) <= budget)) {
        const i = next++;
        const c = cost(i);
        inFlight++;
        bytes += c;
        link.request(packets[i], timeoutMs).then(
          (reply) => {
            inFlight--;
            bytes -= c;
            if (!failed) {
              try {
                results[i] = parse(reply, i);
              } catch (e) {
                failed = true;
                failure = e;
              }
            }
            pump();
            settle();
          },
          (e: unknown) => {
            inFlight--;
            bytes -= c;
            if (!failed) {
              failed = true;
              failure = e;
            }
            settle();
          },
        );
      }
    };
    pump();
  });
}
