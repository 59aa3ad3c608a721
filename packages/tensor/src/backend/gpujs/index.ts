/**
 * A backend on gpu.js kernels (WebGL2 / WebGPU in browsers, WebAssembly or plain JS in
 * Node). gpu.js is an optional peer dependency, loaded only by `useGpujs`.
 *
 * Storage is a float32 gpu.js output kept on the device (`pipeline: true`, and
 * `immutable: true` since the tape keeps outputs alive) or a typed array for data that came
 * from the host; `toArray` reads a texture back once and caches it. Every kernel is float32
 * (`precision: 'single'`), flat (one output cell per element, under 2²⁴ cells), with its
 * loop bounds and shapes as constants; kernels are compiled once per (op, constants).
 * An op without a kernel here (or on int32 / float64 data) runs on the CPU backend,
 * reported once per op.
 */
import type { DType, TypedArray } from '../../dtype.js';
import { broadcastStrides, sameShape, sizeOf } from '../../shape.js';
import { registerBackend, type Backend, type BinaryOp, type UnaryOp } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';

export type GpujsMode = 'gpu' | 'webgpu' | 'webgl2' | 'webgl' | 'headlessgl' | 'webasm' | 'cpu';

/**
 * A tensor's storage on this backend: a device output, a host array, or both (after a
 * read-back). In webgpu mode, whose kernels return promises, it starts as `pending` (the
 * kernel's result, chained on its inputs' promises) and becomes `out` once computed.
 */
export interface GpuStorage {
  out: GpuOutput | null;
  host: TypedArray | null;
  pending?: Promise<unknown> | null;
  /** webgpu: the queued kernels that read this storage (it is deleted after them); each leaves once it has run. */
  readers?: Set<Promise<unknown>>;
}
interface GpuOutput {
  toArray(): ArrayLike<number> | Promise<ArrayLike<number>>;
  delete?(): void;
}
type Kernel = ((...args: unknown[]) => unknown) & { kernel: { constructor: { name: string } } };
interface GpuLike {
  mode: string;
  createKernel(fn: (...args: never[]) => number, settings: Record<string, unknown>): Kernel;
}

/** The largest output one kernel writes: gpu.js passes thread indices through float32. */
export const MAX_CELLS = 2 ** 24;

export interface GpujsBackend extends Backend<GpuStorage> {
  /** The gpu.js mode chosen (gpu.js falls back silently: check this and `kernelClasses`). */
  readonly mode: string;
  /** Class names of the gpu.js kernels that ran (WebGL2Kernel, WebAssemblyKernel, CPUKernel, ...). */
  readonly kernelClasses: Set<string>;
  /** Ops that ran on the CPU backend because no kernel here fits them. */
  readonly fallbacks: Set<string>;
}

/**
 * Loads gpu.js, creates the backend in `mode` (gpu.js's own choice when omitted) and
 * registers it as 'gpujs' (select it with `setBackend('gpujs')`).
 */
export async function useGpujs(options: { mode?: GpujsMode; warn?: (message: string) => void } = {}): Promise<GpujsBackend> {
  let mod: { GPU: new (settings: Record<string, unknown>) => GpuLike };
  try {
    mod = (await import('gpu.js' as string)) as typeof mod;
  } catch (e) {
    throw new Error(`useGpujs: gpu.js is not installed (npm install gpu.js@2.24): ${(e as Error).message}`);
  }
  const gpu = new mod.GPU(options.mode ? { mode: options.mode } : {});
  const backend = createGpujsBackend(gpu, options.warn ?? ((m) => console.warn(m)));
  registerBackend(backend);
  return backend;
}

const f32 = (d: DType) => d === 'float32';

