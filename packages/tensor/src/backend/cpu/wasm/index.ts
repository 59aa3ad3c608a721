import type { Gemm } from '../matmul.js';
import { features } from './features.js';
import { createWasmGemm } from './gemm.js';
import type { KernelShape } from './kernel.js';

export { features, type WasmFeatures } from './features.js';

/** The float32 matmul kernels this engine can run, fastest first. */
export type MatmulKernel = 'wasm-relaxed-simd' | 'wasm-simd' | 'typescript';

export function availableKernels(): MatmulKernel[] {
  return [...(features.relaxedSimd ? ['wasm-relaxed-simd' as const] : []), ...(features.simd ? ['wasm-simd' as const] : []), 'typescript'];
}

const made = new Map<string, Gemm>();

function compiled(shape: KernelShape): Gemm {
  const key = `${shape.mr}x${shape.nr}${shape.fma ? 'f' : ''}`;
  let g = made.get(key);
  if (g === undefined) {
    g = createWasmGemm(shape);
    made.set(key, g);
  }
  return g;
}

/**
 * The gemm of a kernel; `null` for the TypeScript kernel. Each tile shape is compiled once
 * and kept with its memory. V8 gives wasm 15 usable vector registers (xmm15 is its
 * scratch); of the tiles that fit, 2×16 (8 accumulators, 4 vectors of B, one splat)
 * measured fastest, 42.8 GFLOP/s kernel-only at 512³ against 41.7 for 3×12 and 38.4 for
 * 4×8, alternated in one run. Outputs narrower than 128 that 16 does not divide use 4×8,
 * which pads less.
 */
export function getGemm(kernel: MatmulKernel): Gemm | null {
  if (kernel === 'typescript') return null;
  if (!availableKernels().includes(kernel)) throw new Error(`setCpuMatmul: kernel "${kernel}" is not available here; available: ${availableKernels().join(', ')}`);
  const fma = kernel === 'wasm-relaxed-simd';
  const wide = compiled({ mr: 2, nr: 16, fma });
  const narrow = compiled({ mr: 4, nr: 8, fma });
  return (m, n, ...rest) => (n % 16 === 0 || n >= 128 ? wide : narrow)(m, n, ...rest);
}
