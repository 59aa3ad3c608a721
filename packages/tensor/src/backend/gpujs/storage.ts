/**
 * The storage of the gpu.js backend: device outputs and host arrays, read back
 * synchronously, or (webgpu, whose kernels return promises) chained on promises.
 */
import type { TypedArray } from '../../dtype.js';

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
export interface GpuOutput {
  toArray(): ArrayLike<number> | Promise<ArrayLike<number>>;
  delete?(): void;
}

/** A storage of host data (typed arrays from the host, CPU fallbacks' results). */
export const hostStorage = (host: TypedArray): GpuStorage => ({ out: null, host, size: host.length });

export function isStorage(a: unknown): a is GpuStorage {
  return a !== null && typeof a === 'object' && 'host' in a && 'out' in a;
}

/** Reading storages back and wrapping kernels' results, for one GPU (webgpu: asynchronously). */
export function deviceStorage(gpu: { mode: string }) {
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
  return { asynchronous, host, hostAsync, value, wrap, deferred };
}

export type DeviceStorage = ReturnType<typeof deviceStorage>;
