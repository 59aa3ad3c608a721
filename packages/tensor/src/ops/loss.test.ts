import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { binaryCrossEntropyWithLogits, l1Loss, logSoftmax, mseLoss, nllLoss, smoothL1Loss, tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, shape, tensorOf } from '../test/arbitraries.js';

const pair = shape(3, 4, 1).chain((s) => fc.tuple(tensorOf(s), tensorOf(s)));

describe('losses', () => {
  it('mse, l1 (away from its kink), smooth L1 (away from |d| = beta) and BCE with logits pass the gradient checker in both inputs', () => {
    fc.assert(
      fc.property(pair, ([a, b]) => {
        const d = [...a.sub(b).abs().data];
        assertGradcheck((x, y) => mseLoss(x!, y!), [a, b]);
        if (d.every((v) => v > 0.01)) assertGradcheck((x, y) => l1Loss(x!, y!, 'none'), [a, b]);
        if (d.every((v) => Math.abs(v - 0.5) > 0.01)) assertGradcheck((x, y) => smoothL1Loss(x!, y!, { beta: 0.5, reduction: 'sum' }), [a, b]);
        assertGradcheck((z, y) => binaryCrossEntropyWithLogits(z!, y!.sigmoid()), [a, b]);
      }),
      RUNS,
    );
  });
  it('BCE with logits stays finite for logits of ±1e4, and equals −[y ln σ(z) + (1 − y) ln(1 − σ(z))] where that is finite', () => {
    const z = tensor([1e4, -1e4, 0.3], { dtype: 'float64' });
    const y = tensor([0, 1, 0.25], { dtype: 'float64' });
    const l = binaryCrossEntropyWithLogits(z, y, 'none').data;
    assert.deepEqual([l[0], l[1]], [1e4, 1e4]);
    const s = 1 / (1 + Math.exp(-0.3));
    assert.ok(Math.abs(l[2]! + (0.25 * Math.log(s) + 0.75 * Math.log(1 - s))) < 1e-12);
  });
  it('nllLoss picks −logp at each label and passes the gradient checker', () => {
    fc.assert(
      fc.property(tensorOf([4, 3]), fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }), (x, labels) => {
        assertGradcheck((t) => nllLoss(logSoftmax(t, 1), labels), [x]);
      }),
      RUNS,
    );
  });
  it('shape and reduction errors name the loss', () => {
    assert.throws(() => mseLoss(tensor([1, 2]), tensor([1])), /mseLoss: input \[2\] and target \[1\] differ in shape/);
    assert.throws(() => l1Loss(tensor([1]), tensor([1]), 'avg' as 'mean'), /l1Loss: reduction must be 'mean', 'sum' or 'none', got avg/);
    assert.throws(() => nllLoss(tensor([[0, 0]]), [0, 1]), /nllLoss: 2 labels for a batch of 1/);
  });
});
