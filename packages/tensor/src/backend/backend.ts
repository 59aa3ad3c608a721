import type { DType, TypedArray } from '../dtype.js';
import type { Shape } from '../shape.js';
import { cpuBackend } from './cpu/index.js';
import { referenceBackend } from './reference/index.js';
import { heapForBackend } from './reference/pool.js';
import type { UnaryOp } from '../ops/tables/unary.js';
import type { BinaryOp } from '../ops/tables/binary.js';

/** The type of one kernel of a typed-array backend (the CPU and reference backends' kernels are declared with it). */
export type CpuKernel<K extends keyof Backend> = NonNullable<Backend<TypedArray>[K]>;

/** A backend: the primitives every op can be written with, and the fused kernels it may have. */
// biome-ignore lint/suspicious/noExplicitAny: a backend of storage unknown to the caller
export interface Backend<S = any> extends Primitives<S>, FusedKernels<S> {}

/**
 * The narrow interface under every op. A backend owns the storage of its tensors (`S`:
 * a typed array for the CPU, a texture for gpu.js) and implements these kernels on it.
 * Ops and models never see storage: they call kernels through the tensor's backend, so a
 * new backend plugs in without touching op or model code. Shapes are always contiguous,
 * row-major; every kernel returns fresh storage and never mutates its inputs.
 */
// biome-ignore lint/suspicious/noExplicitAny: a backend of storage unknown to the caller
export interface Primitives<S = any> {
  readonly name: string;
  /** Takes ownership of `data`. */
  fromArray(data: TypedArray): S;
  /** Reads storage back; the CPU backend returns its own array (no copy). */
  toArray(x: S, dtype: DType, size: number): TypedArray;
  /** Reads storage back when the backend computes asynchronously (gpu.js in webgpu mode); others need not have it. */
  toArrayAsync?(x: S, dtype: DType, size: number): Promise<TypedArray>;
  fill(size: number, value: number, dtype: DType): S;
  /**
   * Storage the autograd engine has finished with and nothing else references (a gradient
   * it consumed): the backend may reuse it (the CPU keeps a pool of arrays) or free it.
   */
  release?(x: S): void;
  /**
   * Storage with x's values that the backend's kernels read in place, or x itself where
   * that brings nothing: for a tensor many kernels read over its life (a weight). The CPU
   * backend copies a large float32 array into its WebAssembly memory, so each product
   * no longer copies it in.
   */
  pin?(x: S, dtype: DType): S;
  cast(x: S, size: number, from: DType, to: DType): S;

  unary(op: UnaryOp, x: S, size: number, dtype: DType): S;
  /** The input gradient g·f′(x) of the unary ops whose table entry has a pointwise derivative `df`. */
  unaryGrad(op: UnaryOp, x: S, g: S, size: number, dtype: DType): S;
  /** Inputs share `dtype`; comparison ops return 0/1 in `dtype`. */
  binary(op: BinaryOp, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape, dtype: DType): S;
  where(cond: S, cShape: Shape, a: S, aShape: Shape, b: S, bShape: Shape, outShape: Shape, dtype: DType): S;
  clamp(x: S, size: number, lo: number, hi: number, dtype: DType): S;

  /** Reduces the middle axis of `[outer, n, inner]` (float64 accumulation). */
  reduce(op: ReduceOp, x: S, outer: number, n: number, inner: number, dtype: DType): S;
  /** Index of the first max/min along the middle axis of `[outer, n, inner]`, as int32. */
  argReduce(op: 'argmax' | 'argmin', x: S, outer: number, n: number, inner: number, dtype: DType): S;

  /**
   * `[...batch, M, N] = op(a) @ op(b) (+ bias) (+ residual)` with broadcast batch dims;
   * `transA` reads a as `[..., K, M]`; `bias` `[N]`, when given, is added to every row and
   * `residual` (of the output's shape) to the result (a fused `linear` and skip connection);
   * with `activation` 'gelu' the result is then the exact GELU of all that (an MLP's first
   * layer, fused where nothing needs the product itself).
   */
  matmul(
    a: S,
    aShape: Shape,
    b: S,
    bShape: Shape,
    transA: boolean,
    transB: boolean,
    outShape: Shape,
    dtype: DType,
    bias?: S | null,
    residual?: S | null,
    activation?: 'gelu' | null,
  ): S;

