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
    const io = engine.operands([[x, outer * n]], [outer * n]);
    engine.kernels.softmaxRows!(io.inputs[0]!, n, outer, n, 1, io.outputs[0]!);
    return io.results()[0]!;
  }
  return reference.softmax(x, outer, n, inner, log, dtype);
};

export const softmaxBackward: CpuKernel<'softmaxBackward'> = (y, g, outer, n, inner, log, dtype) => {
  const engine = rowsSimd(log, inner, n, dtype);
  if (engine !== null) {
    // the kernel turns g into the gradient where it lies: a copy of g in the output
    const io = engine.operands([[y, outer * n]], [outer * n]);
    const G = io.outputs[0]!;
    engine.f32.set((g as Float32Array).subarray(0, outer * n), G >> 2);
    engine.kernels.softmaxGradRows!(io.inputs[0]!, G, n, outer, n, 1);
    return io.results()[0]!;
  }
  return reference.softmaxBackward(y, g, outer, n, inner, log, dtype);
};

/** Layer norm of float32 rows whose length is a multiple of 4 in WebAssembly SIMD, on every thread when large. */
export const layerNorm: CpuKernel<'layerNorm'> = (x, w, b, rows, d, eps, dtype) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine !== null) {
    // a missing weight is ones, a missing bias zeros
    const io = engine.operands(
      [[x, rows * d], ...(w === null ? [] : [[w, d] as const]), ...(b === null ? [] : [[b, d] as const])],
      [rows * d, rows, rows],
      [d, d],
    );
    const [X, ...affine] = io.inputs as [number, ...number[]];
    const W = w === null ? io.scratch[0]! : affine.shift()!;
    const B = b === null ? io.scratch[1]! : affine.shift()!;
    if (w === null) engine.f32.fill(1, W >> 2, (W >> 2) + d);
    if (b === null) engine.f32.fill(0, B >> 2, (B >> 2) + d);
    const [Y, MEAN, RSTD] = io.outputs as [number, number, number];
    const unit = Math.max(1, Math.ceil(4096 / d)); // rows a thread claims at a time
    engine.parallel('layerNorm', Math.ceil(rows / unit), [X, W, B, Y, MEAN, RSTD, rows, d, eps, unit], rows * d * LAYER_NORM_MACS);
    const [y, mean, rstd] = io.results() as [Float32Array, Float32Array, Float32Array];
    return { y, mean, rstd };
  }
  return reference.layerNorm(x, w, b, rows, d, eps, dtype);
};

export const layerNormBackward: CpuKernel<'layerNormBackward'> = (g, x, w, mean, rstd, rows, d, dtype) => {
  const engine = dtype === 'float32' && d % 4 === 0 ? simdEngine() : null;
  if (engine !== null) {
    const ins = [[g, rows * d], [x, rows * d], [mean, rows], [rstd, rows], ...(w === null ? [] : [[w, d] as const])] as const;
    const io = engine.operands(ins, [rows * d], [d, 2 * d, 2 * d]);
    const [G, X, MEAN, RSTD] = io.inputs as [number, number, number, number];
    const W = w === null ? io.scratch[0]! : io.inputs[4]!;
    if (w === null) engine.f32.fill(1, W >> 2, (W >> 2) + d);
    const [GW, GB] = [io.scratch[1]!, io.scratch[2]!];
    engine.zeroF64(GW, d);
    engine.zeroF64(GB, d);
    engine.kernels.layerNormBackward!(G, X, W, MEAN, RSTD, io.outputs[0]!, GW, GB, rows, d);
    return { gx: io.results()[0]!, gw: engine.takeF64(GW, d, 'float32'), gb: engine.takeF64(GB, d, 'float32') };
  }
  return reference.layerNormBackward(g, x, w, mean, rstd, rows, d, dtype);
};
