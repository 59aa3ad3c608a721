import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossEntropy, Generator, optim, randn } from '@ggem/tensor';
import { NormSoftmax, retrievalMetrics } from './retrieval.js';

describe('retrieval metrics', () => {
  it('are 1 when classes are perfectly separated', () => {
    const e = Float32Array.from([1, 0, 0.9, 0.1, 0.95, 0.05, 0, 1, 0.1, 0.9]);
    assert.deepEqual(retrievalMetrics(e, [0, 0, 0, 1, 1], 2), { recallAt1: 1, rPrecision: 1, mapAtR: 1 });
  });
  it('match a hand-computed case', () => {
    // on a line, 1-d embeddings with cosine: signs only matter, so use 2-d directions at angles
    const angles = [0, 10, 20, 30]; // degrees; labels a a b a
    const e = Float32Array.from(angles.flatMap((a) => [Math.cos((a * Math.PI) / 180), Math.sin((a * Math.PI) / 180)]));
    const m = retrievalMetrics(e, [0, 0, 1, 0], 2);
    // query 0 (R=2): ranking 1(a) 2(b) 3(a): R@1 1, RP 1/2, AP@R (1/1)/2 = 0.5
    // query 1 (R=2): ranking 0 or 2 tie at 10°: 0(a, lower index) 2(b) 3(a): R@1 1, RP 1/2, AP 0.5
    // query 3 (R=2): ranking 2(b) 1(a) 0(a): R@1 0, RP 1/2, AP (1/2)/2 = 0.25
    // query 2 has no other b: skipped
    assert.ok(Math.abs(m.recallAt1 - 2 / 3) < 1e-12);
    assert.ok(Math.abs(m.rPrecision - 0.5) < 1e-12);
    assert.ok(Math.abs(m.mapAtR - (0.5 + 0.5 + 0.25) / 3) < 1e-12);
  });
});

describe('NormSoftmax', () => {
  it('gives logits in [−1/T, 1/T] and learns to separate classes', () => {
    const g = new Generator(2);
    const head = new NormSoftmax(8, 3, 0.1, g);
    const centers = randn([3, 8], { generator: g });
    const labels = Array.from({ length: 30 }, (_, i) => i % 3);
    const x = centers.indexSelect(0, labels).add(randn([30, 8], { std: 0.3, generator: g }));
    const opt = new optim.AdamW(head.parameters(), { lr: 0.05, weightDecay: 0 });
    let first = 0;
    let last = 0;
    for (let s = 0; s < 60; s++) {
      opt.zeroGrad();
      const logits = head.forward(x);
      assert.ok(logits.abs().max().item() <= 10 + 1e-4);
      const loss = crossEntropy(logits, labels);
      if (s === 0) first = loss.item();
      last = loss.item();
      loss.backward();
      opt.step();
    }
    assert.ok(last < first / 3, `loss ${first} -> ${last}`);
  });
});
