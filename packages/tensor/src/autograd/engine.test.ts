import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectAnomaly, Generator, isGradEnabled, noGrad, randn, tensor, ones } from '../index.js';
import { pooledBytes } from '../backend/reference/pool.js';

describe('autograd engine', () => {
  it('accumulates gradients across backward calls and through shared inputs', () => {
    const x = tensor([1, 2, 3], { requiresGrad: true });
    x.mul(x).add(x).sum().backward(); // d(x² + x) = 2x + 1
    assert.deepEqual(Array.from(x.grad!.data), [3, 5, 7]);
    x.sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [4, 6, 8]);
  });
  it('takes a seed gradient for non-scalar outputs', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    x.mul(3).backward(tensor([1, 10]));
    assert.deepEqual(Array.from(x.grad!.data), [3, 30]);
  });
  it('noGrad records nothing and detach cuts the graph', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = noGrad(() => x.mul(2));
    assert.equal(y.requiresGrad, false);
    const z = x.mul(2).detach();
    assert.equal(z.requiresGrad, false);
    assert.equal(z.node, null);
  });
  it('releases the graph: a second backward is a clear error', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.mul(x).sum();
    y.backward();
    assert.throws(() => y.backward(), /backward: the graph of this tensor was already released/);
    const z = x.mul(x).sum();
    z.backward(undefined, { retainGraph: true });
    z.backward();
    assert.deepEqual(Array.from(x.grad!.data), [2 + 4, 4 + 8]);
  });
  it('reusing an intermediate whose graph was released is a clear error', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(2);
    h.sum().backward();
    assert.throws(() => h.mul(3).sum().backward(), /reaches a tensor whose graph was already released/);
  });
  it('non-scalar backward without a seed is a clear error', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    assert.throws(() => x.mul(2).backward(), /backward: the output has shape \[2\]; a non-scalar output needs a seed gradient/);
    assert.throws(() => x.mul(2).backward(tensor([1, 2, 3])), /the seed gradient has shape \[3\] but the output has shape \[2\]/);
  });
  it('anomaly detection names the op that produced a NaN', () => {
    const x = tensor([-1, 4], { requiresGrad: true });
    assert.throws(() => detectAnomaly(() => x.sqrt()), /sqrt: the forward pass produced NaN at flat index 0/);
    const y = tensor([0, 1], { requiresGrad: true });
    // forward is finite (0 · sqrt(0) = 0) but d sqrt at 0 is infinite, giving 0·∞ = NaN in backward
    assert.throws(() => detectAnomaly(() => y.sqrt().mul(0).sum().backward()), /sqrt: the backward pass \(gradient of input 0\) produced NaN/);
    assert.ok(Number.isNaN(tensor([-1]).sqrt().item()), 'without anomaly mode NaN flows silently');
  });
  it('memory stays flat over 1000 training steps of a small model (the graph is released)', () => {
    const w1 = randn([32, 64], { requiresGrad: true });
    const w2 = randn([64, 10], { requiresGrad: true });
    const x = randn([16, 32]);
    const step = () => {
      const loss = x.matmul(w1).relu().matmul(w2).softmax().mean();
      loss.backward();
      w1.zeroGrad();
      w2.zeroGrad();
    };
    for (let i = 0; i < 100; i++) step();
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) step();
    global.gc?.();
    const growth = process.memoryUsage().heapUsed - before;
    // one step allocates ~100 KB of tensors; a leaked graph would hold 1000 steps (~100 MB)
    assert.ok(growth < 8 * 1024 * 1024, `heap grew by ${(growth / 1048576).toFixed(1)} MB over 1000 steps`);
  });
  it('modes are restored: anomaly detection checks forward ops after and inside noGrad, and after a backward', () => {
    noGrad(() => tensor([1]).add(1));
    const nan = () => tensor([-1]).sqrt();
    assert.throws(() => detectAnomaly(nan), /sqrt: the forward pass produced NaN/, 'after noGrad');
    assert.throws(() => detectAnomaly(() => noGrad(nan)), /sqrt: the forward pass produced NaN/, 'inside noGrad');
    tensor([2], { requiresGrad: true }).mul(3).sum().backward();
    assert.throws(() => detectAnomaly(nan), /sqrt: the forward pass produced NaN/, 'after backward');
    const y = tensor([2], { requiresGrad: true }).mul(3).sum();
    noGrad(() => {
      y.backward();
      assert.equal(isGradEnabled(), false, 'a backward inside noGrad leaves grad mode off');
    });
    assert.equal(isGradEnabled(), true);
    assert.throws(
      () =>
        noGrad(() => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(isGradEnabled(), true, 'restored after a throw');
  });
  it('a non-leaf used twice accumulates its gradient before flowing on', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const h = x.mul(x); // h = x², used twice: y = h·h + 3h, dy/dx = (2h + 3)·2x
    h.mul(h).add(h.mul(3)).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [(2 * 1 + 3) * 2 * 1, (2 * 4 + 3) * 2 * 2]);
  });
  it('gradients of a leaf used in two branches add up', () => {
    const x = ones([2], { requiresGrad: true });
    const a = x.mul(2);
    const b = x.mul(3);
    a.add(b).sum().backward();
    assert.deepEqual(Array.from(x.grad!.data), [5, 5]);
  });
});

describe('gradient storage reuse', () => {
  // large enough (>= 4096 elements) for the CPU backend to pool released arrays
  const n = 8192;
  it('reused storage never corrupts gradients, seeds or leaf gradients', () => {
    const x = randn([n], { generator: new Generator(1) }).setRequiresGrad(true);
    const want = x.data.map((v) => 2 * v + 3 + 1);
    for (let round = 0; round < 3; round++) {
      x.grad = null;
      // x·x (one gradient to two inputs), a reshape passing the gradient through, x + x
      const y = x
        .mul(x)
        .reshape([2, n / 2])
        .add(
          x
            .add(x)
            .reshape([2, n / 2])
            .mul(1.5),
        )
        .reshape([n])
        .add(x);
      const seed = ones([n]);
      y.backward(seed);
      assert.ok(
        seed.data.every((v) => v === 1),
        'the seed is untouched',
      );
      x.grad!.data.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-4, `round ${round} entry ${i}: ${v} vs ${want[i]}`));
    }
    assert.ok(pooledBytes() > 0, 'consumed gradients went back to the pool');
  });
  it('a gradient the user holds survives later backward passes', () => {
    const x = randn([n], { generator: new Generator(2) }).setRequiresGrad(true);
    x.add(1).mul(3).sum().backward(); // add passes its gradient through: x.grad is that tensor
    const held = x.grad!;
    const copy = held.data.slice();
    for (let i = 0; i < 3; i++) {
      x.grad = null;
      x.mul(x).mul(7).sum().backward();
    }
    assert.deepEqual(held.data, copy);
  });
});
