/**
 * This project in Debian's Chromium (headless, playwright-core): the small-ViT training step
 * in a cross-origin isolated page's dedicated worker, as apps/web trains, on the same weights
 * and batch as the Node rows, timed in the worker, its kernels on every core as in Node (Web
 * Workers sharing their memory). Set beside the 'ggem' row of the same run, it is the
 * browser's slowdown against Node. Absent when chromium is not installed.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Impl } from '../harness.js';
import type { VitSpec } from '../workloads/vit.js';
import type { StepSetup } from './chromium-step.js';

type Reply = { ok: true; result?: number[]; ms?: number; relaxed?: boolean; threads?: number } | { ok: false; error: string };

export function chromiumVitStep(s: VitSpec): Impl {
  let close: (() => Promise<void>) | undefined;
  const threads = Math.min(4, availableParallelism()); // the CPU backend's default, as in Node
  return {
    engine: `ggem in Chromium (an isolated page's worker, ${threads} threads)`,
    threads,
    async setup() {
      const { bundleSource, launchChromium, serve, skipWithoutChromium } = await import('@ggem/chromium');
      if (skipWithoutChromium) throw new Error(skipWithoutChromium);
      const bundle = await bundleSource(fileURLToPath(new URL('./chromium-step.ts', import.meta.url)));
      const server = await serve(
        {
          '/': ['text/html', '<!doctype html><meta charset="utf-8"><script type="module" src="/step.js"></script>'],
          '/step.js': ['text/javascript', bundle],
        },
        { isolated: true },
      );
      const context = await launchChromium();
      close = async () => {
        await context.close();
        await server.close();
      };
      const page = await context.newPage();
      await page.goto(`${server.origin}/`);
      await page.waitForFunction(() => typeof (globalThis as { __step?: unknown }).__step === 'function');
      const setup: StepSetup = {
        pooling: s.pooling,
        weights: [...s.weights].map(([name, w]) => [name, Array.from(w.data)]),
        x: Array.from(s.x),
        shape: [s.batch, s.inChans, s.img, s.img],
        labels: Array.from(s.labels),
      };
      const r = await page.evaluate((arg) => (globalThis as unknown as { __setup: (a: StepSetup) => Promise<Reply> }).__setup(arg), setup);
      if (!r.ok) throw new Error(`in Chromium: ${r.error}`);
      if (!r.relaxed) throw new Error('Chromium runs without relaxed SIMD here: not the kernels Node runs');
      if (r.threads !== threads) throw new Error(`the page worker's kernels run on ${r.threads} threads, not ${threads}`);
      return async () => {
        const out = await page.evaluate(() => (globalThis as unknown as { __step: () => Promise<Reply> }).__step());
        if (!out.ok) throw new Error(`in Chromium: ${out.error}`);
        return { result: Float64Array.from(out.result!), ms: out.ms! };
      };
    },
    teardown: () => close?.(),
  };
}