export function createGpujsBackend(gpu: GpuLike, warn: (message: string) => void): GpujsBackend {
  const kernels = new Map<string, Kernel>();
  const kernelClasses = new Set<string>();
  const fallbacks = new Set<string>();
  /** webgpu kernels return promises: values are chained on the device and read back with toArrayAsync. */
  const asynchronous = gpu.mode === 'webgpu';

  const host = (x: GpuStorage): TypedArray => {
    if (x.host === null) {
      const v = x.out?.toArray();
      if (v === undefined || v instanceof Promise) {
        throw new Error(`gpujs (${gpu.mode}): the values are computed asynchronously on the device; read them with await tensor.dataAsync()`);
      }
      x.host = Float32Array.from(v);
    }
    return x.host;
  };
  const hostAsync = async (x: GpuStorage): Promise<TypedArray> => {
    if (x.pending) await x.pending;
    if (x.host === null) x.host = Float32Array.from(await x.out!.toArray());
    return x.host;
  };
  /** What a kernel takes: the device output when there is one, else the host array, else (webgpu) the promise of either. */
  const value = (a: unknown): unknown => (isStorage(a) ? (a.out ?? a.host ?? a.pending) : a);
  const wrap = (r: unknown): GpuStorage => (ArrayBuffer.isView(r) ? { out: null, host: r as TypedArray } : { out: r as GpuOutput, host: null });
  /** Storage for a result still being computed; `readers` learn that `inputs` are in use until it is. */
  function deferred(p: Promise<unknown>, inputs: GpuStorage[]): GpuStorage {
    const s: GpuStorage = { out: null, host: null };
    s.pending = p.then((r) => {
      Object.assign(s, wrap(r), { pending: null });
      return r;
    });
    const settled = s.pending.catch(() => {}); // an error is reported to whoever reads the value
    for (const x of inputs) {
      const readers = (x.readers ??= new Set());
      readers.add(settled);
      void settled.then(() => readers.delete(settled));
    }
    return s;
  }

  /**
   * The kernel for `key` with these constants and arguments, compiled on first use. gpu.js
   * fixes a kernel's argument types at its first call (device buffer or array), and its
   * webgpu kernels do not switch when they change (they take an array for a buffer from
   * another device), so kernels are kept per kind of argument too.
   */
  function kernelFor(key: string, fn: (...args: never[]) => number, cells: number, constants: Record<string, number>, vals: unknown[]): Kernel {
    const kinds = vals.map((v) => (ArrayBuffer.isView(v) ? 'a' : typeof v === 'object' ? 'd' : 'n')).join('');
    const id = `${key}|${cells}|${JSON.stringify(constants)}|${kinds}`;
    let k = kernels.get(id);
    if (k === undefined) {
      k = gpu.createKernel(fn, { output: [cells], constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });
      kernels.set(id, k);
    }
    return k;
  }

  /** Runs a kernel on `args` (storages or host arrays); webgpu: once the inputs are computed. */
  function run(key: string, fn: (...args: never[]) => number, cells: number, constants: Record<string, number>, ...args: unknown[]): GpuStorage {
    if (cells >= MAX_CELLS) throw new Error(`gpujs: ${key} writes ${cells} cells, over the ${MAX_CELLS} a kernel can index`);
    if (!asynchronous) {
      const vals = args.map(value);
      const kernel = kernelFor(key, fn, cells, constants, vals);
      const r = kernel(...vals);
      kernelClasses.add(kernel.kernel.constructor.name);
      return wrap(r);
    }
    const p = Promise.all(args.map(value)).then(async (vals) => {
      const kernel = kernelFor(key, fn, cells, constants, vals);
      const r = await kernel(...vals);
      kernelClasses.add(kernel.kernel.constructor.name);
      return r;
    });
    return deferred(p, args.filter(isStorage));
  }

  /** Runs `name` of the CPU backend on host copies, reporting the op once. */
  function cpu<K extends keyof Backend>(name: K, op = name as string): Backend[K] {
    return ((...args: unknown[]) => {
      if (!fallbacks.has(op)) {
        fallbacks.add(op);
        warn(`gpujs backend: ${op} has no gpu.js kernel here; it runs on the CPU`);
      }
      const conv = (a: unknown): unknown => (isStorage(a) ? host(a) : Array.isArray(a) && a.length > 0 && isStorage(a[0]) ? a.map((s) => host(s as GpuStorage)) : a);
      const call = () => (cpuBackend[name] as (...a: unknown[]) => unknown)(...args.map(conv));
      const storages = args.flatMap((a) => (isStorage(a) ? [a] : Array.isArray(a) ? a.filter(isStorage) : []));
      // synchronous modes read device values back here; webgpu waits for them
      if (!asynchronous || storages.every((s) => s.host !== null)) return wrapResult(call());
      if (SEVERAL_RESULTS.has(name)) {
        throw new Error(`gpujs (${gpu.mode}): ${op} has no kernel here and returns several arrays, which cannot wait on values still being computed on the device`);
      }
      return deferred(Promise.all(storages.map(hostAsync)).then(call), storages);
    }) as Backend[K];
  }
  const wrapResult = (r: unknown): unknown => {
    if (ArrayBuffer.isView(r)) return { out: null, host: r as TypedArray };
    if (r !== null && typeof r === 'object') return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, k === 'saved' ? v : wrapResult(v)]));
    return r;
  };

  const be: GpujsBackend = {
    name: 'gpujs',
    mode: gpu.mode,
    kernelClasses,
    fallbacks,
    fromArray: (data) => ({ out: null, host: data }),
    toArray: (x) => host(x),
    toArrayAsync: (x) => hostAsync(x),
    release(x) {
      const free = () => {
        x.out?.delete?.();
        x.out = null;
      };
      if (!asynchronous) free();
      // webgpu: after the kernel that computes it and every queued kernel that reads it
      else void Promise.all([x.pending, ...(x.readers ?? [])]).then(free, free);
    },
    fill: (size, value, dtype) => ({ out: null, host: cpuBackend.fill(size, value, dtype) }),
    cast: cpu('cast'),
    unary(op, x, size, dtype) {
      const body = unaryKernels[op];
      if (!f32(dtype) || body === undefined || size === 0) return cpu('unary', `unary ${op}`)(op, x, size, dtype);
      return run(`unary ${op}`, body, size, { n: size }, x);
    },
    unaryGrad(op, x, g, size, dtype) {
      if (!f32(dtype) || op !== 'gelu' || size === 0) return cpu('unaryGrad', `unaryGrad ${op}`)(op, x, g, size, dtype);
      return run('unaryGrad gelu', geluGradKernel, size, { n: size }, x, g);
    },
    binary(op, a, aShape, b, bShape, outShape, dtype) {
      const size = sizeOf(outShape);
      const code = binaryCodes[op];
      if (!f32(dtype) || code === undefined || size === 0 || outShape.length > 4) return cpu('binary', `binary ${op}`)(op, a, aShape, b, bShape, outShape, dtype);
      const pad = (s: readonly number[]) => [...Array(4 - s.length).fill(0), ...s];
      const [d, sa, sb] = sameShape(aShape, bShape) ? [[1, 1, 1, size], [0, 0, 0, 1], [0, 0, 0, 1]] : [pad(outShape.map((v) => v)).map((v) => v || 1), pad(broadcastStrides(aShape, outShape)), pad(broadcastStrides(bShape, outShape))];
      const c: Record<string, number> = { op: code };
      for (let i = 0; i < 4; i++) Object.assign(c, { [`d${i}`]: d[i]!, [`a${i}`]: sa[i]!, [`b${i}`]: sb[i]! });
      return run('binary', binaryKernel, size, c, a, b);
    },
    where: cpu('where'),
    clamp(x, size, lo, hi, dtype) {
      if (!f32(dtype) || size === 0) return cpu('clamp')(x, size, lo, hi, dtype);
      // ±Infinity bounds as the largest float32 (constants are numbers a shader can hold)
      const bound = (v: number) => Math.max(-3.4e38, Math.min(3.4e38, v));
      return run('clamp', clampKernel, size, { lo: bound(lo), hi: bound(hi) }, x);
    },
    reduce(op, x, outer, n, inner, dtype) {
      if (!f32(dtype) || outer * inner === 0 || n === 0) return cpu('reduce', `reduce ${op}`)(op, x, outer, n, inner, dtype);
      return run('reduce', reduceKernel, outer * inner, { op: op === 'sum' ? 0 : op === 'max' ? 1 : 2, n, inner }, x);
    },
    argReduce: cpu('argReduce'),
    matmul(a, aShape, b, bShape, transA, transB, outShape, dtype, bias = null, residual = null) {
      const r = outShape.length;
      const [m, n] = [outShape[r - 2]!, outShape[r - 1]!];
      const k = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
      const batch = sizeOf(outShape.slice(0, -2));
      const aBatch = sizeOf(aShape.slice(0, -2));
      const bBatch = sizeOf(bShape.slice(0, -2));
      const simple = (aBatch === batch || aBatch === 1) && (bBatch === batch || bBatch === 1);
      if (!f32(dtype) || !simple || batch * m * n === 0 || k === 0) return cpu('matmul', 'matmul (broadcast batch)')(a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
      const c = {
        m, n, k,
        aMat: aBatch === 1 ? 0 : m * k, bMat: bBatch === 1 ? 0 : k * n,
        ars: transA ? 1 : k, acs: transA ? m : 1, brs: transB ? 1 : n, bcs: transB ? k : 1,
        bias: bias === null ? 0 : 1,
        residual: residual === null ? 0 : 1,
      };
      const none = new Float32Array(1);
      return run('matmul', matmulKernel, batch * m * n, c, a, b, bias === null ? none : bias, residual === null ? none : residual);
    },
    strided(x, view, dtype) {
      const size = sizeOf(view.shape);
      if (!f32(dtype) || size === 0 || view.shape.length > 6) return cpu('strided')(x, view, dtype);
      const c: Record<string, number> = { offset: view.offset };
      const pad = 6 - view.shape.length;
      for (let i = 0; i < 6; i++) Object.assign(c, { [`d${i}`]: i < pad ? 1 : view.shape[i - pad]!, [`s${i}`]: i < pad ? 0 : view.strides[i - pad]! });
      return run('strided', stridedKernel, size, c, x);
    },
    stridedAdjoint: cpu('stridedAdjoint'),
    concat(xs, outer, sizes, inner, dtype) {
      if (!f32(dtype) || xs.length !== 2 || outer * inner === 0) return cpu('concat', `concat of ${xs.length}`)(xs, outer, sizes, inner, dtype);
      const [n0, n1] = sizes as [number, number];
      return run('concat', concat2Kernel, outer * (n0 + n1) * inner, { n0, n1, inner }, xs[0]!, xs[1]!);
    },
    gather: cpu('gather'),
    scatterAdd: cpu('scatterAdd'),
    softmax(x, outer, n, inner, log, dtype) {
      if (!f32(dtype) || outer * n * inner === 0) return cpu('softmax')(x, outer, n, inner, log, dtype);
      return run('softmax', softmaxKernel, outer * n * inner, { n, inner, log: log ? 1 : 0 }, x);
    },
    softmaxBackward(y, g, outer, n, inner, log, dtype) {
      if (!f32(dtype) || outer * n * inner === 0) return cpu('softmaxBackward')(y, g, outer, n, inner, log, dtype);
      return run('softmaxBackward', softmaxBackwardKernel, outer * n * inner, { n, inner, log: log ? 1 : 0 }, y, g);
    },
    layerNorm(x, w, b, rows, d, eps, dtype) {
      if (!f32(dtype) || rows * d === 0) return cpu('layerNorm')(x, w, b, rows, d, eps, dtype);
      const mean = run('layerNorm mean', rowMeanKernel, rows, { d }, x);
      const rstd = run('layerNorm rstd', rowRstdKernel, rows, { d, eps }, x, mean);
      const ones = { out: null, host: new Float32Array(d).fill(1) };
      const zeros = { out: null, host: new Float32Array(d) };
      const y = run('layerNorm', layerNormKernel, rows * d, { d }, x, mean, rstd, w ?? ones, b ?? zeros);
      return { y, mean, rstd };
    },
    layerNormBackward(g, x, w, mean, rstd, rows, d, dtype) {
      if (!f32(dtype) || rows * d === 0) return cpu('layerNormBackward')(g, x, w, mean, rstd, rows, d, dtype);
      const ones = { out: null, host: new Float32Array(d).fill(1) };
      const ins = [g, x, w ?? ones, mean, rstd];
      return {
        gx: run('layerNorm gx', layerNormGxKernel, rows * d, { d }, ...ins),
        gw: run('layerNorm gw', layerNormGwKernel, d, { d, rows }, g, x, mean, rstd),
        gb: run('layerNorm gb', layerNormGbKernel, d, { d, rows }, g),
      };
    },
    attention(qkv, b, n, h, d, scale, dtype) {
      if (!f32(dtype) || b * n === 0) return cpu('attention')(qkv, b, n, h, d, scale, dtype);
      const c = { n, h, d, dm: h * d, scale };
      const scores = run('attention scores', attentionScoresKernel, b * h * n * n, c, qkv);
      const probs = run('softmax', softmaxKernel, b * h * n * n, { n, inner: 1, log: 0 }, scores);
      be.release!(scores);
      return { y: run('attention', attentionOutKernel, b * n * h * d, c, probs, qkv), probs };
    },
    attentionBackward(qkv, probs, gy, b, n, h, d, scale, dtype) {
      if (!f32(dtype) || b * n === 0) return cpu('attentionBackward')(qkv, probs, gy, b, n, h, d, scale, dtype);
      const c = { n, h, d, dm: h * d, scale };
      const dp = run('attention dP', attentionDpKernel, b * h * n * n, c, gy, qkv);
      const ds = run('softmaxBackward', softmaxBackwardKernel, b * h * n * n, { n, inner: 1, log: 0 }, probs, dp);
      be.release!(dp);
      const g = run('attention gqkv', attentionGradKernel, b * n * 3 * h * d, c, qkv, probs, ds, gy);
      be.release!(ds);
      return g;
    },
    gem(x, b, n, c, start, p, groups, eps, dtype) {
      if (!f32(dtype) || b * c === 0 || n <= start) {
        const r = cpu('gem')(x, b, n, c, start, p, groups, eps, dtype);
        return { y: r.y, saved: { cpu: r.saved } };
      }
      const k = { n, c, start, eps, per: Math.ceil(c / groups), tokens: n - start, bc: b * c };
      const M = run('gem max', gemMaxKernel, b * c, k, x);
      const sums = run('gem sums', gemSumsKernel, 2 * b * c, k, x, M, p);
      const y = run('gem', gemKernel, b * c, k, M, sums, p);
      return { y, saved: { gpu: { x, M, sums, p, y, b, groups, k } } };
    },
    gemBackward(saved, gy, dtype) {
      const st = saved as { cpu?: unknown; gpu?: { x: GpuStorage; M: GpuStorage; sums: GpuStorage; p: GpuStorage; y: GpuStorage; b: number; groups: number; k: Record<string, number> } };
      if (st.gpu === undefined) return cpu('gemBackward')(st.cpu, gy, dtype);
      const { x, M, sums, p, y, b, groups, k } = st.gpu;
      const gx = run('gem gx', gemGxKernel, b * k.n! * k.c!, k, x, M, sums, p, gy);
      const gp = run('gem gp', gemGpKernel, groups, { ...k, b }, sums, p, y, gy);
      return { gx, gp };
    },
  };
  return be;
}

