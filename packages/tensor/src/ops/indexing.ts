/**
 * Indexing by tensors of indices: gather, scatter and scatter-add with an axis (PyTorch's semantics),
 * sort, argsort and top-k. Each is built on the flat gather of the backend (indexSelect of a
 * flattened tensor), whose gradient is a scatter-add, so their gradients come for free.
 */
import { record } from '../autograd/engine.js';
import { fmt, normAxis, sizeOf, stridesOf } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { indexSelect } from './movement.js';
import { constant } from './primitive.js';

/** The flat positions in a tensor of `shape` of `index` (shape `iShape`) read along `axis`. */
function flatPositions(op: string, shape: readonly number[], axis: number, index: Tensor): number[] {
  if (index.dtype !== 'int32') throw new Error(`${op}: the index must be an int32 tensor, got ${index.dtype}`);
  if (index.rank !== shape.length) throw new Error(`${op}: the index has rank ${index.rank} but the input has rank ${shape.length} (shape ${fmt(shape)})`);
  index.shape.forEach((d, i) => {
    if (i !== axis && d > shape[i]!) throw new Error(`${op}: index shape ${fmt(index.shape)} exceeds the input ${fmt(shape)} outside axis ${axis}`);
  });
  const st = stridesOf(shape);
  const ist = stridesOf(index.shape);
  const idx = index.data;
  const out = new Array<number>(idx.length);
  for (let k = 0; k < idx.length; k++) {
    const v = idx[k]!;
    if (v < 0 || v >= shape[axis]!) throw new Error(`${op}: index ${v} is out of range for dim ${axis} of size ${shape[axis]} (shape ${fmt(shape)})`);
    let pos = 0;
    let rest = k;
    for (let i = 0; i < ist.length; i++) {
      const c = Math.floor(rest / ist[i]!);
      rest -= c * ist[i]!;
      pos += (i === axis ? v : c) * st[i]!;
    }
    out[k] = pos;
  }
  return out;
}

/** out[i][j][k] = x[i][index[i][j][k]][k] for axis 1 (and so on): PyTorch's gather. The gradient scatter-adds back. */
export function gather(x: Tensor, axis: number, index: Tensor): Tensor {
  const a = normAxis('gather', axis, x.rank);
  const pos = flatPositions('gather', x.shape, a, index);
  return indexSelect(x.reshape([x.size]), 0, pos).reshape(index.shape);
}

/** x with src added at the positions index names along `axis`: out[i][index[i][j]] += src[i][j] (axis 1); PyTorch's scatter_add. */
export function scatterAdd(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const a = normAxis('scatterAdd', axis, x.rank);
  if (src.rank !== index.rank || index.shape.some((d, i) => d > src.shape[i]!))
    throw new Error(`scatterAdd: src ${fmt(src.shape)} must cover the index ${fmt(index.shape)}`);
  const pos = flatPositions('scatterAdd', x.shape, a, index);
  const s = src.shape.every((d, i) => d === index.shape[i]) ? src : src.slice(index.shape.map((d) => [0, d] as const));
  return x.add(putAdd(s.reshape([pos.length]), pos, x.size).reshape(x.shape));
}

/**
 * x with src written at the positions index names along `axis`: out[i][index[i][j]] = src[i][j]
 * (axis 1); PyTorch's scatter. Every position may be written once (PyTorch leaves the
 * result of a repeat undefined; here it is an error naming the position). As x's entries
 * where nothing is written, plus src scattered: ∂/∂x is g where nothing is written, 0 where
 * src is; ∂/∂src gathers g.
 */
export function scatter(x: Tensor, axis: number, index: Tensor, src: Tensor): Tensor {
  const a = normAxis('scatter', axis, x.rank);
  if (src.rank !== index.rank || index.shape.some((d, i) => d > src.shape[i]!))
    throw new Error(`scatter: src ${fmt(src.shape)} must cover the index ${fmt(index.shape)}`);
  const pos = flatPositions('scatter', x.shape, a, index);
  const written = new Uint8Array(x.size);
  for (const [k, p] of pos.entries()) {
    if (written[p] === 1) throw new Error(`scatter: index entry ${k} writes flat position ${p} of ${fmt(x.shape)} a second time; use scatterAdd to sum`);
    written[p] = 1;
  }
  const s = src.shape.every((d, i) => d === index.shape[i]) ? src : src.slice(index.shape.map((d) => [0, d] as const));
  const keep = constant(
    x,
    Array.from(written, (w) => 1 - w),
    x.shape,
    x.dtype,
  );
  return x.mul(keep).add(putAdd(s.reshape([pos.length]), pos, x.size).reshape(x.shape));
}

/** Zeros of `size` with src[j] added at pos[j] (the backend's scatter-add); its gradient gathers back: d src[j] = g[pos[j]]. */
function putAdd(src: Tensor, pos: number[], size: number): Tensor {
  const idx = constant(src, pos, [pos.length], 'int32');
  const out = src.withStorage(src.backend.scatterAdd(src.storage, 1, size, 1, idx.storage, pos.length, src.dtype), [size]);
  return record(out, 'scatterAdd', [src], (g) => [indexSelect(g, 0, idx)]);
}

/** The indices that sort `x` along `axis` (ascending, or descending), stable: ties keep their order. */
export function argsort(x: Tensor, axis = -1, descending = false): Tensor {
  const a = normAxis('argsort', axis, x.rank);
  const n = x.shape[a]!;
  const inner = sizeOf(x.shape.slice(a + 1));
  const outer = sizeOf(x.shape.slice(0, a));
  const d = x.data;
  const out = new Int32Array(x.size);
  const order = new Array<number>(n);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let j = 0; j < n; j++) order[j] = j;
      // NaN sorts last, as PyTorch
      const key = (j: number) => d[base + j * inner]!;
      order.sort((p, q) => {
        const [u, v] = [key(p), key(q)];
        if (Number.isNaN(u) || Number.isNaN(v)) return Number.isNaN(u) ? (Number.isNaN(v) ? p - q : 1) : -1;
        return (descending ? v - u : u - v) || p - q;
      });
      for (let j = 0; j < n; j++) out[base + j * inner] = order[j]!;
    }
  }
  return constant(x, out, x.shape, 'int32');
}

/** The values of `x` sorted along `axis` and the indices they came from; the gradient goes back to those positions. */
export function sort(x: Tensor, axis = -1, descending = false): { values: Tensor; indices: Tensor } {
  const indices = argsort(x, axis, descending);
  return { values: gather(x, axis, indices), indices };
}

/** The k largest (or, with `largest` false, smallest) values along `axis`, sorted, and their indices. */
export function topk(x: Tensor, k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
  const a = normAxis('topk', axis, x.rank);
  if (!Number.isInteger(k) || k < 0 || k > x.shape[a]!) throw new Error(`topk: k = ${k} is not in [0, ${x.shape[a]}] for dim ${a} of shape ${fmt(x.shape)}`);
  const indices = argsort(x, a, largest).narrow(a, 0, k);
  return { values: gather(x, a, indices), indices };
}
