import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import type { GemResult } from '../backend.js';
import { features } from './wasm/features.js';
import { gemModule } from './wasm/gem-kernel.js';

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
 * Two implementations: WebAssembly SIMD (float32, C a multiple of 4: vectorised exp and
 * log over 4 channels) and plain TypeScript (the reference, and every other case).
 */

interface GemSaved {
  x: TypedArray;
  b: number;
  n: number;
  c: number;
  start: number;
  groups: number;
  eps: number;
  /** r^p for every pooled entry, in the input's dtype (null when the SIMD kernel computed it in its memory). */
  rp: Float32Array | Float64Array | null;
  /** p per channel. */
  p: Float64Array;
  kx: Float64Array;
  dydp: Float64Array;
}

const PAGE = 65536;

let simd: { memory: WebAssembly.Memory; forward: (...a: number[]) => void; backward: (...a: number[]) => void } | null | undefined;
let useSimd = true;
/**
 * The forward whose x and r^p are in the SIMD kernel's memory: a forward is usually
 * followed by its own backward, which then reads them in place. Another forward overwrites
 * them; a backward that finds its forward gone (a second backward through a kept graph,
 * or two poolings interleaved) computes r^p again from x, which the forward keeps.
 */
let resident: GemSaved | null = null;

/** Chooses the WebAssembly SIMD kernels (default, where available) or the TypeScript reference. */
export function setGemSimd(on: boolean): void {
  useSimd = on;
}

function wasm(): typeof simd {
  if (simd === undefined) {
    if (!features.simd) simd = null;
    else {
      const memory = new WebAssembly.Memory({ initial: 16, maximum: 65536 });
      const ex = new WebAssembly.Instance(new WebAssembly.Module(gemModule()), { env: { memory } }).exports;
      simd = { memory, forward: ex.gemForward as (...a: number[]) => void, backward: ex.gemBackward as (...a: number[]) => void };
    }
  }
  return simd;
}

function ensure(memory: WebAssembly.Memory, bytes: number): void {
  if (bytes > memory.buffer.byteLength) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / PAGE));
}

function simdFor(dtype: DType, c: number): NonNullable<typeof simd> | null {
  return useSimd && dtype === 'float32' && c % 4 === 0 ? (wasm() ?? null) : null;
}

function channelP(pg: TypedArray, c: number, groups: number): Float64Array {
  const per = Math.ceil(c / groups);
  return Float64Array.from({ length: c }, (_, j) => pg[Math.floor(j / per)]!);
}

/** y, kx and ∂y/∂p of image bi from its column max M and sums s = Σ r^p, T = Σ r^p ln r. */
function finish(bi: number, c: number, tokens: number, p: Float64Array, M: ArrayLike<number>, s: ArrayLike<number>, T: ArrayLike<number>, y: TypedArray, kx: Float64Array, dydp: Float64Array): void {
  for (let j = 0; j < c; j++) {
    const pj = p[j]!;
    const m = s[j]! / tokens;
    const yj = M[j]! * Math.pow(m, 1 / pj);
    y[bi * c + j] = yj;
    kx[bi * c + j] = (M[j]! * Math.pow(m, (1 - pj) / pj)) / tokens;
    dydp[bi * c + j] = (yj / pj) * (T[j]! / tokens / m - Math.log(m) / pj);
  }
}

export function gem(x: TypedArray, b: number, n: number, c: number, start: number, pg: TypedArray, groups: number, eps: number, dtype: DType): GemResult<TypedArray> {
  const tokens = n - start;
  const p = channelP(pg, c, groups);
  const y = allocate(dtype, b * c);
  const kx = new Float64Array(b * c);
  const dydp = new Float64Array(b * c);
  const saved: GemSaved = { x, b, n, c, start, groups, eps, rp: null, p, kx, dydp };
  const k = simdFor(dtype, c);
  if (k !== null) simdForward(k, saved, (bi, M, s, T) => finish(bi, c, tokens, p, M, s, T, y, kx, dydp));
  else saved.rp = referenceForward(saved, (bi, M, s, T) => finish(bi, c, tokens, p, M, s, T, y, kx, dydp));
  return { y, saved };
}

type PerImage = (bi: number, M: ArrayLike<number>, s: ArrayLike<number>, T: ArrayLike<number>) => void;

