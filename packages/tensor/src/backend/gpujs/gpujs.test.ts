import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { cpuBackend, Generator, getBackend, randn, setBackend } from '../../index.js';
import { createGpujsBackend, type GpujsBackend } from './index.js';
import { adamwSteps, gemOutputs, maxError, on, opCases, valueAndGrads } from './op-cases.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => Parameters<typeof createGpujsBackend>[0] };

/** gpu.js's Node modes and the kernel class each must run (gpu.js falls back silently). */
const modes = [
  ['cpu', 'CPUKernel'],
  ['webasm', 'WebAssemblyKernel'],
] as const;

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  const e = maxError([got], [want]);
  assert.ok(e <= tol, `${what}: error ${e} relative to 1 + |value| (tolerance ${tol})`);
}

const before = getBackend().name;
after(() => setBackend(before));

for (const [mode, kernelClass] of modes) {
  describe(`gpu.js backend, ${mode} mode`, () => {
    const warnings: string[] = [];
    const be: GpujsBackend = createGpujsBackend(new GPU({ mode }), (m) => warnings.push(m));
    for (const [name, f, shapes] of opCases) {
      it(`${name}: values and gradients equal the CPU backend's`, async () => {
        await fc.assert(fc.asyncProperty(fc.integer(), async (seed) => {
          const g = new Generator(seed);
          const inputs = shapes.map((s) => randn(s, { generator: g }));
          const want = await valueAndGrads(cpuBackend, f, inputs);
          const got = await valueAndGrads(be, f, inputs);
          got.forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
        }), { numRuns: 5 });
      });
    }
    it('fused GeM / GGeM kernels (forward, x and p gradients) equal the CPU backend\'s', async () => {
      await fc.assert(fc.asyncProperty(fc.integer(), fc.constantFrom(1, 2, 4), fc.integer({ min: 0, max: 2 }), async (seed, groups, start) => {
        const g = new Generator(seed);
        const dims = [3, 6, 8];
        const x = randn(dims, { generator: g }).data as Float32Array;
        const p = Float32Array.from({ length: groups }, () => 1 + 4 * g.uniform());
        const gy = randn([3, 8], { generator: g }).data as Float32Array;
        const want = await gemOutputs(cpuBackend, x, dims, start, p, gy);
        (await gemOutputs(be, x, dims, start, p, gy)).forEach((a, k) => close(a, want[k]!, ['y', 'gx', 'gp'][k]!, 2e-5));
      }), { numRuns: 8 });
      assert.ok(!be.fallbacks.has('gem'));
    });
    it(`ran every kernel as ${kernelClass}`, () => {
      assert.equal(be.mode, mode);
      assert.deepEqual([...be.kernelClasses], [kernelClass]);
    });
    it('runs an op it has no kernel for on the CPU, reported once', () => {
      const x = on(randn([4, 6], { generator: new Generator(3) }), be);
      const want = randn([4, 6], { generator: new Generator(3) }).argmax(1).data;
      assert.deepEqual(x.argmax(1).data, want);
      x.argmax(1);
      assert.ok(be.fallbacks.has('argReduce'));
      assert.equal(warnings.filter((w) => w.includes('argReduce')).length, 1);
    });
  });
}

/**
 * WebGPU's contract, in Node: gpu.js's webgpu kernels return promises and read back
 * asynchronously. A stand-in GPU gives its cpu-mode kernels that contract (each result a
 * macrotask later, `toArray` a promise, `delete` recorded) and reports mode 'webgpu', so the
 * backend chains kernels on promises. A kernel that reads a deleted output fails, and so
 * does one given an array where its first call had a device buffer (webgpu kernels keep the
 * argument types of their first call and read the array as a buffer of another device).
 */
