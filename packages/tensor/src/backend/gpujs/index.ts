/**
 * A backend on gpu.js kernels (WebGL2 / WebGPU in browsers, WebAssembly or plain JS in
 * Node). gpu.js is an optional peer dependency, loaded only by `useGpujs`.
 *
 * Storage is a float32 gpu.js output kept on the device (`pipeline: true`, and
 * `immutable: true` since the tape keeps outputs alive) or a typed array for data that came
 * from the host; `toArray` reads a texture back once and caches it. Every kernel is float32
 * (`precision: 'single'`), flat (one output cell per element), with its loop bounds and
 * shapes as constants; kernels are compiled once per (op, constants).
 *
 * No kernel reads or writes more than `maxCells` cells (2²⁴ − 1: gpu.js computes indices
 * in float32, exact below 2²⁴). A larger op runs in chunks along its leading axis (rows,
 * batch, outer), and a larger tensor is stored as consecutive pieces, each within the
 * limit, that later ops take chunk by chunk.
 *
 * An op without a kernel here (or on int32 / float64 data, or a shape that cannot be
 * chunked) runs on the CPU backend, reported once per op.
 */
import type { DType, TypedArray } from '../../dtype.js';
import { broadcastStrides, sameShape, sizeOf } from '../../shape.js';
import { registerBackend, type Backend, type FusedKernels, type Primitives } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';
import * as k from './kernels.js';

export type GpujsMode = 'gpu' | 'webgpu' | 'webgl2' | 'webgl' | 'headlessgl' | 'webasm' | 'cpu';

/**
 * A tensor's storage on this backend: a device output, a host array, or both (after a
 * read-back); over the cell limit, consecutive pieces. In webgpu mode, whose kernels return
 * promises, it starts as `pending` (the kernel's result, chained on its inputs' promises)
 * and becomes `out` once computed.
 */
export interface GpuStorage {
  out: GpuOutput | null;
  host: TypedArray | null;
  /** Cells. */
  size: number;
  /** A storage over the cell limit: pieces of the flat array, `at` the first cell of each. */
  parts?: { s: GpuStorage; at: number }[];
  pending?: Promise<unknown> | null;
  /** webgpu: the queued kernels that read this storage (it is deleted after them); each leaves once it has run. */
  readers?: Set<Promise<unknown>>;
}
interface GpuOutput {
  toArray(): ArrayLike<number> | Promise<ArrayLike<number>>;
  delete?(): void;
}
export type Kernel = ((...args: unknown[]) => unknown) & { kernel: { constructor: { name: string } } };
/** What the backend needs of a gpu.js `GPU` (so that tests can wrap one). */
export interface GpuLike {
  mode: string;
  createKernel(fn: ((...args: never[]) => number) | string, settings: Record<string, unknown>): Kernel;
}

/** The most cells a kernel reads or writes by default: gpu.js computes indices in float32, exact below 2²⁴. */
export const MAX_CELLS = 2 ** 24 - 1;

export interface GpujsOptions {
  /** The most cells one kernel may read or write (default MAX_CELLS); larger ops run in chunks. */
  maxCells?: number;
}

export interface GpujsBackend extends Primitives<GpuStorage>, Required<FusedKernels<GpuStorage>> {
  /** The gpu.js mode chosen (gpu.js falls back silently: check this and `kernelClasses`). */
  readonly mode: string;
  /** Class names of the gpu.js kernels that ran (WebGL2Kernel, WebAssemblyKernel, CPUKernel, ...). */
  readonly kernelClasses: Set<string>;
  /** Ops that ran on the CPU backend because no kernel here fits them. */
  readonly fallbacks: Set<string>;
  readonly maxCells: number;
  /** The most cells one kernel has read or written so far (at most `maxCells`). */
  readonly peakCells: number;
}

/**
 * Loads gpu.js, creates the backend in `mode` (gpu.js's own choice when omitted) and
 * registers it as 'gpujs' (select it with `setBackend('gpujs')`).
 */
export async function useGpujs(options: GpujsOptions & { mode?: GpujsMode; warn?: (message: string) => void } = {}): Promise<GpujsBackend> {
  let mod: { GPU: new (settings: Record<string, unknown>) => GpuLike };
  try {
    mod = (await import('gpu.js' as string)) as typeof mod;
  } catch (e) {
    throw new Error(`useGpujs: gpu.js is not installed (npm install gpu.js@2.24): ${(e as Error).message}`);
  }
  const gpu = new mod.GPU(options.mode ? { mode: options.mode } : {});
  const backend = createGpujsBackend(gpu, options.warn ?? ((m) => console.warn(m)), options);
  registerBackend(backend);
  return backend;
}

const f32 = (d: DType) => d === 'float32';
const hostStorage = (host: TypedArray): GpuStorage => ({ out: null, host, size: host.length });

