import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { render } from './report.js';

describe('bench report', () => {
  it('gives every row its ratio to the fastest of our CPU rows of that workload, whatever their names', () => {
    const row = (workload: string, engine: string, median: number) => ({ workload, engine, stats: { median, min: median, max: median, runs: 1 } });
    const md = render([
      row('matmul', 'ggem (wasm-relaxed-simd, 1 core)', 8),
      row('matmul', 'ggem (wasm-relaxed-simd, 2 threads)', 4),
      row('matmul', 'tfjs-wasm', 10),
      row('matmul', 'ggem on gpu.js (webasm)', 2), // the gpu.js backend is not the CPU engine the bars are about
      row('step', 'ggem', 200),
      row('step', 'jax-js', 700),
      { workload: 'step', engine: 'js-pytorch', note: 'failed: lacks ops' },
    ]);
    const ratio = (engine: string) =>
      md
        .split('\n')
        .find((l) => l.includes(`| ${engine} |`))!
        .split('|')
        .at(-2)!
        .trim();
    assert.equal(ratio('ggem (wasm-relaxed-simd, 1 core)'), '2.00×');
    assert.equal(ratio('tfjs-wasm'), '2.50×');
    assert.equal(ratio('ggem on gpu.js (webasm)'), '0.50×');
    assert.equal(ratio('jax-js'), '3.50×');
    assert.equal(ratio('js-pytorch'), 'failed: lacks ops');
  });

  it("gives a row's share of the WebAssembly limit of its cores, measured by the 512³ matmul of the same run", () => {
    const row = (workload: string, engine: string, gflops: number, threads: number) => ({
      workload,
      engine,
      gflops,
      threads,
      stats: { median: 1, min: 1, max: 1, runs: 1 },
    });
    const share = (md: string, engine: string) =>
      md
        .split('\n')
        .find((l) => l.includes(`| ${engine} |`))!
        .split('|')[7]!
        .trim();
    const vit = row('ViT', 'onnxruntime-web', 30, 2);
    assert.equal(share(render([row('matmul 512³ f32', 'ggem (wasm-relaxed-simd, 1 core)', 40, 1), vit]), 'onnxruntime-web'), '38 % of 2');
    const alone = render([vit]);
    assert.equal(share(alone, 'onnxruntime-web'), '32 % of 2');
    assert.match(alone, /47\.0 GFLOP\/s a core, the 512³ matmul on one core \(shared\/FACTS\.md/);
  });
});
