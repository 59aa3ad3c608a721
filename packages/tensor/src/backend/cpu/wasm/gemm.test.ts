import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { gemmReference } from '../../reference/matmul.js';
import { WasmEngine } from './engine.js';
import { createWasmGemm, engineGemm } from './gemm.js';
import { availableKernels, features } from './index.js';
import { getCpuMatmul, matmul as matmulOp, randn, setCpuMatmul, Generator } from '../../../index.js';

const shapes = [
  { mr: 2, nr: 16, fma: true },
  { mr: 4, nr: 8, fma: true },
  { mr: 3, nr: 12, fma: false },
];

/** m, n, k around the tile edges, and which operands are transposed. */
const problem = fc.record({
  m: fc.integer({ min: 1, max: 37 }),
  n: fc.integer({ min: 1, max: 41 }),
  k: fc.integer({ min: 1, max: 33 }),
  ta: fc.boolean(),
  tb: fc.boolean(),
  withBias: fc.boolean(),
  accumulate: fc.boolean(),
  /** Bytes of A per block of row panels: from one panel a block to all of A in one. */
  block: fc.integer({ min: 1, max: 2048 }),
  seed: fc.integer(),
});

describe('WebAssembly SIMD gemm', () => {
  it('detects SIMD on this engine (Node 20 has it; relaxed-simd through a V8 flag)', () => {
    assert.ok(features.simd);
    assert.ok(availableKernels().includes('typescript'));
  });
  for (const s of shapes) {
    if (s.fma && !features.relaxedSimd) continue;
    it(`${s.mr}×${s.nr}${s.fma ? ' fma' : ''} equals the TypeScript reference for any shape, transpose, bias, accumulation and blocking of A`, () => {
      const engine = new WasmEngine([s]);
      const gemm = engineGemm(engine, 0);
      fc.assert(
        fc.property(problem, ({ m, n, k, ta, tb, withBias, accumulate, block, seed }) => {
          engine.aBlockBytes = block;
          const g = new Generator(seed);
          const bias = withBias ? Float32Array.from({ length: n }, () => g.normal()) : null;
          const a = Float32Array.from({ length: m * k + 3 }, () => g.normal());
          const b = Float32Array.from({ length: k * n + 5 }, () => g.normal());
          const [aRow, aCol] = ta ? [1, m] : [k, 1];
          const [bRow, bCol] = tb ? [1, k] : [n, 1];
          const want = new Float32Array(m * n + 2);
          const got = new Float32Array(m * n + 2).fill(7);
          if (accumulate) {
            const c0 = Float32Array.from({ length: m * n }, () => g.normal());
            want.set(c0, 1);
            got.set(c0, 1);
          }
          gemmReference(m, n, k, a, 3, aRow, aCol, b, 5, bRow, bCol, want, 1, bias, accumulate);
          gemm(m, n, k, a, 3, aRow, aCol, b, 5, bRow, bCol, got, 1, bias, accumulate);
          assert.equal(got[0], 7, 'nothing written before the output');
          assert.equal(got[m * n + 1], 7, 'nothing written after the output');
          for (let i = 1; i <= m * n; i++)
            assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)) * Math.sqrt(k), `entry ${i - 1}: ${got[i]} vs ${want[i]}`);
        }),
        { numRuns: 60 },
      );
    });
  }
  it('refuses an operand that is neither row-major nor transposed (its copy would read the wrong values)', () => {
    const gemm = createWasmGemm({ mr: 2, nr: 16, fma: false });
    const [m, n, k] = [3, 5, 4];
    const b = new Float32Array(2 * k * n);
    const c = new Float32Array(m * n);
    assert.throws(
      () => gemm(m, n, k, new Float32Array(m * k), 0, k, 1, b, 0, 2 * n, 2, c, 0, null),
      /gemm: A \[3, 4\] strides \(4, 1\) and B \[4, 5\] strides \(10, 2\)/,
    );
    assert.throws(() => gemm(m, n, k, new Float32Array(2 * m * k), 0, 2 * k, 1, b, 0, n, 1, c, 0, null), /each must be dense/);
  });
  it('two threads (a worker sharing the memory) give the single-thread result, for any split', async () => {
    const threaded = new WasmEngine(
      [
        { mr: 2, nr: 16, fma: features.relaxedSimd },
        { mr: 4, nr: 8, fma: false },
      ],
      2,
      0,
    );
    // the worker marks itself ready once started; until then products run on one thread
    const deadline = Date.now() + 10_000;
    while (!threaded.ready() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.ok(threaded.ready(), 'the worker started');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 90 }),
        fc.integer({ min: 17, max: 120 }),
        fc.integer({ min: 1, max: 60 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 1 }),
        fc.integer({ min: 1, max: 4096 }),
        (m, n, k, tb, shape, block) => {
          threaded.aBlockBytes = block;
          const g = new Generator(m * n + k);
          const a = Float32Array.from({ length: m * k }, () => g.normal());
          const b = Float32Array.from({ length: k * n }, () => g.normal());
          const [bRow, bCol] = tb ? [1, k] : [n, 1];
          const want = new Float32Array(m * n);
          const got = new Float32Array(m * n);
          const bias = Float32Array.from({ length: n }, () => g.normal());
          gemmReference(m, n, k, a, 0, k, 1, b, 0, bRow, bCol, want, 0, bias);
          engineGemm(threaded, shape)(m, n, k, a, 0, k, 1, b, 0, bRow, bCol, got, 0, bias);
          for (let i = 0; i < m * n; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!)), `entry ${i}: ${got[i]} vs ${want[i]}`);
        },
      ),
      { numRuns: 40 },
    );
    assert.ok(threaded.threadedCalls >= 40, `the products ran on two threads (${threaded.threadedCalls})`);
  });
  it('batched float32 matmul gives the same result on every kernel', () => {
    const a = randn([3, 1, 20, 30], { generator: new Generator(1) });
    const b = randn([4, 30, 17], { generator: new Generator(2) });
    const before = getCpuMatmul();
    let results: Float32Array[];
    try {
      results = availableKernels().map((k) => {
        setCpuMatmul(k);
        return matmulOp(a, b).data as Float32Array;
      });
    } finally {
      setCpuMatmul(before);
    }
    for (const r of results.slice(1)) r.forEach((v, i) => assert.ok(Math.abs(v - results[0]![i]!) < 1e-4, `entry ${i}`));
  });
  it('a NaN in an input reaches only its own rows and columns', () => {
    const gemm = createWasmGemm({ mr: 2, nr: 16, fma: features.relaxedSimd });
    const a = new Float32Array(5 * 3).fill(1);
    a[3] = NaN; // row 1
    const b = new Float32Array(3 * 20).fill(1);
    const c = new Float32Array(5 * 20);
    gemm(5, 20, 3, a, 0, 3, 1, b, 0, 20, 1, c, 0, null);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 20; j++) assert.equal(Number.isNaN(c[i * 20 + j]), i === 1);
  });
});
