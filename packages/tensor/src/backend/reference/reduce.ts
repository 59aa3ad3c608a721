import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import type { ReduceOp } from '../backend.js';

/**
 * Reduces the middle axis of `[outer, n, inner]`. Sums accumulate in float64 (JavaScript
 * numbers), so a 5M-element float32 sum keeps about 1e-15 relative error before rounding.
 */
export function reduce(op: ReduceOp, x: TypedArray, outer: number, n: number, inner: number, dtype: DType): TypedArray {
  const out = allocate(dtype, outer * inner);
  if (op !== 'sum' && n === 0) throw new Error(`${op}: cannot reduce an axis of size 0`);
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * n * inner;
    if (inner === 1) {
      let s = op === 'sum' ? 0 : x[base]!;
      if (op === 'sum') for (let j = 0; j < n; j++) s += x[base + j]!;
      else if (op === 'max') for (let j = 1; j < n; j++) s = maxNaN(s, x[base + j]!);
      else for (let j = 1; j < n; j++) s = minNaN(s, x[base + j]!);
      out[o] = s;
      continue;
    }
    for (let i = 0; i < inner; i++) acc[i] = op === 'sum' ? 0 : x[base + i]!;
    for (let j = op === 'sum' ? 0 : 1; j < n; j++) {
      const row = base + j * inner;
      if (op === 'sum') for (let i = 0; i < inner; i++) acc[i]! += x[row + i]!;
      else if (op === 'max') for (let i = 0; i < inner; i++) acc[i] = maxNaN(acc[i]!, x[row + i]!);
      else for (let i = 0; i < inner; i++) acc[i] = minNaN(acc[i]!, x[row + i]!);
    }
    out.set(acc, o * inner);
  }
  return out;
}

// NaN propagates through max and min, as in NumPy and PyTorch.
function maxNaN(a: number, b: number): number {
  return b > a || Number.isNaN(b) ? b : a;
}
function minNaN(a: number, b: number): number {
  return b < a || Number.isNaN(b) ? b : a;
}

/** Index of the first maximum (or minimum) along the middle axis. */
export function argReduce(op: 'argmax' | 'argmin', x: TypedArray, outer: number, n: number, inner: number): TypedArray {
  if (n === 0) throw new Error(`${op}: cannot reduce an axis of size 0`);
  const out = new Int32Array(outer * inner);
  const sign = op === 'argmax' ? 1 : -1;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = 0;
      let bv = sign * x[base]!;
      for (let j = 1; j < n; j++) {
        const v = sign * x[base + j * inner]!;
        if (v > bv) {
          bv = v;
          best = j;
        }
      }
      out[o * inner + i] = best;
    }
  }
  return out;
}
