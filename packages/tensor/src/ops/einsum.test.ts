import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { einsum, outer } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, tensorOf } from '../test/arbitraries.js';

const dims = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }));

describe('einsum and outer', () => {
  it('equal matmul, a transposed batched product and a trace, and pass the gradient checker', () => {
    fc.assert(
      fc.property(
        dims.chain(([i, j, k]) => fc.tuple(tensorOf([i, j]), tensorOf([j, k]), tensorOf([2, k, j]), tensorOf([j, j]))),
        ([a, b, c, d]) => {
          const close = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).forEach((v, n) => assert.ok(Math.abs(v - y[n]!) < 1e-12));
          close(einsum('ij,jk->ik', a, b).data, a.matmul(b).data);
          close(einsum('bkj,ij->bik', c, a).data, a.matmul(c.transpose()).data);
          close(einsum('ii', d).data, [Array.from({ length: d.shape[0]! }, (_, n) => d.data[n * (d.shape[0]! + 1)]!).reduce((s, v) => s + v, 0)]);
          assertGradcheck((x, y) => einsum('ij,jk->ki', x!, y!), [a, b]);
          assertGradcheck((x) => einsum('ii->i', x!), [d]);
        },
      ),
      RUNS,
    );
  });
  it("'...' spans the dims the letters leave, broadcast across operands, and leads an implicit output", () => {
    fc.assert(
      fc.property(
        dims.chain(([i, j, k]) => fc.tuple(tensorOf([2, 3, i, j]), tensorOf([3, j, k]), tensorOf([j, k]))),
        ([a, b, c]) => {
          const close = (x: ArrayLike<number>, y: ArrayLike<number>) => Array.from(x).forEach((v, n) => assert.ok(Math.abs(v - y[n]!) < 1e-12));
          const got = einsum('...ij,...jk->...ik', a, b);
          assert.deepEqual(got.shape, [2, 3, a.shape[2]!, b.shape[2]!]);
          close(got.data, a.matmul(b).data);
          close(einsum('...ij,jk', a, c).data, a.matmul(c).data); // implicit: the '...' dims, then i and k
          close(einsum('b...j->b', a).data, a.sum([1, 2, 3]).data);
          assertGradcheck((x, y) => einsum('...ij,...jk->...ik', x!, y!), [a, b]);
        },
      ),
      RUNS,
    );
  });
  it('outer is a[i]·b[j]', () => {
    fc.assert(
      fc.property(tensorOf([3]), tensorOf([2]), (a, b) => {
        assert.deepEqual(
          [...outer(a, b).data],
          [...a.data].flatMap((u) => [...b.data].map((v) => u * v)),
        );
        assertGradcheck((x, y) => outer(x!, y!), [a, b]);
      }),
      RUNS,
    );
  });
  it('errors name the spec', () => {
    const a = tensorOf([2, 3]);
    fc.assert(
      fc.property(a, (x) => {
        assert.throws(() => einsum('ij,jk->ik', x), /einsum: 'ij,jk->ik' names 2 operands, got 1/);
        assert.throws(() => einsum('ijk', x), /einsum: operand 0 has shape \[2, 3\] but 'ijk' names 3 dims/);
        assert.throws(() => einsum('ij->iz', x), /einsum: output index 'z' of 'ij->iz' is in no operand/);
        assert.throws(() => einsum('i.j', x), /einsum: 'i.j' has '\.'; indices are single letters, or '...'/);
        assert.throws(() => einsum('...i...', x), /einsum: operand 0 of '...i...' has more than one '...'/);
        assert.throws(() => einsum('...ijk', x), /einsum: operand 0 has shape \[2, 3\], fewer dims than '...ijk' names/);
      }),
      { numRuns: 1 },
    );
  });
});
