import { backward as runBackward, record, RELEASED, type BackwardOptions, type NodeSlot } from './autograd/engine.js';
import { findBackend, getBackend, type Backend } from './backend/backend.js';
import type { DType, TypedArray } from './dtype.js';
import * as ew from './ops/elementwise.js';
import { binary, unary } from './ops/primitive.js';
import * as mm from './ops/matmul.js';
import * as mv from './ops/movement.js';
import * as nnops from './ops/nn.js';
import * as red from './ops/reduce.js';
import * as ix from './ops/indexing.js';
import * as es from './ops/einsum.js';
import { fmt, sizeOf, type Shape } from './shape.js';
import { formatTensor } from './format.js';
import { DISPOSED, keep, track } from './scope.js';
import { binaryOps } from './ops/tables/binary.js';
import { internalUnaryOps, unaryOps, type PublicUnaryOp } from './ops/tables/unary.js';

export type Scalar = number;
export type TensorLike = Tensor | Scalar;
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on a backend, with optional gradient tracking. Storage is
 * contiguous and row-major and never mutated by ops, so views such as `reshape` share it.
 *
 *     const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 *     x.mul(x).sum().backward();  // x.grad = 2x
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the table ops' methods (the interface at the end) are installed on the prototype there
export class Tensor {
  #storage: unknown;
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly backend: Backend;
  requiresGrad = false;
  #grad: Tensor | null = null;
  /** The op that produced this tensor, null for leaves, RELEASED after backward. */
  node: NodeSlot = null;

  constructor(storage: unknown, shape: Shape, dtype: DType, backend: Backend = getBackend()) {
    this.#storage = storage;
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.backend = backend;
    track(this);
  }

  /** Backend-owned storage (a typed array on the CPU); reading it after the tensor's scope disposed it is an error. */
  get storage(): unknown {
    if (this.#storage === DISPOSED) {
      throw new Error(
        `a tensor of shape ${fmt(this.shape)} was used after the scope that created it ended (scope() disposes what its function does not return; return the tensor, or keep() it)`,
      );
    }
    return this.#storage;
  }
  set storage(s: unknown) {
    this.#storage = s;
  }

  /** The accumulated gradient (a leaf's, after backward). Whatever is assigned here outlives the scope that made it. */
  get grad(): Tensor | null {
    return this.#grad;
  }
  set grad(g: Tensor | null) {
    if (g !== null) keep(g);
    this.#grad = g;
  }

  /** The storage, or DISPOSED: what scopes read without the error. */
  get storageOrDisposed(): unknown {
    return this.#storage;
  }

  /** Drops the storage (a scope's end); the backend's arrays go back to its pool through the scope. */
  dispose(): void {
    this.#storage = DISPOSED;
  }

  get size(): number {
    return sizeOf(this.shape);
  }
  get rank(): number {
    return this.shape.length;
  }
  /** True for tensors not produced by a recorded op (parameters, inputs). */
  get isLeaf(): boolean {
    return this.node === null;
  }

  /** The values as a flat typed array (the CPU backend's own storage: do not mutate unless you own the tensor). */
  get data(): TypedArray {
    return this.backend.toArray(this.storage, this.dtype, this.size);
  }

  /** The values, also from a backend that computes asynchronously (gpu.js in webgpu mode), where `data` throws. */
  async dataAsync(): Promise<TypedArray> {
    return this.backend.toArrayAsync ? this.backend.toArrayAsync(this.storage, this.dtype, this.size) : this.data;
  }

