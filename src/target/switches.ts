// The environment switches that turn a behaviour off for benchmarks and users (PVMFW_MMU_LOCAL_RAM,
// PVMFW_MMU_WALK_REUSE, PVMFW_MMU_CODE_CACHE), read one way: `off`, `0`, `false` or `no`, any case.

/** Whether the environment variable `name` turns its behaviour off. */
export function switchedOff(
  name: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return /^(off|0|false|no)$/i.test(env[name]?.trim() ?? '');
}
