import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuBackend, full, Generator, randn, referenceBackend, tensor, withBackend, type Backend, type Tensor } from '@ggem/tensor';
import { assertGradcheck, withoutFusedKernels } from '@ggem/tensor/testing';
import { allowedGroups, gem, ggem, ggem2d, ggemComposed } from './index.js';

const RUNS = { numRuns: 25 };

/** B, N, C and a G that fits C (including Gs that do not divide C). */
const dims = fc
  .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 12 }))
  .chain(([b, n, c]) => fc.tuple(fc.constant(b), fc.constant(n), fc.constant(c), fc.constantFrom(...allowedGroups(c))));

/** Values away from eps's kink: either clearly positive or clearly clamped. */
const xs = (b: number, n: number, c: number, lo = -2) =>
  fc
    .array(
      fc.double({ min: lo, max: 3, noNaN: true }).filter((v) => Math.abs(v) > 0.05),
      { minLength: b * n * c, maxLength: b * n * c },
    )
    .map((v) => tensor(Float64Array.from(v), { shape: [b, n, c] }));
const ps = (g: number, min = 0.5, max = 8) =>
  fc.array(fc.double({ min, max, noNaN: true }), { minLength: g, maxLength: g }).map((v) => tensor(Float64Array.from(v)));
const close = (a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what = '', atol = 0) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) <= atol + rtol * Math.abs(b[i]!), `${what}[${i}]: ${a[i]} vs ${b[i]}`);
};

describe('ggem: identities', () => {
  it('large x at large p neither overflows nor loses its gradient, on the reference kernel too (max-scaled)', () => {
    // x^p overflows float32 at 100^40 and float64 at 3e4^100; y = M·(mean (x/M)^p)^(1/p) does not
    const cases: [string, 'float32' | 'float64', number, number][] = [
      ['float32', 'float32', 100, 40],
      ['float64', 'float64', 3e4, 100],
    ];
    for (const backend of ['cpu', 'reference']) {
      withBackend(backend, () => {
        for (const [what, dtype, scale, p] of cases) {
          for (const c of [3, 8]) {
            // 3 channels never take the SIMD kernel
            const g = new Generator(c);
            const x = randn([2, 5, c], { dtype, generator: g }).abs().add(0.5).mul(scale).setRequiresGrad(true);
            const y = gem(x, full([1], p, { dtype }), { pMax: 1000 });
            const xs = x.data;
            for (let bi = 0; bi < 2; bi++) {
              for (let j = 0; j < c; j++) {
                const col = Array.from({ length: 5 }, (_, t) => xs[bi * 5 * c + t * c + j]!);
                const m = Math.max(...col);
                const want = m * (col.reduce((acc, v) => acc + (v / m) ** p, 0) / 5) ** (1 / p);
                assert.ok(Math.abs(y.data[bi * c + j]! - want) <= 1e-4 * want, `${what}, C ${c}, ${backend}: y ${y.data[bi * c + j]} vs ${want}`);
              }
            }
            y.sum().backward();
            assert.ok(x.grad!.data.every(Number.isFinite), `${what}, C ${c}, ${backend}: finite gradient`);
          }
        }
      });
    }
  });
  it('G = 1 equals gem, and equal p in every group equals gem', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c, g]) => fc.tuple(xs(b, n, c), fc.constant(g), fc.double({ min: 0.5, max: 8, noNaN: true }))),
        ([x, g, p]) => {
          const one = gem(x, tensor([p], { dtype: 'float64' })).data;
          close(ggem(x, full([g], p, { dtype: 'float64' })).data, one, 1e-12);
        },
      ),
      RUNS,
    );
  });
  it('p = 1 equals average pooling on inputs >= eps', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c]) => xs(b, n, c, 0.06)),
        (x) => {
          close(gem(x, tensor([1], { dtype: 'float64' })).data, x.mean(1).data, 1e-12);
        },
      ),
      RUNS,
    );
  });
  it('G = C equals per-channel GeM with each channel its own p', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c]) => fc.tuple(xs(b, n, c), ps(c))),
        ([x, p]) => {
          const y = ggem(x, p).data;
          const c = x.shape[2]!;
          for (let j = 0; j < c; j++) {
            const yj = gem(x.narrow(2, j, 1), p.narrow(0, j, 1)).data;
            yj.forEach((v, bi) => assert.ok(Math.abs(y[bi * c + j]! - v) <= 1e-12 * Math.abs(v)));
          }
        },
      ),
      RUNS,
    );
  });
  it('avg <= gem_p <= max for p >= 1, and gem_p is non-decreasing in p', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c]) => fc.tuple(xs(b, n, c, 0.06), fc.double({ min: 1, max: 50, noNaN: true }), fc.double({ min: 0, max: 20, noNaN: true }))),
        ([x, p, dp]) => {
          const y = gem(x, tensor([p], { dtype: 'float64' })).data;
          const y2 = gem(x, tensor([p + dp], { dtype: 'float64' })).data;
          const avg = x.mean(1).data;
          const mx = x.max(1).data;
          y.forEach((v, i) => {
            assert.ok(v >= avg[i]! * (1 - 1e-12) && v <= mx[i]! * (1 + 1e-12), `avg ${avg[i]} <= ${v} <= max ${mx[i]}`);
            assert.ok(y2[i]! >= v * (1 - 1e-12), `gem_${p + dp} = ${y2[i]} < gem_${p} = ${v}`);
          });
        },
      ),
      RUNS,
    );
  });
  it('token order does not matter; gem(αx) = α·gem(x) where nothing is clamped', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c, g]) => fc.tuple(xs(b, n, c, 0.06), ps(g), fc.integer(), fc.double({ min: 0.1, max: 10, noNaN: true }))),
        ([x, p, seed, a]) => {
          const y = ggem(x, p).data;
          const perm = new Generator(seed).shuffle([...Array(x.shape[1]!).keys()]);
          close(ggem(x.indexSelect(1, perm), p).data, y, 1e-12, 'permuted');
          close(
            ggem(x.mul(a), p).data,
            Array.from(y, (v) => v * a),
            1e-12,
            'scaled',
          );
        },
      ),
      RUNS,
    );
  });
});

