import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';

/** Runs `code` in a fresh Node (no flags of this process), printing what it logs. */
function fresh(code: string): string {
  const r = spawnSync(process.execPath, ['--conditions=@ggem/source', '--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    cwd: new URL('.', import.meta.url).pathname,
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('relaxed SIMD', () => {
  it('is never switched on by importing the library; enableRelaxedSimd turns it on, and the matmul kernel follows', {
    skip: process.versions.node.startsWith('20.') ? false : 'Node ≥ 22 has relaxed SIMD without a flag',
  }, () => {
    const out = fresh(`
      import { wasmFeatures, getCpuMatmul, matmul, randn } from '@ggem/tensor';
      import { enableRelaxedSimd } from '@ggem/tensor/node';
      const before = [wasmFeatures.relaxedSimd, getCpuMatmul()];
      const on = enableRelaxedSimd();
      matmul(randn([8, 8]), randn([8, 8]));
      console.log(JSON.stringify([...before, on, wasmFeatures.relaxedSimd, getCpuMatmul()]));`);
    assert.deepEqual(JSON.parse(out), [false, 'wasm-simd', true, true, 'wasm-relaxed-simd']);
  });
});
