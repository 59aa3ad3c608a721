/**
 * The fused GGeM kernel on gpu.js in a browser page (bundled by ../kernels/browser.test.ts):
 * y and the x and p gradients against the CPU backend, for G = 1, 2 and 4 and a class
 * token, with the fused kernel's runs and the kernel classes gpu.js used.
 */
import { cpuBackend } from '@ggem/tensor';
import { createGpujsBackend } from '@ggem/tensor/gpujs';
import { ggemKernel } from '../kernels/index.js';
import { ggemInputs, ggemOutputs, maxError } from './ggem-outputs.js';

declare const GPU: { GPU: new (settings: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

export interface GemSuiteResult {
  mode: string;
  kernelClasses: string[];
  fallbacks: string[];
  fusedRuns: number;
  cases: { name: string; maxError: number; error?: string }[];
}

async function run(mode: string): Promise<GemSuiteResult> {
  const be = createGpujsBackend(new GPU.GPU({ mode }), () => {});
  const before = ggemKernel.ran('gpujs');
  const cases: GemSuiteResult['cases'] = [];
  for (const groups of [1, 2, 4]) {
    const name = `GGeM, G = ${groups}`;
    try {
      const [x, p, w] = ggemInputs(8 + groups, groups);
      const want = await ggemOutputs(cpuBackend, x, p, w, 1);
      cases.push({ name, maxError: maxError(await ggemOutputs(be, x, p, w, 1), want) });
    } catch (e) {
      cases.push({ name, maxError: NaN, error: (e as Error).message });
    }
  }
  return { mode: be.mode, kernelClasses: [...be.kernelClasses], fallbacks: [...be.fallbacks], fusedRuns: ggemKernel.ran('gpujs') - before, cases };
}

(globalThis as { __suite?: typeof run }).__suite = run;