  /** Gathers a strided view of `x` into contiguous storage of `view.shape`. */
  strided(x: S, view: View, dtype: DType): S;
  /** Zeros of `outShape` with `x` written into the strided view (the adjoint of `strided`, summing overlaps). */
  stridedAdjoint(x: S, view: View, outShape: Shape, dtype: DType): S;
  concat(xs: readonly S[], outer: number, sizes: readonly number[], inner: number, dtype: DType): S;
  /** `out[o, j, i] = x[o, idx[j], i]` over `[outer, n, inner]`. */
  gather(x: S, outer: number, n: number, inner: number, idx: S, nIdx: number, dtype: DType): S;
  /** The adjoint of gather: `out[o, idx[j], i] += g[o, j, i]`. */
  scatterAdd(g: S, outer: number, n: number, inner: number, idx: S, nIdx: number, dtype: DType): S;
}

/**
 * Fused kernels a backend may have. Every op that uses one is also written in ops/ as a
 * composition of the primitives above, with its backward for free: a backend without the
 * fused kernel runs the composition (tests check that both agree in values and gradients).
 * Each kernel comes with its backward: a backend has both or neither.
 */
// biome-ignore lint/suspicious/noExplicitAny: a backend of storage unknown to the caller
export interface FusedKernels<S = any> {
  /** Softmax (or log-softmax) along the middle axis of `[outer, n, inner]`. */
  softmax?(x: S, outer: number, n: number, inner: number, log: boolean, dtype: DType): S;
  /** Gradient w.r.t. the input, from the output `y` and its gradient `g`. */
  softmaxBackward?(y: S, g: S, outer: number, n: number, inner: number, log: boolean, dtype: DType): S;
  /** Normalises rows of `[rows, d]`; returns the output and per-row mean and 1/std for backward. */
  layerNorm?(x: S, weight: S | null, bias: S | null, rows: number, d: number, eps: number, dtype: DType): LayerNormResult<S>;
  layerNormBackward?(g: S, x: S, weight: S | null, mean: S, rstd: S, rows: number, d: number, dtype: DType): LayerNormGrads<S>;

  /**
   * Fused multi-head self-attention over a packed projection qkv `[b, n, 3·h·d]` (the last
   * axis laid out [3, h, d], as timm's): per head, P = softmax(scale · q kᵀ) and y = P v,
   * returned as y `[b, n, h·d]` and the probabilities P `[b, h, n, n]`. With `withProbs`
   * false nobody reads P (no backward, nothing captured) and a backend may return null.
   */
  attention?(qkv: S, b: number, n: number, h: number, d: number, scale: number, dtype: DType, withProbs?: boolean): AttentionResult<S>;
  /** The gradient w.r.t. qkv `[b, n, 3·h·d]` from the output's gradient gy `[b, n, h·d]`. */
  attentionBackward?(qkv: S, probs: S, gy: S, b: number, n: number, h: number, d: number, scale: number, dtype: DType): S;
}

export interface AttentionResult<S> {
  y: S;
  /** Null only where the caller said it does not need them. */
  probs: S | null;
}

export interface View {
  shape: Shape;
  strides: readonly number[];
  offset: number;
}

export interface LayerNormResult<S> {
  y: S;
  mean: S;
  rstd: S;
}
export interface LayerNormGrads<S> {
  gx: S;
  gw: S;
  gb: S;
}

export type { UnaryOp } from '../ops/tables/unary.js';
export type { BinaryOp } from '../ops/tables/binary.js';

export type ReduceOp = 'sum' | 'max' | 'min';

/**
 * The CPU backend is registered and active from the start, and the reference backend
 * registered (`setBackend('reference')`), with no import-time call for a bundler to drop
 * (the packages declare `"sideEffects": false`).
 */
let active: Backend = cpuBackend;
const registry = new Map<string, Backend>([cpuBackend, referenceBackend].map((b) => [b.name, b]));

export function registerBackend(backend: Backend): void {
  registry.set(backend.name, backend);
}

/** The backend new tensors are created on. */
export function getBackend(): Backend {
  return active;
}

export function setBackend(name: string): void {
  const b = registry.get(name);
  if (b === undefined) throw new Error(`setBackend: unknown backend "${name}"; registered: ${[...registry.keys()].join(', ')}`);
  activate(b);
}

function activate(b: Backend): void {
  active = b;
  heapForBackend(b === cpuBackend);
}

/** Runs `fn` with `name` the backend new tensors are created on, and restores the one before, whatever `fn` does. */
export function withBackend<T>(name: string, fn: () => T): T {
  const prev = active;
  setBackend(name);
  try {
    return fn();
  } finally {
    activate(prev);
  }
}

export function findBackend(name: string): Backend | undefined {
  return registry.get(name);
}
