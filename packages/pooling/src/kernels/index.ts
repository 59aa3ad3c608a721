import { extend, type Backend, type DType, type TypedArray } from '@ggem/tensor';
import * as cpu from './cpu.js';
import { gpujsGem } from './gpujs.js';
import * as reference from './reference.js';

/**
 * The fused GeM / GGeM kernel, by backend: pooling over tokens [start, n) of x `[b, n, c]`,
 * y[b,c] = (mean_t max(x[b,t,c], eps)^p[g(c)])^(1/p[g(c)]) with `groups` contiguous channel
 * groups of ceil(c/groups) channels and p `[groups]` (already within its bounds). `forward`
 * returns y `[b, c]` and what its backward needs, or `undefined` when it declines the case
 * (`ggem` then composes the op from primitives); `backward` gives the gradients w.r.t. x
 * `[b, n, c]` (zero on tokens before `start` and where x < eps) and p `[groups]`.
 *
 * Implemented for the reference backend (./reference.ts, TypeScript), the CPU backend
 * (./cpu.ts, WebAssembly SIMD) and gpu.js (./gpujs.ts); another backend's package adds its
 * own with `ggemKernel.register(name, kernel)`.
 */
// biome-ignore lint/suspicious/noExplicitAny: a backend of storage unknown to the caller
export interface GemKernel<S = any> {
  forward(be: Backend<S>, x: S, b: number, n: number, c: number, start: number, p: S, groups: number, eps: number, dtype: DType): GemResult<S> | undefined;
  backward(be: Backend<S>, saved: unknown, gy: S, dtype: DType): { gx: S; gp: S };
}

export interface GemResult<S> {
  y: S;
  /** The kernel's own state for its backward. */
  saved: unknown;
}

/** The forward of the typed-array kernels (reference and CPU). */
export type TypedArrayGem = (
  x: TypedArray,
  b: number,
  n: number,
  c: number,
  start: number,
  pg: TypedArray,
  groups: number,
  eps: number,
  dtype: DType,
) => GemResult<TypedArray>;

const typedArrayKernel = (k: typeof reference | typeof cpu): GemKernel<TypedArray> => ({
  forward: (_be, ...args) => k.gem(...args),
  backward: (_be, saved, gy, dtype) => k.gemBackward(saved, gy, dtype),
});

export const ggemKernel = extend.defineFusedKernel<GemKernel>('ggem', {
  reference: typedArrayKernel(reference),
  cpu: typedArrayKernel(cpu),
  gpujs: gpujsGem,
});
