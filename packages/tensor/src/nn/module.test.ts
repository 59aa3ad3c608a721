import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dropout, Generator, Identity, LayerNorm, Linear, Module, Sequential, nn, randn, tensor, type Tensor } from '../index.js';
import { assertGradcheck } from '../testing/index.js';

class Attn extends Module {
  qkv = new Linear(4, 12, { generator: new Generator(1) });
  proj = new Linear(4, 4, { generator: new Generator(2) });
  forward(x: Tensor): Tensor {
    return this.proj.forward(this.qkv.forward(x).narrow(-1, 0, 4));
  }
}
class Block extends Module {
  norm1 = new LayerNorm(4, 1e-6);
  attn = new Attn();
  drop = new Dropout(0.1);
  forward(x: Tensor): Tensor {
    return x.add(this.drop.forward(this.attn.forward(this.norm1.forward(x))));
  }
}
class Net extends Module {
  blocks = [new Block(), new Block()];
  head = new Sequential(new Identity(), new Linear(4, 2));
  _cache: Tensor | null = null; // private: not a parameter
  forward(x: Tensor): Tensor {
    return this.head.forward(this.blocks.reduce((h, b) => b.forward(h), x));
  }
}

describe('nn.Module', () => {
  it('names parameters by dot path, following the code (timm style)', () => {
    const names = new Net().namedParameters().map(([n]) => n);
    assert.deepEqual(names.slice(0, 6), [
      'blocks.0.norm1.weight',
      'blocks.0.norm1.bias',
      'blocks.0.attn.qkv.weight',
      'blocks.0.attn.qkv.bias',
      'blocks.0.attn.proj.weight',
      'blocks.0.attn.proj.bias',
    ]);
    assert.ok(names.includes('head.1.weight'));
    assert.equal(names.length, 2 * 6 + 2);
    assert.deepEqual(new Net().parameters()[2]!.shape, [12, 4]);
  });
  it('train/eval reach every descendant', () => {
    const net = new Net().eval();
    assert.ok(net.namedModules().every(([, m]) => !m.training));
    const x = randn([3, 4]);
    assert.deepEqual(net.forward(x).data, net.forward(x).data, 'eval mode is deterministic');
    assert.ok(net.train().blocks[1]!.drop.training);
  });
  it('stateDict round-trips into another instance', () => {
    const a = new Net();
    const b = new Net();
    nn.init.constant(b.blocks[0]!.attn.qkv.weight, 0.5);
    b.loadStateDict(a.stateDict());
    const x = randn([2, 4]);
    assert.deepEqual(a.eval().forward(x).data, b.eval().forward(x).data);
  });
  it('strict loading names every missing, unexpected and mis-shaped key', () => {
    const sd = new Net().stateDict();
    delete sd['head.1.bias'];
    sd['blocks.0.extra'] = tensor([1]);
    sd['blocks.1.norm1.weight'] = tensor([1, 2]);
    assert.throws(
      () => new Net().loadStateDict(sd),
      /loadStateDict \(Net\): missing keys: head\.1\.bias\. unexpected keys: blocks\.0\.extra\. mis-shaped: blocks\.1\.norm1\.weight: expected \[4\], got \[2\]/,
    );
    const report = new Net().loadStateDict(sd, { strict: false });
    assert.deepEqual(report, { missing: ['head.1.bias'], unexpected: ['blocks.0.extra'], mismatched: ['blocks.1.norm1.weight: expected [4], got [2]'] });
  });
  it('a whole model passes the gradient checker in float64', () => {
    const lin = new Linear(3, 2, { dtype: 'float64' });
    const norm = new LayerNorm(2, 1e-5, { dtype: 'float64' });
    const x = randn([4, 3], { dtype: 'float64' });
    assertGradcheck(
      (w, b, g, beta) => {
        lin.weight = w!;
        lin.bias = b!;
        norm.weight = g!;
        norm.bias = beta!;
        return norm.forward(lin.forward(x)).gelu();
      },
      [lin.weight, lin.bias!, norm.weight!, norm.bias!],
    );
  });
  it('initialisers are seeded and have the requested statistics', () => {
    const p = randn([200, 300]);
    nn.init.truncNormal(p, { std: 0.02, generator: new Generator(3) });
    const d = p.data;
    const std = Math.sqrt(Array.from(d).reduce((s, v) => s + v * v, 0) / d.length);
    assert.ok(Math.abs(std - 0.02) < 0.001, `std ${std}`);
    const q = randn([200, 300]);
    nn.init.truncNormal(q, { std: 0.02, generator: new Generator(3) });
    assert.deepEqual(p.data, q.data);
    nn.init.xavierUniform(q, { generator: new Generator(4) });
    const a = Math.sqrt(6 / 500);
    assert.ok(q.data.every((v) => Math.abs(v) <= a) && q.abs().max().item() > 0.95 * a);
  });
});
