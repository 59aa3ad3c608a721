/**
 * The gpu.js op suite as it runs in a browser page (bundled by browser.test.ts): every case
 * on the CPU backend and on gpu.js in `mode` (and again with kernels limited to a few cells,
 * where the case gives a limit), values and gradients compared, and the kernel classes
 * that ran. Results go to `window.__results`.
 */
import { maxError } from '../testing/index.js';
import { cpuBackend, Generator, type Tensor, type Backend, type Domain } from '../index.js';
import { createGpujsBackend } from '../backend/gpujs/index.js';
import { adamwSteps, caseInputs, opCases, valueAndGrads } from './op-cases.js';

interface CaseResult {
  name: string;
  maxError: number;
  error?: string;
}

declare const GPU: { GPU: new (settings: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

export async function run(mode: string): Promise<{ mode: string; kernelClasses: string[]; fallbacks: string[]; cases: CaseResult[] }> {
  const be = createGpujsBackend(new GPU.GPU({ mode }), () => {});
  const results: CaseResult[] = [];
  for (const [name, f, shapes, , domains] of opCases) results.push(await runCase(be, name, f, shapes, domains));
  results.push(await trainingCase(be));
  const classes = new Set(be.kernelClasses);
  // the cases again with kernels limited to a few cells: ops in chunks, tensors in pieces
  for (const [name, f, shapes, cells, domains] of opCases) {
    if (cells === undefined) continue;
    const small = createGpujsBackend(new GPU.GPU({ mode }), () => {}, { maxCells: cells });
    const r = await runCase(small, `${name} (kernels within ${cells} cells)`, f, shapes, domains);
    if (small.peakCells > cells) r.error = `a kernel saw ${small.peakCells} cells`;
    const added = [...small.fallbacks].filter((op) => op.includes('cell limit'));
    if (added.length > 0) r.error = `ran on the CPU: ${added.join(', ')}`;
    small.kernelClasses.forEach((c) => classes.add(c));
    results.push(r);
  }
  return { mode: be.mode, kernelClasses: [...classes], fallbacks: [...be.fallbacks], cases: results };
}

async function runCase(be: Backend, name: string, f: (...xs: Tensor[]) => Tensor, shapes: number[][], domains?: Domain[]): Promise<CaseResult> {
  try {
    const inputs = caseInputs(shapes, domains, new Generator(7));
    const want = await valueAndGrads(cpuBackend, f, inputs);
    return { name, maxError: maxError(await valueAndGrads(be, f, inputs), want) };
  } catch (e) {
    return { name, maxError: NaN, error: (e as Error).message };
  }
}

/** Three AdamW steps of a small network: the losses and the parameters after them. */
async function trainingCase(be: Backend): Promise<CaseResult> {
  try {
    const want = await adamwSteps(cpuBackend);
    return { name: 'AdamW steps', maxError: maxError(await adamwSteps(be), want) };
  } catch (e) {
    return { name: 'AdamW steps', maxError: NaN, error: (e as Error).message };
  }
}

(globalThis as { __suite?: typeof run }).__suite = run;
