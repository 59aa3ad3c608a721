import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import { sizeOf, type Shape } from '../../shape.js';
import type { View } from '../backend.js';

/** Drops size-1 dims and merges neighbours that are contiguous in the view (fewer, longer inner loops). */
function collapse(view: View): { shape: number[]; strides: number[] } {
  const shape: number[] = [];
  const strides: number[] = [];
  view.shape.forEach((d, i) => {
    if (d === 1) return;
    const s = view.strides[i]!;
    const last = shape.length - 1;
    if (last >= 0 && strides[last] === s * d) {
      shape[last]! *= d;
      strides[last] = s;
    } else {
      shape.push(d);
      strides.push(s);
    }
  });
  return shape.length === 0 ? { shape: [1], strides: [0] } : { shape, strides };
}

/**
 * Visits a strided view row by row (its last merged dim): `row(src, dst, n, step)` for each
 * run of n elements starting at src with stride step, written at dst.
 */
function rows(view: View, row: (src: number, dst: number, n: number, step: number) => void): void {
  const size = sizeOf(view.shape);
  if (size === 0) return;
  const { shape, strides } = collapse(view);
  const rank = shape.length;
  const n = shape[rank - 1]!;
  const step = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let src = view.offset;
  for (let dst = 0; dst < size; dst += n) {
    row(src, dst, n, step);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      src += strides[d]!;
      if (idx[d]! < shape[d]!) break;
      src -= strides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

export function strided(x: TypedArray, view: View, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(view.shape));
  rows(view, (src, dst, n, step) => {
    if (step === 1 && n >= 64) out.set(x.subarray(src, src + n), dst);
    else for (let j = 0, p = src; j < n; j++, p += step) out[dst + j] = x[p]!;
  });
  return out;
}

export function stridedAdjoint(x: TypedArray, view: View, outShape: Shape, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(outShape));
  if (injective(view)) {
    // no element of the view aliases another (slices, permutes): plain writes, whole runs copied
    rows(view, (dst, src, n, step) => {
      if (step === 1) out.set(x.subarray(src, src + n), dst);
      else for (let j = 0, p = dst; j < n; j++, p += step) out[p] = x[src + j]!;
    });
  } else {
    rows(view, (dst, src, n, step) => {
      for (let j = 0, p = dst; j < n; j++, p += step) out[p]! += x[src + j]!;
    });
  }
  return out;
}

/**
 * True when no two positions of the view address the same element: with the dims sorted
 * by stride, each stride exceeds the span of all the smaller ones (a sufficient test; it
 * holds for slices and permutations, and fails for broadcasts, whose stride is 0).
 */
function injective(view: View): boolean {
  const dims = view.shape
    .map((d, i) => [d, view.strides[i]!] as const)
    .filter(([d]) => d > 1)
    .sort((a, b) => a[1] - b[1]);
  let span = 0;
  for (const [d, s] of dims) {
    if (s <= span) return false;
    span += s * (d - 1);
  }
  return true;
}

export function concat(xs: readonly TypedArray[], outer: number, sizes: readonly number[], inner: number, dtype: DType): TypedArray {
  const total = sizes.reduce((s, n) => s + n, 0);
  const out = allocate(dtype, outer * total * inner);
  let off = 0;
  xs.forEach((x, k) => {
    const len = sizes[k]! * inner;
    for (let o = 0; o < outer; o++) out.set(x.subarray(o * len, (o + 1) * len), o * total * inner + off);
    off += len;
  });
  return out;
}

export function gather(x: TypedArray, outer: number, n: number, inner: number, idx: TypedArray, nIdx: number, dtype: DType): TypedArray {
  const out = allocate(dtype, outer * nIdx * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < nIdx; j++) {
      const k = idx[j]!;
      const src = (o * n + k) * inner;
      out.set(x.subarray(src, src + inner), (o * nIdx + j) * inner);
    }
  }
  return out;
}

export function scatterAdd(g: TypedArray, outer: number, n: number, inner: number, idx: TypedArray, nIdx: number, dtype: DType): TypedArray {
  const out = allocate(dtype, outer * n * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < nIdx; j++) {
      const dst = (o * n + idx[j]!) * inner;
      const src = (o * nIdx + j) * inner;
      for (let i = 0; i < inner; i++) out[dst + i]! += g[src + i]!;
    }
  }
  return out;
}
