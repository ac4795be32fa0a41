// The stub's thread (vCPU) list: qfThreadInfo, then qsThreadInfo until the `l` reply.
import { latin1Text } from './codec';
import { GdbProtocolError } from './errors';
import { parseThreadId } from './stop-reply';
import type { ThreadId } from './types';

/**
 * The threads the stub lists. `ahead` continuations go out with each query (pipelined: QEMU names one
 * vCPU a reply, so a few vCPUs cost one round trip); those past the end are answered `l` and dropped.
 */
export async function listThreads(
  request: (packet: string) => Promise<Uint8Array>,
  ahead: number,
): Promise<ThreadId[]> {
  const out: ThreadId[] = [];
  let first = true;
  for (let guard = 0; guard < 10000;) {
    const reqs = [first ? 'qfThreadInfo' : 'qsThreadInfo', ...Array<string>(ahead).fill('qsThreadInfo')];
    first = false;
    const replies = await Promise.allSettled(reqs.map((r) => request(r)));
    for (const [i, r] of replies.entries()) {
      guard++;
      if (r.status === 'rejected') throw r.reason;
      const reply = latin1Text(r.value);
      if (reply.startsWith('l')) return out;
      if (!reply.startsWith('m')) throw new GdbProtocolError(`bad ${reqs[i]} reply '${reply.slice(0, 40)}'`);
      for (const id of reply.slice(1).split(',')) if (id) out.push(parseThreadId(id));
    }
  }
  return out;
}
