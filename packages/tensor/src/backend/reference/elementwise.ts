import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import { broadcastStrides, sameShape, sizeOf, type Shape } from '../../shape.js';
import { binaryTable, type BinaryOp } from '../../ops/tables/binary.js';
import { unaryTable, type UnaryOp } from '../../ops/tables/unary.js';

/** The reference kernel of a unary op of the table (its float64-accurate variant for float64 storage). */
export function unaryFn(op: UnaryOp, dtype: DType): (x: number) => number {
  const def = unaryTable[op];
  return dtype === 'float64' && def.f64 !== undefined ? def.f64 : def.f;
}

export function unary(op: UnaryOp, x: TypedArray, size: number, dtype: DType): TypedArray {
  const out = allocate(dtype, size);
  // the hottest ops get loops of their own, without a function call per element
  switch (op) {
    case 'neg':
      for (let i = 0; i < size; i++) out[i] = -x[i]!;
      break;
    case 'exp':
      for (let i = 0; i < size; i++) out[i] = Math.exp(x[i]!);
      break;
    case 'relu':
      for (let i = 0; i < size; i++) out[i] = x[i]! > 0 ? x[i]! : 0;
      break;
    default: {
      const f = unaryFn(op, dtype);
      for (let i = 0; i < size; i++) out[i] = f(x[i]!);
    }
  }
  return out;
}

/** g·f′(x) for the ops whose table entry has a pointwise derivative. */
export function unaryGrad(op: UnaryOp, x: TypedArray, g: TypedArray, size: number, dtype: DType): TypedArray {
  const df = unaryTable[op].df;
  if (df === undefined) throw new Error(`unaryGrad: ${op} has no pointwise derivative in the unary table`);
  const f = dtype === 'float64' && df.f64 !== undefined ? df.f64 : df.f;
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) out[i] = g[i]! * f(x[i]!);
  return out;
}

/**
 * Broadcasting binary op. Dims are first merged where both inputs stay contiguous, so the
 * inner loop runs over the longest stretch it can; the common shapes (same shape, scalar,
 * row vector) get loops without a function call per element.
 */
export function binary(op: BinaryOp, a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, outShape: Shape, dtype: DType): TypedArray {
  const size = sizeOf(outShape);
  if (size === 0) return allocate(dtype, 0);
  if (sameShape(aShape, bShape)) {
    const out = allocate(dtype, size, false);
    flat(op, a, 0, 1, b, 0, 1, out, 0, size);
    return out;
  }
  const out = allocate(dtype, size, false);
  const [shape, sa, sb] = collapse(outShape, broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape));
  const rank = shape.length;
  const n = shape[rank - 1]!;
  const ia = sa[rank - 1]!;
  const ib = sb[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < size; o += n) {
    flat(op, a, ao, ia, b, bo, ib, out, o, n);
    // advance the outer index (odometer over all dims but the last)
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += sa[d]!;
      bo += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ao -= sa[d]! * shape[d]!;
      bo -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function flat(op: BinaryOp, a: TypedArray, ai: number, sa: number, b: TypedArray, bi: number, sb: number, out: TypedArray, oi: number, n: number): void {
  const end = oi + n;
  switch (op) {
    case 'add':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! + b[bi]!;
      return;
    case 'sub':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! - b[bi]!;
      return;
    case 'mul':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! * b[bi]!;
      return;
    case 'div':
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = a[ai]! / b[bi]!;
      return;
    default: {
      const f = binaryTable[op].f;
      for (let o = oi; o < end; o++, ai += sa, bi += sb) out[o] = f(a[ai]!, b[bi]!);
    }
  }
}

/** Merges adjacent dims that are contiguous in the output and in both inputs. */
function collapse(shape: Shape, sa: number[], sb: number[]): [number[], number[], number[]] {
  const s: number[] = [];
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!;
    if (d === 1) continue;
    const last = s.length - 1;
    if (last >= 0 && a[last] === sa[i]! * d && b[last] === sb[i]! * d) {
      s[last]! *= d;
      a[last] = sa[i]!;
      b[last] = sb[i]!;
    } else {
      s.push(d);
      a.push(sa[i]!);
      b.push(sb[i]!);
    }
  }
  if (s.length === 0) return [[1], [0], [0]];
  return [s, a, b];
}

export function where(cond: TypedArray, cShape: Shape, a: TypedArray, aShape: Shape, b: TypedArray, bShape: Shape, outShape: Shape, dtype: DType): TypedArray {
  const size = sizeOf(outShape);
  const out = allocate(dtype, size);
  const rank = outShape.length;
  const sc = broadcastStrides(cShape, outShape);
  const sa = broadcastStrides(aShape, outShape);
  const sb = broadcastStrides(bShape, outShape);
  const idx = new Array<number>(rank).fill(0);
  let ci = 0;
  let ai = 0;
  let bi = 0;
  for (let o = 0; o < size; o++) {
    out[o] = cond[ci] !== 0 ? a[ai]! : b[bi]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      ci += sc[d]!;
      ai += sa[d]!;
      bi += sb[d]!;
      if (idx[d]! < outShape[d]!) break;
      ci -= sc[d]! * outShape[d]!;
      ai -= sa[d]! * outShape[d]!;
      bi -= sb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

export function clamp(x: TypedArray, size: number, lo: number, hi: number, dtype: DType): TypedArray {
  const out = allocate(dtype, size);
  for (let i = 0; i < size; i++) {
    const v = x[i]!;
    out[i] = v < lo ? lo : v > hi ? hi : v;
  }
  return out;
}