/** Backend methods whose result is an object of several storages. */
const SEVERAL_RESULTS = new Set<string>(['layerNorm', 'layerNormBackward', 'attention', 'attentionBackward', 'gem', 'gemBackward']);

function isStorage(a: unknown): a is GpuStorage {
  return a !== null && typeof a === 'object' && 'host' in a && 'out' in a;
}

// ---- kernels (gpu.js compiles their source: plain functions of `this.thread` and `this.constants`) ----

/* eslint-disable @typescript-eslint/no-explicit-any */
type K = (this: any, ...args: any[]) => number;

const unaryKernels: Partial<Record<UnaryOp, K>> = {
  neg: function (this: any, x: any) { return -x[this.thread.x]; },
  exp: function (this: any, x: any) { return Math.exp(x[this.thread.x]); },
  log: function (this: any, x: any) { return Math.log(x[this.thread.x]); },
  sqrt: function (this: any, x: any) { return Math.sqrt(x[this.thread.x]); },
  abs: function (this: any, x: any) { return Math.abs(x[this.thread.x]); },
  tanh: function (this: any, x: any) { const v = x[this.thread.x]; const e = Math.exp(-2 * Math.abs(v)); const t = (1 - e) / (1 + e); return v < 0 ? -t : t; },
  sigmoid: function (this: any, x: any) { return 1 / (1 + Math.exp(-x[this.thread.x])); },
  relu: function (this: any, x: any) { return Math.max(x[this.thread.x], 0); },
  step: function (this: any, x: any) { return x[this.thread.x] > 0 ? 1 : 0; },
  // exact GELU x·Φ(x), Φ(x) = erfc(−x/√2)/2 with Numerical Recipes' erfc (as ../cpu/math.ts)
  gelu: function (this: any, x: any) {
    const v = x[this.thread.x];
    const u = -v * 0.7071067811865476;
    const z = Math.abs(u);
    const t = 1 / (1 + 0.5 * z);
    const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
    return 0.5 * v * (u >= 0 ? r : 2 - r);
  },
};

