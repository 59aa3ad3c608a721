import type { CpuKernel } from '../backend.js';
import type { DType } from '../../dtype.js';
import * as reference from '../reference/nn.js';
import { simdEngine } from './engine.js';

/**
 * Layer norm's cost of a float in multiply-adds of the gemm's time, for the threading
 * threshold: 0.47–0.57 ns a float on one core (rows of 384) against 0.043–0.046 ns a
 * multiply-add of the 256³ product, measured side by side.
 */
const LAYER_NORM_MACS = 12;

/** The SIMD engine for a float32 softmax over contiguous rows whose length is a multiple of 4, else null. */
function rowsSimd(log: boolean, inner: number, n: number, dtype: DType) {
  return !log && inner === 1 && n % 4 === 0 && dtype === 'float32' ? simdEngine() : null;
}

/** Softmax over contiguous float32 rows of whole vectors in WebAssembly SIMD (the attention kernel's row softmax, scale 1). */
export const softmax: CpuKernel<'softmax'> = (x, outer, n, inner, log, dtype) => {
  const engine = rowsSimd(log, inner, n, dtype);
  if (engine !== null) {
    const [X, Y] = engine.layout(outer * n, outer * n);
    engine.put(x as Float32Array, X!);
    engine.kernels.softmaxRows!(X!, n, outer, n, 1, Y!);
    return engine.take(Y!, outer * n);
  }
  return reference.softmax(x, outer, n, inner, log, dtype);
};

export const softmaxBackward: CpuKernel<'softmaxBackward'> = (y, g, outer, n, inner, log, dtype) => {
  const engine = rowsSimd(log, inner, n, dtype);
  if (engine !== null) {
    const [Y, G] = engine.layout(outer * n, outer * n);
    engine.put(y as Float32Array, Y!);
    engine.put(g as Float32Array, G!);
    engine.kernels.softmaxGradRows!(Y!, G!, n, outer, n, 1);
    return engine.take(G!, outer * n);
  }
  return reference.softmaxBackward(y, g, outer, n, inner, log, dtype);
};

/** Layer norm of float32 rows whose length is a multiple of 4 in WebAssembly SIMD, on every thread when large. */
export const layerNorm: CpuKernel<'layerNorm'> = (x, w, b, rows, d, eps, dtype) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine !== null) {
    const [X, W, B, Y, MEAN, RSTD] = engine.layout(rows * d, d, d, rows * d, rows, rows);
    engine.put(x as Float32Array, X!);
    engine.f32.fill(1, W! >> 2, (W! >> 2) + d);
    engine.f32.fill(0, B! >> 2, (B! >> 2) + d);
    if (w !== null) engine.put(w as Float32Array, W!);
    if (b !== null) engine.put(b as Float32Array, B!);
    const unit = Math.max(1, Math.ceil(4096 / d)); // rows a thread claims at a time
    engine.parallel('layerNorm', Math.ceil(rows / unit), [X!, W!, B!, Y!, MEAN!, RSTD!, rows, d, eps, unit], rows * d * LAYER_NORM_MACS);
    return { y: engine.take(Y!, rows * d), mean: engine.take(MEAN!, rows), rstd: engine.take(RSTD!, rows) };
  }
  return reference.layerNorm(x, w, b, rows, d, eps, dtype);
};

export const layerNormBackward: CpuKernel<'layerNormBackward'> = (g, x, w, mean, rstd, rows, d, dtype) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine !== null) {
    const [G, X, W, MEAN, RSTD, GX, GW, GB] = engine.layout(rows * d, rows * d, d, rows, rows, rows * d, 2 * d, 2 * d);
    engine.put(g as Float32Array, G!);
    engine.put(x as Float32Array, X!);
    if (w !== null) engine.put(w as Float32Array, W!);
    else engine.f32.fill(1, W! >> 2, (W! >> 2) + d);
    engine.put(mean as Float32Array, MEAN!);
    engine.put(rstd as Float32Array, RSTD!);
    engine.zeroF64(GW!, d);
    engine.zeroF64(GB!, d);
    engine.kernels.layerNormBackward!(G!, X!, W!, MEAN!, RSTD!, GX!, GW!, GB!, rows, d);
    return { gx: engine.take(GX!, rows * d), gw: engine.takeF64(GW!, d, 'float32'), gb: engine.takeF64(GB!, d, 'float32') };
  }
  return reference.layerNormBackward(g, x, w, mean, rstd, rows, d, dtype);
};
