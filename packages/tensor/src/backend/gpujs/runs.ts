/** Kernel runs: each compiled once per (op, constants, kind and size of argument) and run within the cell limit. */
import { isStorage, type DeviceStorage, type GpuStorage } from './storage.js';
import type { TypedArray } from '../../dtype.js';

export type Kernel = ((...args: unknown[]) => unknown) & { kernel: { constructor: { name: string } } };
/** What the backend needs of a gpu.js `GPU` (so that tests can wrap one). */
export interface GpuLike {
  mode: string;
  createKernel(fn: ((...args: never[]) => number) | string, settings: Record<string, unknown>): Kernel;
}

/** The most cells a kernel reads or writes by default: gpu.js computes indices in float32, exact below 2²⁴. */

/** What the backend reports of its runs: the most cells a kernel saw, and the kernel classes gpu.js used. */
export interface RunStats {
  peakCells: number;
  kernelClasses: Set<string>;
}

export type Run = (
  key: string,
  fn: ((...args: never[]) => number) | string,
  cells: number,
  constants: Record<string, number>,
  ...args: unknown[]
) => GpuStorage;

export function kernelRuns(gpu: GpuLike, limit: number, { asynchronous, value, wrap, deferred }: DeviceStorage, stats: RunStats): { run: Run } {
  const kernels = new Map<string, Kernel>();
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
    stats.peakCells = Math.max(stats.peakCells, most);
    if (!asynchronous) {
      const vals = args.map(value);
      const kernel = kernelFor(key, fn, cells, constants, vals, sizes);
      const r = kernel(...vals);
      stats.kernelClasses.add(kernel.kernel.constructor.name);
      return wrap(r, cells);
    }
    const p = Promise.all(args.map(value)).then(async (vals) => {
      const long = vals.find((v) => ArrayBuffer.isView(v) && (v as TypedArray).length > limit) as TypedArray | undefined;
      if (long !== undefined) throw new Error(`gpujs: ${key} was given ${long.length} cells, over the ${limit} a kernel can index`);
      const kernel = kernelFor(key, fn, cells, constants, vals, sizes);
      const r = await kernel(...vals);
      stats.kernelClasses.add(kernel.kernel.constructor.name);
      return r;
    });
    return deferred(p, args.filter(isStorage), cells);
  }
  return { run };
}