const geluGradKernel: K = function (this: any, x: any, g: any) {
  const v = x[this.thread.x];
  const u = -v * 0.7071067811865476;
  const z = Math.abs(u);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  const phi = 0.5 * (u >= 0 ? r : 2 - r);
  return g[this.thread.x] * (phi + v * 0.3989422804014327 * Math.exp(-0.5 * v * v));
};

const binaryCodes: Partial<Record<BinaryOp, number>> = { add: 0, sub: 1, mul: 2, div: 3, maximum: 4, minimum: 5 };

/** out[i] = a[ia] op b[ib], indices through up to 4 broadcast dims (d0..d3, strides a0..a3, b0..b3). */
const binaryKernel: K = function (this: any, a: any, b: any) {
  const i = this.thread.x;
  const i3 = i % this.constants.d3;
  const r3 = Math.floor(i / this.constants.d3);
  const i2 = r3 % this.constants.d2;
  const r2 = Math.floor(r3 / this.constants.d2);
  const i1 = r2 % this.constants.d1;
  const i0 = Math.floor(r2 / this.constants.d1);
  const x = a[i0 * this.constants.a0 + i1 * this.constants.a1 + i2 * this.constants.a2 + i3 * this.constants.a3];
  const y = b[i0 * this.constants.b0 + i1 * this.constants.b1 + i2 * this.constants.b2 + i3 * this.constants.b3];
  if (this.constants.op === 0) return x + y;
  if (this.constants.op === 1) return x - y;
  if (this.constants.op === 2) return x * y;
  if (this.constants.op === 3) return x / y;
  if (this.constants.op === 4) return Math.max(x, y);
  return Math.min(x, y);
};

