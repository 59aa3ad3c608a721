import type { CpuKernel } from '../backend.js';
import type { DType } from '../../dtype.js';
import * as reference from '../reference/nn.js';
import { simdArena } from './wasm/arena.js';

/** The SIMD arena for a float32 softmax over contiguous rows whose length is a multiple of 4, else null. */
function rowsSimd(log: boolean, inner: number, n: number, dtype: DType) {
  return !log && inner === 1 && n % 4 === 0 && dtype === 'float32' ? simdArena() : null;
}

/** Softmax over contiguous float32 rows of whole vectors in WebAssembly SIMD (the attention kernel's row softmax, scale 1). */
export const softmax: CpuKernel<'softmax'> = (x, outer, n, inner, log, dtype) => {
  const arena = rowsSimd(log, inner, n, dtype);
  if (arena !== null) {
    const [X, Y] = arena.layout(outer * n, outer * n);
    arena.put(x as Float32Array, X!);
    arena.kernels.softmaxRows!(X!, n, outer, n, 1, Y!);
    return arena.take(Y!, outer * n);
  }
  return reference.softmax(x, outer, n, inner, log, dtype);
};

export const softmaxBackward: CpuKernel<'softmaxBackward'> = (y, g, outer, n, inner, log, dtype) => {
  const arena = rowsSimd(log, inner, n, dtype);
  if (arena !== null) {
    const [Y, G] = arena.layout(outer * n, outer * n);
    arena.put(y as Float32Array, Y!);
    arena.put(g as Float32Array, G!);
    arena.kernels.softmaxGradRows!(Y!, G!, n, outer, n, 1);
    return arena.take(G!, outer * n);
  }
  return reference.softmaxBackward(y, g, outer, n, inner, log, dtype);
};

/** Layer norm of float32 rows whose length is a multiple of 4 in WebAssembly SIMD. */
export const layerNorm: CpuKernel<'layerNorm'> = (x, w, b, rows, d, eps, dtype) => {
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
  return reference.layerNorm(x, w, b, rows, d, eps, dtype);
};

export const layerNormBackward: CpuKernel<'layerNormBackward'> = (g, x, w, mean, rstd, rows, d, dtype) => {
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
  return reference.layerNormBackward(g, x, w, mean, rstd, rows, d, dtype);
};
