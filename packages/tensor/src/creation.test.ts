import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { arange, full, Generator, manualSeed, ones, rand, randint, randn, tensor, truncNormal, zeros } from './index.js';

describe('creation', () => {
  it('builds tensors from nested arrays, typed arrays and fills', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(t.shape, [2, 3]);
    assert.equal(t.dtype, 'float32');
    assert.deepEqual(t.toArray(), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(tensor(new Float64Array([1, 2, 3, 4]), { shape: [2, 2] }).dtype, 'float64');
    assert.equal(tensor([1, 2], { dtype: 'int32' }).dtype, 'int32');
    assert.deepEqual(zeros([2]).toArray(), [0, 0]);
    assert.deepEqual(ones([1, 2]).toArray(), [[1, 1]]);
    assert.deepEqual(full([2], 7).toArray(), [7, 7]);
    assert.deepEqual(arange(5).toArray(), [0, 1, 2, 3, 4]);
    assert.deepEqual(arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
    assert.equal(tensor(3).item(), 3);
  });
  it('rejects ragged nested arrays and sizes that do not fill the shape', () => {
    assert.throws(() => tensor([[1, 2], [3]]), /tensor: ragged nested array at \[1\]: expected 2 entries, got 1/);
    assert.throws(() => tensor(new Float32Array(5), { shape: [2, 3] }), /tensor: 5 values do not fill shape \[2, 3\]/);
    assert.throws(() => zeros([2, -1]), /invalid shape \[2, -1\]/);
    assert.throws(() => tensor([1, 2]).item(), /item: expected a tensor with one element, got shape \[2\]/);
  });
  it('every safe integer seeds its own stream; a fraction is an error', () => {
    const first = (seed: number) =>
      Array.from(
        { length: 4 },
        (
          (g) => () =>
            g.nextUint32()
        )(new Generator(seed)),
      );
    const streams = [0, 1, 2 ** 32, 2 ** 32 + 1, -1, 2 ** 32 - 1, -(2 ** 32), Number.MAX_SAFE_INTEGER].map(first);
    assert.equal(new Set(streams.map((s) => s.join())).size, streams.length, 'no two seeds share a stream');
    assert.deepEqual(first(7), first(7));
    for (const bad of [1.5, NaN, Infinity, 2 ** 53]) assert.throws(() => new Generator(bad), /Generator: a seed must be a safe integer/);
  });
  it('random tensors are reproducible from a seed, and the generator state restores', () => {
    assert.deepEqual(randn([5], { generator: new Generator(3) }).data, randn([5], { generator: new Generator(3) }).data);
    manualSeed(11);
    const a = rand([4]).data;
    manualSeed(11);
    assert.deepEqual(rand([4]).data, a);
    const g = new Generator(5);
    g.normal();
    const state = g.getState();
    const next = [g.normal(), g.uniform(), g.normal()];
    g.setState(state);
    assert.deepEqual([g.normal(), g.uniform(), g.normal()], next);
  });
  it('has the requested moments and bounds', () => {
    const g = new Generator(1);
    const x = randn([40000], { dtype: 'float64', generator: g });
    assert.ok(Math.abs(x.mean().item()) < 0.02);
    assert.ok(Math.abs(x.pow(2).mean().item() - 1) < 0.03);
    const u = rand([40000], { low: -1, high: 3, generator: g });
    assert.ok(u.min().item() >= -1 && u.max().item() < 3 && Math.abs(u.mean().item() - 1) < 0.03);
    const t = truncNormal([40000], { std: 1, a: -1, b: 1.5, generator: g });
    assert.ok(t.min().item() >= -1 && t.max().item() <= 1.5);
    const r = randint([1000], 2, 5, { generator: g });
    assert.equal(r.dtype, 'int32');
    assert.deepEqual([...new Set(r.data)].sort(), [2, 3, 4]);
  });
  it('prints like PyTorch, with edges only for large tensors', () => {
    assert.equal(
      tensor([
        [1, 2.5],
        [3, 4],
      ]).toString(),
      'tensor([[1., 2.5000],\n        [3., 4.]], shape=[2, 2], dtype=float32)',
    );
    const big = arange(2000).toString();
    assert.match(big, /^tensor\(\[0\., 1\., 2\., \.\.\., 1997\., 1998\., 1999\.\], shape=\[2000\], dtype=float32\)$/);
    assert.match(tensor([1], { requiresGrad: true }).toString(), /requiresGrad=true/);
  });
  it('bad input is an error naming the value and what was expected', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is what the test gives tensor()
    assert.throws(() => tensor([1, , 3] as number[]), /tensor: a hole at \[1\] \(a sparse array/);
    assert.throws(() => tensor(['a', 1] as unknown as number[]), /tensor: expected a number at \[0\], got the string "a"/);
    assert.throws(() => tensor([[1], null] as unknown as number[][]), /ragged nested array at \[1\]: expected 1 entries, got null/);
    assert.throws(() => tensor(new Int16Array([1, 2]) as unknown as Int32Array), /tensor: a Int16Array is not a tensor's storage .* pass \{ dtype \}/);
    assert.deepEqual(
      [
        tensor(new Int16Array([1, -2]) as unknown as Int32Array, { dtype: 'int32' }).dtype,
        ...tensor(new Uint8Array([1, 200]) as unknown as Float32Array, { dtype: 'float32' }).data,
      ],
      ['int32', 1, 200],
    );
    assert.throws(() => tensor([1, 2], { dtype: 'int32', requiresGrad: true }), /setRequiresGrad: an int32 tensor \(shape \[2\]\) cannot require grad/);
    assert.throws(() => zeros([1e6, 1e6]), /cannot allocate 1000000000000 float32 elements \(3\.73e\+3 GiB\)/);
    const x = tensor([10, 20, 30]);
    for (const bad of [1.7, 2 ** 32, NaN, -1, 3])
      assert.throws(
        () => x.indexSelect(0, [0, bad]),
        new RegExp(`indexSelect: index ${bad} at position 1 is (out of range|not an integer) for dim 0 of size 3`),
        String(bad),
      );
    assert.deepEqual([...x.indexSelect(0, [2, 0]).data], [30, 10]);
  });
});