/** The SIMD forward: x and r^p into the kernel's memory, the column sums of each image to `each`. */
function simdForward(k: NonNullable<typeof simd>, saved: GemSaved, each: PerImage): void {
  const { x, b, n, c, start, eps, p } = saved;
  const tokens = n - start;
  const { pp, mp, sp, tp, rpp } = layout(b, n, c, start);
  ensure(k.memory, rpp + b * tokens * c * 4);
  const buf = k.memory.buffer;
  new Float32Array(buf, 0, b * n * c).set(x);
  new Float32Array(buf, pp, c).set(p);
  const M = new Float32Array(buf, mp, c);
  const s = new Float64Array(buf, sp, c);
  const T = new Float64Array(buf, tp, c);
  for (let bi = 0; bi < b; bi++) {
    k.forward(bi * n * c * 4, n, c, start, pp, eps, mp, rpp + bi * tokens * c * 4, sp, tp);
    each(bi, M, s, T);
  }
  resident = saved;
}

/** The reference forward: returns r^p (in x's dtype), the column sums of each image to `each`. */
function referenceForward(saved: GemSaved, each: PerImage): Float32Array | Float64Array {
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

/** Byte offsets in the SIMD kernel's memory: x, p per channel, M, s, T, r^p, then backward's k and gx. */
function layout(b: number, n: number, c: number, start: number) {
  const pp = b * n * c * 4;
  const mp = pp + c * 4;
  const sp = mp + c * 4;
  const tp = sp + c * 8;
  const rpp = tp + c * 8;
  const kp = rpp + b * (n - start) * c * 4;
  const gxp = kp + b * c * 4;
  return { pp, mp, sp, tp, rpp, kp, gxp, end: gxp + b * n * c * 4 };
}

/**
 * gx[b,t,c] = gy[b,c] · kx[b,c] · r^p / xc   (= gy · (1/N) r^(p−1) m'^((1−p)/p)),
 * gp[g] = Σ_b Σ_{c ∈ g} gy[b,c] · ∂y/∂p[b,c], summed in float64.
 */
export function gemBackward(state: unknown, gy: TypedArray, dtype: DType): { gx: TypedArray; gp: TypedArray } {
  const saved = state as GemSaved;
  const { x, b, n, c, start, groups, eps, kx, dydp } = saved;
  const tokens = n - start;
  const gx = allocate(dtype, b * n * c);
  const kw = simdFor(dtype, c);
  if (kw !== null) {
    const { rpp, kp, gxp, end } = layout(b, n, c, start);
    ensure(kw.memory, end);
    if (resident !== saved) {
      // another forward ran since (or this one ran on the reference): x and r^p into the memory again
      if (saved.rp === null) simdForward(kw, saved, () => {});
      else {
        new Float32Array(kw.memory.buffer, 0, b * n * c).set(x);
        new Float32Array(kw.memory.buffer, rpp, b * tokens * c).set(saved.rp);
        resident = saved;
      }
    }
    const buf = kw.memory.buffer;
    const kv = new Float32Array(buf, kp, b * c);
    for (let i = 0; i < b * c; i++) kv[i] = gy[i]! * kx[i]!;
    for (let bi = 0; bi < b; bi++) kw.backward(bi * n * c * 4, rpp + bi * tokens * c * 4, kp + bi * c * 4, gxp + bi * n * c * 4, n, c, start, eps);
    const out = new Float32Array(buf, gxp, b * n * c);
    for (let bi = 0; bi < b; bi++) gx.set(out.subarray((bi * n + start) * c, (bi + 1) * n * c), (bi * n + start) * c);
  } else {
    // r^p computed by the SIMD kernel: read in its memory, after computing it again there if it was overwritten
    let rp = saved.rp;
    if (rp === null) {
      const k = wasm()!;
      if (resident !== saved) simdForward(k, saved, () => {});
      rp = new Float32Array(k.memory.buffer, layout(b, n, c, start).rpp, b * tokens * c);
    }
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
  }
  const per = Math.ceil(c / groups);
  const gp = new Float64Array(groups);
  for (let bi = 0; bi < b; bi++) for (let j = 0; j < c; j++) gp[Math.floor(j / per)]! += gy[bi * c + j]! * dydp[bi * c + j]!;
  const out = allocate(dtype, groups);
  out.set(gp);
  return { gx, gp: out };
}
