import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { chunk, concat, flip, getBackend, indexSelect, pad, roll, split, stack, tensor, tile, tril, triu, unbind, arange, type Tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, shape, tensorOf } from '../test/arbitraries.js';

const perms = (n: number): fc.Arbitrary<number[]> => fc.shuffledSubarray([...Array(n).keys()], { minLength: n, maxLength: n });

describe('movement ops', () => {
  it('reshape passes the gradient checker and shares storage', () => {
    fc.assert(
      fc.property(
        shape(3, 4, 1).chain((s) => tensorOf(s)),
        (x) => {
          assertGradcheck((t) => t.reshape([-1]).mul(t.reshape([-1])), [x]);
          assert.equal(x.reshape([-1]).storage, x.storage);
        },
      ),
      RUNS,
    );
  });
  it('permute passes the gradient checker and moves entries', () => {
    fc.assert(
      fc.property(
        shape(4, 3, 1).chain((s) => fc.tuple(tensorOf(s), perms(s.length))),
        ([x, p]) => {
          assertGradcheck((t) => t.permute(p), [x]);
          assert.deepEqual(
            x.permute(p).shape,
            p.map((a) => x.shape[a]),
          );
        },
      ),
      RUNS,
    );
    const x = arange(6).reshape([2, 3]);
    assert.deepEqual(x.transpose().toArray(), [
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
  });
  it('expand passes the gradient checker (the gradient sums over broadcast dims)', () => {
    fc.assert(
      fc.property(
        shape(3, 3, 1).chain((s) => fc.tuple(tensorOf(s.map((d, i) => (i % 2 ? 1 : d))), fc.constant(s))),
        ([x, s]) => {
          const target = [2, ...s];
          assertGradcheck((t) => t.expand(target), [x]);
        },
      ),
      RUNS,
    );
  });
  it("the backend's strided adjoint is the adjoint of strided views: <view(y), g> = <y, adjoint(g)>", () => {
    // float32 views of permuted slices (each element once: the copying path) and of broadcasts (the summing path)
    const be = getBackend();
    const cases = shape(2, 4, 1).chain((s) =>
      fc.record({
        s: fc.constant(s),
        perm: perms(s.length),
        lo: fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }))),
        zero: fc.tuple(...s.map(() => fc.boolean())),
        seed: fc.integer({ min: 1, max: 1000 }),
      }),
    );
    fc.assert(
      fc.property(cases, ({ s, perm, lo, zero, seed }) => {
        const strides = s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));
        const dims = perm.map((a) => ({ d: s[a]! - lo[a]!, st: zero[a] ? 0 : strides[a]! }));
        const view = {
          shape: dims.map((x) => x.d),
          strides: dims.map((x) => x.st),
          offset: perm.reduce((o, a) => o + (zero[a] ? 0 : lo[a]! * strides[a]!), 0),
        };
        const n = s.reduce((a, b) => a * b, 1);
        const m = view.shape.reduce((a, b) => a * b, 1);
        const y = Float32Array.from({ length: n }, (_, i) => Math.sin(seed + i));
        const g = Float32Array.from({ length: m }, (_, i) => Math.cos(seed * 3 + i));
        const vy = be.toArray(be.strided(be.fromArray(y), view, 'float32'), 'float32', m);
        const ag = be.toArray(be.stridedAdjoint(be.fromArray(g), view, s, 'float32'), 'float32', n);
        let lhs = 0;
        let rhs = 0;
        for (let i = 0; i < m; i++) lhs += vy[i]! * g[i]!;
        for (let i = 0; i < n; i++) rhs += y[i]! * ag[i]!;
        assert.ok(Math.abs(lhs - rhs) <= 1e-4 * (1 + Math.abs(lhs)), `${lhs} vs ${rhs} for ${JSON.stringify(view)}`);
      }),
      RUNS,
    );
  });

  it('slice passes the gradient checker', () => {
    const sliced = shape(3, 5, 1).chain((s) =>
      fc.tuple(
        tensorOf(s),
        fc.tuple(...s.map((d) => fc.integer({ min: 0, max: d - 1 }).chain((a) => fc.integer({ min: a + 1, max: d }).map((b) => [a, b] as const)))),
      ),
    );
    fc.assert(
      fc.property(sliced, ([x, ranges]) => assertGradcheck((t) => t.slice(ranges), [x])),
      RUNS,
    );
    assert.deepEqual(
      arange(10)
        .slice([[-3, -1]])
        .toArray(),
      [7, 8],
    );
    assert.throws(() => arange(4).slice([[2, 9]]), /slice: range \[2, 9\) is out of bounds for dim 0 of size 4/);
  });
  it('concat and stack pass the gradient checker', () => {
    const pair = shape(3, 3, 1).chain((s) =>
      fc.tuple(fc.integer({ min: 0, max: s.length - 1 }), fc.integer({ min: 1, max: 3 })).chain(([ax, d]) => {
        const s2 = s.map((v, i) => (i === ax ? d : v));
        return fc.tuple(tensorOf(s), tensorOf(s2), fc.constant(ax));
      }),
    );
    fc.assert(
      fc.property(pair, ([a, b, ax]) => assertGradcheck((x, y) => concat([x, y, x], ax), [a, b])),
      RUNS,
    );
    fc.assert(
      fc.property(
        shape(3, 3).chain((s) => fc.tuple(tensorOf(s), tensorOf(s), fc.integer({ min: 0, max: s.length }))),
        ([a, b, ax]) => {
          assertGradcheck((x, y) => stack([x, y], ax), [a, b]);
        },
      ),
      RUNS,
    );
    assert.throws(() => concat([tensor([[1, 2]]), tensor([[1, 2, 3]])], 0), /concat: shapes \[1, 2\] float32, \[1, 3\] float32 do not match outside axis 0/);
  });
  it('indexSelect passes the gradient checker with repeated indices', () => {
    fc.assert(
      fc.property(
        shape(3, 4, 1)
          .chain((s) => fc.tuple(tensorOf(s), fc.integer({ min: 0, max: s.length - 1 })))
          .chain(([x, ax]) =>
            fc.tuple(fc.constant(x), fc.constant(ax), fc.array(fc.integer({ min: 0, max: x.shape[ax]! - 1 }), { minLength: 1, maxLength: 6 })),
          ),
        ([x, ax, idx]) => {
          assertGradcheck((t) => indexSelect(t, ax, idx), [x]);
        },
      ),
      RUNS,
    );
    assert.throws(() => indexSelect(arange(3), 0, [3]), /indexSelect: index 3 at position 0 is out of range for dim 0 of size 3/);
  });
  it('reshape names both shapes on a size mismatch', () => {
    assert.throws(() => arange(6).reshape([4, 2]), /reshape: cannot reshape a tensor of shape \[6\] \(6 elements\) into \[4, 2\] \(8 elements\)/);
  });
});

