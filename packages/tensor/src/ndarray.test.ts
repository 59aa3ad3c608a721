import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import ndarray from 'ndarray';
import { arange, fromNdarray, toNdarray } from './index.js';

describe('ndarray interop', () => {
  it('copies strided views: transpose, slice, negative step', () => {
    const base = ndarray(new Float32Array(Array.from({ length: 12 }, (_, i) => i)), [3, 4]);
    assert.deepEqual(fromNdarray(base).toArray(), arange(12).reshape([3, 4]).toArray());
    assert.deepEqual(fromNdarray(base.transpose(1, 0)).toArray(), arange(12).reshape([3, 4]).transpose().toArray());
    assert.deepEqual(fromNdarray(base.hi(2, 3).lo(0, 1)).toArray(), [
      [1, 2],
      [5, 6],
    ]);
    assert.deepEqual(fromNdarray(base.step(-1, 2)).toArray(), [
      [8, 10],
      [4, 6],
      [0, 2],
    ]);
  });
  it('keeps float64 and int32, and round-trips through toNdarray', () => {
    const nd = ndarray(new Float64Array([1.5, 2.5]), [2]);
    const t = fromNdarray(nd);
    assert.equal(t.dtype, 'float64');
    assert.equal(fromNdarray(ndarray(new Int32Array([1, 2]), [2])).dtype, 'int32');
    const back = toNdarray(arange(6).reshape([2, 3]), ndarray);
    assert.deepEqual(back.shape, [2, 3]);
    assert.equal(back.get(1, 2), 5);
  });
  it('names the problem when a view reaches outside its data', () => {
    assert.throws(
      () => fromNdarray({ data: [1, 2], shape: [3], stride: [1], offset: 0 }),
      /fromNdarray: the view \(shape \[3\], stride \[1\], offset 0\) reaches index 2, outside the data \(length 2\)/,
    );
    assert.throws(() => fromNdarray({ data: [1, 2, 3], shape: [2], stride: [-2], offset: 1 }), /reaches index -1/);
  });
});
