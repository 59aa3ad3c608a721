import { extend, type DType, type TypedArray } from '@ggem/tensor';
import type { TypedArrayGem } from './index.js';

/**
 * GeM / GGeM in the scaled form that cannot overflow or underflow. Per column (b, c) with
 * p = p[g(c)], xc = max(x, eps), M = max_t xc and r = xc / M ∈ (0, 1]:
 *   m' = mean_t r^p ∈ [1/N, 1],   y = M · m'^(1/p)
 *   ∂y/∂x_t = (1/N) · r_t^(p−1) · m'^((1−p)/p) = kx · r_t^p / xc_t   (0 where x < eps)
 *   ∂y/∂p   = (y/p) · (T/m' − ln(m')/p),   T = mean_t r^p · ln r
 * which is SPEC §1's ∂y/∂p = y·(S/(pΣ) − ln m/p²) with M^p cancelled. No power of M or of
 * eps appears, so p = 200 and a column clamped everywhere (y = eps, ∂y/∂p = 0) are exact.
 * The forward keeps r^p ([B, N', C], in the input's dtype) and two numbers per column; the backward
 * then needs no transcendental function. Column sums accumulate in float64.
 *
 * This is the reference backend's kernel, in TypeScript; the CPU backend's WebAssembly SIMD
 * kernel (./cpu.ts) shares its state (GemSaved) and its last step (`finish`).
 */

export interface GemSaved {
  x: TypedArray;
  b: number;
  n: number;
  c: number;
  start: number;
  groups: number;
  eps: number;
  /** r^p for every pooled entry, in the input's dtype (null when the SIMD kernel keeps it in its memory). */
  rp: Float32Array | Float64Array | null;
  /** p per channel. */
  p: Float64Array;
  kx: Float64Array;
  dydp: Float64Array;
}

export function channelP(pg: TypedArray, c: number, groups: number): Float64Array {
  const per = Math.ceil(c / groups);
  return Float64Array.from({ length: c }, (_, j) => pg[Math.floor(j / per)]!);
}

/** y, kx and ∂y/∂p of image bi from its column max M and sums s = Σ r^p, T = Σ r^p ln r. */
export function finish(
  bi: number,
  c: number,
  tokens: number,
  p: Float64Array,
  M: ArrayLike<number>,
  s: ArrayLike<number>,
  T: ArrayLike<number>,
  y: TypedArray,
  kx: Float64Array,
  dydp: Float64Array,
): void {
  for (let j = 0; j < c; j++) {
    const pj = p[j]!;
    const m = s[j]! / tokens;
    const yj = M[j]! * Math.pow(m, 1 / pj);
    y[bi * c + j] = yj;
    kx[bi * c + j] = (M[j]! * Math.pow(m, (1 - pj) / pj)) / tokens;
    dydp[bi * c + j] = (yj / pj) * (T[j]! / tokens / m - Math.log(m) / pj);
  }
}

/** A forward's outputs and state, and what fills them image by image from the column sums (shared with the SIMD kernel). */
export function gemState(x: TypedArray, b: number, n: number, c: number, start: number, pg: TypedArray, groups: number, eps: number, dtype: DType) {
  const p = channelP(pg, c, groups);
  const y = extend.allocate(dtype, b * c);
  const kx = new Float64Array(b * c);
  const dydp = new Float64Array(b * c);
  const saved: GemSaved = { x, b, n, c, start, groups, eps, rp: null, p, kx, dydp };
  const each: PerImage = (bi, M, s, T) => finish(bi, c, n - start, p, M, s, T, y, kx, dydp);
  return { y, saved, each };
}

export const gem: TypedArrayGem = (x, b, n, c, start, pg, groups, eps, dtype) => {
  const { y, saved, each } = gemState(x, b, n, c, start, pg, groups, eps, dtype);
  saved.rp = forward(saved, each);
  return { y, saved };
};

/** What the forward hands each image: its column max M and sums s = Σ r^p, T = Σ r^p ln r. */
export type PerImage = (bi: number, M: ArrayLike<number>, s: ArrayLike<number>, T: ArrayLike<number>) => void;

/** The forward: returns r^p (in x's dtype), the column sums of each image to `each`. */
function forward(saved: GemSaved, each: PerImage): Float32Array | Float64Array {
  const { x, b, n, c, start, eps, p } = saved;
  const tokens = n - start;
  const rp = x instanceof Float64Array ? new Float64Array(b * tokens * c) : new Float32Array(b * tokens * c);
  const M = new Float64Array(c);
  const s = new Float64Array(c);
  const T = new Float64Array(c);
  for (let bi = 0; bi < b; bi++) {
    const xb = bi * n * c;
    M.fill(eps);
    for (let t = start; t < n; t++) for (let j = 0; j < c; j++) M[j] = Math.max(M[j]!, x[xb + t * c + j]!);
    s.fill(0);
    T.fill(0);
    for (let t = start; t < n; t++) {
      const row = xb + t * c;
      const out = (bi * tokens + t - start) * c;
      for (let j = 0; j < c; j++) {
        const v = x[row + j]!;
        const lr = Math.log((v > eps ? v : eps) / M[j]!);
        const e = Math.exp(p[j]! * lr);
        rp[out + j] = e;
        s[j]! += e;
        T[j]! += e * lr;
      }
    }
    each(bi, M, s, T);
  }
  return rp;
}

/**
 * gx[b,t,c] = gy[b,c] · kx[b,c] · r^p / xc   (= gy · (1/N) r^(p−1) m'^((1−p)/p)),
 * gp[g] = Σ_b Σ_{c ∈ g} gy[b,c] · ∂y/∂p[b,c], summed in float64.
 */
export function gemBackward(state: unknown, gy: TypedArray, dtype: DType): { gx: TypedArray; gp: TypedArray } {
  const saved = state as GemSaved;
  const { x, b, n, c, start, groups, eps, kx, dydp } = saved;
  const tokens = n - start;
  const gx = extend.allocate(dtype, b * n * c);
  const rp = saved.rp!;
  const k = new Float64Array(c);
  for (let bi = 0; bi < b; bi++) {
    for (let j = 0; j < c; j++) k[j] = gy[bi * c + j]! * kx[bi * c + j]!;
    for (let t = start; t < n; t++) {
      const row = (bi * n + t) * c;
      const r = (bi * tokens + t - start) * c;
      for (let j = 0; j < c; j++) {
        const v = x[row + j]!;
        gx[row + j] = v >= eps ? (k[j]! * rp[r + j]!) / v : 0;
      }
    }
  }
  return { gx, gp: groupSums(gy, dydp, b, c, groups, dtype) };
}

/** gp[g] = Σ_b Σ_{c ∈ g} gy[b,c] · ∂y/∂p[b,c], summed in float64. */
export function groupSums(gy: TypedArray, dydp: Float64Array, b: number, c: number, groups: number, dtype: DType): TypedArray {
  const per = Math.ceil(c / groups);
  const gp = new Float64Array(groups);
  for (let bi = 0; bi < b; bi++) for (let j = 0; j < c; j++) gp[Math.floor(j / per)]! += gy[bi * c + j]! * dydp[bi * c + j]!;
  const out = extend.allocate(dtype, groups);
  out.set(gp);
  return out;
}