describe('split, chunk, unbind, flip, roll, pad, tile, tril, triu, strided slices: values and the gradient checker', () => {
  const withAxis = shape(3, 4, 1).chain((s) => fc.tuple(tensorOf(s), fc.integer({ min: 0, max: s.length - 1 })));
  const cases: [string, (x: Tensor, a: number) => Tensor][] = [
    [
      'split (pieces of 2) joined back with weights',
      (x, a) =>
        concat(
          split(x, 2, a).map((p, i) => p.mul(i + 1)),
          a,
        ),
    ],
    [
      'chunk into 2',
      (x, a) =>
        concat(
          chunk(x, 2, a).map((p, i) => p.mul(i + 2)),
          a,
        ),
    ],
    [
      'unbind',
      (x, a) =>
        stack(
          unbind(x, a).map((p, i) => p.mul(i + 1)),
          a,
        ),
    ],
    ['flip', (x, a) => flip(x, a)],
    ['roll', (x, a) => roll(x, 3, a)],
    ['pad', (x) => pad(x, [[1, 2]], 0.5)],
    ['tile', (x) => tile(x, [2, ...x.shape.map(() => 2)])],
    ['a strided slice', (x, a) => x.slice(x.shape.map((d, i) => (i === a ? ([0, d, 2] as const) : null)))],
  ];
  for (const [name, f] of cases) {
    it(name, () => {
      fc.assert(
        fc.property(withAxis, ([x, a]) => assertGradcheck((t) => f(t, a), [x])),
        RUNS,
      );
    });
  }
  it('tril and triu pass the gradient checker', () => {
    fc.assert(
      fc.property(
        shape(2, 4, 2).chain((s) => tensorOf(s)),
        fc.integer({ min: -2, max: 2 }),
        (x, k) => {
          assertGradcheck((t) => tril(t, k).add(triu(t, k).mul(2)), [x]);
        },
      ),
      RUNS,
    );
  });
  it('values', () => {
    const x = arange(0, 6).reshape([2, 3]);
    assert.deepEqual(
      split(x, [1, 2], 1).map((t) => [...t.data]),
      [
        [0, 3],
        [1, 2, 4, 5],
      ],
    );
    assert.deepEqual(
      chunk(arange(0, 5), 2).map((t) => [...t.data]),
      [
        [0, 1, 2],
        [3, 4],
      ],
    );
    assert.deepEqual([...flip(x, [0, 1]).data], [5, 4, 3, 2, 1, 0]);
    assert.deepEqual([...roll(arange(0, 5), -1, 0).data], [1, 2, 3, 4, 0]);
    assert.deepEqual([...pad(arange(0, 2), [[2, 1]], 9).data], [9, 9, 0, 1, 9]);
    assert.deepEqual([...tile(tensor([1, 2]), [2, 2]).data], [1, 2, 1, 2, 1, 2, 1, 2]);
    assert.deepEqual([...tril(arange(0, 9).reshape([3, 3])).data], [0, 0, 0, 3, 4, 0, 6, 7, 8]);
    assert.deepEqual([...triu(arange(0, 9).reshape([3, 3]), 1).data], [0, 1, 2, 0, 0, 5, 0, 0, 0]);
    assert.deepEqual([...arange(0, 7).slice([[1, 7, 3]]).data], [1, 4]);
    assert.throws(() => split(x, [1, 1], 1), /split: sizes \[1, 1\] do not add up to dim 1 of size 3/);
    assert.throws(() => arange(0, 4).slice([[0, 4, 0]]), /slice: the step must be a positive integer/);
  });
});
