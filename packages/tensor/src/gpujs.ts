/**
 * @ggem/tensor/gpujs: the backend on gpu.js kernels (WebGL2 / WebGPU in browsers). gpu.js is
 * an optional peer dependency: only a program that imports this entry needs it installed,
 * and `useGpujs` loads it when called.
 */
export {
  useGpujs,
  createGpujsBackend,
  MAX_CELLS,
  type GpujsBackend,
  type GpujsMode,
  type GpujsOptions,
  type GpuStorage,
  type GpuLike,
  type Run,
} from './backend/gpujs/index.js';
