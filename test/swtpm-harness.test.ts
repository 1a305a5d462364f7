import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Swtpm, requireSwtpm } from './helpers/swtpm.js';

test('the swtpm harness starts a fresh TPM, runs tpm2-tools against it and stops it', async (t) => {
  if (!requireSwtpm(t)) return;
  const tpm = await Swtpm.start();
  try {
    const out = tpm.must('tpm2_getrandom', ['--hex', '16']);
    assert.match(out.trim(), /^[0-9a-f]{32}$/);
    tpm.must('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc256', '-c', tpm.path('primary.ctx')]);
    // 3 object slots: without the flush after each command this loop would fail with 0x902.
    for (let i = 0; i < 4; i++) tpm.must('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc256', '-c', tpm.path(`p${i}.ctx`)]);
  } finally {
    await tpm.stop();
  }
});
