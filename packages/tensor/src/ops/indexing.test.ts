import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { argsort, gather, scatter, scatterAdd, sort, tensor, topk } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, tensorOf } from '../test/arbitraries.js';

/** A 2-d x `[m, n]` and an index `[m, k]` into its columns. */
const xAndIndex = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 })).chain(([m, n, k]) =>
  fc.tuple(
    tensorOf([m, n]),
    fc.array(fc.integer({ min: 0, max: n - 1 }), { minLength: m * k, maxLength: m * k }).map((v) => tensor(Int32Array.from(v), { shape: [m, k] })),
  ),
);

describe('gather, scatter, scatterAdd, sort, topk', () => {
  it('scatter writes src where the index says, keeps x elsewhere, and passes the gradient checker in both inputs', () => {
    fc.assert(
      fc.property(
        fc
          .tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }))
          .chain(([m, n]) => fc.tuple(fc.constant(m), fc.constant(n), fc.integer({ min: 1, max: n })))
          .chain(([m, n, k]) =>
            fc.tuple(tensorOf([m, n]), fc.array(fc.shuffledSubarray([...Array(n).keys()], { minLength: k, maxLength: k }), { minLength: m, maxLength: m })),
          ),
        ([x, rows]) => {
          const [m, n] = x.shape as [number, number];
          const k = rows[0]!.length;
          const idx = tensor(Int32Array.from(rows.flat()), { shape: [m, k] });
          const src = tensor(
            Float64Array.from({ length: m * k }, (_, i) => 10 + i),
            { shape: [m, k] },
          );
          const want = Float64Array.from(x.data);
          for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) want[i * n + rows[i]![j]!] = src.data[i * k + j]!;
          // numerically equal (x's −0 where nothing is written comes back as +0: x·1 + 0)
          scatter(x, 1, idx, src).data.forEach((v, i) => assert.ok(v === want[i], `[${i}]: ${v} vs ${want[i]}`));
          assertGradcheck((a, b) => scatter(a!, 1, idx, b!), [x, src]);
        },
      ),
      RUNS,
    );
  });
  it('scatter rejects a position written twice, naming it', () => {
    const x = tensor([[1, 2, 3]]);
    assert.throws(
      () => scatter(x, 1, tensor(Int32Array.from([2, 2]), { shape: [1, 2] }), tensor([[5, 6]])),
      /scatter: index entry 1 writes flat position 2 of \[1, 3\] a second time; use scatterAdd/,
    );
  });
  it('gather equals an index-by-index reference and passes the gradient checker (repeated indices accumulate)', () => {
    fc.assert(
      fc.property(xAndIndex, ([x, idx]) => {
        const [m, k] = idx.shape as [number, number];
        const n = x.shape[1]!;
        const got = gather(x, 1, idx).data;
        for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) assert.equal(got[i * k + j], x.data[i * n + idx.data[i * k + j]!]);
        assertGradcheck((t) => gather(t, 1, idx), [x]);
      }),
      RUNS,
    );
  });
  it('scatterAdd equals a reference and passes the gradient checker in both inputs', () => {
    fc.assert(
      fc.property(
        xAndIndex.chain(([x, idx]) => fc.tuple(fc.constant(x), fc.constant(idx), tensorOf(idx.shape as number[]))),
        ([x, idx, src]) => {
          const [m, k] = idx.shape as [number, number];
          const n = x.shape[1]!;
          const want = Float64Array.from(x.data);
          for (let i = 0; i < m; i++) for (let j = 0; j < k; j++) want[i * n + idx.data[i * k + j]!]! += src.data[i * k + j]!;
          // x + (s1 + s2) where an index repeats: the sums' order differs from the reference's by a rounding
          scatterAdd(x, 1, idx, src).data.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-12, `${v} vs ${want[i]}`));
          assertGradcheck((a, b) => scatterAdd(a!, 1, idx, b!), [x, src]);
        },
      ),
      RUNS,
    );
  });
  it('sort is stable, puts NaN last, and routes the gradient back to the positions the values came from', () => {
    const x = tensor([3, 1, 2, 1, Number.NaN, 0]);
    assert.deepEqual([...argsort(x).data], [5, 1, 3, 2, 0, 4]);
    assert.deepEqual([...sort(x, 0, true).indices.data], [0, 2, 1, 3, 5, 4]);
    // away from ties, where the order (and so finite differences) jumps
    const distinct = fc
      .tuple(
        fc.shuffledSubarray([...Array(15).keys()], { minLength: 15, maxLength: 15 }),
        fc.array(fc.double({ min: 0, max: 0.1, noNaN: true }), { minLength: 15, maxLength: 15 }),
      )
      .map(([perm, noise]) =>
        tensor(
          Float64Array.from(perm, (p, i) => (p - 7) * 0.3 + noise[i]!),
          { shape: [3, 5] },
        ),
      );
    fc.assert(
      fc.property(distinct, (t) => assertGradcheck((u) => sort(u, 1).values.mul(tensor([1, 2, 3, 4, 5], { dtype: 'float64' })), [t])),
      RUNS,
    );
  });
  it('topk takes the k largest or smallest, sorted; k out of range is an error naming it', () => {
    const x = tensor([
      [1, 9, 3],
      [7, 2, 8],
    ]);
    assert.deepEqual([...topk(x, 2, 1).values.data], [9, 3, 8, 7]);
    assert.deepEqual([...topk(x, 1, 0, false).indices.data], [0, 1, 0]);
    assert.throws(() => topk(x, 4, 1), /topk: k = 4 is not in \[0, 3\]/);
  });
  it('rejects indices out of range, naming the dim', () => {
    assert.throws(() => gather(tensor([[1, 2]]), 1, tensor(Int32Array.from([2]), { shape: [1, 1] })), /gather: index 2 is out of range for dim 1 of size 2/);
  });
});
