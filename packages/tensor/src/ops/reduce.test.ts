import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cumsum, logsumexp, max, mean, min, norm, prod, std, sum, tensor, variance, Generator } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, shape, tensorOf } from '../test/arbitraries.js';

/** A tensor with a random subset of its axes (possibly none, possibly negative) and a keepdim flag. */
const withAxes = shape(4, 3, 1).chain((s) =>
  fc.tuple(
    tensorOf(s),
    fc.subarray([...s.keys()]).chain((ax) =>
      fc.constantFrom(
        ax,
        ax.map((a) => a - s.length),
      ),
    ),
    fc.boolean(),
  ),
);

describe('reductions', () => {
  for (const [name, f] of [
    ['sum', sum],
    ['mean', mean],
  ] as const) {
    it(`${name} over any axes passes the gradient checker`, () => {
      fc.assert(
        fc.property(withAxes, ([x, axes, keep]) => assertGradcheck((t) => f(t, axes.length ? axes : undefined, keep), [x])),
        RUNS,
      );
    });
  }
  for (const [name, f] of [
    ['max', max],
    ['min', min],
  ] as const) {
    it(`${name} over any axes passes the gradient checker (distinct values)`, () => {
      fc.assert(
        fc.property(withAxes, ([x, axes, keep]) => {
          // distinct values, so no tie: a permutation of a well-spaced grid
          const rng = new Generator(x.size);
          const v = rng.shuffle(Array.from({ length: x.size }, (_, i) => i * 0.37 - 1));
          const xd = tensor(Float64Array.from(v), { shape: x.shape });
          assertGradcheck((t) => f(t, axes.length ? axes : undefined, keep), [xd]);
        }),
        RUNS,
      );
    });
  }
  it('max splits the gradient evenly among tied maxima', () => {
    const x = tensor(
      [
        [3, 1, 3],
        [0, 2, 2],
      ],
      { requiresGrad: true },
    );
    max(x, 1).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [0.5, 0, 0.5, 0, 0.5, 0.5]);
  });
  it('keepdim keeps size-1 dims and axes may be negative', () => {
    const x = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(x.sum(-1, true).shape, [2, 1]);
    assert.deepEqual(x.sum([0, 1]).shape, []);
    assert.deepEqual(x.mean(0).toArray(), [2.5, 3.5, 4.5]);
  });
  it('argmax returns the first maximum as int32', () => {
    const x = tensor([
      [1, 7, 7],
      [9, 0, 9],
    ]);
    assert.deepEqual(x.argmax(1).toArray(), [1, 0]);
    assert.equal(x.argmax(1).dtype, 'int32');
    assert.equal(x.argmax().item(), 3);
    assert.deepEqual(x.argmin(0, true).shape, [1, 3]);
  });
  it('a 5M-element float32 sum is accurate to 1e-6 relative', () => {
    const n = 5_000_000;
    const data = new Float32Array(n);
    const rng = new Generator(7);
    for (let i = 0; i < n; i++) data[i] = rng.uniform();
    let exact = 0; // float64 reference over the same float32 values
    for (let i = 0; i < n; i++) exact += data[i]!;
    const got = tensor(data).sum().item();
    assert.ok(Math.abs(got - exact) / exact < 1e-6, `sum ${got} vs ${exact}`);
    const naive = data.reduce((s, v) => Math.fround(s + v), 0); // what float32 accumulation gives
    assert.ok(Math.abs(naive - exact) / exact > 1e-6, 'the test input must be one where float32 accumulation fails');
  });
  it('out-of-range axes are a clear error', () => {
    const x = tensor([[1, 2]]);
    assert.throws(() => x.sum(2), /sum: axis 2 is out of range for a tensor of rank 2/);
    assert.throws(() => x.max(-3), /max: axis -3 is out of range/);
    assert.throws(() => x.argmax(5), /argmax: axis 5 is out of range/);
  });
  it('a 0-d tensor reduces over axis 0 or -1 to itself, as in PyTorch; softmax of it is 1', () => {
    for (const axis of [0, -1]) {
      for (const keepdim of [false, true]) {
        for (const [name, f] of [
          ['sum', sum],
          ['mean', mean],
          ['max', max],
          ['min', min],
        ] as const) {
          const x = tensor(3.5, { requiresGrad: true });
          const y = f(x, axis, keepdim);
          assert.deepEqual([y.shape, y.item()], [[], 3.5], `${name}(${axis}, keepdim ${keepdim})`);
          y.backward();
          assert.equal(x.grad!.item(), 1, `${name}(${axis}) backward`);
        }
      }
    }
    assert.throws(() => tensor(1).sum(1), /sum: axis 1 is out of range for a tensor of rank 0 \(expected -1 <= axis < 1\)/);
    const z = tensor(2, { requiresGrad: true });
    assert.equal(z.softmax().item(), 1);
    assert.equal(z.logSoftmax(0).item(), 0);
    z.softmax().mul(5).backward();
    assert.equal(z.grad!.item(), 0, 'softmax of one entry is constant');
  });
});

