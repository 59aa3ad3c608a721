import { allocate, type DType, type TypedArray } from '../../dtype.js';
import { sizeOf, type Shape } from '../../shape.js';
import type { View } from '../backend.js';

/** Calls `f(src, dst)` for every element of a strided view, in row-major order of its shape. */
function walk(view: View, f: (src: number, dst: number) => void): void {
  const { shape, strides } = view;
  const size = sizeOf(shape);
  const rank = shape.length;
  if (size === 0) return;
  if (rank === 0) {
    f(view.offset, 0);
    return;
  }
  const n = shape[rank - 1]!;
  const s = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let src = view.offset;
  for (let dst = 0; dst < size; dst += n) {
    for (let j = 0, p = src; j < n; j++, p += s) f(p, dst + j);
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
  walk(view, (src, dst) => {
    out[dst] = x[src]!;
  });
  return out;
}

export function stridedAdjoint(x: TypedArray, view: View, outShape: Shape, dtype: DType): TypedArray {
  const out = allocate(dtype, sizeOf(outShape));
  walk(view, (dst, src) => {
    out[dst]! += x[src]!;
  });
  return out;
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
