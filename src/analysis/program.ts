// Which program a stop belongs to: the ELF's SHA-256 (always dependable: the demo and pvmfw-like
// firmware are often linked with --build-id=none) and its GNU build id when it has one. Recorded in
// snapshots so a diff or a replay can say when two captures, or a capture and an --elf, disagree.
import { createHash } from 'node:crypto';
import type { ElfFile } from '../elf';

export interface ProgramIdentity {
  /** File name of the ELF (no directory): "demo.elf". */
  readonly name: string;
  /** SHA-256 of the whole ELF file, 64 lowercase hex digits (as sha256sum prints it). */
  readonly sha256: string;
  /** NT_GNU_BUILD_ID of the ELF, lowercase hex (as `readelf -n` prints it), when it has one. */
  readonly buildId?: string;
}

const SHT_NOTE = 7;
const NT_GNU_BUILD_ID = 3;

const toHex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * The GNU build id: the NT_GNU_BUILD_ID note of owner "GNU", looked for in .note.gnu.build-id first
 * and then in every other SHT_NOTE section (some linker scripts merge the notes into one section).
 */
export function gnuBuildId(elf: ElfFile): string | undefined {
  const notes = elf.sections.filter((s) => s.type === SHT_NOTE);
  notes.sort((a, b) => Number(b.name === '.note.gnu.build-id') - Number(a.name === '.note.gnu.build-id'));
  for (const s of notes) {
    const d = elf.dataOf(s);
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    // Elf64_Nhdr: namesz, descsz, type (u32 each), then name and desc, each padded to 4 bytes.
    for (let off = 0; off + 12 <= d.length;) {
      const namesz = v.getUint32(off, true);
      const descsz = v.getUint32(off + 4, true);
      const type = v.getUint32(off + 8, true);
      const name = off + 12;
      const desc = name + ((namesz + 3) & ~3);
      const next = desc + ((descsz + 3) & ~3);
      if (desc + descsz > d.length || next <= off) break;
      const owner = Buffer.from(d.subarray(name, name + namesz)).toString('latin1');
      if (type === NT_GNU_BUILD_ID && owner === 'GNU\0' && descsz > 0)
        return toHex(d.subarray(desc, desc + descsz));
      off = next;
    }
  }
  return undefined;
}

/** The identity of an ELF file's bytes; `elf` (its parse) adds the build id. */
export function programIdentity(name: string, bytes: Uint8Array, elf?: ElfFile): ProgramIdentity {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const buildId = elf ? gnuBuildId(elf) : undefined;
  return { name, sha256, ...(buildId ? { buildId } : {}) };
}

/** One line naming a program: "demo.elf (sha256 3f2a…9c01, build id 8e1f…)". */
export function programLabel(p: ProgramIdentity): string {
  const short = (h: string) => (h.length > 16 ? `${h.slice(0, 8)}…${h.slice(-4)}` : h);
  return `${p.name} (sha256 ${short(p.sha256)}${p.buildId ? `, build id ${short(p.buildId)}` : ''})`;
}
