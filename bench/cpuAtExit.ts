// Preloaded (node -r) into the processes bench/fastpath.bench.ts times: at exit, the process's CPU time
// (user + system, all its threads, in ms) is appended to $BENCH_CPU_FILE. On a machine shared with
// other work, CPU time moves much less than wall time with the load.
import { appendFileSync } from 'node:fs';

const file = process.env.BENCH_CPU_FILE;
if (file)
  process.on('exit', () => {
    const c = process.cpuUsage();
    appendFileSync(file, `${(c.user + c.system) / 1000}\n`);
  });
