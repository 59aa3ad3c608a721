/**
 * The web app as its users get it: built with `npm run web:build` (the packages as published,
 * their dist/, bundled by Vite), served statically from 127.0.0.1 and driven in Debian's
 * Chromium (playwright-core). Checked against Node: the worker's first training steps, a
 * checkpoint's predictions and the pooled value the p slider shows. Screenshots of every
 * panel go to a temporary folder, and to docs/web/ with UPDATE_SCREENSHOTS=1.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectErrors, launchChromium, serve, skipWithoutChromium, type StaticServer } from '@ggem/chromium';
import { ggem } from '@ggem/pooling';
import { Generator, noGrad, tensor } from '@ggem/tensor';
import { buildModel, epochBatches, forwardBackward, makeBatch, optimization, update } from '@ggem/train/core';
import { vitFromWeights } from '@ggem/vit';
import type { BrowserContext, Page } from 'playwright-core';
import { loadData } from '../../train/src/data/dataset.js';
import { train } from '../../train/src/train.js';
import { trainOptions } from '../src/settings.js';
import type { TrainSettings } from '../src/protocol.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const site = join(repo, 'apps/web/dist');
const shots = process.env.UPDATE_SCREENSHOTS ? join(repo, 'docs/web') : mkdtempSync(join(tmpdir(), 'ggem-web-shots-'));
const settings: TrainSettings = { pooling: 'ggem', groups: 4, p: 3, epochs: 8, batchSize: 64, seed: 0, backend: 'cpu' };
const data = loadData('embedded');

/** The first n steps of the page's recipe, taken in Node with the CLI's steps. */
function nodeLosses(s: TrainSettings, n: number): number[] {
  const o = trainOptions(s);
  const model = buildModel(o);
  model.train();
  const opt = optimization(model, o, data.train.count);
  const losses: number[] = [];
  for (const { x, y } of epochBatches(data.train, o, new Generator(o.seed + 1))) {
    opt.opt.zeroGrad();
    losses.push(forwardBackward(model, x, y, o).loss);
    update(model, opt, o);
    if (losses.length === n) break;
  }
  return losses;
}

