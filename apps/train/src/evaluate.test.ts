import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { knnAccuracy } from './evaluate.js';

const rows = (...r: number[][]) => Float32Array.from(r.flat());

describe('k-NN accuracy', () => {
  it('ranks neighbours by cosine similarity, not by dot product', () => {
    // the query points along [1, 1]: class 1's short [0.1, 0.1] is its direction (cosine 1); class 0's long [10, 0] has the larger dot product
    const train = { features: rows([10, 0], [0.1, 0.1]), labels: [0, 1] };
    assert.equal(knnAccuracy(train, { features: rows([1, 1]), labels: [1] }, 2, 1), 1);
    assert.equal(knnAccuracy(train, { features: rows([1, 1]), labels: [0] }, 2, 1), 0);
  });
  it('a tied vote goes to the class of the nearer neighbours, not to the lower class', () => {
    // k = 2: one neighbour of class 7 at cosine 0.99, one of class 2 at cosine 0.6
    const train = { features: rows([1, 0.1], [0.6, 0.8], [-1, 0]), labels: [7, 2, 5] };
    assert.equal(knnAccuracy(train, { features: rows([1, 0]), labels: [7] }, 2, 2), 1);
  });
  it('counts a majority over k neighbours', () => {
    const train = { features: rows([1, 0], [0.9, 0.1], [0.8, 0.2], [0, 1]), labels: [3, 4, 4, 3] };
    assert.equal(knnAccuracy(train, { features: rows([1, 0.05]), labels: [4] }, 2, 3), 1, 'two of the three nearest are 4');
  });
});