describe('gpu.js backend with promise-returning kernels (the webgpu contract)', () => {
  const real = new GPU({ mode: 'cpu' });
  const deleted = new WeakSet<object>();
  let deletes = 0;
  type Out = { inner: unknown; toArray(): Promise<ArrayLike<number>>; delete(): void };
  const isOut = (a: unknown): a is Out => a !== null && typeof a === 'object' && 'inner' in a;
  const stand: Parameters<typeof createGpujsBackend>[0] = {
    mode: 'webgpu',
    createKernel(fn, settings) {
      const k = real.createKernel(fn, settings);
      let buffers: boolean[] | undefined;
      const wrapped = (...args: unknown[]) =>
        new Promise<Out>((resolve, reject) =>
          setTimeout(() => {
            buffers ??= args.map(isOut);
            if (args.some((a, i) => buffers![i] && !isOut(a))) return reject(new Error('an array passed where the first call had a buffer'));
            if (args.some((a) => isOut(a) && deleted.has(a))) return reject(new Error('a kernel read a deleted output'));
            if (args.some((a) => a instanceof Promise)) return reject(new Error('a kernel was given a promise'));
            const r = k(...args.map((a) => (isOut(a) ? a.inner : a))) as { toArray?: () => ArrayLike<number> } | ArrayLike<number>;
            const out: Out = {
              inner: r,
              toArray: async () => ('toArray' in r && r.toArray ? r.toArray() : (r as ArrayLike<number>)),
              delete: () => {
                deleted.add(out);
                deletes++;
              },
            };
            resolve(out);
          }, 0),
        );
      return Object.assign(wrapped, { kernel: k.kernel });
    },
  };
  const be = createGpujsBackend(stand, () => {});

  for (const [name, f, shapes] of opCases) {
    it(`${name}: values and gradients (read with dataAsync) equal the CPU backend's`, async () => {
      const g = new Generator(5);
      const inputs = shapes.map((s) => randn(s, { generator: g }));
      const want = await valueAndGrads(cpuBackend, f, inputs);
      const got = await valueAndGrads(be, f, inputs);
      got.forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
    });
  }

  it('runs an op on host arrays after the same op on device buffers (a kernel per kind of argument)', async () => {
    const g = new Generator(4);
    const [a, b] = [randn([3, 5], { generator: g }), randn([3, 5], { generator: g })];
    const want = a.add(b).data;
    const onDevice = on(a, be).mul(1).add(on(b, be).mul(1)); // add's kernel first sees two device buffers
    close(await onDevice.dataAsync(), want, 'device');
    const onHost = on(a, be).add(on(b, be)); // then two arrays (as CPU fallbacks' results are)
    close(await onHost.dataAsync(), want, 'host');
  });

  it('takes AdamW steps (stepAsync) on a small network with the CPU backend\'s trajectory', async () => {
    const want = await adamwSteps(cpuBackend);
    (await adamwSteps(be)).forEach((a, k) => close(a, want[k]!, k === 0 ? 'losses' : `parameter ${k - 1}`, 1e-4));
  });

  it('frees the outputs backward no longer needs (the cases above fail if one is freed before a kernel that reads it)', async () => {
    assert.ok(deletes > 0, 'backward released intermediate gradients');
  });

  it('forgets a reader once its kernel has run (long-lived inputs such as parameters do not collect them)', async () => {
    const w = on(randn([3, 4], { generator: new Generator(2) }), be);
    const ys = Array.from({ length: 5 }, () => w.mul(2));
    await Promise.all(ys.map((y) => y.dataAsync()));
    assert.equal((w.storage as { readers?: Set<unknown> }).readers?.size, 0);
  });

  it('says to use dataAsync when values are still on their way, and runs CPU fallbacks once the inputs arrive', async () => {
    const x = on(randn([4, 6], { generator: new Generator(3) }), be).mul(2);
    assert.throws(() => x.data, /computed asynchronously on the device; read them with await tensor\.dataAsync\(\)/);
    const want = randn([4, 6], { generator: new Generator(3) }).mul(2).argmax(1).data;
    assert.deepEqual(await x.argmax(1).dataAsync(), want);
    assert.ok(be.fallbacks.has('argReduce'));
  });
});
