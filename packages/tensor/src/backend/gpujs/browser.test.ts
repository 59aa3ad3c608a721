/**
 * The gpu.js backend in a real browser: Debian's chromium driven by playwright-core (never
 * a downloaded browser), headless, pages served from 127.0.0.1. The op suite
 * (test/gpujs-browser-suite.ts, bundled with esbuild) runs in WebGL2 and WebGPU modes on small shapes, also in
 * chunks under a small cell limit (WebGPU's
 * kernels return promises: values are read with dataAsync). The software
 * renderer here takes 0.1-0.6 s for a 256² matmul. Skipped when chromium is not installed
 * (`.ci/run` installs it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gpujsSuitePage, skipWithoutChromium, type SuitePage } from '@ggem/chromium';
import { GPUJS_NO_KERNEL, opCases } from '../../test/op-cases.js';

type SuiteResult = { mode: string; kernelClasses: string[]; fallbacks: string[]; cases: { name: string; maxError: number; error?: string }[] };

describe('gpu.js backend in Chromium (headless)', { skip: skipWithoutChromium }, () => {
  let suite: SuitePage;
  before(async () => {
    suite = await gpujsSuitePage(fileURLToPath(new URL('../../test/gpujs-browser-suite.ts', import.meta.url)));
  });
  after(() => suite?.close());

  for (const [mode, kernelClass] of [
    ['webgl2', 'WebGL2Kernel'],
    ['webgpu', 'WebGPUKernel'],
  ] as const) {
    it(`${mode}: every op's values and gradients equal the CPU backend's, on ${kernelClass}s`, async () => {
      const r = await suite.page.evaluate((m) => (globalThis as unknown as { __suite: (m: string) => Promise<SuiteResult> }).__suite(m), mode);
      assert.equal(r.cases.length, opCases.length + 1 + opCases.filter((c) => c[3] !== undefined).length);
      const failed = r.cases.filter((c) => c.error !== undefined || !(c.maxError < 1e-4)).map((c) => `${c.name}: ${c.error ?? `relative error ${c.maxError}`}`);
      assert.deepEqual(failed, [], 'every case within 1e-4 of the CPU backend');
      assert.deepEqual(
        r.fallbacks.filter((op) => !GPUJS_NO_KERNEL.includes(op)),
        [],
        'ops that fell back to the CPU',
      );
      assert.equal(r.mode, mode);
      assert.deepEqual(r.kernelClasses, [kernelClass], `gpu.js ran ${kernelClass}s, not a silent fallback`);
    });
  }
});
