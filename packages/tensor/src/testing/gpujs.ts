/**
 * Test doubles for the gpu.js backend in Node: a GPU with WebGPU's promise contract, and a
 * GPU that records the largest kernel it ran.
 */
import type { GpuLike, Kernel } from '../backend/gpujs/index.js';

/** A stand-in for gpu.js's WebGPU mode, with the number of outputs deleted so far. */
export type WebgpuStandIn = GpuLike & { deletes: number };

/**
 * WebGPU's contract, in Node: gpu.js's webgpu kernels return promises and read back
 * asynchronously. The stand-in gives `real`'s kernels that contract (each result a
 * macrotask later, `toArray` a promise, `delete` counted) and reports mode 'webgpu', so the
 * backend chains kernels on promises. A kernel that reads a deleted output fails, and so
 * does one given an array where its first call had a device buffer (webgpu kernels keep the
 * argument types of their first call and read the array as a buffer of another device).
 */
export function webgpuStandIn(real: GpuLike): WebgpuStandIn {
  const deleted = new WeakSet<object>();
  type Out = { inner: unknown; toArray(): Promise<ArrayLike<number>>; delete(): void };
  const isOut = (a: unknown): a is Out => a !== null && typeof a === 'object' && 'inner' in a;
  const stand: WebgpuStandIn = {
    deletes: 0,
    mode: 'webgpu',
    createKernel(fn, settings) {
      const k = real.createKernel(fn, settings);
      let buffers: boolean[] | undefined;
      const wrapped = (...args: unknown[]) =>
        new Promise<Out>((resolve, reject) =>
          setTimeout(() => {
            buffers ??= args.map(isOut);
            if (args.some((a, i) => buffers![i] && !isOut(a))) return reject(new Error('an array passed where the first call had a buffer'));
            if (args.some((a) => isOut(a) && deleted.has(a))) return reject(new Error('a kernel read a deleted output'));
            if (args.some((a) => a instanceof Promise)) return reject(new Error('a kernel was given a promise'));
            const r = k(...args.map((a) => (isOut(a) ? a.inner : a))) as { toArray?: () => ArrayLike<number> } | ArrayLike<number>;
            const out: Out = {
              inner: r,
              toArray: async () => ('toArray' in r && r.toArray ? r.toArray() : (r as ArrayLike<number>)),
              delete: () => {
                deleted.add(out);
                stand.deletes++;
              },
            };
            resolve(out);
          }, 0),
        );
      return Object.assign(wrapped, { kernel: k.kernel });
    },
  };
  return stand;
}

/**
 * `gpu`, recording in `most` the most cells any of its kernels wrote or was given as an
 * array. Like gpu.js's GL kernels, which fix each argument's texture size at their first
 * call, a kernel given an array of another size than at its first call throws.
 */
export function recordingGpu(gpu: GpuLike): GpuLike & { most: number } {
  const r = {
    mode: gpu.mode,
    most: 0,
    createKernel(fn: Parameters<GpuLike['createKernel']>[0], settings: Record<string, unknown>): Kernel {
      const k = gpu.createKernel(fn, settings);
      r.most = Math.max(r.most, (settings.output as number[])[0]!);
      let first: number[] | undefined;
      const wrapped = (...args: unknown[]) => {
        const sizes = args.map((a) => (ArrayBuffer.isView(a) ? (a as Float32Array).length : -1));
        first ??= sizes;
        if (sizes.some((n, i) => n !== first![i]))
          throw new Error(`a kernel given arguments of ${sizes} cells after ${first} (GL kernels keep their first sizes)`);
        r.most = Math.max(r.most, ...sizes);
        return k(...args);
      };
      return Object.assign(wrapped, { kernel: k.kernel });
    },
  };
  return r;
}
