import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { BatchNorm, Conv2d, Embedding, GroupNorm, Generator, randn, tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { tensorOf } from '../test/arbitraries.js';

describe('BatchNorm, GroupNorm, Embedding, Conv2d', () => {
  it('BatchNorm: batch statistics in training, the running ones (unbiased variance, momentum 0.1) in eval', () => {
    const bn = new BatchNorm(2, 1e-5, 0.1, { dtype: 'float64' });
    const x = tensor(
      [
        [1, 10],
        [3, 20],
        [5, 60],
      ],
      { dtype: 'float64' },
    );
    const y = bn.forward(x).data;
    // column 0: mean 3, biased var 8/3; the output has mean 0 and (biased) variance 1
    assert.ok(Math.abs(y[0]! - (1 - 3) / Math.sqrt(8 / 3 + 1e-5)) < 1e-12);
    assert.deepEqual(
      [...bn.running_mean.data].map((v) => +v.toFixed(12)),
      [0.3, 3],
    );
    assert.deepEqual(
      [...bn.running_var.data].map((v) => +v.toFixed(12)),
      [0.9 + 0.1 * 4, 0.9 + 0.1 * 700],
    );
    bn.eval();
    const e = bn.forward(tensor([[0.3, 3]], { dtype: 'float64' })).data;
    assert.ok(Math.abs(e[0]!) < 1e-12 && Math.abs(e[1]!) < 1e-12, 'the running mean normalises to 0');
    assert.equal(bn.running_mean.requiresGrad, false);
    assert.deepEqual(Object.keys(bn.stateDict()).sort(), ['bias', 'running_mean', 'running_var', 'weight']);
  });
  it('BatchNorm (training) and GroupNorm pass the gradient checker in x, weight and bias', () => {
    fc.assert(
      fc.property(tensorOf([3, 4, 2, 2]), tensorOf([4]), tensorOf([4]), (x, w, b) => {
        const bn = new BatchNorm(4, 1e-5, 0.1, { dtype: 'float64' });
        assertGradcheck(
          (t, u, v) => {
            [bn.weight, bn.bias] = [u!, v!];
            return bn.forward(t!);
          },
          [x, w, b],
        );
        const gn = new GroupNorm(2, 4, 1e-5, { dtype: 'float64' });
        assertGradcheck(
          (t, u, v) => {
            [gn.weight, gn.bias] = [u!, v!];
            return gn.forward(t!);
          },
          [x, w, b],
        );
      }),
      { numRuns: 5 },
    );
  });
  it("Embedding looks up rows for ids of any shape; Conv2d has PyTorch's parameter names and shapes", () => {
    const emb = new Embedding(5, 3, { generator: new Generator(1) });
    const out = emb.forward(tensor(Int32Array.from([4, 0, 4, 1]), { shape: [2, 2] }));
    assert.deepEqual(out.shape, [2, 2, 3]);
    assert.deepEqual([...out.data.slice(0, 3)], [...emb.weight.data.slice(12, 15)]);
    const conv = new Conv2d(3, 8, 3, { padding: 1, generator: new Generator(2) });
    assert.deepEqual(
      Object.entries(conv.stateDict()).map(([k, v]) => [k, v.shape]),
      [
        ['weight', [8, 3, 3, 3]],
        ['bias', [8]],
      ],
    );
    assert.deepEqual(conv.forward(randn([2, 3, 5, 5])).shape, [2, 8, 5, 5]);
    const depthwise = new Conv2d(4, 4, 3, { groups: 4, bias: false });
    assert.deepEqual(depthwise.weight.shape, [4, 1, 3, 3]);
    assert.deepEqual(depthwise.forward(randn([1, 4, 5, 5])).shape, [1, 4, 3, 3]);
    assert.throws(() => new Conv2d(4, 6, 3, { groups: 4 }), /Conv2d: groups 4 must divide both 4 input and 6 output channels/);
    assert.throws(() => new GroupNorm(3, 4), /GroupNorm: 4 channels do not split into 3 groups/);
  });
});
