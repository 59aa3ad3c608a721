/**
 * The gpu.js op suite as it runs in a browser page (bundled by browser.test.ts): every case
 * on the CPU backend and on gpu.js in `mode`, values and gradients compared, and the kernel
 * classes that ran. Results go to `window.__results`.
 */
import { attention, concat, cpuBackend, Generator, layerNorm, linear, logSoftmax, matmulT, randn, softmax, Tensor, type Backend } from '../../index.js';
import { createGpujsBackend } from './index.js';

interface CaseResult {
  name: string;
  maxError: number;
  error?: string;
}

declare const GPU: { GPU: new (settings: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

const on = (t: Tensor, be: Backend) => new Tensor(be.fromArray((t.data as Float32Array).slice()), t.shape, t.dtype, be);

/** Read back with dataAsync: webgpu kernels return promises, so its values arrive asynchronously. */
async function valueAndGrads(be: Backend, f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): Promise<ArrayLike<number>[]> {
  const xs = inputs.map((t) => on(t, be).setRequiresGrad(true));
  const y = f(...xs);
  y.mul(on(randn(y.shape, { generator: new Generator(99) }), be)).sum().backward();
  return Promise.all([y.dataAsync(), ...xs.map((x) => x.grad!.dataAsync())]);
}

const cases: [string, (...xs: Tensor[]) => Tensor, number[][]][] = [
  ['broadcast add', (a, b) => a.add(b), [[3, 4, 5], [4, 1]]],
  ['mul, sub, div', (a, b) => a.mul(b).sub(b).div(b.abs().add(1)), [[6, 7], [6, 7]]],
  ['batched matmul with transposes', (a, b) => matmulT(a, b, true, true), [[2, 5, 3], [2, 4, 5]]],
  ['linear (bias in the product)', (x, w, b) => linear(x, w, b), [[7, 6], [5, 6], [5]]],
  ['sum and max over an axis', (a) => a.sum(1).add(a.max(0).sum()), [[4, 6, 3]]],
  ['softmax and logSoftmax', (a) => softmax(a, -1).add(logSoftmax(a, 1)), [[3, 5, 4]]],
  ['layerNorm', (x, w, b) => layerNorm(x, w, b, 1e-5), [[6, 8], [8], [8]]],
  ['exact GELU', (a) => a.gelu(), [[5, 9]]],
  ['strided views', (a) => a.permute([2, 0, 1]).narrow(1, 1, 2).add(a.narrow(0, 0, 1).permute([2, 0, 1])), [[3, 4, 5]]],
  ['fused attention', (qkv) => attention(qkv, 2).y, [[2, 5, 3 * 2 * 4]]],
  ['concatenation and clamp', (a, b) => concat([a, b], 1).clamp(-0.5, 0.7), [[2, 3, 4], [2, 5, 4]]],
  ['matmul 64×64 (the sizes a software renderer can take)', (a, b) => matmulT(a, b, false, false), [[64, 64], [64, 64]]],
];

export async function run(mode: string): Promise<{ mode: string; kernelClasses: string[]; fallbacks: string[]; cases: CaseResult[] }> {
  const be = createGpujsBackend(new GPU.GPU({ mode }), () => {});
  const results: CaseResult[] = [];
  for (const [name, f, shapes] of cases) results.push(await runCase(be, name, f, shapes));
  results.push(await gemCase(be));
  return { mode: be.mode, kernelClasses: [...be.kernelClasses], fallbacks: [...be.fallbacks], cases: results };
}

async function runCase(be: Backend, name: string, f: (...xs: Tensor[]) => Tensor, shapes: number[][]): Promise<CaseResult> {
  try {
    const g = new Generator(7);
    const inputs = shapes.map((s) => randn(s, { generator: g }));
    const want = await valueAndGrads(cpuBackend, f, inputs);
    const got = await valueAndGrads(be, f, inputs);
    let maxError = 0;
    got.forEach((a, k) => {
      for (let i = 0; i < a.length; i++) maxError = Math.max(maxError, Math.abs(a[i]! - want[k]![i]!) / (1 + Math.abs(want[k]![i]!)));
    });
    return { name, maxError };
  } catch (e) {
    return { name, maxError: NaN, error: (e as Error).message };
  }
}

/** The fused GGeM kernels (G = 2, tokens 1..n) at the backend level: y, the x and p gradients. */
async function gemCase(be: Backend): Promise<CaseResult> {
  try {
    const g = new Generator(8);
    const [b, n, c] = [3, 6, 8];
    const x = randn([b, n, c], { generator: g }).data as Float32Array;
    const gy = randn([b, c], { generator: g }).data as Float32Array;
    const p = Float32Array.from([2.5, 4]);
    const run = (bk: Backend) => {
      const r = bk.gem(bk.fromArray(x.slice()), b, n, c, 1, bk.fromArray(p.slice()), 2, 1e-6, 'float32');
      const { gx, gp } = bk.gemBackward(r.saved, bk.fromArray(gy.slice()), 'float32');
      return Promise.all([r.y, gx, gp].map(async (s) => (bk.toArrayAsync ? bk.toArrayAsync(s, 'float32', 0) : bk.toArray(s, 'float32', 0))));
    };
    const want = await run(cpuBackend);
    let maxError = 0;
    (await run(be)).forEach((a, k) => {
      for (let i = 0; i < a.length; i++) maxError = Math.max(maxError, Math.abs(a[i]! - want[k]![i]!) / (1 + Math.abs(want[k]![i]!)));
    });
    return { name: 'fused GGeM', maxError };
  } catch (e) {
    return { name: 'fused GGeM', maxError: NaN, error: (e as Error).message };
  }
}

(globalThis as { __suite?: typeof run }).__suite = run;