describe('ggem: the fused kernel equals the composition from primitives', () => {
  it('forward and gradients, float64', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c, g]) => fc.tuple(xs(b, n, c), ps(g))),
        ([x, p]) => {
          const [x1, x2] = [x.detach().setRequiresGrad(true), x.detach().setRequiresGrad(true)];
          const [p1, p2] = [p.detach().setRequiresGrad(true), p.detach().setRequiresGrad(true)];
          const w = randn([x.shape[0]!, x.shape[2]!], { dtype: 'float64', generator: new Generator(1) });
          const y1 = ggem(x1, p1);
          const y2 = ggemComposed(x2, p2);
          close(y1.data, y2.data, 1e-9, 'y');
          y1.mul(w).sum().backward();
          y2.mul(w).sum().backward();
          close(p1.grad!.data, p2.grad!.data, 1e-8, 'dp', 1e-12); // exactly 0 with one token, rounding in the composition
          x1.grad!.data.forEach((v, i) =>
            assert.ok(
              Math.abs(v - x2.grad!.data[i]!) <= 1e-8 * (1 + Math.abs(v)),
              `dx[${i}]: ${v} vs ${x2.grad!.data[i]} (x = ${x.data[i]}, p = ${Array.from(p.data)})`,
            ),
          );
        },
      ),
      RUNS,
    );
  });
  it('the SIMD kernel equals the TypeScript reference in float32', () => {
    const shapes = fc
      .tuple(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 6 }).map((k) => 4 * k),
      )
      .chain(([b, n, c]) => fc.tuple(fc.constant([b, n, c]), fc.constantFrom(...allowedGroups(c)), fc.integer({ min: 0, max: n - 1 }), fc.integer()));
    fc.assert(
      fc.property(shapes, ([shape, g, start, seed]) => {
        const rng = new Generator(seed);
        const x = randn(shape, { generator: rng, std: 2 });
        const p = tensor(Float32Array.from({ length: g }, () => 0.5 + 10 * rng.uniform()));
        const run = (backend: Backend) => {
          const xr = x.to(backend).setRequiresGrad(true);
          const pr = p.to(backend).setRequiresGrad(true);
          const y = ggem(xr, pr, { start });
          y.mul(randn(y.shape, { generator: new Generator(2) }).to(backend))
            .sum()
            .backward();
          return [y.data, xr.grad!.data, pr.grad!.data];
        };
        const ref = run(referenceBackend);
        const fast = run(cpuBackend);
        close(fast[0]!, ref[0]!, 2e-6, 'y');
        fast[1]!.forEach((v, i) => assert.ok(Math.abs(v - ref[1]![i]!) <= 1e-5 * (1e-3 + Math.abs(ref[1]![i]!)), `dx[${i}] ${v} vs ${ref[1]![i]}`));
        fast[2]!.forEach((v, i) => assert.ok(Math.abs(v - ref[2]![i]!) <= 1e-4 * (1e-3 + Math.abs(ref[2]![i]!)), `dp[${i}] ${v} vs ${ref[2]![i]}`));
      }),
      { numRuns: 40 },
    );
  });
});

