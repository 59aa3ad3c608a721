import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, Linear, Module, crossEntropy, optim, randn, randint, tensor, type Tensor } from '../index.js';

class Mlp extends Module {
  fc1 = new Linear(6, 8, { generator: new Generator(1) });
  fc2 = new Linear(8, 3, { generator: new Generator(2) });
  forward(x: Tensor): Tensor {
    return this.fc2.forward(this.fc1.forward(x).gelu());
  }
}

function train(model: Mlp, opt: optim.Optimizer, sched: optim.WarmupCosineSchedule, steps: number, from: number): void {
  for (let s = from; s < from + steps; s++) {
    const g = new Generator(100 + s);
    const x = randn([5, 6], { generator: g });
    const y = randint([5], 0, 3, { generator: g });
    opt.zeroGrad();
    crossEntropy(model.forward(x), y).backward();
    optim.clipGradNorm(model.parameters(), 1.0);
    opt.step();
    sched.step();
  }
}

function setup(): [Mlp, optim.AdamW, optim.WarmupCosineSchedule] {
  const model = new Mlp();
  const opt = new optim.AdamW(optim.splitWeightDecay(model.namedParameters(), 0.05), { lr: 1e-2 });
  return [model, opt, new optim.WarmupCosineSchedule(opt, { warmupSteps: 2, totalSteps: 10 })];
}

describe('optim', () => {
  it('restoring model + optimizer + schedule state continues bit-identically', () => {
    const [m1, o1, s1] = setup();
    train(m1, o1, s1, 6, 0);
    const [m2, o2, s2] = setup();
    train(m2, o2, s2, 3, 0);
    const saved = { model: m2.stateDict(), opt: o2.stateDict(), sched: s2.stateDict() };
    const [m3, o3, s3] = setup();
    m3.loadStateDict(saved.model);
    o3.loadStateDict(saved.opt);
    s3.loadStateDict(saved.sched);
    train(m3, o3, s3, 3, 3);
    m1.namedParameters().forEach(([n, p], i) => assert.deepEqual(p.data, m3.parameters()[i]!.data, n));
  });
  it('stepAsync takes the same steps as step', async () => {
    const [m1, o1] = setup();
    const [m2, o2] = setup();
    const before = m2.parameters().map((p) => p.data.slice());
    for (let s = 0; s < 3; s++) {
      const g = new Generator(200 + s);
      const x = randn([5, 6], { generator: g });
      const y = randint([5], 0, 3, { generator: g });
      for (const [m, o] of [
        [m1, o1],
        [m2, o2],
      ] as const) {
        o.zeroGrad();
        crossEntropy(m.forward(x), y).backward();
      }
      o1.step();
      await o2.stepAsync();
    }
    m1.parameters().forEach((p, i) => assert.deepEqual(m2.parameters()[i]!.data, p.data));
    assert.ok(
      m2.parameters().every((p, i) => p.data.some((v, j) => v !== before[i]![j])),
      'every parameter moved',
    );
  });
  it('splitWeightDecay leaves rank-1 tensors, embeddings and pool.p out of decay', () => {
    const named: [string, Tensor][] = [
      ['blocks.0.fc.weight', randn([2, 2], { requiresGrad: true })],
      ['blocks.0.fc.bias', randn([2], { requiresGrad: true })],
      ['pos_embed', randn([1, 3, 2], { requiresGrad: true })],
      ['pool.p', randn([4], { requiresGrad: true })],
      ['frozen.weight', randn([2, 2])],
    ];
    const [decay, none] = optim.splitWeightDecay(named, 0.05);
    assert.equal(decay!.params.length, 1);
    assert.equal(none!.params.length, 3);
    assert.equal(none!.weightDecay, 0);
  });
  it('warmup then cosine: rises linearly, peaks at the base lr, ends at the floor', () => {
    const o = { warmupSteps: 4, totalSteps: 14, minLr: 0.1 };
    assert.equal(optim.warmupCosine(0, 1, o), 0.25);
    assert.equal(optim.warmupCosine(3, 1, o), 1);
    assert.equal(optim.warmupCosine(4, 1, o), 1);
    assert.ok(Math.abs(optim.warmupCosine(9, 1, o) - 0.55) < 1e-12);
    assert.equal(optim.warmupCosine(14, 1, o), 0.1);
  });
  it('clipGradNorm scales the global norm down to the limit and reports it', () => {
    const a = tensor([3, 0], { requiresGrad: true });
    const b = tensor([4], { requiresGrad: true });
    a.mul(tensor([3, 0]))
      .sum()
      .add(b.mul(4).sum())
      .backward();
    const norm = optim.clipGradNorm([a, b], 1);
    assert.equal(norm, 5);
    assert.ok(Math.abs(Math.hypot(...a.grad!.data, ...b.grad!.data) - 1) < 1e-6);
  });
  it('rejects a negative lr with a clear error', () => {
    assert.throws(() => new optim.AdamW([randn([2], { requiresGrad: true })], { lr: -1 }), /AdamW: lr must be >= 0, got -1/);
    for (const [k, v] of [
      ['beta1', 2],
      ['beta1', -0.1],
      ['beta2', 1],
      ['beta2', NaN],
    ] as const) {
      assert.throws(
        () => new optim.AdamW([randn([2], { requiresGrad: true })], { lr: 1e-3, [k]: v }),
        new RegExp(`AdamW: ${k} must be in \\[0, 1\\), got ${v} \\(group 0\\)`),
      );
    }
    assert.throws(
      () => new optim.AdamW([{ params: [randn([2], { requiresGrad: true })], beta1: 1.5 }], { lr: 1e-3 }),
      /AdamW: beta1 must be in \[0, 1\), got 1.5 \(group 0\)/,
    );
    assert.throws(() => new optim.AdamW([randn([2], { requiresGrad: true })], { lr: 1e-3, eps: -1 }), /AdamW: eps must be >= 0/);
  });
  it('AdamW never decays a group with weightDecay 0', () => {
    const p = tensor([1, 2], { requiresGrad: true });
    const opt = new optim.AdamW([{ params: [p], weightDecay: 0 }], { lr: 0.1, weightDecay: 0.5 });
    p.grad = p.zerosLike();
    opt.step();
    assert.deepEqual(Array.from(p.data), [1, 2]);
  });
});