const clampKernel: K = function (this: any, x: any) {
  return Math.min(Math.max(x[this.thread.x], this.constants.lo), this.constants.hi);
};

/** out[i] = x[offset + Σ_k idx_k·s_k] with idx the index of i in a view of up to 6 dims (d0..d5). */
const stridedKernel: K = function (this: any, x: any) {
  let r = this.thread.x;
  const i5 = r % this.constants.d5;
  r = Math.floor(r / this.constants.d5);
  const i4 = r % this.constants.d4;
  r = Math.floor(r / this.constants.d4);
  const i3 = r % this.constants.d3;
  r = Math.floor(r / this.constants.d3);
  const i2 = r % this.constants.d2;
  r = Math.floor(r / this.constants.d2);
  const i1 = r % this.constants.d1;
  const i0 = Math.floor(r / this.constants.d1);
  return x[this.constants.offset + i0 * this.constants.s0 + i1 * this.constants.s1 + i2 * this.constants.s2 + i3 * this.constants.s3 + i4 * this.constants.s4 + i5 * this.constants.s5];
};

/** Two blocks [outer, n0, inner] and [outer, n1, inner] side by side along the middle axis. */
const concat2Kernel: K = function (this: any, a: any, b: any) {
  const j = this.thread.x % this.constants.inner;
  const rest = Math.floor(this.thread.x / this.constants.inner);
  const n = this.constants.n0 + this.constants.n1;
  const t = rest % n;
  const o = Math.floor(rest / n);
  if (t < this.constants.n0) return a[(o * this.constants.n0 + t) * this.constants.inner + j];
  return b[(o * this.constants.n1 + t - this.constants.n0) * this.constants.inner + j];
};

