/**
 * The op suite (test/op-cases.ts) on every backend that runs in Node, one suite
 * parametrised over them: the reference backend (plain TypeScript) in float32; the CPU backend (WebAssembly SIMD); gpu.js in its cpu and webasm modes; gpu.js under
 * WebGPU's promise contract (a stand-in over its cpu mode); and gpu.js with each case's
 * kernels limited to a few cells (ops in chunks, tensors in pieces), in cpu mode and under
 * the stand-in. Values and gradients are compared with the reference backend in float64, and after
 * every case the target checks what ran (gpu.js switches backends silently). Chromium's
 * WebGL2 and WebGPU run the same cases (gpujs/browser.test.ts).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuBackend, Generator, randn, referenceBackend, wasmFeatures, type Backend } from '../index.js';
import { createGpujsBackend, type GpujsBackend, type GpuLike } from '../gpujs.js';
import { recordingGpu, webgpuStandIn, withoutFusedKernels, maxError } from '../testing/index.js';
import { adamwSteps, caseInputs, GPUJS_NO_KERNEL, opCases, valueAndGrads } from '../test/op-cases.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => GpuLike };

interface Target {
  name: string;
  /** The backend for a case with this cell limit (undefined: the target skips the case). */
  backend(cells: number | undefined): Backend | undefined;
  /** Asserts what ran on `be` (kernel classes, fallbacks, the largest kernel). */
  ran(be: Backend): void;
}

/** gpu.js in `mode`, one backend for every case; each kernel must be a `kernelClass`, and no op may fall back to the CPU but those with no gpu.js kernel. */
function gpujs(name: string, gpu: GpuLike, kernelClass: string): Target {
  const be = createGpujsBackend(gpu, () => {});
  return {
    name,
    backend: () => be,
    ran: () => {
      assert.deepEqual([...be.kernelClasses], [kernelClass], `gpu.js ran ${[...be.kernelClasses].join(', ')}`);
      assert.deepEqual(
        [...be.fallbacks].filter((op) => !GPUJS_NO_KERNEL.includes(op)),
        [],
        'ops that fell back to the CPU',
      );
    },
  };
}

/** gpu.js in cpu mode (under `wrap`) with each case's kernels within its cell limit; a case without one is skipped. */
function chunked(name: string, wrap: (g: GpuLike) => GpuLike): Target {
  const most = new Map<Backend, () => number>();
  return {
    name,
    backend(cells) {
      if (cells === undefined) return undefined;
      const gpu = recordingGpu(new GPU({ mode: 'cpu' }));
      const be = createGpujsBackend(wrap(gpu), () => {}, { maxCells: cells });
      most.set(be, () => gpu.most);
      return be;
    },
    ran(be) {
      const g = be as GpujsBackend;
      const seen = most.get(be)!();
      assert.ok(seen > 0 && seen <= g.maxCells, `a kernel saw ${seen} cells (limit ${g.maxCells})`);
      assert.ok(g.peakCells <= g.maxCells);
      assert.deepEqual([...g.kernelClasses], ['CPUKernel']);
      // chunks, not the CPU: what falls back does so for want of a kernel, as without the limit
      assert.deepEqual(
        [...g.fallbacks].filter((op) => op.includes('cell limit')),
        [],
      );
    },
  };
}

const primitivesOnly = withoutFusedKernels(referenceBackend);

const targets: Target[] = [
  { name: 'reference backend', backend: () => referenceBackend, ran: () => {} },
  // the narrow Backend: softmax, layer norm, attention and GeM as compositions of primitives
  { name: 'reference backend without fused kernels', backend: () => primitivesOnly, ran: () => {} },
  {
    name: 'CPU backend',
    backend: () => cpuBackend,
    // its WebAssembly SIMD kernels run where the engine has SIMD (Node 20 has), else its TypeScript ones
    ran: () => assert.ok(wasmFeatures.simd, 'no WebAssembly SIMD: the CPU backend ran its TypeScript kernels'),
  },
  gpujs('gpu.js, cpu mode', new GPU({ mode: 'cpu' }), 'CPUKernel'),
  gpujs('gpu.js, webasm mode', new GPU({ mode: 'webasm' }), 'WebAssemblyKernel'),
  gpujs("gpu.js under WebGPU's promise contract (stand-in)", webgpuStandIn(new GPU({ mode: 'cpu' })), 'CPUKernel'),
  chunked('gpu.js with kernels limited to a few cells, cpu mode', (g) => g),
  chunked('gpu.js with kernels limited to a few cells, under the WebGPU stand-in', (g) => webgpuStandIn(g)),
];

function close(got: ArrayLike<number>[], want: ArrayLike<number>[], tol: number): void {
  const e = maxError(got, want);
  assert.ok(e <= tol, `error ${e} relative to 1 + |value| (tolerance ${tol})`);
}

it("each case's cell limit is below its largest tensor (so the limited targets run it in chunks)", async () => {
  for (const [name, f, shapes, cells] of opCases) {
    if (cells === undefined) continue;
    const got = await valueAndGrads(
      cpuBackend,
      f,
      shapes.map((s) => randn(s, { generator: new Generator(1) })),
    );
    assert.ok(Math.max(...shapes.map((s) => s.reduce((a, b) => a * b, 1)), ...got.map((a) => a.length)) > cells, name);
  }
});

for (const target of targets) {
  describe(`op suite on the ${target.name}`, () => {
    for (const [name, f, shapes, cells, domains] of opCases) {
      const be = target.backend(cells);
      if (be === undefined) continue;
      it(`${name}: values and gradients equal float64's`, async () => {
        await fc.assert(
          fc.asyncProperty(fc.integer(), async (seed) => {
            const inputs = caseInputs(shapes, domains, new Generator(seed));
            const want = await valueAndGrads(
              referenceBackend,
              f,
              inputs.map((t) => t.cast('float64')),
            );
            close(await valueAndGrads(be, f, inputs), want, 1e-5);
          }),
          { numRuns: 3 },
        );
        target.ran(be);
      });
    }

    const trainBackend = target.backend(30);
    if (trainBackend !== undefined) {
      it("three AdamW steps of a small network follow float64's trajectory", async () => {
        close(await adamwSteps(trainBackend), await adamwSteps(referenceBackend, 'float64'), 1e-4);
        target.ran(trainBackend);
      });
    }
  });
}
