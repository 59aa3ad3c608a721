/** Test helpers shared by the packages: the float64 finite-difference gradient checker, gpu.js test doubles. */
export { gradcheck, assertGradcheck, type GradcheckOptions, type GradcheckMismatch } from './gradcheck.js';
/** Test doubles for the gpu.js backend in Node: WebGPU's promise contract, and a GPU that records its largest kernel. */
export { webgpuStandIn, recordingGpu, type WebgpuStandIn } from './gpujs.js';
/** A backend without its fused kernels, so that tests can compare fused ops with their compositions. */
export { withoutFusedKernels } from './primitives.js';
/** How far several outputs are from the wanted ones, as one number for a browser suite to report. */
export { maxError } from './compare.js';
