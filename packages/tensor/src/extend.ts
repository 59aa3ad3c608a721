/**
 * `extend` (`import { extend } from '@ggem/tensor'`): what a package needs to bring a fused
 * kernel of its own (as `@ggem/pooling` brings GeM's): the kernel object an op looks its
 * implementation up in, the CPU backend's array pool, the WebAssembly writer the CPU
 * backend's SIMD kernels are built with, and the engine's WebAssembly features. A gpu.js
 * implementation runs its kernels with `GpujsBackend.run` (`@ggem/tensor/gpujs`).
 * CONTRIBUTING.md has the recipe.
 *
 * @module
 */
export { defineFusedKernel, FusedKernel } from './backend/extensions.js';
/** Arrays for CPU storage, from the pool of arrays the engine has released (zero-filled unless asked not to). */
export { allocate } from './backend/reference/pool.js';
/** The WebAssembly binary writer: instructions (`op`), value types, a buffer to write a function's body into (`Bytes`), functions and a module importing `env.memory`. */
export { buildModule, Bytes, op, I32, F32, V128, type FuncDef } from './backend/cpu/wasm/emit.js';
/** f32x4 / f64x2 expressions (`v`), and the vectorised natural log and exp of the SIMD kernels. */
export { v, exp, log } from './backend/cpu/wasm/vec.js';
export { features as wasmFeatures, type WasmFeatures } from './backend/cpu/wasm/features.js';