describe('variance, std, logsumexp, prod, cumsum, norm: the gradient checker on random shapes and axes', () => {
  /** A shape of rank >= 1 and one of its axes. */
  const withAxis = shape(3, 4, 1).chain((s) => fc.tuple(tensorOf(s, { awayFrom: [0] }), fc.integer({ min: 0, max: s.length - 1 })));
  const cases: [string, (x: import('../index.js').Tensor, a: number) => import('../index.js').Tensor][] = [
    ['variance (Bessel)', (x, a) => (x.shape[a]! > 1 ? variance(x, a) : variance(x, a, { correction: 0 }))],
    ['std (biased, keepdim)', (x, a) => std(x.add(x.square()), a, { correction: 0, keepdim: true })], // √ has no derivative at a zero variance
    ['logsumexp', (x, a) => logsumexp(x.mul(3), a)],
    ['prod', (x, a) => prod(x, a)],
    ['cumsum', (x, a) => cumsum(x, a)],
    ['norm 2', (x, a) => norm(x, 2, a)],
    ['norm 3', (x, a) => norm(x, 3, a)],
    ['norm 1', (x, a) => norm(x, 1, a)],
    ['norm ∞', (x) => norm(x.add(x.mul(0.01).square()), Infinity)],
  ];
  for (const [name, f] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(withAxis, ([x, a]) => {
          // √ (std, and the 2-norm's) has no derivative at 0; max (the ∞-norm) has a kink at ties
          if (name.startsWith('std')) fc.pre(x.shape[a]! > 1 && x.add(x.square()).var(a, { correction: 0 }).min().item() > 1e-3);
          if (name === 'norm ∞') {
            const top = [...x.add(x.mul(0.01).square()).abs().data].sort((u, v) => v - u);
            fc.pre(top.length < 2 || top[0]! - top[1]! > 0.01);
          }
          assertGradcheck((t) => f(t, a), [x]);
        }),
        RUNS,
      );
    });
  }
  it('values: variance and std of a known column, logsumexp without overflow, prod with zeros, cumsum, norms', () => {
    const x = tensor(
      [
        [1, 2],
        [3, 4],
        [5, 9],
      ],
      { dtype: 'float64' },
    );
    assert.deepEqual([...variance(x, 0).data], [4, 13]);
    assert.deepEqual(
      [...std(x, 0, { correction: 0 }).data].map((v) => Math.round(v * 1e12) / 1e12),
      [Math.round(Math.sqrt(8 / 3) * 1e12) / 1e12, Math.round(Math.sqrt(26 / 3) * 1e12) / 1e12],
    );
    assert.ok(Math.abs(logsumexp(tensor([1e4, 1e4], { dtype: 'float64' })).item() - (1e4 + Math.log(2))) < 1e-9);
    assert.deepEqual(
      [
        ...prod(
          tensor([
            [0, 2],
            [3, 5],
          ]),
          0,
        ).data,
      ],
      [0, 10],
    );
    const z = tensor([0, 2, 3], { requiresGrad: true, dtype: 'float64' });
    prod(z).backward();
    assert.deepEqual([...z.grad!.data], [6, 0, 0]);
    assert.deepEqual([...cumsum(x, 0).data], [1, 2, 4, 6, 9, 15]);
    assert.equal(norm(tensor([3, 4])).item(), 5);
    const o = tensor([0, 0], { requiresGrad: true });
    norm(o).backward();
    assert.deepEqual([...o.grad!.data], [0, 0], 'the 2-norm has gradient 0 at 0');
  });
});
