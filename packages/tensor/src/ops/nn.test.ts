import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crossEntropy, dropout, Generator, layerNorm, logSoftmax, softmax, tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';
import { RUNS, shape, tensorOf } from '../test/arbitraries.js';

const withAxis = shape(3, 4, 1).chain((s) => fc.tuple(tensorOf(s), fc.integer({ min: -s.length, max: s.length - 1 })));

describe('softmax and logSoftmax', () => {
  it('pass the gradient checker along any axis', () => {
    fc.assert(fc.property(withAxis, ([x, ax]) => {
      assertGradcheck((t) => softmax(t, ax), [x]);
      assertGradcheck((t) => logSoftmax(t, ax), [x]);
    }), RUNS);
  });
  it('rows sum to 1 and are invariant to a shift', () => {
    fc.assert(fc.property(withAxis, fc.double({ min: -100, max: 100, noNaN: true }), ([x, ax], c) => {
      const y = softmax(x, ax);
      y.sum(ax).data.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-12));
      const ys = softmax(x.add(c), ax).data;
      y.data.forEach((v, i) => assert.ok(Math.abs(v - ys[i]!) < 1e-12));
    }), RUNS);
  });
  it('logSoftmax equals log(softmax) and stays finite for inputs of 1e4', () => {
    fc.assert(fc.property(withAxis, ([x, ax]) => {
      const a = logSoftmax(x, ax).data;
      const b = softmax(x, ax).log().data;
      a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-12));
    }), RUNS);
    const big = tensor([[1e4, 0, -1e4], [1e4, 1e4, 1e4]]);
    const ls = logSoftmax(big).data;
    assert.ok(ls.every(Number.isFinite));
    assert.equal(ls[0], 0);
    assert.ok(Math.abs(ls[3]! + Math.log(3)) < 1e-6);
    assert.ok(softmax(big).data.every(Number.isFinite));
  });
});

describe('layerNorm', () => {
  it('passes the gradient checker with and without affine parameters', () => {
    const xs = shape(2, 3, 0).chain((lead) => fc.integer({ min: 2, max: 6 }).chain((d) => fc.tuple(tensorOf([...lead, d]), tensorOf([d]), tensorOf([d]))));
    fc.assert(fc.property(xs, ([x, w, b]) => {
      assertGradcheck((t, u, v) => layerNorm(t, u, v, 1e-5), [x, w, b]);
      assertGradcheck((t) => layerNorm(t, null, null, 1e-5), [x]);
    }), RUNS);
  });
  it('gives rows of mean 0 and variance 1', () => {
    const xs = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 40 })).chain(([r, d]) => tensorOf([r, d], { min: -50, max: 50 }));
    fc.assert(fc.property(xs, (x) => {
      const d = x.shape[1]!;
      // a row needs a variance far above eps (1e-12) for var/(var + eps) to be 1 within 1e-6
      fc.pre(x.max(1).sub(x.min(1)).min().item() > 0.05);
      const y = layerNorm(x, null, null, 1e-12);
      y.mean(1).data.forEach((v) => assert.ok(Math.abs(v) < 1e-9));
      y.pow(2).mean(1).data.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-6, `variance ${v} (d=${d})`));
    }), RUNS);
  });
  it('names the mismatched parameter', () => {
    assert.throws(() => layerNorm(tensor([[1, 2, 3]]), tensor([1, 1]), null), /layerNorm: weight has shape \[2\] but the input's last dim is 3/);
  });
});

describe('crossEntropy', () => {
  it('passes the gradient checker, with and without label smoothing', () => {
    const xs = fc.tuple(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 2, max: 6 })).chain(([b, c]) =>
      fc.tuple(tensorOf([b, c], { min: -5, max: 5 }), fc.array(fc.integer({ min: 0, max: c - 1 }), { minLength: b, maxLength: b }), fc.double({ min: 0, max: 0.3, noNaN: true })),
    );
    fc.assert(fc.property(xs, ([z, labels, s]) => {
      assertGradcheck((t) => crossEntropy(t, labels), [z]);
      assertGradcheck((t) => crossEntropy(t, labels, { labelSmoothing: s }), [z]);
    }), RUNS);
  });
  it('equals −log softmax at the label', () => {
    const z = tensor([[2, 1, 0]]);
    const ref = -Math.log(Math.exp(2) / (Math.exp(2) + Math.exp(1) + 1));
    assert.ok(Math.abs(crossEntropy(z, [0]).item() - ref) < 1e-6);
  });
  it('rejects labels out of range, naming them', () => {
    assert.throws(() => crossEntropy(tensor([[1, 2]]), [2]), /crossEntropy: label 2 at position 0 is not an integer in \[0, 2\)/);
    assert.throws(() => crossEntropy(tensor([[1, 2]]), [0, 1]), /crossEntropy: 2 labels for a batch of 1/);
  });
});

describe('dropout', () => {
  it('passes the gradient checker for a fixed mask', () => {
    fc.assert(fc.property(shape(3, 4, 1).chain((s) => tensorOf(s)), (x) => assertGradcheck((t) => dropout(t, 0.4, true, new Generator(9)), [x])), RUNS);
  });
  it('keeps the expectation and is the identity in eval mode', () => {
    const x = tensor(new Float64Array(20000).fill(1));
    const y = dropout(x, 0.25, true, new Generator(1));
    assert.ok(Math.abs(y.mean().item() - 1) < 0.03);
    const zeros = y.data.filter((v) => v === 0).length / y.size;
    assert.ok(Math.abs(zeros - 0.25) < 0.02);
    assert.equal(dropout(x, 0.25, false), x);
  });
});
