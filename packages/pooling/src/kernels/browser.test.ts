/**
 * The fused GGeM kernel on gpu.js in Debian's Chromium (headless, playwright-core): WebGL2
 * and WebGPU (SwiftShader), values and gradients within 1e-4 of the CPU backend, every
 * forward on the fused kernel, nothing on the CPU. Skipped when chromium is not installed
 * (`.ci/run` installs it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gpujsSuitePage, skipWithoutChromium, type SuitePage } from '@ggem/chromium';
import type { GemSuiteResult } from '../test/gpujs-browser-suite.js';

describe('the fused GGeM kernel on gpu.js in Chromium (headless)', { skip: skipWithoutChromium }, () => {
  let suite: SuitePage;
  before(async () => {
    suite = await gpujsSuitePage(fileURLToPath(new URL('../test/gpujs-browser-suite.ts', import.meta.url)));
  });
  after(() => suite?.close());

  for (const [mode, kernelClass] of [
    ['webgl2', 'WebGL2Kernel'],
    ['webgpu', 'WebGPUKernel'],
  ] as const) {
    it(`${mode}: y and its x and p gradients equal the CPU backend's, on the fused kernel`, async () => {
      const r = await suite.page.evaluate((m) => (globalThis as unknown as { __suite: (m: string) => Promise<GemSuiteResult> }).__suite(m), mode);
      assert.equal(r.cases.length, 3);
      const failed = r.cases.filter((c) => c.error !== undefined || !(c.maxError < 1e-4)).map((c) => `${c.name}: ${c.error ?? `relative error ${c.maxError}`}`);
      assert.deepEqual(failed, []);
      assert.equal(r.fusedRuns, 3, 'every forward ran the fused kernel');
      assert.deepEqual(r.fallbacks, [], 'nothing ran on the CPU');
      assert.equal(r.mode, mode);
      assert.deepEqual(r.kernelClasses, [kernelClass]);
    });
  }
});
