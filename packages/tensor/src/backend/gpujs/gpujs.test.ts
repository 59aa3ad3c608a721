/**
 * What is particular to the gpu.js backend (the op suite on every backend is
 * ../backends.test.ts): CPU fallbacks reported once, WebGPU's promise contract (kernels per
 * kind of argument, outputs freed after their readers, dataAsync), and a tensor over the
 * default cell limit.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cpuBackend, Generator, getBackend, randn, setBackend, Tensor } from '../../index.js';
import { recordingGpu, webgpuStandIn, maxError } from '../../testing/index.js';
import { caseInputs, on, opCases, valueAndGrads } from '../../test/op-cases.js';
import { createGpujsBackend, MAX_CELLS, type GpuLike } from './index.js';

const { GPU } = (await import('gpu.js' as string)) as { GPU: new (s: Record<string, unknown>) => GpuLike };

function close(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  const e = maxError([got], [want]);
  assert.ok(e <= tol, `${what}: error ${e} relative to 1 + |value| (tolerance ${tol})`);
}

const before = getBackend().name;
after(() => setBackend(before));

for (const mode of ['cpu', 'webasm']) {
  it(`gpu.js backend, ${mode} mode: runs an op it has no kernel for on the CPU, reported once`, () => {
    const warnings: string[] = [];
    const be = createGpujsBackend(new GPU({ mode }), (m) => warnings.push(m));
    const x = on(randn([4, 6], { generator: new Generator(3) }), be);
    const want = randn([4, 6], { generator: new Generator(3) }).argmax(1).data;
    assert.deepEqual(x.argmax(1).data, want);
    x.argmax(1);
    assert.ok(be.fallbacks.has('argReduce'));
    assert.equal(warnings.filter((w) => w.includes('argReduce')).length, 1);
  });
}

describe('gpu.js backend with promise-returning kernels (the webgpu contract)', () => {
  const stand = webgpuStandIn(new GPU({ mode: 'cpu' }));
  const be = createGpujsBackend(stand, () => {});

  it('runs an op on host arrays after the same op on device buffers (a kernel per kind of argument)', async () => {
    const g = new Generator(4);
    const [a, b] = [randn([3, 5], { generator: g }), randn([3, 5], { generator: g })];
    const want = a.add(b).data;
    const onDevice = on(a, be).mul(1).add(on(b, be).mul(1)); // add's kernel first sees two device buffers
    close(await onDevice.dataAsync(), want, 'device');
    const onHost = on(a, be).add(on(b, be)); // then two arrays (as CPU fallbacks' results are)
    close(await onHost.dataAsync(), want, 'host');
  });

  it('frees the outputs backward no longer needs, after the kernels that read them (a kernel reading a freed one fails)', async () => {
    for (const [, f, shapes, , domains] of opCases) {
      const inputs = caseInputs(shapes, domains, new Generator(5));
      const want = await valueAndGrads(cpuBackend, f, inputs);
      (await valueAndGrads(be, f, inputs)).forEach((a, k) => close(a, want[k]!, k === 0 ? 'value' : `gradient ${k}`));
    }
    assert.ok(stand.deletes > 0, 'backward released intermediate gradients');
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
    const want = randn([4, 6], { generator: new Generator(3) })
      .mul(2)
      .argmax(1).data;
    assert.deepEqual(await x.argmax(1).dataAsync(), want);
    assert.ok(be.fallbacks.has('argReduce'));
  });
});

it(`gpu.js backend: a tensor over the default cell limit (2²⁴ − 1), ${4097 * 4096} cells, through elementwise ops and a sum, in chunks`, async () => {
  const gpu = recordingGpu(new GPU({ mode: 'cpu' }));
  const be = createGpujsBackend(gpu, () => {});
  const data = Float32Array.from({ length: 4097 * 4096 }, (_, i) => ((i * 7919) % 1000) / 1000);
  const x = new Tensor(be.fromArray(data), [4097, 4096], 'float32', be);
  const y = x.mul(2).add(1);
  const got = await y.dataAsync();
  for (const i of [0, 1, MAX_CELLS - 1, MAX_CELLS, MAX_CELLS + 1, data.length - 1])
    assert.equal(got[i], Math.fround(Math.fround(data[i]! * 2) + 1), `cell ${i}`);
  const rows = await y.sum(1).dataAsync();
  const want = (r: number) => data.subarray(r * 4096, (r + 1) * 4096).reduce((s, v) => s + Math.fround(Math.fround(v * 2) + 1), 0);
  for (const r of [0, 4095, 4096]) close([rows[r]!], [want(r)], `row ${r}`);
  assert.ok(gpu.most <= MAX_CELLS && be.peakCells <= MAX_CELLS, `a kernel saw ${gpu.most} cells`);
  assert.deepEqual([...be.fallbacks], []);
});