// Attention over qkv [b, n, 3·dm] (dm = h·d, the last axis laid out [3, h, d]); P and S are [b, h, n, n].

/** S[b, h, i, j] = scale · q_i · k_j. */
const attentionScoresKernel: K = function (this: any, qkv: any) {
  const n = this.constants.n;
  const j = this.thread.x % n;
  const i = Math.floor(this.thread.x / n) % n;
  const bh = Math.floor(this.thread.x / (n * n));
  const hi = bh % this.constants.h;
  const bi = Math.floor(bh / this.constants.h);
  const q = (bi * n + i) * 3 * this.constants.dm + hi * this.constants.d;
  const k = (bi * n + j) * 3 * this.constants.dm + this.constants.dm + hi * this.constants.d;
  let s = 0;
  for (let c = 0; c < this.constants.d; c++) s += qkv[q + c] * qkv[k + c];
  return s * this.constants.scale;
};

/** y[b, i, h·d + c] = Σ_j P[b, h, i, j] · v_j[c]. */
const attentionOutKernel: K = function (this: any, p: any, qkv: any) {
  const n = this.constants.n;
  const c = this.thread.x % this.constants.d;
  const hi = Math.floor(this.thread.x / this.constants.d) % this.constants.h;
  const bi = Math.floor(this.thread.x / (this.constants.dm * n));
  const i = Math.floor(this.thread.x / this.constants.dm) % n;
  const prow = ((bi * this.constants.h + hi) * n + i) * n;
  let s = 0;
  for (let j = 0; j < n; j++) s += p[prow + j] * qkv[(bi * n + j) * 3 * this.constants.dm + 2 * this.constants.dm + hi * this.constants.d + c];
  return s;
};

/** dP[b, h, i, j] = gy_i · v_j (gy the head's slice of the output gradient). */
const attentionDpKernel: K = function (this: any, gy: any, qkv: any) {
  const n = this.constants.n;
  const j = this.thread.x % n;
  const i = Math.floor(this.thread.x / n) % n;
  const bh = Math.floor(this.thread.x / (n * n));
  const hi = bh % this.constants.h;
  const bi = Math.floor(bh / this.constants.h);
  const g = (bi * n + i) * this.constants.dm + hi * this.constants.d;
  const v = (bi * n + j) * 3 * this.constants.dm + 2 * this.constants.dm + hi * this.constants.d;
  let s = 0;
  for (let c = 0; c < this.constants.d; c++) s += gy[g + c] * qkv[v + c];
  return s;
};

/**
 * The qkv gradient, dS = P ⊙ (dP − rowsum(P ⊙ dP)) given: dq_t = scale·Σ_j dS[t, j] k_j,
 * dk_t = scale·Σ_i dS[i, t] q_i, dv_t = Σ_i P[i, t] gy_i.
 */
const attentionGradKernel: K = function (this: any, qkv: any, p: any, ds: any, gy: any) {
  const n = this.constants.n;
  const dm = this.constants.dm;
  const c = this.thread.x % this.constants.d;
  const hi = Math.floor(this.thread.x / this.constants.d) % this.constants.h;
  const part = Math.floor(this.thread.x / dm) % 3;
  const t = Math.floor(this.thread.x / (3 * dm)) % n;
  const bi = Math.floor(this.thread.x / (3 * dm * n));
  const base = ((bi * this.constants.h + hi) * n) * n;
  let s = 0;
  if (part === 0) {
    for (let j = 0; j < n; j++) s += ds[base + t * n + j] * qkv[(bi * n + j) * 3 * dm + dm + hi * this.constants.d + c];
    return s * this.constants.scale;
  }
  if (part === 1) {
    for (let i = 0; i < n; i++) s += ds[base + i * n + t] * qkv[(bi * n + i) * 3 * dm + hi * this.constants.d + c];
    return s * this.constants.scale;
  }
  for (let i = 0; i < n; i++) s += p[base + i * n + t] * gy[(bi * n + i) * dm + hi * this.constants.d + c];
  return s;
};

