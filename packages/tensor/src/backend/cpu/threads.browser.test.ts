/**
 * The CPU backend's threads in Debian's Chromium: in a cross-origin isolated page (COOP
 * same-origin, COEP require-corp) threads are on by default and a product split over Web
 * Workers sharing the kernel's WebAssembly memory equals the one-thread product bit for
 * bit, on the page's main thread (which spins while it waits: it may not block) and in a
 * dedicated worker (which blocks on Atomics.wait); in a page that is not isolated the
 * backend runs on one thread and `setCpuThreads(2)` says why.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleSource, launchChromium, serve, skipWithoutChromium, type StaticServer } from '@ggem/chromium';
import { availableParallelism } from 'node:os';
import type { ThreadsResult } from '../../test/threads-browser-suite.js';

describe('CPU backend threads in Chromium', { skip: skipWithoutChromium }, () => {
  let context: Awaited<ReturnType<typeof launchChromium>>;
  let bundle: Uint8Array;
  before(async () => {
    bundle = await bundleSource(fileURLToPath(new URL('../../test/threads-browser-suite.ts', import.meta.url)));
    context = await launchChromium();
  });
  after(() => context?.close());

  async function results(isolated: boolean): Promise<{ page: ThreadsResult; worker: ThreadsResult }> {
    const server: StaticServer = await serve(
      {
        '/': ['text/html', '<!doctype html><meta charset="utf-8"><script type="module" src="/suite.js"></script>'],
        '/suite.js': ['text/javascript', bundle],
      },
      { isolated },
    );
    const tab = await context.newPage();
    try {
      await tab.goto(`${server.origin}/`);
      await tab.waitForFunction(() => typeof (globalThis as { __threads?: unknown }).__threads === 'function');
      const page = await tab.evaluate(() => (globalThis as unknown as { __threads: () => Promise<ThreadsResult> }).__threads());
      const worker = await tab.evaluate(
        () =>
          new Promise<ThreadsResult>((resolve) => {
            const w = new Worker('/suite.js', { type: 'module' });
            w.onmessage = (e) => resolve(e.data as ThreadsResult);
            w.postMessage('run');
          }),
      );
      return { page, worker };
    } finally {
      await tab.close();
      await server.close();
    }
  }

  it('a cross-origin isolated page: threads by default, and a product on two threads equals one thread’s, on the page and in a worker', async () => {
    const { page, worker } = await results(true);
    for (const r of [page, worker]) {
      assert.equal((r as { error?: string }).error, undefined, `${r.where}: ${(r as { error?: string }).error}`);
      assert.equal(r.isolated, true, `${r.where} is cross-origin isolated`);
      assert.equal(r.defaultThreads, Math.min(4, availableParallelism()), `${r.where}: every core (at most 4) by default`);
      assert.equal(r.setError, null, `${r.where}: ${r.setError}`);
      assert.equal(r.equal, true, `${r.where}: the threaded product equals the one-thread product`);
      assert.equal(r.threadedCalls, 5, `${r.where}: every product split over the two threads`);
    }
  });

  it('a page that is not isolated: one thread, and setCpuThreads(2) says why', async () => {
    const { page, worker } = await results(false);
    for (const r of [page, worker]) {
      assert.equal(r.isolated, false);
      assert.equal(r.defaultThreads, 1, `${r.where}: one thread`);
      assert.match(r.setError ?? '', /setCpuThreads\(2\): the page is not cross-origin isolated.*Cross-Origin-Opener-Policy: same-origin.*one thread here/);
    }
  });
});