describe('ggem: forwards that overlap', () => {
  it('gives each backward its own forward state when forwards interleave', () => {
    const make = (seed: number) => randn([2, 6, 8], { generator: new Generator(seed) });
    const alone = (x: Tensor) => {
      const [xr, p] = [x.detach().setRequiresGrad(true), full([2], 3, { requiresGrad: true })];
      ggem(xr, p).sum().backward();
      return [...xr.grad!.data, ...p.grad!.data];
    };
    const [xa, xb] = [make(1), make(2)];
    const [ra, rb] = [alone(xa), alone(xb)];
    const [a, b] = [xa.detach().setRequiresGrad(true), xb.detach().setRequiresGrad(true)];
    const [pa, pb] = [full([2], 3, { requiresGrad: true }), full([2], 3, { requiresGrad: true })];
    const ya = ggem(a, pa);
    const yb = ggem(b, pb); // overwrites a's state in the kernel's memory
    yb.sum().backward();
    ya.sum().backward(); // with r^p computed again in the kernel's memory

    assert.deepEqual([...a.grad!.data, ...pa.grad!.data], ra);
    assert.deepEqual([...b.grad!.data, ...pb.grad!.data], rb);
  });
});

describe('ggem: gradients', () => {
  it('pass the float64 gradient checker w.r.t. x and every p', () => {
    fc.assert(
      fc.property(
        dims.chain(([b, n, c, g]) => fc.tuple(xs(b, n, c), ps(g))),
        ([x, p]) => {
          assertGradcheck((a, q) => ggem(a!, q!), [x, p], { rtol: 1e-5, atol: 1e-7 });
        },
      ),
      RUNS,
    );
  });
  it('p gradient is accurate to 1e-4 on x [64, 196, 384] in float32 (float64 reference)', () => {
    const x = randn([64, 196, 384], { generator: new Generator(5) });
    const w = randn([64, 384], { generator: new Generator(6) });
    const grad = (t: Tensor) => {
      const p = full([12], 3, { dtype: t.dtype, requiresGrad: true });
      ggem(t, p).mul(w.cast(t.dtype)).sum().backward();
      return p.grad!.data;
    };
    close(grad(x), grad(x.cast('float64')), 1e-4, 'dL/dp');
  });
});

describe('ggem: numerics at the edges', () => {
  it('p = 200 does not overflow: the exact value, within max·N^(−1/p) <= y <= max', () => {
    const x = randn([2, 49, 8], { std: 5, generator: new Generator(3) })
      .abs()
      .add(1); // x^200 overflows float32 (and float64 past 35)
    const y = gem(x, tensor([200])).data;
    const y64 = (() => {
      const d = x.cast('float64').data;
      return Array.from({ length: 16 }, (_, k) => {
        const [bi, j] = [Math.floor(k / 8), k % 8];
        const col = Array.from({ length: 49 }, (_, t) => d[(bi * 49 + t) * 8 + j]!);
        const m = Math.max(...col);
        return m * Math.pow(col.reduce((s, v) => s + Math.pow(v / m, 200), 0) / 49, 1 / 200);
      });
    })();
    close(y, y64, 1e-5, 'p = 200');
    const mx = x.max(1).data;
    y.forEach((v, i) => assert.ok(v <= mx[i]! && v >= mx[i]! * Math.pow(49, -1 / 200) * (1 - 1e-6)));
    // when the max is shared by many tokens, p = 200 is max pooling within 1e-3
    const flat = full([1, 49, 4], 2).add(randn([1, 49, 4], { std: 1e-4, generator: new Generator(4) }));
    close(gem(flat, tensor([200])).data, flat.max(1).data, 1e-3, 'near-max');
  });
  it('a channel clamped everywhere gives y = eps and finite, zero p-gradients at p = 7.5 in float32', () => {
    for (const backend of ['cpu', 'reference']) {
      withBackend(backend, () => {
        const x = tensor(
          [
            [
              [-1, 2],
              [-3, 0.5],
              [0, 1],
            ],
          ],
          { requiresGrad: true },
        ); // channel 0 is <= eps everywhere
        const p = tensor([7.5], { requiresGrad: true });
        const y = gem(x, p, { eps: 1e-6 });
        assert.ok(Math.abs(y.data[0]! - 1e-6) <= 1e-6 * 1e-6, `y = ${y.data[0]}`);
        y.sum().backward();
        assert.ok([...x.grad!.data, ...p.grad!.data].every(Number.isFinite));
        const yOnly0 = gem(x.detach(), p.detach().setRequiresGrad(true));
        const p0 = p.detach().setRequiresGrad(true);
        gem(x.detach(), p0).narrow(1, 0, 1).sum().backward();
        assert.equal(p0.grad!.item(), 0);
        assert.ok(Number.isFinite(yOnly0.data[1]!));
      });
    }
  });
  it('a p outside its bounds is clipped, never NaN', () => {
    const x = randn([2, 5, 4], { generator: new Generator(8) });
    for (const p of [-3, 0, 1e-9, 1e9]) {
      const y = ggem(x, tensor([p, 2]), { pMin: 1e-3, pMax: 1e3 });
      assert.ok(y.data.every(Number.isFinite), `p = ${p}`);
    }
    const p = tensor([-3, 2], { requiresGrad: true });
    ggem(x, p).sum().backward();
    assert.equal(p.grad!.data[0], 0, 'the gradient of a clipped p is 0, as for clamp');
  });
  it('rejects a G that leaves a group empty, listing the allowed values', () => {
    assert.throws(() => ggem(randn([1, 2, 10]), full([6], 3)), /ggem: 6 groups do not fit 10 channels .* allowed: 1, 2, 3, 4, 5, 10/);
    assert.throws(() => ggem(randn([1, 2, 4]), full([5], 3)), /ggem: 5 groups do not fit 4 channels/);
    assert.throws(() => ggem(randn([2, 4]), full([1], 3)), /ggem: expected tokens of shape \[B, N, C\], got \[2, 4\]/);
    assert.throws(() => ggem(randn([1, 2, 4]), tensor([3, NaN])), /ggem: p is NaN \(group 1 of 2\)/);
  });
});

