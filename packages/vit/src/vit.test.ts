import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crossEntropy, Generator, noGrad, optim, randint, randn } from '@ggem/tensor';
import { poolingNames } from '@ggem/pooling';
import { createVit, presets, type VisionTransformer } from './index.js';

describe('VisionTransformer', () => {
  it('uses timm names: norm for token pooling, fc_norm and pool.p for the others', () => {
    const names = (m: VisionTransformer) => m.namedParameters().map(([n]) => n);
    const token = names(createVit('vit_mnist_tiny', 'token'));
    assert.deepEqual(token.slice(0, 4), ['cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias']);
    for (const n of ['blocks.1.attn.qkv.weight', 'blocks.0.mlp.fc2.bias', 'blocks.1.norm2.weight', 'norm.weight', 'head.weight'])
      assert.ok(token.includes(n), n);
    assert.ok(!token.some((n) => n.startsWith('fc_norm') || n.startsWith('pool')));
    const ggem = createVit('vit_mnist_tiny', 'ggem');
    assert.ok(names(ggem).includes('fc_norm.weight') && !names(ggem).some((n) => n.startsWith('norm.')));
    assert.deepEqual(ggem.namedParameters().find(([n]) => n === 'pool.p')![1].shape, [4], 'G defaults to the number of heads');
    assert.deepEqual(
      createVit('vit_mnist_tiny', 'gem')
        .namedParameters()
        .find(([n]) => n === 'pool.p')![1].shape,
      [1],
    );
    assert.deepEqual(ggem.noWeightDecay(), ['pos_embed', 'cls_token', 'pool.p']);
    const shapes = Object.fromEntries(ggem.namedParameters().map(([n, p]) => [n, p.shape]));
    assert.deepEqual(shapes['patch_embed.proj.weight'], [64, 1, 4, 4]);
    assert.deepEqual(shapes['blocks.0.attn.qkv.weight'], [192, 64]);
    assert.deepEqual(shapes.pos_embed, [1, 50, 64]);
  });
  it('every preset has the right output shape; parameter counts match timm (large presets built, not run)', () => {
    const timm: Record<string, number> = {
      vit_tiny_patch16_224: 5_717_416,
      vit_small_patch16_224: 22_050_664,
      vit_base_patch16_224: 86_567_656,
      vit_large_patch16_224: 304_326_632,
    };
    for (const name of Object.keys(presets) as (keyof typeof presets)[]) {
      const m = createVit(name, 'avg');
      const count = m.parameters().reduce((s, p) => s + p.size, 0);
      if (name in timm) assert.equal(count, timm[name], name);
      if (name === 'vit_base_patch16_224' || name === 'vit_large_patch16_224') continue;
      const { imgSize, inChans, numClasses } = presets[name];
      const y = noGrad(() => m.eval().forward(randn([1, inChans, imgSize, imgSize])));
      assert.deepEqual(y.shape, [1, numClasses], name);
    }
    const features = createVit('vit_mnist_tiny', 'max', { numClasses: 0 });
    assert.deepEqual(noGrad(() => features.forward(randn([2, 1, 28, 28]))).shape, [2, 64], 'numClasses 0: features only');
  });
  it('every parameter gets a finite gradient, for every pooling, with dropout and drop-path', () => {
    for (const pooling of poolingNames) {
      const m = createVit('vit_mnist_tiny', pooling, { dropRate: 0.1, attnDropRate: 0.1, dropPathRate: 0.2 });
      crossEntropy(m.forward(randn([3, 1, 28, 28])), [1, 2, 3]).backward();
      for (const [n, p] of m.namedParameters()) {
        assert.ok(p.grad !== null, `${pooling}: ${n} has no gradient`);
        assert.ok(p.grad.data.every(Number.isFinite), `${pooling}: ${n} has a non-finite gradient`);
      }
    }
  });
  it('eval mode is deterministic, training mode is not (dropout)', () => {
    const m = createVit('vit_mnist_tiny', 'ggem', { dropRate: 0.2, dropPathRate: 0.1 });
    const x = randn([2, 1, 28, 28]);
    m.eval();
    assert.deepEqual(noGrad(() => m.forward(x)).data, noGrad(() => m.forward(x)).data);
    m.train();
    assert.notDeepEqual(noGrad(() => m.forward(x)).data, noGrad(() => m.forward(x)).data);
  });
  it('the same seed builds the same model', () => {
    const a = createVit('vit_mnist_tiny', 'gem', { seed: 4 }).stateDict();
    const b = createVit('vit_mnist_tiny', 'gem', { seed: 4 }).stateDict();
    for (const k of Object.keys(a)) assert.deepEqual(a[k]!.data, b[k]!.data, k);
  });
  it("capture records a block's attention without changing the output", () => {
    const m = createVit('vit_mnist_tiny', 'avg').eval();
    const x = randn([2, 1, 28, 28]);
    const plain = noGrad(() => m.forward(x)).data;
    const { result, attn, heads } = noGrad(() => m.capture(1, () => m.forward(x)));
    assert.deepEqual(result.data, plain);
    assert.deepEqual(attn!.shape, [2, 4, 50, 50]);
    assert.deepEqual(heads!.shape, [2, 4, 50, 16]);
    attn!.sum(-1).data.forEach((v) => assert.ok(Math.abs(v - 1) < 1e-5));
    assert.equal(m.blocks[1]!.attn._capture, null);
    assert.throws(() => m.capture(5, () => 0), /capture: block 5 does not exist \(depth 2\)/);
  });
  it('the composed attention (taken when attention dropout is on) equals the fused one, values and gradients', () => {
    const fused = createVit('vit_mnist_tiny', 'ggem', { seed: 3 }).eval();
    const composed = createVit('vit_mnist_tiny', 'ggem', { seed: 5, attnDropRate: 0.1 }).eval(); // eval: dropout is the identity
    composed.loadStateDict(fused.stateDict());
    const x = randn([2, 1, 28, 28], { generator: new Generator(1) });
    const [a, b] = [fused, composed].map((m) => {
      const y = m.forward(x);
      y.mul(y).sum().backward();
      return [y.data, m.blocks[0]!.attn.qkv.weight.grad!.data] as const;
    });
    for (const [i, what] of ['logits', 'd qkv.weight'].entries()) {
      const [u, v] = [a![i]!, b![i]!];
      for (let j = 0; j < u.length; j++) assert.ok(Math.abs(u[j]! - v[j]!) <= 1e-4 * (1 + Math.abs(u[j]!)), `${what}[${j}]: ${u[j]} vs ${v[j]}`);
    }
  });
  it('rejects shapes that do not fit', () => {
    assert.throws(() => createVit('vit_mnist_tiny', 'avg', { embedDim: 30 }), /embedDim 30 is not divisible by numHeads 4/);
    assert.throws(() => createVit('vit_mnist_tiny', 'avg', { imgSize: 30 }), /imgSize 30 is not a multiple of patchSize 4/);
    assert.throws(() => createVit('vit_mnist_tiny', 'ggem', { poolGroups: 60 }), /ggem: 60 groups do not fit 64 channels/);
    assert.throws(() => createVit('vit_mnist_tiny', 'avg').forward(randn([1, 3, 28, 28])), /PatchEmbed: expected images \[B, 1, H, W\]/);
  });
  it('a 2-block model overfits 16 images to 100% training accuracy', () => {
    const g = new Generator(7);
    const x = randn([16, 1, 28, 28], { generator: g });
    const y = randint([16], 0, 10, { generator: g });
    const m = createVit('vit_mnist_tiny', 'ggem', { seed: 1 });
    const opt = new optim.AdamW(optim.splitWeightDecay(m.namedParameters(), 0), { lr: 2e-3 });
    let acc = 0;
    for (let step = 0; step < 150 && acc < 1; step++) {
      opt.zeroGrad();
      const logits = m.forward(x);
      crossEntropy(logits, y).backward();
      opt.step();
      const pred = logits.argmax(1).data;
      acc = pred.filter((v, i) => v === y.data[i]).length / 16;
    }
    assert.equal(acc, 1, 'training accuracy');
  });
});
