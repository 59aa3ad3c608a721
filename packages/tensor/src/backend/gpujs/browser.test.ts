/**
 * The gpu.js backend in a real browser: Debian's chromium driven by playwright-core (never
 * a downloaded browser), headless, pages served from 127.0.0.1. The op suite
 * (browser-suite.ts, bundled with esbuild) runs in WebGL2 and WebGPU modes on small shapes, also in
 * chunks under a small cell limit (WebGPU's
 * kernels return promises: values are read with dataAsync). The software
 * renderer here takes 0.1-0.6 s for a 256² matmul. Skipped when chromium is not installed
 * (`.ci/run` installs it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { opCases } from '../../test/op-cases.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

type SuiteResult = { mode: string; kernelClasses: string[]; fallbacks: string[]; cases: { name: string; maxError: number; error?: string }[] };

describe('gpu.js backend in Chromium (headless)', { skip: existsSync(CHROMIUM) ? false : 'chromium is not installed (apt-get install -y chromium)' }, () => {
  let server: Server;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    const suite = await build({
      entryPoints: [fileURLToPath(new URL('./browser-suite.ts', import.meta.url))],
      bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false,
      conditions: ['development'], external: ['node:*', 'gpu.js'], logLevel: 'silent',
    });
    const files: Record<string, [string, string | Uint8Array]> = {
      '/': ['text/html', '<!doctype html><meta charset="utf-8"><script src="/gpu.js"></script><script type="module" src="/suite.js"></script>'],
      '/suite.js': ['text/javascript', suite.outputFiles[0]!.contents],
      '/gpu.js': ['text/javascript', readFileSync(fileURLToPath(import.meta.resolve('gpu.js').replace(/src\/index\.js$/, 'dist/gpu-browser.min.js')))],
    };
    server = createServer((req, res) => {
      const f = files[req.url ?? ''];
      res.writeHead(f ? 200 : 404, { 'content-type': f?.[0] ?? 'text/plain' }).end(f?.[1] ?? 'not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'ggem-chromium-')), { executablePath: CHROMIUM, headless: true, args: FLAGS });
    page = await context.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => typeof (globalThis as { __suite?: unknown }).__suite === 'function');
  });

  after(async () => {
    await context?.close();
    server?.close();
  });

  for (const [mode, kernelClass] of [['webgl2', 'WebGL2Kernel'], ['webgpu', 'WebGPUKernel']] as const) {
    it(`${mode}: every op's values and gradients equal the CPU backend's, on ${kernelClass}s`, async () => {
      const r = await page.evaluate((m) => (globalThis as unknown as { __suite: (m: string) => Promise<SuiteResult> }).__suite(m), mode);
      assert.equal(r.cases.length, opCases.length + 2 + opCases.filter((c) => c[3] !== undefined).length);
      for (const c of r.cases) {
        assert.equal(c.error, undefined, `${c.name}: ${c.error}`);
        assert.ok(c.maxError < 1e-4, `${c.name}: relative error ${c.maxError}`);
      }
      assert.equal(r.mode, mode);
      assert.deepEqual(r.kernelClasses, [kernelClass], `gpu.js ran ${kernelClass}s, not a silent fallback`);
    });
  }
});