describe('ggem on a backend without the fused kernel', () => {
  it('equals the fused kernel in values and gradients (the scaled composition), with start, clamping and large p', () => {
    const primitives = withoutFusedKernels(referenceBackend);
    fc.assert(
      fc.property(
        dims.chain(([b, n, c, g]) => fc.tuple(xs(b, n, c), ps(g, 0.5, 60), fc.integer({ min: 0, max: n - 1 }))),
        ([x, p, start]) => {
          const run = (backend: Backend) => {
            const [xr, pr] = [x.to(backend).setRequiresGrad(true), p.to(backend).setRequiresGrad(true)];
            const y = ggem(xr, pr, { start, pMax: 50 });
            y.mul(
              randn(y.shape, { generator: new Generator(4) })
                .cast('float64')
                .to(backend),
            )
              .sum()
              .backward();
            return [y.data, xr.grad!.data, pr.grad!.data];
          };
          const [fused, composed] = [run(referenceBackend), run(primitives)];
          fused.forEach((a, k) => close(composed[k]!, a, 1e-9, `output ${k}`, 1e-12));
        },
      ),
      RUNS,
    );
  });
});

describe('ggem2d: GeM of CNN feature maps [B, C, H, W]', () => {
  it('equals the mean-of-powers of each map, and the gradient checker passes in x and p', () => {
    fc.assert(
      fc.property(
        xs(2, 6, 4).map((t) => t.reshape([2, 4, 2, 3])),
        ps(2),
        (x, p) => {
          const y = ggem2d(x, p).data;
          const [xd, pd] = [x.data, p.data];
          for (let bi = 0; bi < 2; bi++) {
            for (let ch = 0; ch < 4; ch++) {
              const q = pd[Math.floor(ch / 2)]!;
              const m = Array.from({ length: 6 }, (_, t) => Math.max(xd[(bi * 4 + ch) * 6 + t]!, 1e-6) ** q).reduce((s, v) => s + v, 0) / 6;
              assert.ok(Math.abs(y[bi * 4 + ch]! - m ** (1 / q)) <= 1e-10 * (1 + m ** (1 / q)));
            }
          }
          assertGradcheck((a, q) => ggem2d(a!, q!), [x, p], { rtol: 1e-5, atol: 1e-7 });
        },
      ),
      RUNS,
    );
  });
  it('rejects tokens, naming the expected shape', () => {
    assert.throws(() => ggem2d(randn([2, 3, 4]), tensor([3])), /ggem2d: expected feature maps of shape \[B, C, H, W\], got \[2, 3, 4\]/);
  });
});
