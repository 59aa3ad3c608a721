/** CPU fallbacks: an op with no gpu.js kernel here runs on the CPU backend on host copies, reported once. */
import { sizeOf } from '../../shape.js';
import type { TypedArray } from '../../dtype.js';
import type { Backend } from '../backend.js';
import { cpuBackend } from '../cpu/index.js';
import { hostStorage, isStorage, type DeviceStorage, type GpuStorage } from './storage.js';

export function cpuFallback(
  gpu: { mode: string },
  warn: (message: string) => void,
  fallbacks: Set<string>,
  { asynchronous, host, hostAsync, deferred }: DeviceStorage,
) {
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
  return { cpu };
}

export type CpuFallback = ReturnType<typeof cpuFallback>['cpu'];

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
const SEVERAL_RESULTS = new Set<string>(['layerNorm', 'layerNormBackward', 'attention', 'attentionBackward']);
