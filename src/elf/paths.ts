// POSIX path arithmetic for DWARF file names (pure: the guest is built on Linux, and the adapter may
// run where node:path is the Windows flavour).

export function joinPath(dir: string, name: string): string {
  if (name.startsWith('/') || dir === '') return normalizePath(name);
  return normalizePath(`${dir}/${name}`);
}

export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..' && out.length > 0 && out[out.length - 1] !== '..') out.pop();
    else if (part !== '..' || !abs) out.push(part);
  }
  return (abs ? '/' : '') + out.join('/');
}

export function baseName(p: string): string {
  const i = p.lastIndexOf('/');
  return i < 0 ? p : p.slice(i + 1);
}

/**
 * How well a client path matches a DWARF path: the number of trailing path components they share
 * (0 = different file name). Lets a breakpoint set on /home/u/src/x.c bind to /build/src/x.c.
 */
export function suffixScore(clientPath: string, dwarfPath: string): number {
  const a = normalizePath(clientPath.replace(/\\/g, '/')).split('/');
  const b = dwarfPath.split('/');
  let n = 0;
  while (
    n < a.length &&
    n < b.length &&
    a[a.length - 1 - n] === b[b.length - 1 - n] &&
    a[a.length - 1 - n] !== ''
  ) {
    n++;
  }
  return n;
}
