import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { avgPool2d, concat, conv2d, maxPool2d, tensor, type Tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, tensorOf } from '../test/arbitraries.js';

/** Direct convolution, loop by loop: the reference the composed one is checked against. */
function naive(x: Tensor, w: Tensor, stride: number, padding: number): number[] {
  const [b, c, h, wd] = x.shape as number[] as [number, number, number, number];
  const [o, , kh, kw] = w.shape as number[] as [number, number, number, number];
  const oh = Math.floor((h + 2 * padding - kh) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - kw) / stride) + 1;
  const out: number[] = [];
  for (let n = 0; n < b; n++)
    for (let f = 0; f < o; f++)
      for (let i = 0; i < oh; i++)
        for (let j = 0; j < ow; j++) {
          let s = 0;
          for (let ch = 0; ch < c; ch++)
            for (let u = 0; u < kh; u++)
              for (let v = 0; v < kw; v++) {
                const [y, z] = [i * stride + u - padding, j * stride + v - padding];
                if (y >= 0 && y < h && z >= 0 && z < wd) s += x.data[((n * c + ch) * h + y) * wd + z]! * w.data[((f * c + ch) * kh + u) * kw + v]!;
              }
          out.push(s);
        }
  return out;
}

const convCase = fc
  .tuple(
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 3, max: 5 }),
    fc.integer({ min: 1, max: 3 }),
    fc.integer({ min: 1, max: 2 }),
    fc.integer({ min: 0, max: 1 }),
  )
  .chain(([b, c, h, k, s, p]) => fc.tuple(tensorOf([b, c, h, h + 1]), tensorOf([2, c, k, k]), tensorOf([2]), fc.constant(s), fc.constant(p)));

const tensorOfShape = (shape: number[]) => tensor(new Float64Array(shape.reduce((a, b) => a * b, 1)).fill(1), { shape });

describe('conv2d and pooling', () => {
  it('conv2d equals the direct loops (stride, padding) and passes the gradient checker in x, weight and bias', () => {
    fc.assert(
      fc.property(convCase, ([x, w, bias, stride, padding]) => {
        const got = conv2d(x, w, null, { stride, padding }).data;
        naive(x, w, stride, padding).forEach((v, i) => assert.ok(Math.abs(got[i]! - v) < 1e-12, `${got[i]} vs ${v}`));
        assertGradcheck((a, b, c) => conv2d(a!, b!, c!, { stride, padding }), [x, w, bias]);
      }),
      { numRuns: 10 },
    );
  });
  it('grouped conv2d equals each group convolved on its own, and passes the gradient checker', () => {
    const grouped = fc
      .tuple(fc.constantFrom(1, 2, 3), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }))
      .chain(([g, cg, og, k]) => fc.tuple(fc.constant(g), tensorOf([2, g * cg, 4, 3]), tensorOf([g * og, cg, k, k])));
    fc.assert(
      fc.property(grouped, ([g, x, w]) => {
        const [cg, og] = [w.shape[1]!, w.shape[0]! / g];
        const got = conv2d(x, w, null, { groups: g, padding: 1 });
        const want = Array.from({ length: g }, (_, i) => conv2d(x.narrow(1, i * cg, cg), w.narrow(0, i * og, og), null, { padding: 1 }));
        const joined = concat(want, 1);
        got.data.forEach((v, i) => assert.ok(Math.abs(v - joined.data[i]!) < 1e-12, `${v} vs ${joined.data[i]}`));
        assertGradcheck((a, b) => conv2d(a!, b!, null, { groups: g, padding: 1 }), [x, w]);
      }),
      { numRuns: 10 },
    );
  });
  it('max and average pooling pass the gradient checker (max away from ties)', () => {
    const distinct = fc.shuffledSubarray([...Array(2 * 16).keys()], { minLength: 32, maxLength: 32 }).map((p) =>
      tensor(
        Float64Array.from(p, (v) => v * 0.1),
        { shape: [1, 2, 4, 4] },
      ),
    );
    fc.assert(
      fc.property(distinct, (x) => {
        assertGradcheck((t) => maxPool2d(t, 2), [x]);
        assertGradcheck((t) => maxPool2d(t, 3, { stride: 1, padding: 1 }), [x]);
        assertGradcheck((t) => avgPool2d(t, [2, 3], { stride: 1 }), [x]);
      }),
      RUNS,
    );
  });
  it('shapes that do not fit are errors naming both', () => {
    assert.throws(
      () => conv2d(tensor([[[[1]]]]), tensor([[[[1, 2]]], [[[3, 4]]]]).reshape([1, 2, 1, 2])),
      /conv2d: input \[1, 1, 1, 1\] and weight \[1, 2, 1, 2\] do not fit/,
    );
    assert.throws(
      () => conv2d(tensorOfShape([1, 4, 3, 3]), tensorOfShape([3, 2, 1, 1]), null, { groups: 2 }),
      /conv2d: groups must be a positive integer dividing the 3 output channels, got 2/,
    );
    assert.throws(
      () => conv2d(tensorOfShape([1, 4, 3, 3]), tensorOfShape([4, 4, 1, 1]), null, { groups: 2 }),
      /expected \[B, C, H, W\] and \[O, C\/groups, KH, KW\], groups 2/,
    );
    assert.throws(() => maxPool2d(tensor([[[[1, 2]]]]), 3), /unfold: a 3×3 window .* does not fit the padded input \[1, 1, 1, 2\]/);
  });
});
