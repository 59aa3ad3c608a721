import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { getCpuThreads, matmul, noGrad, randn, referenceBackend, setCpuThreads, tensor, Generator, linear, type Tensor } from '../index.js';
import { simdEngine } from '../backend/cpu/engine.js';
import { on } from '../test/op-cases.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, tensorOf } from '../test/arbitraries.js';
import { matmulT } from './matmul.js';

/** Batch shapes that broadcast, plus m, k, n. */
const mmShapes = fc
  .tuple(
    fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 1, max: 5 }),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([batch, m, k, n, mode]) => {
    const aBatch = mode & 1 ? batch.map(() => 1) : batch;
    const bBatch = mode & 2 ? batch.slice(1) : batch;
    return { a: [...aBatch, m, k], b: [...bBatch, k, n] };
  });

function naive(a: Float64Array | Float32Array, b: Float64Array | Float32Array, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
      out.push(s);
    }
  return out;
}

describe('matmul', () => {
  it('equals a triple loop (2-d)', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 9 }))
          .chain(([m, k, n]) => fc.tuple(tensorOf([m, k]), tensorOf([k, n]))),
        ([a, b]) => {
          const [m, k] = a.shape as [number, number];
          const n = b.shape[1]!;
          const got = Array.from(matmul(a, b).data);
          naive(a.data as Float64Array, b.data as Float64Array, m, k, n).forEach((v, i) => assert.ok(Math.abs(v - got[i]!) < 1e-12));
        },
      ),
      RUNS,
    );
  });
  it('passes the gradient checker with broadcast batch dims', () => {
    fc.assert(
      fc.property(
        mmShapes.chain((s) => fc.tuple(tensorOf(s.a), tensorOf(s.b))),
        ([a, b]) => assertGradcheck(matmul, [a, b]),
      ),
      RUNS,
    );
  });
  it('passes the gradient checker for every transpose combination', () => {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const g = new Generator(3);
      const a = randn(ta ? [2, 4, 3] : [2, 3, 4], { dtype: 'float64', generator: g });
      const b = randn(tb ? [5, 4] : [4, 5], { dtype: 'float64', generator: g });
      assertGradcheck((x, y) => matmulT(x, y, ta, tb), [a, b]);
    }
  });
  it('handles 1-d operands as PyTorch does', () => {
    const v = tensor([1, 2, 3]);
    const m = tensor([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    assert.deepEqual(matmul(v, m).toArray(), [4, 5]);
    assert.deepEqual(matmul(m.transpose(), v).toArray(), [4, 5]);
    assert.equal(matmul(v, v).item(), 14);
  });
  it('linear passes the gradient checker', () => {
    const g = new Generator(4);
    const x = randn([2, 3, 4], { dtype: 'float64', generator: g });
    const w = randn([5, 4], { dtype: 'float64', generator: g });
    const b = randn([5], { dtype: 'float64', generator: g });
    assertGradcheck((x, w, b) => linear(x, w, b), [x, w, b]);
    assertGradcheck((x, w, b) => linear(x, w, b, null, 'gelu'), [x, w, b]);
  });
  it("linear's fused GELU (no gradient) gives the GELU of the product bit for bit, on every backend and thread split", () => {
    const threads = getCpuThreads();
    try {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 70 }),
          fc.integer({ min: 1, max: 60 }),
          fc.integer({ min: 1, max: 40 }),
          fc.boolean(),
          fc.constantFrom(1, 2),
          fc.integer({ min: 64, max: 4096 }),
          fc.integer(),
          (rows, out, inF, withResidual, n, block, seed) => {
            setCpuThreads(n);
            const e = simdEngine()!;
            const saved = [e.threadMinMacs, e.aBlockBytes] as const;
            [e.threadMinMacs, e.aBlockBytes] = [0, block]; // every product split, A in many blocks
            try {
              const g = new Generator(seed);
              const x = randn([rows, inF], { generator: g, std: 2 });
              const w = randn([out, inF], { generator: g });
              const b = randn([out], { generator: g });
              const r = withResidual ? randn([rows, out], { generator: g }) : null;
              for (const be of [null, referenceBackend]) {
                const t = (v: Tensor | null) => (v === null || be === null ? v : on(v, be));
                const fused = noGrad(() => linear(t(x)!, t(w)!, t(b), t(r), 'gelu')).data;
                const apart = noGrad(() => linear(t(x)!, t(w)!, t(b), t(r)).gelu()).data;
                assert.deepEqual(fused, apart, be === null ? 'cpu' : 'reference');
              }
            } finally {
              [e.threadMinMacs, e.aBlockBytes] = saved;
            }
          },
        ),
        { numRuns: 40 },
      );
    } finally {
      setCpuThreads(threads);
    }
  });
  it('names both shapes when inner dims differ', () => {
    assert.throws(() => matmul(randn([2, 3]), randn([4, 5])), /matmul: inner dims differ: \[2, 3\] @ \[4, 5\] \(3 vs 4\)/);
    assert.throws(() => matmul(randn([2, 2, 3]), randn([3, 3, 1])), /matmul: shapes \[2\] and \[3\] cannot be broadcast/);
  });
});
