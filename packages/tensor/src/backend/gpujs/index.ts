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
 *
 * The parts: storage.ts (device outputs, host arrays, reading back, webgpu's promises),
 * runs.ts (compiling and running kernels within the cell limit), fallback.ts (the CPU
 * fallback), chunking.ts (ops and tensors over the cell limit), kernels.ts (the kernels'
 * source); this file is the backend's op table, which uses them.
 */
import type { DType } from '../../dtype.js';
import { sameShape, sizeOf } from '../../shape.js';
import { registerBackend, type FusedKernels, type Primitives } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';
import { adjointConstants, broadcastConstants, chunking } from './chunking.js';
import { cpuFallback } from './fallback.js';
import * as k from './kernels.js';
import { kernelRuns, type GpuLike, type Run, type RunStats } from './runs.js';
import { deviceStorage, hostStorage, type GpuStorage } from './storage.js';

export type { GpuStorage, GpuOutput } from './storage.js';
export type { GpuLike, Kernel, Run } from './runs.js';

export type GpujsMode = 'gpu' | 'webgpu' | 'webgl2' | 'webgl' | 'headlessgl' | 'webasm' | 'cpu';

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
  /**
   * Runs a kernel (a gpu.js kernel function or its source) over `cells` output cells with
   * these constants, on storages or host arrays each within `maxCells`: how an extension's
   * fused kernel runs here (`@ggem/pooling`'s GeM). Compiled once per key, constants and
   * kind of argument; on webgpu, queued after the kernels that compute its inputs.
   */
  run: Run;
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
export function createGpujsBackend(gpu: GpuLike, warn: (message: string) => void, options: GpujsOptions = {}): GpujsBackend {
  const fallbacks = new Set<string>();
  const limit = options.maxCells ?? MAX_CELLS;
  const stats: RunStats = { peakCells: 0, kernelClasses: new Set<string>() };
  const storage = deviceStorage(gpu);
  const { asynchronous, host, hostAsync } = storage;
  const { run } = kernelRuns(gpu, limit, storage, stats);
  const { cpu } = cpuFallback(gpu, warn, fallbacks, storage);
  const { fit, chunks, join, total, cut, elementwise, broadcastChunks, stridedChunks, adjointChunks } = chunking(limit, run, cpu, storage, () => be);

  const be: GpujsBackend = {
    name: 'gpujs',
    mode: gpu.mode,
    kernelClasses: stats.kernelClasses,
    fallbacks,
    maxCells: limit,
    get peakCells() {
      return stats.peakCells;
    },
    run,
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
      if (!f32(dtype) || size === 0) return cpu('binary', `binary ${op}`)(op, a, aShape, b, bShape, outShape, dtype);
      const body = k.binaryKernel(op);
      if (!sameShape(aShape, bShape) && outShape.length > 4) {
        // more dims than the kernel indexes: merge the runs of dims that both operands broadcast alike
        const merged = mergeDims(outShape, [aShape, bShape]);
        if (merged.out.length <= 4) return be.binary(op, a, merged.operands[0]!, b, merged.operands[1]!, merged.out, dtype);
        return cpu('binary', `binary ${op}`)(op, a, aShape, b, bShape, outShape, dtype);
      }
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
    matmul(a, aShape, b, bShape, transA, transB, outShape, dtype, bias = null, residual = null, activation = null) {
      if (activation) {
        const y = be.matmul(a, aShape, b, bShape, transA, transB, outShape, dtype, bias, residual);
        const out = be.unary(activation, y, sizeOf(outShape), dtype);
        be.release!(y);
        return out;
      }
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
      if (f32(dtype) && xs.length > 2 && outer * inner > 0) {
        // two at a time: [x0 | x1], then [x0 x1 | x2], ...
        let acc = xs[0]!;
        let n = sizes[0]!;
        for (let i = 1; i < xs.length; i++) {
          const next = be.concat([acc, xs[i]!], outer, [n, sizes[i]!], inner, dtype);
          if (i > 1) be.release!(acc);
          acc = next;
          n += sizes[i]!;
        }
        return acc;
      }
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
    gather(x, outer, n, inner, idx, nIdx, dtype) {
      const size = outer * nIdx * inner;
      if (!f32(dtype) || size === 0 || Math.max(size, x.size) > limit) return cpu('gather')(x, outer, n, inner, idx, nIdx, dtype);
      return run('gather', k.gatherKernel, size, { n, inner, nIdx }, x, floatIndex(idx));
    },
    scatterAdd(g, outer, n, inner, idx, nIdx, dtype) {
      const size = outer * n * inner;
      if (!f32(dtype) || size === 0 || Math.max(size, g.size) > limit) return cpu('scatterAdd')(g, outer, n, inner, idx, nIdx, dtype);
      return run('scatterAdd', k.scatterAddKernel, size, { n, inner, nIdx }, g, floatIndex(idx));
    },
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
        return { y: join(rs.map((q) => q.y)), probs: join(rs.map((q) => q.probs!)) };
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
  };
  return be;
}

/** An int32 index from the host as the float32 array a kernel reads (exact below 2²⁴, the cell limit). */
function floatIndex(idx: GpuStorage): GpuStorage | Float32Array {
  return idx.host instanceof Int32Array ? Float32Array.from(idx.host) : idx;
}

/**
 * The output shape and operand shapes (right-aligned, of the output's rank) with each run of
 * adjacent dims merged into one where every operand either spans the whole run or is 1
 * along all of it, and size-1 output dims dropped: the same broadcast over fewer dims.
 */
function mergeDims(out: readonly number[], operands: readonly (readonly number[])[]): { out: number[]; operands: number[][] } {
  const full = operands.map((s) => [...new Array<number>(out.length - s.length).fill(1), ...s]);
  const o: number[] = [];
  const ops: number[][] = operands.map(() => []);
  out.forEach((d, i) => {
    if (d === 1) return;
    const kinds = full.map((s) => (s[i] === 1 ? 'b' : 'f'));
    const last = o.length - 1;
    const sameKinds = last >= 0 && ops.every((s, k) => (s[last] === 1 ? 'b' : 'f') === kinds[k]);
    if (sameKinds) {
      o[last]! *= d;
      ops.forEach((s, k) => {
        if (kinds[k] === 'f') s[last]! *= d;
      });
    } else {
      o.push(d);
      ops.forEach((s, k) => s.push(kinds[k] === 'f' ? d : 1));
    }
  });
  if (o.length === 0) return { out: [1], operands: operands.map(() => [1]) };
  return { out: o, operands: ops };
}
