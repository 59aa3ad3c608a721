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
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { launchChromium, serve, skipWithoutChromium, type StaticServer } from '@ggem/chromium';
import { GPUJS_NO_KERNEL, opCases } from '../../test/op-cases.js';

type SuiteResult = { mode: string; kernelClasses: string[]; fallbacks: string[]; cases: { name: string; maxError: number; error?: string }[] };

describe('gpu.js backend in Chromium (headless)', { skip: skipWithoutChromium }, () => {
  let server: StaticServer;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    const suite = await build({
      entryPoints: [fileURLToPath(new URL('../../test/gpujs-browser-suite.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      conditions: ['@ggem/source'],
      external: ['gpu.js'],
      logLevel: 'silent',
    });
    server = await serve({
      '/': ['text/html', '<!doctype html><meta charset="utf-8"><script src="/gpu.js"></script><script type="module" src="/suite.js"></script>'],
      '/suite.js': ['text/javascript', suite.outputFiles[0]!.contents],
      '/gpu.js': ['text/javascript', readFileSync(fileURLToPath(import.meta.resolve('gpu.js').replace(/src\/index\.js$/, 'dist/gpu-browser.min.js')))],
    });
    context = await launchChromium();
    page = await context.newPage();
    await page.goto(`${server.origin}/`);
    await page.waitForFunction(() => typeof (globalThis as { __suite?: unknown }).__suite === 'function');
  });

  after(async () => {
    await context?.close();
    await server?.close();
  });

  for (const [mode, kernelClass] of [
    ['webgl2', 'WebGL2Kernel'],
    ['webgpu', 'WebGPUKernel'],
  ] as const) {
    it(`${mode}: every op's values and gradients equal the CPU backend's, on ${kernelClass}s`, async () => {
      const r = await page.evaluate((m) => (globalThis as unknown as { __suite: (m: string) => Promise<SuiteResult> }).__suite(m), mode);
      assert.equal(r.cases.length, opCases.length + 2 + opCases.filter((c) => c[3] !== undefined).length);
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
