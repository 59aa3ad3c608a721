import type { DType, TypedArray } from '../../dtype.js';
import { allocate } from './pool.js';
import { simdArena } from './wasm/arena.js';
import type { LayerNormGrads, LayerNormResult } from '../backend.js';

/**
 * Softmax along the middle axis, shifted by the max so that inputs of 1e4 do not overflow.
 * Each exp is computed once: stored, summed, then scaled (or replaced by x − lse for log).
 */
export function softmax(x: TypedArray, outer: number, n: number, inner: number, log: boolean, dtype: DType): TypedArray {
  const arena = rowsSimd(log, inner, n, dtype);
  if (arena !== null) {
    // contiguous rows of whole vectors: the attention kernel's row softmax (scale 1)
    const [X, Y] = arena.layout(outer * n, outer * n);
    arena.put(x as Float32Array, X!);
    arena.kernels.softmaxRows!(X!, n, outer, n, 1, Y!);
    return arena.take(Y!, outer * n);
  }
  const out = allocate(dtype, x.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const end = base + n * inner;
      let m = -Infinity;
      for (let k = base; k < end; k += inner) m = Math.max(m, x[k]!);
      let s = 0;
      for (let k = base; k < end; k += inner) {
        const e = Math.exp(x[k]! - m);
        out[k] = e;
        s += e;
      }
      if (log) {
        const lse = m + Math.log(s);
        for (let k = base; k < end; k += inner) out[k] = x[k]! - lse;
      } else {
        const r = 1 / s;
        for (let k = base; k < end; k += inner) out[k] = out[k]! * r;
      }
    }
  }
  return out;
}

/**
 * softmax: dx = y ⊙ (g − Σ g⊙y);  log-softmax: dx = g − softmax(x) · Σ g, with softmax = exp(y).
 */
export function softmaxBackward(y: TypedArray, g: TypedArray, outer: number, n: number, inner: number, log: boolean, dtype: DType): TypedArray {
  const arena = rowsSimd(log, inner, n, dtype);
  if (arena !== null) {
    const [Y, G] = arena.layout(outer * n, outer * n);
    arena.put(y as Float32Array, Y!);
    arena.put(g as Float32Array, G!);
    arena.kernels.softmaxGradRows!(Y!, G!, n, outer, n, 1);
    return arena.take(G!, outer * n);
  }
  const out = allocate(dtype, y.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let s = 0;
      if (log) {
        for (let j = 0; j < n; j++) s += g[base + j * inner]!;
        for (let j = 0; j < n; j++) {
          const k = base + j * inner;
          out[k] = g[k]! - Math.exp(y[k]!) * s;
        }
      } else {
        for (let j = 0; j < n; j++) s += g[base + j * inner]! * y[base + j * inner]!;
        for (let j = 0; j < n; j++) {
          const k = base + j * inner;
          out[k] = y[k]! * (g[k]! - s);
        }
      }
    }
  }
  return out;
}

/** The SIMD arena for a float32 softmax over contiguous rows whose length is a multiple of 4, else null. */
function rowsSimd(log: boolean, inner: number, n: number, dtype: DType) {
  return !log && inner === 1 && n % 4 === 0 && dtype === 'float32' ? simdArena() : null;
}

/** y = (x − mean) / sqrt(var + eps) · w + b over rows of length d (biased variance, as PyTorch). */
export function layerNorm(x: TypedArray, w: TypedArray | null, b: TypedArray | null, rows: number, d: number, eps: number, dtype: DType): LayerNormResult<TypedArray> {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena !== null) {
    const [X, W, B, Y, MEAN, RSTD] = arena.layout(rows * d, d, d, rows * d, rows, rows);
    arena.put(x as Float32Array, X!);
    arena.f32.fill(1, W! >> 2, (W! >> 2) + d);
    arena.f32.fill(0, B! >> 2, (B! >> 2) + d);
    if (w !== null) arena.put(w as Float32Array, W!);
    if (b !== null) arena.put(b as Float32Array, B!);
    arena.kernels.layerNormForward!(X!, W!, B!, Y!, MEAN!, RSTD!, rows, d, eps);
    return { y: arena.take(Y!, rows * d), mean: arena.take(MEAN!, rows), rstd: arena.take(RSTD!, rows) };
  }
  const y = allocate(dtype, rows * d);
  const mean = allocate(dtype, rows);
  const rstd = allocate(dtype, rows);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += x[base + j]!;
    const mu = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) {
      const c = x[base + j]! - mu;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      y[base + j] = w === null ? xh : b === null ? xh * w[j]! : xh * w[j]! + b[j]!;
    }
  }
  return { y, mean, rstd };
}

/**
 * With x̂ = (x − μ)·rstd and ĝ = g ⊙ w:
 * dx = rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)),  dw = Σ_rows g ⊙ x̂,  db = Σ_rows g.
 * The μ and rstd used are the ones the forward computed (read back from its storage).
 */
export function layerNormBackward(g: TypedArray, x: TypedArray, w: TypedArray | null, mean: TypedArray, rstd: TypedArray, rows: number, d: number, dtype: DType): LayerNormGrads<TypedArray> {
  const arena = dtype === 'float32' && d % 4 === 0 ? simdArena() : null;
  if (arena !== null) {
    const [G, X, W, MEAN, RSTD, GX, GW, GB] = arena.layout(rows * d, rows * d, d, rows, rows, rows * d, 2 * d, 2 * d);
    arena.put(g as Float32Array, G!);
    arena.put(x as Float32Array, X!);
    if (w !== null) arena.put(w as Float32Array, W!);
    else arena.f32.fill(1, W! >> 2, (W! >> 2) + d);
    arena.put(mean as Float32Array, MEAN!);
    arena.put(rstd as Float32Array, RSTD!);
    arena.zeroF64(GW!, d);
    arena.zeroF64(GB!, d);
    arena.kernels.layerNormBackward!(G!, X!, W!, MEAN!, RSTD!, GX!, GW!, GB!, rows, d);
    return { gx: arena.take(GX!, rows * d), gw: arena.takeF64(GW!, d, 'float32'), gb: arena.takeF64(GB!, d, 'float32') };
  }
  const gx = allocate(dtype, rows * d);
  const gw = new Float64Array(d);
  const gb = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const base = r * d;
    const mu = mean[r]!;
    const rs = rstd[r]!;
    let sg = 0;
    let sgx = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const gj = g[base + j]!;
      const gh = w === null ? gj : gj * w[j]!;
      sg += gh;
      sgx += gh * xh;
      gw[j]! += gj * xh;
      gb[j]! += gj;
    }
    sg /= d;
    sgx /= d;
    for (let j = 0; j < d; j++) {
      const xh = (x[base + j]! - mu) * rs;
      const gh = w === null ? g[base + j]! : g[base + j]! * w[j]!;
      gx[base + j] = rs * (gh - sg - xh * sgx);
    }
  }
  const cw = allocate(dtype, d);
  const cb = allocate(dtype, d);
  cw.set(gw);
  cb.set(gb);
  return { gx, gw: cw, gb: cb };
}