// GeM / GGeM over tokens [start, n) of x [b, n, c], p per group (channel j in group floor(j / per)), in the scaled
// form of ../cpu/gem.ts: r = max(x, eps)/M, m' = mean r^p, y = M·m'^(1/p).

/** M[b, j] = max(eps, max_t x). */
const gemMaxKernel: K = function (this: any, x: any) {
  const j = this.thread.x % this.constants.c;
  const bi = Math.floor(this.thread.x / this.constants.c);
  let m = this.constants.eps;
  // loops count from 0 (gpu.js's WGSL takes a counter started from a constant for a float, which ++ rejects)
  for (let i = 0; i < this.constants.tokens; i++) m = Math.max(m, x[(bi * this.constants.n + this.constants.start + i) * this.constants.c + j]);
  return m;
};

/** Cells [0, b·c): Σ_t r^p; cells [b·c, 2·b·c): Σ_t r^p·ln r. */
const gemSumsKernel: K = function (this: any, x: any, M: any, p: any) {
  const second = this.thread.x >= this.constants.bc ? 1 : 0;
  const bc = this.thread.x - second * this.constants.bc;
  const j = bc % this.constants.c;
  const bi = Math.floor(bc / this.constants.c);
  const pj = p[Math.floor(j / this.constants.per)];
  const lm = Math.log(M[bc]);
  let s = 0;
  for (let i = 0; i < this.constants.tokens; i++) {
    const lr = Math.log(Math.max(x[(bi * this.constants.n + this.constants.start + i) * this.constants.c + j], this.constants.eps)) - lm;
    const e = Math.exp(pj * lr);
    s += second === 1 ? e * lr : e;
  }
  return s;
};

const gemKernel: K = function (this: any, M: any, sums: any, p: any) {
  const j = this.thread.x % this.constants.c;
  const pj = p[Math.floor(j / this.constants.per)];
  return M[this.thread.x] * Math.pow(sums[this.thread.x] / this.constants.tokens, 1 / pj);
};

/** gx = gy·(M·m'^((1−p)/p)/N)·r^p/xc on pooled tokens where x >= eps, else 0. */
const gemGxKernel: K = function (this: any, x: any, M: any, sums: any, p: any, gy: any) {
  const j = this.thread.x % this.constants.c;
  const t = Math.floor(this.thread.x / this.constants.c) % this.constants.n;
  const bi = Math.floor(this.thread.x / (this.constants.c * this.constants.n));
  const v = x[this.thread.x];
  if (t < this.constants.start || v < this.constants.eps) return 0;
  const bc = bi * this.constants.c + j;
  const pj = p[Math.floor(j / this.constants.per)];
  const m = sums[bc] / this.constants.tokens;
  const kx = (M[bc] * Math.pow(m, (1 - pj) / pj)) / this.constants.tokens;
  return (gy[bc] * kx * Math.exp(pj * (Math.log(v) - Math.log(M[bc])))) / v;
};

/** gp[g] = Σ_b Σ_{j in g} gy·(y/p)·(T/(N·m') − ln m'/p). */
const gemGpKernel: K = function (this: any, sums: any, p: any, y: any, gy: any) {
  const pg = p[this.thread.x];
  const bc = this.constants.bc;
  let s = 0;
  for (let bi = 0; bi < this.constants.b; bi++) {
    for (let jj = 0; jj < this.constants.per; jj++) {
      const j = this.thread.x * this.constants.per + jj;
      if (j < this.constants.c) {
        const i = bi * this.constants.c + j;
        const m = sums[i] / this.constants.tokens;
        s += gy[i] * (y[i] / pg) * (sums[bc + i] / this.constants.tokens / m - Math.log(m) / pg);
      }
    }
  }
  return s;
};

/** Sum, max or min over the middle axis of [outer, n, inner]. */
const reduceKernel: K = function (this: any, x: any) {
  const o = Math.floor(this.thread.x / this.constants.inner);
  const j = this.thread.x % this.constants.inner;
  const base = o * this.constants.n * this.constants.inner + j;
  let acc = x[base];
  for (let t = 1; t < this.constants.n; t++) {
    const v = x[base + t * this.constants.inner];
    if (this.constants.op === 0) acc += v;
    else if (this.constants.op === 1) acc = Math.max(acc, v);
    else acc = Math.min(acc, v);
  }
  return acc;
};

