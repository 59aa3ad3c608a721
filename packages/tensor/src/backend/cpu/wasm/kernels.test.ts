import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cast, Generator, gelu, randn, referenceBackend, sum, tensor, type Tensor } from '../../../index.js';
import { on } from '../../../test/op-cases.js';
import { features } from './features.js';

/** f on the CPU backend (its SIMD kernels) and on the reference backend (plain TypeScript), on the same inputs. */
function both<T>(f: (...xs: Tensor[]) => T, ...xs: Tensor[]): [T, T] {
  return [f(...xs), f(...xs.map((x) => on(x, referenceBackend)))];
}

describe('SIMD elementwise and row-wise kernels (float32)', () => {
  it('are available on this engine', () => assert.ok(features.simd));
  it('exact GELU and its gradient equal the float64 reference within 4e-7·(1 + |x|), far tails included', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer(), (n, seed) => {
        const x = randn([n], { generator: new Generator(seed), std: 4 });
        const g = randn([n], { generator: new Generator(seed + 1) });
        const x32 = x.detach().setRequiresGrad(true);
        const x64 = cast(x, 'float64').setRequiresGrad(true);
        const y32 = gelu(x32);
        const y64 = gelu(x64);
        y32.backward(g);
        y64.backward(cast(g, 'float64'));
        for (let i = 0; i < n; i++) {
          const tol = 4e-7 * (1 + Math.abs(x.data[i]!));
          assert.ok(Math.abs(y32.data[i]! - y64.data[i]!) < tol, `gelu(${x.data[i]}) = ${y32.data[i]} vs ${y64.data[i]}`);
          assert.ok(Math.abs(x32.grad!.data[i]! - x64.grad!.data[i]!) < tol * (1 + Math.abs(g.data[i]!)), `gelu'(${x.data[i]})`);
        }
      }),
      { numRuns: 30 },
    );
    // the negative tail keeps its relative accuracy: gelu(-8) = -8·Φ(-8) ≈ -4.98e-15
    const tail = gelu(tensor(new Float32Array(8).fill(-8))).data[0]!;
    assert.ok(Math.abs(tail / (-8 * 6.22096057427178e-16) - 1) < 1e-5, `gelu(-8) = ${tail}`);
  });
  it('add and column sums give the reference result', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 40 }), fc.integer(), (rows, d4, seed) => {
        const g = new Generator(seed);
        const a = randn([rows, 4 * d4], { generator: g });
        const b = randn([rows, 4 * d4], { generator: g });
        const [s1, s2] = both((u, v) => u.add(v).data, a, b);
        s1.forEach((v, i) => assert.equal(v, s2[i]));
        const [c1, c2] = both((u) => sum(u, 0).data, a);
        const c64 = sum(cast(a, 'float64'), 0).data;
        c1.forEach((v, i) => {
          assert.equal(v, c2[i], 'float64 sums in both');
          assert.equal(v, Math.fround(c64[i]!));
        });
      }),
      { numRuns: 40 },
    );
  });
  it('softmax over rows (lengths a multiple of 4) and its gradient equal the float64 reference', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.integer({ min: 1, max: 20 }), fc.integer(), (rows, n4, seed) => {
        const g = new Generator(seed);
        const x = randn([rows, 4 * n4], { generator: g, std: 5 });
        const w = randn([rows, 4 * n4], { generator: g });
        const run = (dtype: 'float32' | 'float64') => {
          const t = cast(x.detach(), dtype).setRequiresGrad(true);
          const y = t.softmax(-1);
          y.mul(cast(w, dtype)).sum().backward();
          return [y.data, t.grad!.data];
        };
        const [a, b] = [run('float32'), run('float64')];
        a.forEach((arr, k) =>
          arr.forEach((v, i) =>
            assert.ok(Math.abs(v - b[k]![i]!) < 2e-6 * (1 + Math.abs(b[k]![i]!)), `${k ? 'gradient' : 'softmax'} entry ${i}: ${v} vs ${b[k]![i]}`),
          ),
        );
      }),
      { numRuns: 40 },
    );
  });
  it('NaN propagates through the SIMD kernels', () => {
    const x: Tensor = randn([4096]);
    const data = x.data as Float32Array;
    data[5] = NaN;
    assert.ok(Number.isNaN(gelu(x).data[5]!));
    assert.ok(Number.isNaN(x.add(x).data[5]!));
    assert.ok(!Number.isNaN(gelu(x).data[4]!));
  });
});
