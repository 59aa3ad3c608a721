import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Generator, randn, tensor, zeros } from '@ggem/tensor';
import { attentionDistance, createVit, headMeanDistance, headSimilarity, linearCka } from './index.js';

/** A random orthogonal matrix (Gram-Schmidt on a Gaussian one). */
function orthogonal(d: number, g: Generator): number[][] {
  const q: number[][] = [];
  while (q.length < d) {
    let v = Array.from({ length: d }, () => g.normal());
    for (const u of q) {
      const dot = v.reduce((s, x, i) => s + x * u[i]!, 0);
      v = v.map((x, i) => x - dot * u[i]!);
    }
    const n = Math.hypot(...v);
    if (n > 1e-6) q.push(v.map((x) => x / n));
  }
  return q;
}

describe('linear CKA', () => {
  it('CKA(X, X) = 1; invariant to orthogonal transforms and isotropic scaling; symmetric', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 20 }),
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        fc.double({ min: 0.1, max: 10, noNaN: true }),
        (n, d1, d2, seed, a) => {
          const g = new Generator(seed);
          const x = randn([n, d1], { dtype: 'float64', generator: g });
          const y = randn([n, d2], { dtype: 'float64', generator: g });
          assert.ok(Math.abs(linearCka(x, x) - 1) < 1e-12);
          const q = tensor(orthogonal(d1, g), { dtype: 'float64' });
          const base = linearCka(x, y);
          assert.ok(Math.abs(linearCka(x.matmul(q).mul(a), y) - base) < 1e-10);
          assert.ok(Math.abs(linearCka(y, x) - base) < 1e-12);
          assert.ok(base >= -1e-12 && base <= 1 + 1e-12);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('is invariant to a shift of either representation (it centres the features first)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 5, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        fc.nat(),
        fc.double({ min: -50, max: 50, noNaN: true }),
        (n, d, seed, shift) => {
          const g = new Generator(seed);
          const x = randn([n, d], { dtype: 'float64', generator: g });
          const y = randn([n, d + 1], { dtype: 'float64', generator: g });
          const offset = randn([1, d], { dtype: 'float64', generator: g }).mul(shift);
          assert.ok(Math.abs(linearCka(x.add(offset), y) - linearCka(x, y)) < 1e-9);
          assert.ok(Math.abs(linearCka(x, y.add(shift)) - linearCka(x, y)) < 1e-9);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('independent representations score low', () => {
    const g = new Generator(3);
    assert.ok(linearCka(randn([2000, 3], { generator: g }), randn([2000, 3], { generator: g })) < 0.02);
  });
});

describe('attention mean distance', () => {
  it("uniform attention on a k×k grid gives the grid's mean pairwise distance", () => {
    for (const k of [2, 3, 5]) {
      const n = k * k;
      const attn = zeros([1, n, n]).add(1 / n);
      let sum = 0;
      for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) sum += Math.hypot(Math.floor(a / k) - Math.floor(b / k), (a % k) - (b % k));
      const [d] = attentionDistance(attn, k, 4);
      assert.ok(Math.abs(d! - (4 * sum) / (n * n)) < 1e-5, `k = ${k}: ${d}`);
    }
  });
  it('one-hot attention gives the known distance', () => {
    // every query of a 3×3 grid attends only to the top-left patch; patch size 7 pixels
    const attn = zeros([2, 9, 9]).data;
    for (let h = 0; h < 2; h++) for (let q = 0; q < 9; q++) attn[h * 81 + q * 9 + (h === 0 ? 0 : q)] = 1; // head 1 attends to itself
    const expected = (7 * [0, 1, 2, 1, Math.SQRT2, Math.hypot(1, 2), 2, Math.hypot(2, 1), 2 * Math.SQRT2].reduce((s, v) => s + v, 0)) / 9;
    const [d0, d1] = attentionDistance(tensor(attn, { shape: [2, 9, 9] }), 3, 7);
    assert.ok(Math.abs(d0! - expected) < 1e-5);
    assert.equal(d1, 0);
  });
  it('model-level analysis: head similarity is symmetric with unit diagonal; distances are in range', () => {
    const m = createVit('vit_mnist_tiny', 'ggem');
    const images = randn([3, 1, 28, 28], { generator: new Generator(5) });
    const sim = headSimilarity(m, images, 1);
    assert.equal(sim.length, 4);
    sim.forEach((row, i) =>
      row.forEach((v, j) => {
        assert.ok(Math.abs(v - sim[j]![i]!) < 1e-12 && v >= -1e-9 && v <= 1 + 1e-9);
        if (i === j) assert.ok(Math.abs(v - 1) < 1e-12);
      }),
    );
    const dist = headMeanDistance(m, images, 0);
    const maxDist = Math.hypot(6, 6) * 4;
    assert.ok(dist.length === 4 && dist.every((d) => d > 0 && d < maxDist));
  });
});
