// The program's identity recorded in snapshots: SHA-256 of the file, and the GNU build id from the
// NT_GNU_BUILD_ID note when the ELF has one (readelf -n is the oracle).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gnuBuildId, programIdentity, programLabel } from '../../../src/analysis';
import { ElfFile } from '../../../src/elf';
import { buildIdElf, noBuildIdElf } from './programFixture';

void describe('program identity', () => {
  void test('the build id of an ELF linked with --build-id=sha1 is what readelf -n prints', () => {
    const f = buildIdElf();
    assert.ok(f.buildId && f.buildId.length === 40, `readelf found ${f.buildId}`);
    const bytes = new Uint8Array(readFileSync(f.path));
    const id = programIdentity('buildid.elf', bytes, ElfFile.parse(bytes));
    assert.deepEqual(id, {
      name: 'buildid.elf',
      sha256: createHash('sha256').update(bytes).digest('hex'),
      buildId: f.buildId,
    });
    assert.equal(
      programLabel(id),
      `buildid.elf (sha256 ${id.sha256.slice(0, 8)}…${id.sha256.slice(-4)}, build id ${f.buildId.slice(0, 8)}…${f.buildId.slice(-4)})`,
    );
  });

  void test('without a build id (the demo is linked --build-id=none) the SHA-256 alone names it', () => {
    const f = noBuildIdElf();
    assert.equal(f.buildId, undefined);
    const bytes = new Uint8Array(readFileSync(f.path));
    assert.equal(gnuBuildId(ElfFile.parse(bytes)), undefined);
    const id = programIdentity('nobuildid.elf', bytes, ElfFile.parse(bytes));
    assert.deepEqual(Object.keys(id), ['name', 'sha256']);
    assert.match(id.sha256, /^[0-9a-f]{64}$/);
  });
});
