import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Generator, optim, randn, tensor } from '@ggem/tensor';
import { AvgPool, createPooling, GeMPool, GGeMPool, MaxPool, poolingNames, TokenPool } from './index.js';

const x = randn([2, 5, 8], { generator: new Generator(1) }); // class token + 4 patch tokens

describe('pooling modules', () => {
  it('token takes the class token; the others pool only the patch tokens', () => {
    assert.deepEqual(new TokenPool().forward(x).data, x.narrow(1, 0, 1).squeeze(1).data);
    const patches = x.narrow(1, 1, 4);
    assert.deepEqual(new AvgPool().forward(x).data, patches.mean(1).data);
    assert.deepEqual(new MaxPool().forward(x).data, patches.max(1).data);
    const gem = new GeMPool(8, { p: 1 });
    const clamped = patches.clamp(1e-6).mean(1).data;
    gem.forward(x).data.forEach((v, i) => assert.ok(Math.abs(v - clamped[i]!) < 1e-6));
    assert.deepEqual(new AvgPool(0).forward(x).data, x.mean(1).data, 'prefixTokens 0 pools every token');
  });
  it('p is named pool.p with shape [1] for gem and [G] for ggem, and kept out of weight decay', () => {
    const gem = createPooling('gem', { channels: 8 });
    const ggem = createPooling('ggem', { channels: 8, groups: 4, p: 4 });
    assert.deepEqual(
      gem.namedParameters('pool.').map(([n, p]) => [n, p.shape]),
      [['pool.p', [1]]],
    );
    assert.deepEqual(
      ggem.namedParameters('pool.').map(([n, p]) => [n, p.shape]),
      [['pool.p', [4]]],
    );
    assert.deepEqual(Array.from(ggem.parameters()[0]!.data), [4, 4, 4, 4]);
    assert.deepEqual(ggem.noWeightDecay(), ['p']);
    const [decay, none] = optim.splitWeightDecay(ggem.namedParameters('pool.'), 0.05);
    assert.equal(decay!.params.length, 0);
    assert.equal(none!.params.length, 1);
    assert.equal(createPooling('gem', { channels: 8, trainP: false }).parameters()[0]!.requiresGrad, false);
  });
  it('p trains: one AdamW step moves every group of a GGeM', () => {
    const pool = new GGeMPool(8, 4, { p: 3 });
    const opt = new optim.AdamW([{ params: pool.parameters(), weightDecay: 0 }], { lr: 0.1 });
    pool
      .forward(x)
      .mul(randn([2, 8], { generator: new Generator(2) }))
      .sum()
      .backward();
    opt.step();
    assert.ok(pool.currentP().every((p) => p !== 3 && Math.abs(p - 3) <= 0.1 + 1e-6));
  });
  it('max pooling splits the gradient evenly among tied maxima', () => {
    const t = tensor(
      [
        [
          [9, 9],
          [1, 2],
          [1, 2],
          [0, 2],
        ],
      ],
      { requiresGrad: true },
    ); // token 0 is the class token
    new MaxPool().forward(t).sum().backward();
    // channel 0: patch tokens 1 and 2 tie at 1; channel 1: all three tie at 2
    assert.deepEqual(
      Array.from(t.grad!.data),
      [0, 0, 0.5, 1 / 3, 0.5, 1 / 3, 0, 1 / 3].map((v) => Math.fround(v)),
    );
  });
  it('the factory knows every name and explains what it needs', () => {
    for (const name of poolingNames) assert.ok(createPooling(name, { channels: 8, groups: 2 }));
    assert.throws(() => createPooling('ggem', { channels: 8 }), /'ggem' needs groups/);
    assert.throws(() => createPooling('gem'), /'gem' needs the number of channels/);
    assert.throws(() => createPooling('mean' as 'avg'), /unknown pooling 'mean'; expected one of token, avg, max, gem, ggem/);
    assert.throws(() => createPooling('ggem', { channels: 10, groups: 6 }), /allowed: 1, 2, 3, 4, 5, 10/);
    assert.throws(() => new GGeMPool(8, 2).forward(randn([1, 3, 6])), /GGeMPool: expected 8 channels/);
  });
});