/** C[t, r, c] = Σ_p A[t, r, p]·B[t, p, c] (+ bias[c]) (+ residual), A and B read through strides, batch strides 0 to broadcast. */
const matmulKernel: K = function (this: any, a: any, b: any, bias: any, residual: any) {
  const c = this.thread.x % this.constants.n;
  const rt = Math.floor(this.thread.x / this.constants.n);
  const r = rt % this.constants.m;
  const t = Math.floor(rt / this.constants.m);
  const ab = t * this.constants.aMat + r * this.constants.ars;
  const bb = t * this.constants.bMat + c * this.constants.bcs;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) s += a[ab + p * this.constants.acs] * b[bb + p * this.constants.brs];
  if (this.constants.bias === 1) s += bias[c];
  if (this.constants.residual === 1) s += residual[this.thread.x];
  return s;
};

/** Softmax (or log-softmax) over the middle axis; each cell recomputes its row's max and sum (n is small in a ViT). */
const softmaxKernel: K = function (this: any, x: any) {
  const j = this.thread.x % this.constants.inner;
  const o = Math.floor(this.thread.x / (this.constants.n * this.constants.inner));
  const base = o * this.constants.n * this.constants.inner + j;
  let mx = x[base];
  for (let t = 1; t < this.constants.n; t++) mx = Math.max(mx, x[base + t * this.constants.inner]);
  let s = 0;
  for (let t = 0; t < this.constants.n; t++) s += Math.exp(x[base + t * this.constants.inner] - mx);
  if (this.constants.log === 1) return x[this.thread.x] - mx - Math.log(s);
  return Math.exp(x[this.thread.x] - mx) / s;
};

const softmaxBackwardKernel: K = function (this: any, y: any, g: any) {
  const j = this.thread.x % this.constants.inner;
  const o = Math.floor(this.thread.x / (this.constants.n * this.constants.inner));
  const base = o * this.constants.n * this.constants.inner + j;
  let s = 0;
  if (this.constants.log === 1) {
    for (let t = 0; t < this.constants.n; t++) s += g[base + t * this.constants.inner];
    return g[this.thread.x] - Math.exp(y[this.thread.x]) * s;
  }
  for (let t = 0; t < this.constants.n; t++) s += y[base + t * this.constants.inner] * g[base + t * this.constants.inner];
  return y[this.thread.x] * (g[this.thread.x] - s);
};

const rowMeanKernel: K = function (this: any, x: any) {
  let s = 0;
  for (let j = 0; j < this.constants.d; j++) s += x[this.thread.x * this.constants.d + j];
  return s / this.constants.d;
};

const rowRstdKernel: K = function (this: any, x: any, mean: any) {
  const mu = mean[this.thread.x];
  let v = 0;
  for (let j = 0; j < this.constants.d; j++) {
    const c = x[this.thread.x * this.constants.d + j] - mu;
    v += c * c;
  }
  return 1 / Math.sqrt(v / this.constants.d + this.constants.eps);
};

/** gx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)) with x̂ = (x − μ)·rstd, ĝ = g·w; each cell recomputes its row's two means. */
const layerNormGxKernel: K = function (this: any, g: any, x: any, w: any, mean: any, rstd: any) {
  const row = Math.floor(this.thread.x / this.constants.d);
  const mu = mean[row];
  const rs = rstd[row];
  let sg = 0;
  let sgx = 0;
  for (let j = 0; j < this.constants.d; j++) {
    const gh = g[row * this.constants.d + j] * w[j];
    sg += gh;
    sgx += gh * (x[row * this.constants.d + j] - mu) * rs;
  }
  const k = this.thread.x % this.constants.d;
  const xh = (x[this.thread.x] - mu) * rs;
  return rs * (g[this.thread.x] * w[k] - sg / this.constants.d - (xh * sgx) / this.constants.d);
};

/** gw[j] = Σ_rows g·x̂. */
const layerNormGwKernel: K = function (this: any, g: any, x: any, mean: any, rstd: any) {
  let s = 0;
  for (let r = 0; r < this.constants.rows; r++) s += g[r * this.constants.d + this.thread.x] * (x[r * this.constants.d + this.thread.x] - mean[r]) * rstd[r];
  return s;
};

const layerNormGbKernel: K = function (this: any, g: any) {
  let s = 0;
  for (let r = 0; r < this.constants.rows; r++) s += g[r * this.constants.d + this.thread.x];
  return s;
};

const layerNormKernel: K = function (this: any, x: any, mean: any, rstd: any, w: any, b: any) {
  const row = Math.floor(this.thread.x / this.constants.d);
  const j = this.thread.x % this.constants.d;
  return (x[this.thread.x] - mean[row]) * rstd[row] * w[j] + b[j];
};