describe('apps/web in Chromium (headless)', { skip: skipWithoutChromium }, () => {
  let server: StaticServer;
  let context: BrowserContext;
  let page: Page;
  let errors: string[];
  let checkpoint: string;

  before(async () => {
    execFileSync('npm', ['run', 'web:build'], { cwd: repo, stdio: 'ignore' });
    // a checkpoint from apps/train: 2 epochs on 2,000 images, GGeM with 4 groups
    const r = await train(
      { ...trainOptions(settings), epochs: 2, limit: 2000, testLimit: 200, knnK: 0, out: mkdtempSync(join(tmpdir(), 'ggem-web-ckpt-')) },
      () => {},
    );
    checkpoint = join(r.checkpoint, 'model.safetensors');
    server = await serve({ root: site });
    context = await launchChromium();
    page = await context.newPage();
    errors = collectErrors(page);
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${server.origin}/`);
    await page.waitForSelector('#start');
  });
  after(async () => {
    await context?.close();
    await server?.close();
  });

  it('the built site loads from a static server, also from a subfolder, with no console error; its own JavaScript is under 300 KB', async () => {
    assert.deepEqual(errors, []);
    const parent = mkdtempSync(join(tmpdir(), 'ggem-web-host-'));
    symlinkSync(site, join(parent, 'demos'));
    const host = await serve({ root: parent });
    const sub = await context.newPage();
    const subErrors = collectErrors(sub);
    await sub.goto(`${host.origin}/demos/`);
    await sub.waitForSelector('#start');
    assert.deepEqual(subErrors, []);
    await sub.close();
    await host.close();
    const html = readFileSync(join(site, 'index.html'), 'utf8');
    assert.match(html, /src="\.\/assets\/index-[\w-]+\.js"/, 'relative paths');
    const own = readdirSync(join(site, 'assets')).filter((f) => f.endsWith('.js') && !f.startsWith('gpu-browser'));
    const bytes = own.reduce((s, f) => s + statSync(join(site, 'assets', f)).size, 0);
    assert.ok(bytes < 300 * 1024, `${own.join(', ')}: ${bytes} bytes`);
  });

  it("20 training steps in the worker give Node's losses (CPU backend, within 1e-5), and the page keeps answering", async () => {
    await page.click('#start');
    // timers on the main thread while the worker trains: none late by 100 ms
    const lateness = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let worst = 0;
          let last = performance.now();
          const t = setInterval(() => {
            const now = performance.now();
            worst = Math.max(worst, now - last - 20);
            last = now;
          }, 20);
          setTimeout(() => {
            clearInterval(t);
            resolve(worst);
          }, 3000);
        }),
    );
    await page.waitForFunction(() => (window as unknown as { __ggemWeb: { losses: number[] } }).__ggemWeb.losses.length >= 20, null, { timeout: 120_000 });
    await page.click('#pause');
    const got = (await page.evaluate(() => (window as unknown as { __ggemWeb: { losses: number[] } }).__ggemWeb.losses.slice(0, 20))) as number[];
    const want = nodeLosses(settings, 20);
    got.forEach((l, i) => assert.ok(Math.abs(l - want[i]!) <= 1e-5 * Math.abs(want[i]!), `step ${i + 1}: ${l} in the page, ${want[i]} in Node`));
    assert.ok(lateness < 100, `a timer ran ${lateness.toFixed(0)} ms late while training`);
    assert.match((await page.textContent('#train-status')) ?? '', /on the CPU \(WebAssembly\)/);
    await page.waitForFunction(() => document.querySelector('#pause')?.textContent === 'Resume');
    await page.screenshot({ path: join(shots, 'train.png'), fullPage: true });
    await page.click('#reset');
  });

  for (const [mode, kernelClass] of [
    ['webgl2', 'WebGL2Kernel'],
    ['webgpu', 'WebGPUKernel'],
  ] as const)
    it(`gpu.js ${mode} (SwiftShader): 20 steps of batch 8 give Node's losses within 1e-4, on ${kernelClass}s`, async () => {
      const gl = await context.newPage();
      const glErrors = collectErrors(gl);
      await gl.goto(`${server.origin}/`);
      await gl.waitForSelector('#start');
      await gl.selectOption('#backend', mode);
      await gl.fill('#batch', '8'); // SwiftShader renders on the CPU: 64 images a step take seconds
      await gl.click('#start');
      await gl.waitForFunction(() => (window as unknown as { __ggemWeb: { losses: number[] } }).__ggemWeb.losses.length >= 20, null, { timeout: 240_000 });
      await gl.click('#pause');
      const got = (await gl.evaluate(() => (window as unknown as { __ggemWeb: { losses: number[] } }).__ggemWeb.losses.slice(0, 20))) as number[];
      const want = nodeLosses({ ...settings, batchSize: 8 }, 20);
      got.forEach((l, i) => assert.ok(Math.abs(l - want[i]!) <= 1e-4 * Math.abs(want[i]!), `step ${i + 1}: ${l} on ${mode}, ${want[i]} in Node`));
      const status = (await gl.textContent('#train-status')) ?? '';
      assert.match(status, new RegExp(`on gpu\\.js ${mode}; kernels: ${kernelClass}(;|$)`), status);
      const fallback = /on the CPU: ([^;]*)/.exec(status)?.[1]?.split(', ') ?? [];
      assert.deepEqual(
        fallback.filter((op) => !['cast', 'argReduce'].includes(op)),
        [],
        'only the ops gpu.js has no kernel for ran on the CPU',
      );
      assert.deepEqual(glErrors, []);
      await gl.close();
    });

  it('a checkpoint from apps/train predicts as in Node on 100 test images; a bad file is a message and keeps it', async () => {
    await page.setInputFiles('#load', checkpoint);
    await page.waitForFunction(() => /loaded from/.test((window as unknown as { __ggemWeb: { source(): string | null } }).__ggemWeb.source() ?? ''));
    const got = (await page.evaluate(() =>
      (window as unknown as { __ggemWeb: { predictions(n: number): Promise<number[]> } }).__ggemWeb.predictions(100),
    )) as number[];
    const model = await vitFromWeights(readFileSync(checkpoint));
    const idx = Int32Array.from({ length: 100 }, (_, i) => i);
    const want = [...(noGrad(() => model.forward(makeBatch(data.test, idx, null, null).x).argmax(1)).data as Int32Array)];
    assert.deepEqual(got, want);
    const bad = join(mkdtempSync(join(tmpdir(), 'ggem-web-bad-')), 'notes.safetensors');
    writeFileSync(bad, 'not a safetensors file at all');
    await page.setInputFiles('#load', bad);
    await page.waitForFunction(() =>
      /Could not load notes\.safetensors: .*The current model is kept/.test(document.querySelector('#message')?.textContent ?? ''),
    );
    assert.match(
      (await page.evaluate(() => (window as unknown as { __ggemWeb: { source(): string | null } }).__ggemWeb.source())) ?? '',
      /loaded from model\.safetensors/,
    );
    const other = join(mkdtempSync(join(tmpdir(), 'ggem-web-other-')), 'imagenet.safetensors');
    const { createVit, weightsToBytes } = await import('@ggem/vit');
    writeFileSync(other, weightsToBytes(createVit('vit_tiny_patch16_224', 'avg', { depth: 1 })));
    await page.setInputFiles('#load', other);
    await page.waitForFunction(() =>
      /Could not load imagenet\.safetensors: a 224×224×3 model with 1000 classes/.test(document.querySelector('#message')?.textContent ?? ''),
    );
  });

  it('moving a p slider shows the pooled value @ggem/pooling computes for that group', async () => {
    await page.click('[data-tab="Explore p"]');
    const slider = page.locator('.p-slider[data-group="1"]');
    await slider.fill('7.5');
    await page.waitForFunction(() => document.querySelector('.pooled[data-group="1"]')?.getAttribute('data-p') === '7.5');
    const shown = Number(await page.getAttribute('.pooled[data-group="1"]', 'data-pooled'));
    const model = await vitFromWeights(readFileSync(checkpoint));
    const tokens = noGrad(() => model.forwardFeatures(makeBatch(data.test, [0], null, null).x)).narrow(1, 1, 16);
    const ps = model.currentP();
    ps[1] = 7.5;
    const y = ggem(tokens, tensor(Float32Array.from(ps))).data; // [1, 64]
    const want = Array.from(y.slice(16, 32)).reduce((a, b) => a + b, 0) / 16;
    assert.ok(Math.abs(shown - want) <= 1e-5 * Math.abs(want), `shown ${shown}, @ggem/pooling ${want}`);
    await page.screenshot({ path: join(shots, 'explore.png'), fullPage: true });
  });

  it('the heads and predict panels show a trained model', async () => {
    await page.click('[data-tab="Inspect heads"]');
    await page.waitForSelector('#cka');
    assert.equal((await page.textContent('#distances'))?.split('·').length, 4);
    await page.screenshot({ path: join(shots, 'heads.png'), fullPage: true });
    await page.click('[data-tab="Predict"]');
    await page.fill('#predict-image', '3');
    await page.click('#use-test');
    await page.waitForSelector('#top3 li[data-label]');
    assert.equal(await page.locator('#top3 li').count(), 3);
    await page.screenshot({ path: join(shots, 'predict.png'), fullPage: true });
    assert.deepEqual(errors, []);
  });
});
