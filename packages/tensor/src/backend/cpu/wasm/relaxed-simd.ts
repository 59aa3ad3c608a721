import { setFlagsFromString } from 'node:v8';
import { features, reprobe } from './features.js';

/**
 * Node 20 only: turns on V8's relaxed-simd (the kernels' fused multiply-add) for this
 * process, which the library never does by itself. Call it
 * before the first op; later ops compile their kernels with it. Node ≥ 22, Chrome and
 * Firefox have relaxed-simd already (this then changes nothing). Returns whether the
 * engine has it now.
 */
export function enableRelaxedSimd(): boolean {
  if (!features.relaxedSimd && features.simd) {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    reprobe();
  }
  return features.relaxedSimd;
}