export function createGpujsBackend(gpu: GpuLike, warn: (message: string) => void, options: GpujsOptions = {}): GpujsBackend {
  const kernels = new Map<string, Kernel>();
  const kernelClasses = new Set<string>();
  const fallbacks = new Set<string>();
  const limit = options.maxCells ?? MAX_CELLS;
  /** webgpu kernels return promises: values are chained on the device and read back with toArrayAsync. */
  const asynchronous = gpu.mode === 'webgpu';

  const host = (x: GpuStorage): TypedArray => {
    if (x.host === null) {
      if (x.parts !== undefined) {
        const h = new Float32Array(x.size);
        for (const p of x.parts) h.set(host(p.s), p.at);
        x.host = h;
        return h;
      }
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
    if (x.host === null && x.parts !== undefined) {
      const h = new Float32Array(x.size);
      for (const p of x.parts) h.set(await hostAsync(p.s), p.at);
      x.host = h;
    }
    if (x.host === null) x.host = Float32Array.from(await x.out!.toArray());
    return x.host;
  };
  /** What a kernel takes: the device output when there is one, else the host array, else (webgpu) the promise of either. */
  const value = (a: unknown): unknown => (isStorage(a) ? (a.out ?? a.host ?? a.pending) : a);
  const wrap = (r: unknown, size: number): GpuStorage => (ArrayBuffer.isView(r) ? hostStorage(r as TypedArray) : { out: r as GpuOutput, host: null, size });
  /** Storage for a result still being computed; `readers` learn that `inputs` are in use until it is. */
  function deferred(p: Promise<unknown>, inputs: GpuStorage[], size: number): GpuStorage {
    const s: GpuStorage = { out: null, host: null, size };
    s.pending = p.then((r) => {
      Object.assign(s, wrap(r, size), { pending: null });
      return r;
    });
    const settled = s.pending.catch(() => {}); // an error is reported to whoever reads the value
    for (const x of inputs) {
      x.readers ??= new Set();
      const readers = x.readers;
      readers.add(settled);
      void settled.then(() => readers.delete(settled));
    }
    return s;
  }

  /**
   * The kernel for `key` with these constants and arguments, compiled on first use. gpu.js
   * fixes a kernel's argument types at its first call (device buffer or array), and its
   * webgpu kernels do not switch when they change (they take an array for a buffer from
   * another device), so kernels are kept per kind of argument too; and its GL kernels fix
   * the size of each argument's texture at their first call, so kernels are kept per size
   * of argument as well (a strided view of one shape reads storages of several sizes).
   */
  function kernelFor(
    key: string,
    fn: ((...args: never[]) => number) | string,
    cells: number,
    constants: Record<string, number>,
    vals: unknown[],
    sizes: number[],
  ): Kernel {
    const kinds = vals.map((v, i) => (ArrayBuffer.isView(v) ? 'a' : typeof v === 'object' ? 'd' : 'n') + sizes[i]).join(',');
    const id = `${key}|${cells}|${JSON.stringify(constants)}|${kinds}`;
    let kernel = kernels.get(id);
    if (kernel === undefined) {
      kernel = gpu.createKernel(fn, { output: [cells], constants, pipeline: true, immutable: true, precision: 'single', tactic: 'precision' });
      kernels.set(id, kernel);
    }
    return kernel;
  }

  /** Runs a kernel on `args` (storages or host arrays, each within the cell limit); webgpu: once the inputs are computed. */
  function run(key: string, fn: ((...args: never[]) => number) | string, cells: number, constants: Record<string, number>, ...args: unknown[]): GpuStorage {
    const sizes = args.map((a) => (isStorage(a) ? (a.parts ? Infinity : a.size) : ArrayBuffer.isView(a) ? (a as TypedArray).length : 0));
    const most = Math.max(cells, ...sizes);
    if (most > limit) throw new Error(`gpujs: ${key} was given ${most} cells, over the ${limit} a kernel can index (the op should have run in chunks)`);
    be.peakCells = Math.max(be.peakCells, most);
    if (!asynchronous) {
      const vals = args.map(value);
      const kernel = kernelFor(key, fn, cells, constants, vals, sizes);
      const r = kernel(...vals);
      kernelClasses.add(kernel.kernel.constructor.name);
      return wrap(r, cells);
    }
    const p = Promise.all(args.map(value)).then(async (vals) => {
      const long = vals.find((v) => ArrayBuffer.isView(v) && (v as TypedArray).length > limit) as TypedArray | undefined;
      if (long !== undefined) throw new Error(`gpujs: ${key} was given ${long.length} cells, over the ${limit} a kernel can index`);
      const kernel = kernelFor(key, fn, cells, constants, vals, sizes);
      const r = await kernel(...vals);
      kernelClasses.add(kernel.kernel.constructor.name);
      return r;
    });
    return deferred(p, args.filter(isStorage), cells);
  }

  /** Runs `name` of the CPU backend on host copies, reporting the op once. */
  function cpu<K extends keyof Backend>(name: K, op = name as string): NonNullable<Backend[K]> {
    return ((...args: unknown[]) => {
      if (!fallbacks.has(op)) {
        fallbacks.add(op);
        warn(`gpujs backend: ${op} has no gpu.js kernel here; it runs on the CPU`);
      }
      const conv = (a: unknown): unknown =>
        isStorage(a) ? host(a) : Array.isArray(a) && a.length > 0 && isStorage(a[0]) ? a.map((s) => host(s as GpuStorage)) : a;
      const call = () => (cpuBackend[name] as (...a: unknown[]) => unknown)(...args.map(conv));
      const storages = args.flatMap((a) => (isStorage(a) ? [a] : Array.isArray(a) ? a.filter(isStorage) : []));
      // synchronous modes read device values back here; webgpu waits for them
      if (!asynchronous || storages.every((s) => s.host !== null)) return wrapResult(call());
      if (SEVERAL_RESULTS.has(name)) {
        throw new Error(
          `gpujs (${gpu.mode}): ${op} has no kernel here and returns several arrays, which cannot wait on values still being computed on the device`,
        );
      }
      return deferred(Promise.all(storages.map(hostAsync)).then(call), storages, RESULT_CELLS[name]!(...args));
    }) as unknown as NonNullable<Backend[K]>;
  }
  const wrapResult = (r: unknown): unknown => {
    if (ArrayBuffer.isView(r)) return hostStorage(r as TypedArray);
    if (r !== null && typeof r === 'object') return Object.fromEntries(Object.entries(r).map(([key, v]) => [key, key === 'saved' ? v : wrapResult(v)]));
    return r;
  };

  // ---- ops over the cell limit: chunks along a leading axis ----

  /** Copies `cut` made for the chunk being run; released once the chunk has run. */
  let made: GpuStorage[] = [];
  /** Runs `f` and releases the copies `cut` made for it. */
  function scoped<T>(f: () => T): T {
    const outer = made;
    made = [];
    try {
      return f();
    } finally {
      for (const s of made) be.release!(s);
      made = outer;
    }
  }
  /** Rows a chunk takes when a row is `cells` cells. */
  const fit = (cells: number) => Math.max(1, Math.floor(limit / cells));
  /** `f` on rows [r, r + k) for consecutive chunks of `step` rows. */
  function chunks<T>(rows: number, step: number, f: (r: number, k: number) => T): T[] {
    const out: T[] = [];
    for (let r = 0; r < rows; r += step) out.push(scoped(() => f(r, Math.min(step, rows - r))));
    return out;
  }
  /** Keeps a copy `cut` made past its chunk (a value saved for the backward pass). */
  const keep = (s: GpuStorage): GpuStorage => {
    made = made.filter((m) => m !== s);
    return s;
  };
  /**
   * Consecutive chunks' results as one storage: its pieces when over the limit, else one
   * output they are copied into (`owned`: the results are released then).
   */
  function join(xs: GpuStorage[], owned = true): GpuStorage {
    if (xs.length === 1) return xs[0]!;
    const size = xs.reduce((n, x) => n + x.size, 0);
    if (size <= limit) {
      return xs.reduce((a, b) => {
        const ab = run('concat', k.concat2Kernel, a.size + b.size, { n0: a.size, n1: b.size, inner: 1 }, a, b);
        if (owned || a !== xs[0]) be.release!(a);
        if (owned) be.release!(b);
        return ab;
      });
    }
    const parts: NonNullable<GpuStorage['parts']> = [];
    let at = 0;
    for (const x of xs) {
      for (const p of x.parts ?? [{ s: x, at: 0 }]) parts.push({ s: p.s, at: at + p.at });
      at += x.size;
    }
    return { out: null, host: null, size, parts };
  }
  /** Partial results of `n` cells combined elementwise by `op` (a sum by default); the partials are released. */
  function total(xs: GpuStorage[], n: number, op: 'add' | 'maximum' | 'minimum' = 'add'): GpuStorage {
    return xs.reduce((acc, x) => {
      const s = be.binary(op, acc, [n], x, [n], [n], 'float32');
      be.release!(acc);
      be.release!(x);
      return s;
    });
  }
  /**
   * Cells [at, at + n) of x: x itself, its piece, a view of its host array, or a copy made
   * on the device (released with the chunk); more than the limit, a storage of pieces.
   */
  function cut(x: GpuStorage, at: number, n: number): GpuStorage {
    if (at === 0 && n === x.size) return x;
    if (x.parts !== undefined) {
      const bits = x.parts
        .filter((p) => p.at < at + n && p.at + p.s.size > at)
        .map((p) => {
          const lo = Math.max(at, p.at);
          return cut(p.s, lo - p.at, Math.min(at + n, p.at + p.s.size) - lo);
        });
      // the copies of parts of pieces are released with the chunk; joined, they are copied again
      const joined = join(bits, false);
      if (n <= limit && bits.length > 1) made.push(joined);
      return joined;
    }
    if (x.out === null && !x.pending) return hostStorage(x.host!.subarray(at, at + n));
    // webgpu: a CPU fallback's array over the limit, still on its way (a kernel's output is within it)
    if (x.pending && x.size > limit)
      return deferred(
        x.pending.then(() => x.host!.subarray(at, at + n)),
        [x],
        n,
      );
    const c = run('slice', k.sliceKernel, n, { at }, x);
    made.push(c);
    return c;
  }
  /** An elementwise op on equal-sized inputs, in chunks of the limit when over it. */
  function elementwise(size: number, xs: GpuStorage[], f: (xs: GpuStorage[], size: number) => GpuStorage): GpuStorage {
    if (size <= limit) return f(xs, size);
    return join(
      chunks(size, limit, (r, n) =>
        f(
          xs.map((x) => cut(x, r, n)),
          n,
        ),
      ),
    );
  }

  const be: GpujsBackend & { peakCells: number } = {
    name: 'gpujs',
    mode: gpu.mode,
    kernelClasses,
    fallbacks,
    maxCells: limit,
    peakCells: 0,
    fromArray: (data) => hostStorage(data),
    toArray: (x) => host(x),
    toArrayAsync: (x) => hostAsync(x),
    release(x) {
      if (x.parts !== undefined) {
        for (const p of x.parts) be.release!(p.s);
        return;
      }
      const free = () => {
        x.out?.delete?.();
        x.out = null;
      };
      if (!asynchronous) free();
      // webgpu: after the kernel that computes it and every queued kernel that reads it
      else void Promise.all([x.pending, ...(x.readers ?? [])]).then(free, free);
    },
    fill: (size, value, dtype) => hostStorage(cpuBackend.fill(size, value, dtype)),
    cast: cpu('cast'),
    unary(op, x, size, dtype) {
      if (!f32(dtype) || size === 0) return cpu('unary', `unary ${op}`)(op, x, size, dtype);
      const body = k.unaryKernel(op);
      return elementwise(size, [x], ([xc], n) => run(`unary ${op}`, body, n, { n }, xc));
    },
    unaryGrad(op, x, g, size, dtype) {
      const body = k.unaryGradKernel(op);
      if (!f32(dtype) || body === undefined || size === 0) return cpu('unaryGrad', `unaryGrad ${op}`)(op, x, g, size, dtype);
      return elementwise(size, [x, g], ([xc, gc], n) => run(`unaryGrad ${op}`, body, n, { n }, xc, gc));
    },
    binary(op, a, aShape, b, bShape, outShape, dtype) {
      const size = sizeOf(outShape);
      if (!f32(dtype) || size === 0 || outShape.length > 4) return cpu('binary', `binary ${op}`)(op, a, aShape, b, bShape, outShape, dtype);
      const body = k.binaryKernel(op);
      if (sameShape(aShape, bShape))
        return elementwise(size, [a, b], ([ac, bc], n) => run(`binary ${op}`, body, n, broadcastConstants([n], { a: [n], b: [n] }), ac, bc));
      if (size > limit)
        return broadcastChunks(
          [
            [a, aShape],
            [b, bShape],
          ],
          outShape,
          ([x, y], os) => be.binary(op, ...x!, ...y!, os, dtype),
        );
      return run(`binary ${op}`, body, size, broadcastConstants(outShape, { a: aShape, b: bShape }), a, b);
    },
    where(cond, cShape, a, aShape, b, bShape, outShape, dtype) {
      const size = sizeOf(outShape);
      // a condition of another dtype (an int32 array from the host) goes to the CPU
      const floatCond = cond.host === null || cond.host instanceof Float32Array;
      if (!f32(dtype) || !floatCond || size === 0 || outShape.length > 4) return cpu('where')(cond, cShape, a, aShape, b, bShape, outShape, dtype);
      if (size > limit)
        return broadcastChunks(
          [
            [cond, cShape],
            [a, aShape],
            [b, bShape],
          ],
          outShape,
          ([c, x, y], os) => be.where(...c!, ...x!, ...y!, os, dtype),
        );
      return run('where', k.whereKernel, size, broadcastConstants(outShape, { c: cShape, a: aShape, b: bShape }), cond, a, b);
    },
    clamp(x, size, lo, hi, dtype) {
      if (!f32(dtype) || size === 0) return cpu('clamp')(x, size, lo, hi, dtype);
      // ±Infinity bounds as the largest float32 (constants are numbers a shader can hold)
      const bound = (v: number) => Math.max(-3.4e38, Math.min(3.4e38, v));
      return elementwise(size, [x], ([xc], n) => run('clamp', k.clampKernel, n, { lo: bound(lo), hi: bound(hi) }, xc));
    },
    reduce(op, x, outer, n, inner, dtype) {
      if (!f32(dtype) || outer * inner === 0 || n === 0) return cpu('reduce', `reduce ${op}`)(op, x, outer, n, inner, dtype);
      if (outer * n * inner <= limit) return run('reduce', k.reduceKernel, outer * inner, { op: op === 'sum' ? 0 : op === 'max' ? 1 : 2, n, inner }, x);
      if (n * inner <= limit)
        return join(chunks(outer, fit(n * inner), (o, rows) => be.reduce(op, cut(x, o * n * inner, rows * n * inner), rows, n, inner, dtype)));
      if (inner > limit) {
        // blocks of columns, each gathered by a strided view ([n, m], in chunks itself where over the limit)
        const blocks: GpuStorage[] = [];
        for (let o = 0; o < outer; o++) {
          blocks.push(
            ...chunks(inner, fit(n), (j, m) => {
              const cols = be.strided(x, { shape: [n, m], strides: [inner, 1], offset: o * n * inner + j }, dtype);
              const r = be.reduce(op, cols, 1, n, m, dtype);
              be.release!(cols);
              return r;
            }),
          );
        }
        return join(blocks);
      }
      // a row over the limit: partial reductions over runs of the middle axis, combined
      const combine = op === 'sum' ? 'add' : op === 'max' ? 'maximum' : 'minimum';
      return join(
        Array.from({ length: outer }, (_, o) =>
          total(
            chunks(n, fit(inner), (t, m) => be.reduce(op, cut(x, (o * n + t) * inner, m * inner), 1, m, inner, dtype)),
            inner,
            combine,
          ),
        ),
      );
    },
    argReduce: cpu('argReduce'),
    matmul(a, aShape, b, bShape, transA, transB, outShape, dtype, bias = null, residual = null) {
      const r = outShape.length;
      const [m, n] = [outShape[r - 2]!, outShape[r - 1]!];
      const kk = transA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
      const batch = sizeOf(outShape.slice(0, -2));
      const aBatch = sizeOf(aShape.slice(0, -2));
      const bBatch = sizeOf(bShape.slice(0, -2));
      const simple = (aBatch === batch || aBatch === 1) && (bBatch === batch || bBatch === 1);
      const fallback = (why: string) => cpu('matmul', `matmul (${why})`)(a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
      if (!f32(dtype) || !simple || batch * m * n === 0 || kk === 0) return fallback('broadcast batch');
      if (Math.max(aBatch * m * kk, bBatch * kk * n, batch * m * n) > limit) {
        // one matrix over the limit: blocks of the output's rows (a's rows are contiguous unless a is read
        // transposed), or for aᵀb (a weight's gradient) blocks of the inner dimension, whose products are summed
        const rowBlocks = !transA && kk * n <= limit && Math.max(kk, n) <= limit;
        const sumBlocks = transA && !transB && m * n <= limit && Math.max(m, n) <= limit;
        if (Math.max(m * kk, kk * n, m * n) > limit && !rowBlocks && !sumBlocks) return fallback('over the cell limit');
        const res = (at: number, cells: number) => (residual === null ? null : cut(residual, at, cells));
        if (batch > 1) {
          // chunks of whole matrices
          const step = fit(Math.max(aBatch > 1 ? m * kk : 0, bBatch > 1 ? kk * n : 0, m * n));
          return join(
            chunks(batch, step, (t, tb) =>
              be.matmul(
                aBatch > 1 ? cut(a, t * m * kk, tb * m * kk) : a,
                aBatch > 1 ? [tb, ...aShape.slice(-2)] : aShape.slice(-2),
                bBatch > 1 ? cut(b, t * kk * n, tb * kk * n) : b,
                bBatch > 1 ? [tb, ...bShape.slice(-2)] : bShape.slice(-2),
                transA,
                transB,
                [tb, m, n],
                dtype,
                bias,
                res(t * m * n, tb * m * n),
              ),
            ),
          );
        }
        if (rowBlocks) {
          return join(
            chunks(m, fit(Math.max(kk, n)), (i, rows) =>
              be.matmul(cut(a, i * kk, rows * kk), [rows, kk], b, bShape.slice(-2), false, transB, [rows, n], dtype, bias, res(i * n, rows * n)),
            ),
          );
        }
        const partial = chunks(kk, fit(Math.max(m, n)), (p, q) =>
          be.matmul(cut(a, p * m, q * m), [q, m], cut(b, p * n, q * n), [q, n], true, false, [m, n], dtype, p === 0 ? bias : null, p === 0 ? residual : null),
        );
        return total(partial, m * n);
      }
      const c = {
        m,
        n,
        k: kk,
        aMat: aBatch === 1 ? 0 : m * kk,
        bMat: bBatch === 1 ? 0 : kk * n,
        ars: transA ? 1 : kk,
        acs: transA ? m : 1,
        brs: transB ? 1 : n,
        bcs: transB ? kk : 1,
        bias: bias === null ? 0 : 1,
        residual: residual === null ? 0 : 1,
      };
      const none = new Float32Array(1);
      return run('matmul', k.matmulKernel, batch * m * n, c, a, b, bias === null ? none : bias, residual === null ? none : residual);
    },
    strided(x, view, dtype) {
      const size = sizeOf(view.shape);
      if (!f32(dtype) || size === 0 || view.shape.length > 6) return cpu('strided')(x, view, dtype);
      if (size > limit || x.size > limit) return stridedChunks(x, view, dtype);
      const c: Record<string, number> = { offset: view.offset };
      const pad = 6 - view.shape.length;
      for (let i = 0; i < 6; i++) Object.assign(c, { [`d${i}`]: i < pad ? 1 : view.shape[i - pad]!, [`s${i}`]: i < pad ? 0 : view.strides[i - pad]! });
      return run('strided', k.stridedKernel, size, c, x);
    },
    stridedAdjoint(x, view, outShape, dtype) {
      const size = sizeOf(outShape);
      const c = adjointConstants(view);
      if (!f32(dtype) || size === 0 || c === null) return cpu('stridedAdjoint')(x, view, outShape, dtype);
      if (size > limit || x.size > limit) return adjointChunks(x, view, outShape, dtype);
      return run('stridedAdjoint', k.stridedAdjointKernel, size, c, x);
    },
    concat(xs, outer, sizes, inner, dtype) {
      if (!f32(dtype) || xs.length !== 2 || outer * inner === 0) return cpu('concat', `concat of ${xs.length}`)(xs, outer, sizes, inner, dtype);
      const [n0, n1] = sizes as [number, number];
      const row = (n0 + n1) * inner;
      if (outer * row <= limit) return run('concat', k.concat2Kernel, outer * row, { n0, n1, inner }, xs[0]!, xs[1]!);
      if (row > limit) return cpu('concat', 'concat (rows over the cell limit)')(xs, outer, sizes, inner, dtype);
      return join(
        chunks(outer, fit(row), (o, rows) =>
          be.concat([cut(xs[0]!, o * n0 * inner, rows * n0 * inner), cut(xs[1]!, o * n1 * inner, rows * n1 * inner)], rows, sizes, inner, dtype),
        ),
      );
    },
    gather: cpu('gather'),
    scatterAdd: cpu('scatterAdd'),
    softmax(x, outer, n, inner, log, dtype) {
      const row = n * inner;
      if (!f32(dtype) || outer * row === 0) return cpu('softmax')(x, outer, n, inner, log, dtype);
      if (row > limit) return cpu('softmax', 'softmax (rows over the cell limit)')(x, outer, n, inner, log, dtype);
      if (outer * row > limit) return join(chunks(outer, fit(row), (o, rows) => be.softmax(cut(x, o * row, rows * row), rows, n, inner, log, dtype)));
      return run('softmax', k.softmaxKernel, outer * row, { n, inner, log: log ? 1 : 0 }, x);
    },
    softmaxBackward(y, g, outer, n, inner, log, dtype) {
      const row = n * inner;
      if (!f32(dtype) || outer * row === 0) return cpu('softmaxBackward')(y, g, outer, n, inner, log, dtype);
      if (row > limit) return cpu('softmaxBackward', 'softmaxBackward (rows over the cell limit)')(y, g, outer, n, inner, log, dtype);
      if (outer * row > limit)
        return join(
          chunks(outer, fit(row), (o, rows) => be.softmaxBackward(cut(y, o * row, rows * row), cut(g, o * row, rows * row), rows, n, inner, log, dtype)),
        );
      return run('softmaxBackward', k.softmaxBackwardKernel, outer * row, { n, inner, log: log ? 1 : 0 }, y, g);
    },
    layerNorm(x, w, b, rows, d, eps, dtype) {
      if (!f32(dtype) || rows * d === 0) return cpu('layerNorm')(x, w, b, rows, d, eps, dtype);
      if (d > limit) return cpu('layerNorm', 'layerNorm (rows over the cell limit)')(x, w, b, rows, d, eps, dtype);
      if (rows * d > limit) {
        const rs = chunks(rows, fit(d), (r, m) => be.layerNorm(cut(x, r * d, m * d), w, b, m, d, eps, dtype));
        return { y: join(rs.map((q) => q.y)), mean: join(rs.map((q) => q.mean)), rstd: join(rs.map((q) => q.rstd)) };
      }
      const mean = run('layerNorm mean', k.rowMeanKernel, rows, { d }, x);
      const rstd = run('layerNorm rstd', k.rowRstdKernel, rows, { d, eps }, x, mean);
      const y = run(
        'layerNorm',
        k.layerNormKernel,
        rows * d,
        { d },
        x,
        mean,
        rstd,
        w ?? hostStorage(new Float32Array(d).fill(1)),
        b ?? hostStorage(new Float32Array(d)),
      );
      return { y, mean, rstd };
    },
    layerNormBackward(g, x, w, mean, rstd, rows, d, dtype) {
      if (!f32(dtype) || rows * d === 0) return cpu('layerNormBackward')(g, x, w, mean, rstd, rows, d, dtype);
      if (d > limit) return cpu('layerNormBackward', 'layerNormBackward (rows over the cell limit)')(g, x, w, mean, rstd, rows, d, dtype);
      if (rows * d > limit) {
        const rs = chunks(rows, fit(d), (r, m) =>
          be.layerNormBackward(cut(g, r * d, m * d), cut(x, r * d, m * d), w, cut(mean, r, m), cut(rstd, r, m), m, d, dtype),
        );
        return {
          gx: join(rs.map((q) => q.gx)),
          gw: total(
            rs.map((q) => q.gw),
            d,
          ),
          gb: total(
            rs.map((q) => q.gb),
            d,
          ),
        };
      }
      return {
        gx: run('layerNorm gx', k.layerNormGxKernel, rows * d, { d }, g, x, w ?? hostStorage(new Float32Array(d).fill(1)), mean, rstd),
        gw: run('layerNorm gw', k.layerNormGwKernel, d, { d, rows }, g, x, mean, rstd),
        gb: run('layerNorm gb', k.layerNormGbKernel, d, { d, rows }, g),
      };
    },
    attention(qkv, b, n, h, d, scale, dtype) {
      const [inRow, pRow] = [n * 3 * h * d, h * n * n];
      if (!f32(dtype) || b * n === 0) return cpu('attention')(qkv, b, n, h, d, scale, dtype);
      if (Math.max(inRow, pRow) > limit) return cpu('attention', 'attention (rows over the cell limit)')(qkv, b, n, h, d, scale, dtype);
      if (b * Math.max(inRow, pRow) > limit) {
        const rs = chunks(b, fit(Math.max(inRow, pRow)), (i, m) => be.attention(cut(qkv, i * inRow, m * inRow), m, n, h, d, scale, dtype));
        return { y: join(rs.map((q) => q.y)), probs: join(rs.map((q) => q.probs)) };
      }
      const c = { n, h, d, dm: h * d, scale };
      const scores = run('attention scores', k.attentionScoresKernel, b * pRow, c, qkv);
      const probs = run('softmax', k.softmaxKernel, b * pRow, { n, inner: 1, log: 0 }, scores);
      be.release!(scores);
      return { y: run('attention', k.attentionOutKernel, b * n * h * d, c, probs, qkv), probs };
    },
    attentionBackward(qkv, probs, gy, b, n, h, d, scale, dtype) {
      const [inRow, pRow] = [n * 3 * h * d, h * n * n];
      if (!f32(dtype) || b * n === 0) return cpu('attentionBackward')(qkv, probs, gy, b, n, h, d, scale, dtype);
      if (Math.max(inRow, pRow) > limit)
        return cpu('attentionBackward', 'attentionBackward (rows over the cell limit)')(qkv, probs, gy, b, n, h, d, scale, dtype);
      if (b * Math.max(inRow, pRow) > limit) {
        return join(
          chunks(b, fit(Math.max(inRow, pRow)), (i, m) =>
            be.attentionBackward(
              cut(qkv, i * inRow, m * inRow),
              cut(probs, i * pRow, m * pRow),
              cut(gy, i * n * h * d, m * n * h * d),
              m,
              n,
              h,
              d,
              scale,
              dtype,
            ),
          ),
        );
      }
      const c = { n, h, d, dm: h * d, scale };
      const dp = run('attention dP', k.attentionDpKernel, b * pRow, c, gy, qkv);
      const ds = run('softmaxBackward', k.softmaxBackwardKernel, b * pRow, { n, inner: 1, log: 0 }, probs, dp);
      be.release!(dp);
      const g = run('attention gqkv', k.attentionGradKernel, b * inRow, c, qkv, probs, ds, gy);
      be.release!(ds);
      return g;
    },
    gem(x, b, n, c, start, p, groups, eps, dtype) {
      const row = Math.max(n * c, 2 * c);
      if (!f32(dtype) || b * c === 0 || n <= start || row > limit) {
        const r = cpu('gem', row > limit ? 'gem (rows over the cell limit)' : 'gem')(x, b, n, c, start, p, groups, eps, dtype);
        return { y: r.y, saved: { cpu: r.saved } };
      }
      if (b * row > limit) {
        // x's chunks stay alive for the backward pass
        const rs = chunks(b, fit(row), (i, m) => ({ at: i, rows: m, ...be.gem(keep(cut(x, i * n * c, m * n * c)), m, n, c, start, p, groups, eps, dtype) }));
        // the chunks' y stay alive too (saved for their backward)
        return {
          y: join(
            rs.map((q) => q.y),
            false,
          ),
          saved: { chunks: rs.map(({ at, rows, saved }) => ({ at, rows, saved })), c, groups },
        };
      }
      const kc = { n, c, start, eps, per: Math.ceil(c / groups), tokens: n - start, bc: b * c };
      const M = run('gem max', k.gemMaxKernel, b * c, kc, x);
      const sums = run('gem sums', k.gemSumsKernel, 2 * b * c, kc, x, M, p);
      const y = run('gem', k.gemKernel, b * c, kc, M, sums, p);
      return { y, saved: { gpu: { x, M, sums, p, y, b, groups, k: kc } } };
    },
    gemBackward(saved, gy, dtype) {
      const st = saved as GemSaved;
      if (st.chunks !== undefined) {
        const { c, groups } = st;
        const rs = st.chunks.map(({ at, rows, saved: s }) => scoped(() => be.gemBackward(s, cut(gy, at * c, rows * c), dtype)));
        return {
          gx: join(rs.map((q) => q.gx)),
          gp: total(
            rs.map((q) => q.gp),
            groups,
          ),
        };
      }
      if (st.gpu === undefined) return cpu('gemBackward')(st.cpu, gy, dtype);
      const { x, M, sums, p, y, b, groups, k: kc } = st.gpu;
      const gx = run('gem gx', k.gemGxKernel, b * kc.n! * kc.c!, kc, x, M, sums, p, gy);
      const gp = run('gem gp', k.gemGpKernel, groups, { ...kc, b }, sums, p, y, gy);
      return { gx, gp };
    },
  };

  /**
   * A broadcasting op over the limit: chunks of the output's leading axis, each operand cut
   * to its rows (or whole where it broadcasts along that axis); one row at a time without
   * the leading axis, recursively, when a row is over the limit.
   */
  function broadcastChunks(
    operands: [GpuStorage, readonly number[]][],
    outShape: readonly number[],
    f: (operands: [GpuStorage, number[]][], outShape: number[]) => GpuStorage,
  ): GpuStorage {
    const padded = operands.map(([x, s]) => [x, [...Array(outShape.length - s.length).fill(1), ...s]] as [GpuStorage, number[]]);
    const rest = outShape.slice(1);
    const drop = sizeOf(rest) > limit;
    return join(
      chunks(outShape[0]!, drop ? 1 : fit(sizeOf(rest)), (i, m) =>
        f(
          padded.map(([x, s]) => {
            const tail = s.slice(1);
            const shape = drop ? tail : [s[0] === 1 ? 1 : m, ...tail];
            return [s[0] === 1 ? x : cut(x, i * sizeOf(tail), m * sizeOf(tail)), shape];
          }),
          drop ? rest : [m, ...rest],
        ),
      ),
    );
  }

  /**
   * A strided view over the limit (or of a storage over it): chunks of the view's leading
   * axis, each reading the span of x it covers; when one row's span is over the limit,
   * one row at a time without the leading axis (up to 64 rows, else on the CPU).
   */
  function stridedChunks(x: GpuStorage, view: Parameters<Backend['strided']>[1], dtype: DType): GpuStorage {
    if (view.shape.length === 0) return be.strided(cut(x, view.offset, 1), { shape: [], strides: [], offset: 0 }, dtype);
    const [d0, ...rest] = view.shape as [number, ...number[]];
    const [s0, ...rs] = view.strides as [number, ...number[]];
    const row = sizeOf(rest);
    const lo = rest.reduce((acc, dim, i) => acc + Math.min(0, (dim - 1) * rs[i]!), 0);
    const hi = rest.reduce((acc, dim, i) => acc + Math.max(0, (dim - 1) * rs[i]!), 0);
    if (row <= limit && hi - lo + 1 <= limit) {
      const step = Math.min(fit(row), s0 === 0 ? Infinity : Math.floor((limit - (hi - lo + 1)) / Math.abs(s0)) + 1);
      return join(
        chunks(d0, Math.max(1, step), (i, m) => {
          const off = view.offset + i * s0;
          const [from, to] = [off + Math.min(0, (m - 1) * s0) + lo, off + Math.max(0, (m - 1) * s0) + hi];
          return be.strided(cut(x, from, to - from + 1), { shape: [m, ...rest], strides: view.strides, offset: off - from }, dtype);
        }),
      );
    }
    if (d0 > 64) return cpu('strided', 'strided (rows over the cell limit)')(x, view, dtype);
    return join(chunks(d0, 1, (i) => be.strided(x, { shape: rest, strides: rs, offset: view.offset + i * s0 }, dtype)));
  }

  /**
   * The adjoint of a view over the limit whose rows (along its leading axis) write disjoint,
   * increasing spans of the output (slices such as a ViT's tokens after the class token):
   * each chunk of rows fills its span, zeros between; other views run on the CPU.
   */
  function adjointChunks(x: GpuStorage, view: Parameters<Backend['stridedAdjoint']>[1], outShape: readonly number[], dtype: DType): GpuStorage {
    const size = sizeOf(outShape);
    const [d0, ...rest] = view.shape as [number, ...number[]];
    const [s0, ...rs] = view.strides as [number, ...number[]];
    const row = sizeOf(rest);
    const span = rest.reduce((acc, dim, i) => acc + (dim - 1) * rs[i]!, 0) + 1;
    if (view.shape.length === 0 || (d0 > 1 && s0 < span) || row > limit || span > limit)
      return cpu('stridedAdjoint', 'stridedAdjoint (over the cell limit)')(x, view, outShape, dtype);
    const step = Math.max(1, Math.min(fit(row), s0 === 0 ? Infinity : Math.floor((limit - span) / s0) + 1));
    const pieces: GpuStorage[] = [];
    let at = 0;
    const zeros = (n: number) => {
      if (n > 0) pieces.push(hostStorage(new Float32Array(n)));
    };
    chunks(d0, step, (i, m) => {
      const from = view.offset + i * s0;
      const cells = (m - 1) * s0 + span;
      zeros(from - at);
      pieces.push(be.stridedAdjoint(cut(x, i * row, m * row), { shape: [m, ...rest], strides: view.strides, offset: 0 }, [cells], dtype));
      at = from + cells;
    });
    zeros(size - at);
    return join(pieces);
  }

  return be;
}

/**
 * The adjoint kernel's constants for a view of up to 6 non-negative strides whose strided
 * dims split an offset in one way at most (each stride over the span of the smaller), or null.
 */
function adjointConstants(view: { shape: readonly number[]; strides: readonly number[]; offset: number }): Record<string, number> | null {
  const r = view.shape.length;
  if (r > 6 || view.strides.some((s) => s < 0)) return null;
  const xs = view.shape.map((_, i) => sizeOf(view.shape.slice(i + 1)));
  const dims = view.shape.map((d, i) => ({ d, s: view.strides[i]!, x: xs[i]! })).filter(({ d }) => d > 1);
  const strided = dims.filter(({ s }) => s > 0).sort((a, b) => b.s - a.s);
  const broadcast = dims.filter(({ s }) => s === 0);
  let below = 0;
  for (let i = strided.length - 1; i >= 0; i--) {
    if (strided[i]!.s <= below) return null;
    below += (strided[i]!.d - 1) * strided[i]!.s;
  }
  const c: Record<string, number> = { offset: view.offset, Z: broadcast.reduce((n, { d }) => n * d, 1) };
  for (let i = 0; i < 6; i++) {
    const t = strided[i];
    Object.assign(c, { [`t${i}`]: t?.s ?? 1, [`e${i}`]: t?.d ?? 1, [`xs${i}`]: t?.x ?? 0 });
    // the broadcast dims right-aligned in slots 0..5 (slot 5 varies fastest)
    const z = broadcast[broadcast.length - 6 + i];
    Object.assign(c, { [`f${i}`]: z?.d ?? 1, [`zs${i}`]: z?.x ?? 0 });
  }
  return c;
}

type GemSaved = {
  cpu?: unknown;
  gpu?: { x: GpuStorage; M: GpuStorage; sums: GpuStorage; p: GpuStorage; y: GpuStorage; b: number; groups: number; k: Record<string, number> };
  chunks?: { at: number; rows: number; saved: unknown }[];
  c: number;
  groups: number;
};

/**
 * The constants of a kernel that broadcasts operands to an output of up to 4 dims: the
 * output's dims d0..d3 (left-padded with 1) and each operand's strides <name>0..<name>3.
 */
function broadcastConstants(outShape: readonly number[], operands: Record<string, readonly number[]>): Record<string, number> {
  const pad = (s: readonly number[], fill: number) => [...Array(4 - s.length).fill(fill), ...s];
  const c: Record<string, number> = {};
  pad(outShape, 1).forEach((d, i) => (c[`d${i}`] = d));
  for (const [name, shape] of Object.entries(operands)) pad(broadcastStrides(shape, outShape), 0).forEach((s, i) => (c[`${name}${i}`] = s));
  return c;
}

/** The cells of an op's result, from its arguments: a webgpu fallback's size before it has run. */
// biome-ignore lint/suspicious/noExplicitAny: each entry takes its kernel's arguments
const RESULT_CELLS: { [K in keyof Backend]?: (...args: any[]) => number } = {
  cast: (_x, size) => size,
  unary: (_op, _x, size) => size,
  unaryGrad: (_op, _x, _g, size) => size,
  binary: (_op, _a, _as, _b, _bs, out) => sizeOf(out),
  where: (_c, _cs, _a, _as, _b, _bs, out) => sizeOf(out),
  clamp: (_x, size) => size,
  reduce: (_op, _x, outer, _n, inner) => outer * inner,
  argReduce: (_op, _x, outer, _n, inner) => outer * inner,
  matmul: (_a, _as, _b, _bs, _ta, _tb, out) => sizeOf(out),
  strided: (_x, view) => sizeOf(view.shape),
  stridedAdjoint: (_x, _view, out) => sizeOf(out),
  concat: (_xs, outer, sizes: number[], inner) => outer * sizes.reduce((s, v) => s + v, 0) * inner,
  gather: (_x, outer, _n, inner, _idx, nIdx) => outer * nIdx * inner,
  scatterAdd: (_g, outer, n, inner) => outer * n * inner,
  softmax: (_x, outer, n, inner) => outer * n * inner,
  softmaxBackward: (_y, _g, outer, n, inner) => outer * n * inner,
  attentionBackward: (_qkv, _p, _gy, b, n, h, d) => b * n * 3 * h * d,
};
/* eslint-enable @typescript-eslint/no-explicit-any */

/** Backend methods whose result is an object of several storages. */
const SEVERAL_RESULTS = new Set<string>(['layerNorm', 'layerNormBackward', 'attention', 'attentionBackward', 'gem', 'gemBackward']);

function isStorage(a: unknown): a is GpuStorage {
  return a !== null && typeof a === 'object' && 'host' in a && 'out' in a;
}
