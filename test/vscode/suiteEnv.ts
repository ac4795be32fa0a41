// What the runners (run.ts, runDesktop.ts) hand the extension-host suite through the environment.
// No imports: the suite loads this inside the extension host, the runners in plain Node.

/** A snapshot of Debian's arm64 kernel at its root-fs panic, when one was taken. */
export const KERNEL_SNAPSHOT_ENV = 'PVMFW_MMU_KERNEL_SNAPSHOT';
/** Why there is none: the suite's kernel tests fail with this message. */
export const KERNEL_SNAPSHOT_ERROR_ENV = 'PVMFW_MMU_KERNEL_SNAPSHOT_ERROR';
