/**
 * js-pytorch 0.7 (nested JavaScript arrays; installed with scripts off, since its gpu.js
 * fork needs a native `gl` build). Its gradients of `pow` (exponent ≠ 2) and of softmax on
 * square inputs are wrong, so nothing here relies on them.
 */
import type { Impl } from '../harness.js';

type JsPytorch = typeof import('js-pytorch')['torch'];

export async function jsPytorch(): Promise<JsPytorch> {
  return (await import('js-pytorch')).torch;
}

/** Nested arrays of a row-major `[rows, cols]` block. */
export function nested(data: Float32Array, rows: number, cols: number): number[][] {
  return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * cols, (r + 1) * cols)));
}

/** C = A·B through js-pytorch's matmul. */
export function jsPytorchMatmul(a: Float32Array, b: Float32Array, n: number): Impl {
  return {
    engine: 'js-pytorch 0.7.2',
    async setup() {
      const torch = await jsPytorch();
      const ta = torch.tensor(nested(a, n, n));
      const tb = torch.tensor(nested(b, n, n));
      return async () => Float32Array.from((torch.matmul(ta, tb).data as number[][]).flat());
    },
  };
}

/**
 * The benchmark ViT is not built in js-pytorch: it has no erf (the exact GELU), no
 * concatenation, slicing or permutation of more than two axes, and no maximum (for a
 * stable softmax). FACTS measured a composed small-ViT step at about 90 s.
 */
export function jsPytorchVit(): Impl {
  return {
    engine: 'js-pytorch 0.7.2',
    setup() {
      throw new Error('lacks ops: erf (exact GELU), concatenate, slicing, permutes of more than two axes, max');
    },
  };
}
