import { getBackend } from './backend/backend.js';
import { allocate, dtypeOf, dtypeOfArray, type DType, type TypedArray } from './dtype.js';
import { defaultGenerator, type Generator } from './random.js';
import { assertShape, fmt, sizeOf } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function make(data: TypedArray, shape: readonly number[], requiresGrad = false): Tensor {
  const be = getBackend();
  return new Tensor(be.fromArray(data), shape, dtypeOf(data)).setRequiresGrad(requiresGrad);
}

/**
 * A tensor from nested arrays or a typed array (which is taken, not copied; pass `shape`
 * to give it one). Nested arrays must be rectangular.
 *
 *     tensor([[1, 2], [3, 4]])                       // float32 [2, 2]
 *     tensor(new Float64Array(6), { shape: [2, 3] }) // float64 [2, 3]
 */
export function tensor(values: NestedArray | TypedArray, options: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(values)) {
    const view = values as ArrayBufferView;
    if (view instanceof DataView || typeof (view as { length?: unknown }).length !== 'number')
      throw new Error(`tensor: expected a typed array, got a ${view.constructor.name}`);
    const own = dtypeOfArray(view);
    if (own === null && options.dtype === undefined) {
      throw new Error(
        `tensor: a ${view.constructor.name} is not a tensor's storage (Float32Array, Float64Array or Int32Array); pass { dtype } to copy it into one`,
      );
    }
    const shape = options.shape ?? [values.length];
    assertShape('tensor', shape);
    if (sizeOf(shape) !== values.length) throw new Error(`tensor: ${values.length} values do not fill shape ${fmt(shape)}`);
    const data = options.dtype !== undefined && options.dtype !== own ? copyTo(values, options.dtype) : values;
    return make(data, shape, options.requiresGrad);
  }
  const shape: number[] = [];
  for (let v: NestedArray = values; Array.isArray(v); v = v[0] ?? 0) {
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const data = allocate(options.dtype ?? 'float32', sizeOf(shape));
  let k = 0;
  const fill = (v: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof v !== 'number')
        throw new Error(`tensor: expected a number at ${path || 'the top'}, got ${Array.isArray(v) ? 'an array (ragged nested array)' : describe(v)}`);
      data[k++] = v;
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new Error(`tensor: ragged nested array at ${path || 'the top'}: expected ${shape[dim]} entries, got ${Array.isArray(v) ? v.length : describe(v)}`);
    }
    for (let i = 0; i < v.length; i++) {
      if (!(i in v)) throw new Error(`tensor: a hole at ${path}[${i}] (a sparse array such as [1, , 3]); every entry must be a number`);
      fill(v[i]!, dim + 1, `${path}[${i}]`);
    }
  };
  fill(values, 0, '');
  if (options.dtype !== 'int32' && options.requiresGrad === undefined) return make(data, shape);
  return make(data, shape, options.requiresGrad);
}

const describe = (v: unknown): string =>
  typeof v === 'string' ? `the string ${JSON.stringify(v)}` : v === null || v === undefined ? String(v) : `a ${typeof v}`;

function copyTo(values: ArrayLike<number>, dtype: DType): TypedArray {
  const out = allocate(dtype, values.length);
  out.set(values);
  return out;
}

export function full(shape: readonly number[], value: number, options: CreateOptions = {}): Tensor {
  assertShape('full', shape);
  const data = allocate(options.dtype ?? 'float32', sizeOf(shape));
  if (value !== 0) data.fill(value);
  return make(data, shape, options.requiresGrad);
}

export const zeros = (shape: readonly number[], options: CreateOptions = {}): Tensor => full(shape, 0, options);
export const ones = (shape: readonly number[], options: CreateOptions = {}): Tensor => full(shape, 1, options);

/** start, start + step, … below end (like `range`); `arange(n)` is 0..n−1. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0) throw new Error('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  const data = allocate(options.dtype ?? 'float32', n);
  for (let i = 0; i < n; i++) data[i] = lo + i * step;
  return make(data, [n], options.requiresGrad);
}

function random(shape: readonly number[], options: RandomOptions, draw: (g: Generator) => number): Tensor {
  assertShape('random', shape);
  const g = options.generator ?? defaultGenerator;
  const data = allocate(options.dtype ?? 'float32', sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = draw(g);
  return make(data, shape, options.requiresGrad);
}

/** Uniform on [low, high). */
export function rand(shape: readonly number[], options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const lo = options.low ?? 0;
  const hi = options.high ?? 1;
  return random(shape, options, (g) => lo + (hi - lo) * g.uniform());
}

/** Normal with the given mean and std (standard by default). */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  return random(shape, options, (g) => mean + std * g.normal());
}

/**
 * Normal(mean, std) redrawn until it falls in [a, b] (absolute bounds, as
 * `torch.nn.init.trunc_normal_`; timm uses std 0.02 with a = −2, b = 2).
 */
export function truncNormal(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number; a?: number; b?: number } = {}): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  const a = options.a ?? -2;
  const b = options.b ?? 2;
  if (!(a < b)) throw new Error(`truncNormal: need a < b, got a = ${a}, b = ${b}`);
  if ((a - mean) / std > 6 || (b - mean) / std < -6) throw new Error(`truncNormal: [${a}, ${b}] lies more than 6 std from the mean ${mean}`);
  return random(shape, options, (g) => {
    for (;;) {
      const v = mean + std * g.normal();
      if (v >= a && v <= b) return v;
    }
  });
}

/** Integers uniform in [low, high), int32. */
export function randint(shape: readonly number[], low: number, high: number, options: { generator?: Generator } = {}): Tensor {
  return random(shape, { ...options, dtype: 'int32' }, (g) => low + g.int(high - low));
}
