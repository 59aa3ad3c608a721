/**
 * The fused GeM / GGeM kernel on every backend it has an implementation for, against the
 * float64 composition on the reference backend without fused kernels: values, and the
 * gradients w.r.t. x and p; the kernel ran (not the composition), or declined where it says
 * it does. gpu.js runs in Node in cpu mode, and under WebGPU's promise contract (Chromium's
 * WebGL2 and WebGPU: browser.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuBackend, referenceBackend, type Backend } from '@ggem/tensor';
import { createGpujsBackend, type GpuLike } from '@ggem/tensor/gpujs';
import { webgpuStandIn, withoutFusedKernels } from '@ggem/tensor/testing';
import { ggemInputs, ggemOutputs } from '../test/ggem-outputs.js';
import { ggemKernel, type GemKernel } from './index.js';
import * as reference from './reference.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => GpuLike };
const composed = withoutFusedKernels(referenceBackend);
function close(got: ArrayLike<number>[], want: ArrayLike<number>[], tol: number): void {
  got.forEach((a, k) => {
    assert.equal(a.length, want[k]!.length);
    for (let i = 0; i < a.length; i++)
      assert.ok(Math.abs(a[i]! - want[k]![i]!) <= tol * (1 + Math.abs(want[k]![i]!)), `output ${k}[${i}]: ${a[i]} vs ${want[k]![i]}`);
  });
}

const cases = fc.tuple(fc.integer(), fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 2 }));

const targets: [string, Backend][] = [
  ['reference', referenceBackend],
  ['cpu (WebAssembly SIMD)', cpuBackend],
  ['gpu.js cpu mode', createGpujsBackend(new GPU({ mode: 'cpu' }), () => {})],
  ['gpu.js under WebGPU’s promise contract', createGpujsBackend(webgpuStandIn(new GPU({ mode: 'cpu' })), () => {})],
];

describe('the fused GeM / GGeM kernel', () => {
  for (const [name, be] of targets) {
    it(`${name}: y and the x and p gradients equal the float64 composition, and the fused kernel ran`, async () => {
      const before = ggemKernel.ran(be.name);
      await fc.assert(
        fc.asyncProperty(cases, async ([seed, groups, start]) => {
          const [x, p, w] = ggemInputs(seed, groups);
          const want = await ggemOutputs(composed, x.cast('float64'), p.cast('float64'), w.cast('float64'), start);
          close(await ggemOutputs(be, x, p, w, start), want, 2e-5);
        }),
        { numRuns: 5 },
      );
      assert.equal(ggemKernel.ran(be.name) - before, 5, 'every forward ran the fused kernel');
    });
  }

  it('gpu.js declines what does not fit one kernel, and the composition runs in chunks instead', async () => {
    const small = createGpujsBackend(new GPU({ mode: 'cpu' }), () => {}, { maxCells: 40 });
    const before = ggemKernel.ran('gpujs');
    const [x, p, w] = ggemInputs(3, 2);
    const want = await ggemOutputs(composed, x.cast('float64'), p.cast('float64'), w.cast('float64'), 1);
    close(await ggemOutputs(small, x, p, w, 1), want, 2e-5);
    assert.equal(ggemKernel.ran('gpujs'), before, 'declined');
    assert.ok(small.peakCells <= 40);
    assert.deepEqual([...small.fallbacks], [], 'nothing ran on the CPU');
  });

  it('a backend without an implementation, or without fused kernels, runs the composition', async () => {
    const before = ggemKernel.ran(composed.name);
    const [x, p, w] = ggemInputs(4, 4);
    close(await ggemOutputs(composed, x, p, w, 0), await ggemOutputs(referenceBackend, x, p, w, 0), 1e-5);
    assert.equal(ggemKernel.ran(composed.name), before);
    assert.equal(ggemKernel.on(composed), undefined);
  });

  it("another package's backend registers its own implementation, which ggem then uses", async () => {
    const mine: Backend = { ...referenceBackend, name: 'my-backend' };
    let calls = 0;
    const kernel: GemKernel = {
      forward: (_be, ...args) => {
        calls++;
        return reference.gem(...args);
      },
      backward: (_be, saved, gy, dtype) => reference.gemBackward(saved, gy, dtype),
    };
    ggemKernel.register('my-backend', kernel);
    const [x, p, w] = ggemInputs(5, 2);
    close(await ggemOutputs(mine, x, p, w, 1), await ggemOutputs(referenceBackend, x, p, w, 1), 1e-6);
    assert.equal(calls, 1);
    assert.ok(ggemKernel.backends.includes('my-backend'));
  });
});
