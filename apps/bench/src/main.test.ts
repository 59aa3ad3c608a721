import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

function quick(only: string) {
  const out = mkdtempSync(join(tmpdir(), 'ggem-bench-test-'));
  const main = fileURLToPath(new URL('./main.ts', import.meta.url));
  const r = spawnSync(process.execPath, ['--conditions=@ggem/source', '--import', 'tsx', main, '--quick', '--only', only, '--reps', '1', '--out', out], {
    encoding: 'utf8',
    timeout: 240_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const { rows } = JSON.parse(readFileSync(join(out, 'latest.json'), 'utf8')) as { rows: { engine: string; stats?: { median: number }; note?: string }[] };
  return { rows, md: readFileSync(join(out, 'latest.md'), 'utf8') };
}

describe('bench --quick (smoke test)', () => {
  it('times onnxruntime-web and onnxruntime-node on the ONNX export of the same ViT, once their logits match ours', () => {
    const { rows, md } = quick('ViT forward');
    const timed = rows.filter((x) => x.engine.startsWith('onnxruntime'));
    const threads = availableParallelism() > 1 ? 2 : 1;
    assert.equal(timed.length, 2 * threads, `onnxruntime rows: ${timed.map((x) => x.engine).join(', ')}`);
    for (const x of timed) assert.ok(x.stats, `${x.engine}: ${x.note}`);
    assert.match(md, /\| onnxruntime-web 1\.30 \(WASM SIMD, 1 thread\) \| [\d.]+ \|.*\| \d+ % of 1 \|/);
  });

  it('runs the small-ViT step on every engine from the same weights, and the JS peers agree with ours', () => {
    const { rows, md } = quick('small-ViT');
    const engine = (prefix: string) => rows.find((x) => x.engine.startsWith(prefix));
    assert.ok((engine('ggem')?.stats?.median ?? 0) > 0);
    // timed only when their loss and gradients matched ours within the workload's tolerance
    if (availableParallelism() > 1) assert.ok(engine('ggem, ')?.stats, `ggem data-parallel: ${engine('ggem, ')?.note}`);
    assert.ok(engine('tfjs-wasm')?.stats, `tfjs-wasm: ${engine('tfjs-wasm')?.note}`);
    assert.ok(engine('ggem in Chromium')?.stats, `Chromium's page worker: ${engine('ggem in Chromium')?.note}`);
    assert.ok(engine('jax-js')?.stats, `jax-js: ${engine('jax-js')?.note}`);
    assert.match(engine('js-pytorch')!.note!, /lacks ops/);
    assert.ok(engine('PyTorch'), 'PyTorch is listed (timed, or reported as not installed)');
    assert.match(md, /\| small-ViT training step \(batch 4\) \| ggem \|/);
  });
});