  /** The values as nested arrays. */
  toArray(): NestedArray {
    const d = this.data;
    const build = (dim: number, off: number): NestedArray => {
      if (dim === this.rank) return d[off]!;
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, off + i * stride));
    };
    return build(0, 0);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item: expected a tensor with one element, got shape ${fmt(this.shape)}`);
    return this.data[0]!;
  }

  toString(): string {
    return formatTensor(this);
  }

  /** Computes gradients of this tensor w.r.t. every leaf that requires grad. */
  backward(seed?: Tensor, options?: BackwardOptions): void {
    runBackward(this, seed, options);
  }

  /**
   * A new tensor on this one's backend around `storage` that the backend made (what every op
   * returns; it takes ownership). Ops build their outputs with it, so that they need the
   * Tensor class only as a type.
   */
  withStorage(storage: unknown, shape: Shape, dtype: DType = this.dtype): Tensor {
    return new Tensor(storage, shape, dtype, this.backend);
  }

  /** The gradient of a broadcast, summed back to `shape` (PyTorch's `sum_to_size`): the engine unbroadcasts with it. */
  sumToSize(shape: Shape): Tensor {
    return red.sumToSize(this, shape);
  }

  /**
   * This tensor's values on another backend (a copy; the gradient flows back to this one),
   * or this tensor when it is there already: `x.to('reference')`, `x.to(gpujsBackend)`.
   */
  to(backend: Backend | string): Tensor {
    const be = typeof backend === 'string' ? findBackend(backend) : backend;
    if (be === undefined) throw new Error(`to: unknown backend "${backend as string}"`);
    if (be === this.backend) return this;
    const out = new Tensor(be.fromArray(this.data.slice()), this.shape, this.dtype, be);
    return record(out, 'to', [this], (g) => [g.to(this.backend)]);
  }

  /** A tensor sharing this one's storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape, this.dtype, this.backend);
  }

  /** Sets requiresGrad on a leaf and returns it. */
  setRequiresGrad(on = true): this {
    if (this.node !== null && this.node !== RELEASED && !on) throw new Error('setRequiresGrad: only leaf tensors can stop requiring grad; use detach()');
    if (on && this.dtype === 'int32')
      throw new Error(`setRequiresGrad: an int32 tensor (shape ${fmt(this.shape)}) cannot require grad; cast it to float32 or float64 first`);
    this.requiresGrad = on;
    return this;
  }

  zeroGrad(): void {
    this.grad = null;
  }

  // --- elementwise (the ops of the unary and binary tables are methods too: see the end of this file) ---
  /** `cond ? this : other` elementwise, with broadcasting (PyTorch's `x.where(cond, y)`). */
  where(cond: Tensor, other: TensorLike): Tensor {
    return ew.where(cond, this, other);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return ew.gelu(this, approximate);
  }
  clamp(min: number | null, max: number | null = null): Tensor {
    return ew.clamp(this, min, max);
  }
  cast(dtype: DType): Tensor {
    return ew.cast(this, dtype);
  }

  // --- reductions ---
  sum(axes?: number | number[], keepdim = false): Tensor {
    return red.sum(this, axes, keepdim);
  }
  mean(axes?: number | number[], keepdim = false): Tensor {
    return red.mean(this, axes, keepdim);
  }
  max(axes?: number | number[], keepdim = false): Tensor {
    return red.max(this, axes, keepdim);
  }
  min(axes?: number | number[], keepdim = false): Tensor {
    return red.min(this, axes, keepdim);
  }
  argmax(axis?: number, keepdim = false): Tensor {
    return red.argmax(this, axis, keepdim);
  }
  /** Variance with Bessel's correction by default (PyTorch's `var`). */
  var(axes?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return red.variance(this, axes, options);
  }
  std(axes?: number | number[], options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return red.std(this, axes, options);
  }
  logsumexp(axes?: number | number[], keepdim = false): Tensor {
    return red.logsumexp(this, axes, keepdim);
  }
  prod(axis?: number, keepdim = false): Tensor {
    return red.prod(this, axis, keepdim);
  }
  cumsum(axis: number): Tensor {
    return red.cumsum(this, axis);
  }
  norm(p = 2, axes?: number | number[], keepdim = false): Tensor {
    return red.norm(this, p, axes, keepdim);
  }
  argmin(axis?: number, keepdim = false): Tensor {
    return red.argmin(this, axis, keepdim);
  }

  // --- linear algebra ---
  matmul(b: Tensor): Tensor {
    return mm.matmul(this, b);
  }

  // --- movement ---
  reshape(shape: readonly number[]): Tensor {
    return mv.reshape(this, shape);
  }
  flatten(start = 0, end = -1): Tensor {
    return mv.flatten(this, start, end);
  }
  unsqueeze(axis: number): Tensor {
    return mv.unsqueeze(this, axis);
  }
  squeeze(axis?: number): Tensor {
    return mv.squeeze(this, axis);
  }
  permute(perm: readonly number[]): Tensor {
    return mv.permute(this, perm);
  }
  transpose(a = -2, b = -1): Tensor {
    return mv.transpose(this, a, b);
  }
  expand(shape: readonly number[]): Tensor {
    return mv.expand(this, shape);
  }
  /** `[start, end)` per dim, or `[start, end, step]`; null keeps a dim whole. */
  slice(ranges: readonly (readonly [number, number] | readonly [number, number, number] | null)[]): Tensor {
    return mv.slice(this, ranges);
  }
  narrow(axis: number, start: number, length: number): Tensor {
    return mv.narrow(this, axis, start, length);
  }
  split(size: number | readonly number[], axis = 0): Tensor[] {
    return mv.split(this, size, axis);
  }
  chunk(chunks: number, axis = 0): Tensor[] {
    return mv.chunk(this, chunks, axis);
  }
  unbind(axis = 0): Tensor[] {
    return mv.unbind(this, axis);
  }
  flip(axes: number | readonly number[]): Tensor {
    return mv.flip(this, axes);
  }
  roll(shift: number, axis: number): Tensor {
    return mv.roll(this, shift, axis);
  }
  /** Repeats along each dim (PyTorch's `repeat`, NumPy's `tile`). */
  tile(reps: readonly number[]): Tensor {
    return mv.tile(this, reps);
  }
  tril(diagonal = 0): Tensor {
    return mv.tril(this, diagonal);
  }
  triu(diagonal = 0): Tensor {
    return mv.triu(this, diagonal);
  }
  gather(axis: number, index: Tensor): Tensor {
    return ix.gather(this, axis, index);
  }
  scatter(axis: number, index: Tensor, src: Tensor): Tensor {
    return ix.scatter(this, axis, index, src);
  }
  scatterAdd(axis: number, index: Tensor, src: Tensor): Tensor {
    return ix.scatterAdd(this, axis, index, src);
  }
  sort(axis = -1, descending = false): { values: Tensor; indices: Tensor } {
    return ix.sort(this, axis, descending);
  }
  argsort(axis = -1, descending = false): Tensor {
    return ix.argsort(this, axis, descending);
  }
  topk(k: number, axis = -1, largest = true): { values: Tensor; indices: Tensor } {
    return ix.topk(this, k, axis, largest);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return ew.maskedFill(this, mask, value);
  }
  outer(b: Tensor): Tensor {
    return es.outer(this, b);
  }
  indexSelect(axis: number, index: Tensor | readonly number[]): Tensor {
    return mv.indexSelect(this, axis, index);
  }

  // --- nn ---
  softmax(axis = -1): Tensor {
    return nnops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return nnops.logSoftmax(this, axis);
  }

  // --- creation like this ---
  zerosLike(): Tensor {
    return new Tensor(this.backend.fill(this.size, 0, this.dtype), this.shape, this.dtype, this.backend);
  }
  onesLike(): Tensor {
    return new Tensor(this.backend.fill(this.size, 1, this.dtype), this.shape, this.dtype, this.backend);
  }
}

type UnaryMethods = { readonly [K in PublicUnaryOp]: () => Tensor };
type BinaryMethods = { readonly [K in (typeof binaryOps)[number]]: (b: TensorLike) => Tensor };

/** The ops of the unary and binary tables (ops/tables/) as methods: `x.sin()`, `a.atan2(b)`. */
export interface Tensor extends UnaryMethods, BinaryMethods {}

for (const op of unaryOps) {
  if ((internalUnaryOps as readonly string[]).includes(op)) continue;
  Object.defineProperty(Tensor.prototype, op, {
    value: function (this: Tensor) {
      return unary(op, this);
    },
    writable: true,
    configurable: true,
  });
}
for (const op of binaryOps) {
  Object.defineProperty(Tensor.prototype, op, {
    value: function (this: Tensor, b: TensorLike) {
      return binary(op, this, b);
    },
    writable: true,
    configurable: true,
  });
}
