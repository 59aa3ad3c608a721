import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Generator, ones, optim, randn, tensor, type Tensor } from '../index.js';
import { replica, type MlpArg } from '../test/mlp-replica.js';
import { DataParallel, split } from './data-parallel.js';

const MODULE = new URL('../test/mlp-replica.ts', import.meta.url);
/** tsx's loader, registered in each worker (its --import reaches the main thread only). */
const PRELOAD = [new URL('../../../../scripts/tsx-worker.mjs', import.meta.url)];
const ARG: MlpArg = { inFeatures: 12, hidden: 16, classes: 5, seed: 3 };

function batch(n: number, seed: number): [Tensor, Tensor] {
  const g = new Generator(seed);
  const x = randn([n, ARG.inFeatures], { generator: g });
  const y = tensor(Int32Array.from({ length: n }, () => Math.floor(g.uniform() * ARG.classes)));
  return [x, y];
}

/** The reference: one replica, the whole batch, on this thread. */
function reference(params: Tensor[]) {
  const r = replica(ARG);
  r.parameters.forEach((p, i) => (p.storage = params[i]!.data.slice()));
  return r;
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, what);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  assert.ok(worst <= tol, `${what}: differs by ${worst}`);
}

describe('DataParallel', () => {
  const open: DataParallel[] = [];
  after(() => Promise.all(open.map((d) => d.close())));
  const create = async (workers: number, arg: MlpArg = ARG) => {
    const dp = await DataParallel.create({ module: MODULE, arg, workers, preload: PRELOAD });
    open.push(dp);
    return dp;
  };

  it('splits rows as evenly as they allow', () => {
    assert.deepEqual(split(7, 3), [
      [0, 3],
      [3, 5],
      [5, 7],
    ]);
    assert.deepEqual(split(1, 3), [
      [0, 1],
      [1, 1],
      [1, 1],
    ]);
  });

  for (const workers of [1, 2]) {
    for (const n of [1, 2, 7, 32]) {
      it(`${workers + 1} replicas, batch ${n}: the whole batch's loss and gradients`, async () => {
        const dp = await create(workers);
        const [x, y] = batch(n, n);
        const loss = dp.step(x, y);
        const ref = reference(dp.parameters);
        const l = ref.loss(x, y);
        l.backward();
        assert.ok(Math.abs(loss - l.item()) <= 1e-6 * Math.max(1, Math.abs(l.item())), `loss ${loss} vs ${l.item()}`);
        dp.parameters.forEach((p, i) => assertClose(p.grad!.data, ref.parameters[i]!.grad!.data, 1e-5, `gradient ${i}`));
        await dp.close();
      });
    }
  }

  for (const workers of [1, 2]) {
    it(`${workers + 1} replicas: infer gives the whole batch's outputs in row order, off the tape`, async () => {
      const dp = await create(workers);
      const ref = reference(dp.parameters);
      for (const n of [1, 2, 7, 32]) {
        const [x] = batch(n, 50 + n);
        const y = dp.infer(x);
        assert.deepEqual(y.shape, [n, ARG.classes]);
        assert.equal(y.requiresGrad, false, `batch ${n}: no tape`);
        assertClose(y.data, ref.infer!(x).data, 1e-6, `batch ${n}`);
      }
      await dp.close();
    });
  }

  it('names the replica when infer goes wrong, and says when a replica has none', async () => {
    const [x] = batch(8, 7);
    const failing = await create(1, { ...ARG, fail: 'infer' });
    assert.throws(() => failing.infer(x), /DataParallel\.infer: replica 1: Error: no output for a shard of 4 rows/);
    assertClose(failing.infer(x.slice([[0, 1]])).data, reference(failing.parameters).infer!(x.slice([[0, 1]])).data, 1e-6, 'a shard for this thread only');
    const rows = await create(1, { ...ARG, fail: 'infer-rows' });
    assert.throws(() => rows.infer(x), /replica 1's output is float32 \[1, 5\] for 4 rows; expected one row per input row, each float32 \[5\]/);
    const none = await create(1, { ...ARG, noInfer: true });
    assert.throws(() => none.infer(x), /DataParallel\.infer: the replica has no infer/);
    assert.throws(() => rows.infer(), /DataParallel\.infer: expected at least one input/);
    // the jobs after a failed one are whole
    const [x2, y2] = batch(8, 8);
    const loss = failing.step(x2, y2);
    const l = reference(failing.parameters).loss(x2, y2);
    assert.ok(Math.abs(loss - l.item()) <= 1e-6, `loss ${loss} vs ${l.item()}`);
  });

  it('adds to gradients already there, like backward', async () => {
    const dp = await create(1);
    const [x, y] = batch(9, 1);
    dp.step(x, y);
    const once = dp.parameters.map((p) => p.grad!.data.slice());
    dp.step(x, y);
    dp.parameters.forEach((p, i) =>
      assertClose(
        p.grad!.data,
        once[i]!.map((v) => 2 * v),
        1e-6,
        `gradient ${i}`,
      ),
    );
  });

  it('trains: AdamW steps follow the single-replica trajectory, the workers seeing each update', async () => {
    const dp = await create(2);
    const ref = reference(dp.parameters);
    const opt = new optim.AdamW(dp.parameters, { lr: 1e-2 });
    const refOpt = new optim.AdamW(ref.parameters, { lr: 1e-2 });
    for (let s = 0; s < 4; s++) {
      const [x, y] = batch(10, 100 + s);
      opt.zeroGrad();
      refOpt.zeroGrad();
      const loss = dp.step(x, y);
      const l = ref.loss(x, y);
      l.backward();
      assert.ok(Math.abs(loss - l.item()) <= 1e-5, `step ${s}: loss ${loss} vs ${l.item()}`);
      opt.step();
      refOpt.step();
    }
    dp.parameters.forEach((p, i) => assertClose(p.data, ref.parameters[i]!.data, 1e-5, `parameter ${i}`));
  });

  it('takes up parameters whose storage was replaced (a loaded state dict)', async () => {
    const dp = await create(1);
    const p0 = dp.parameters[0]!;
    p0.storage = p0.data.map((v) => v * 3);
    const [x, y] = batch(6, 5);
    dp.step(x, y);
    const ref = reference(dp.parameters);
    ref.loss(x, y).backward();
    dp.parameters.forEach((p, i) => assertClose(p.grad!.data, ref.parameters[i]!.grad!.data, 1e-5, `gradient ${i}`));
  });

  it("still collects the workers' shards when this thread's shard fails, so the next step is whole", async () => {
    const dp = await create(1, { ...ARG, fail: 'first-main-loss' });
    const [x, y] = batch(8, 4);
    assert.throws(() => dp.step(x, y), /DataParallel\.step: replica 0 \(this thread\): the first loss fails here/);
    assert.equal(dp.parameters[0]!.grad, null);
    const loss = dp.step(x, y);
    const ref = reference(dp.parameters);
    const l = ref.loss(x, y);
    l.backward();
    assert.ok(Math.abs(loss - l.item()) <= 1e-6, `loss ${loss} vs ${l.item()}`);
    dp.parameters.forEach((p, i) => assertClose(p.grad!.data, ref.parameters[i]!.grad!.data, 1e-5, `gradient ${i}`));
  });

  it('names the replica, the module and the problem when something goes wrong', async () => {
    await assert.rejects(create(1, { ...ARG, fail: 'build' }), /replica 1 did not start: .*this replica refuses to build/);
    await assert.rejects(create(1, { ...ARG, fail: 'shape' }), /parameter 0 of replica 1 is float32 \[17, 12\], the main replica's float32 \[16, 12\]/);
    await assert.rejects(
      DataParallel.create({ module: MODULE, exportName: 'nope', workers: 1, preload: PRELOAD }),
      /mlp-replica\.ts has no exported function nope/,
    );
    const dp = await create(1, { ...ARG, fail: 'loss' });
    const [x, y] = batch(8, 2);
    assert.throws(() => dp.step(x, y), /DataParallel\.step: replica 1: Error: no loss for a shard of 4 rows/);
    assert.equal(dp.parameters[0]!.grad, null, 'a failed step leaves the gradients as they were');
    assert.throws(() => dp.step(x, tensor(Int32Array.of(1, 2))), /same first \(batch\) dimension >= 1, got shapes \[8, 12\], \[2\]/);
    await dp.close();
    assert.throws(() => dp.step(x, y), /already closed/);
  });

  it('gives up on a worker past the timeout, leaving the gradients as they were', async () => {
    const dp = await DataParallel.create({ module: MODULE, arg: { ...ARG, fail: 'slow' }, workers: 1, preload: PRELOAD, timeoutMs: 100 });
    open.push(dp);
    const [x, y] = batch(8, 6);
    const before = dp.parameters.map((p) => (p.grad = ones(p.shape)));
    assert.throws(() => dp.step(x, y), /DataParallel\.step: replica 1 did not finish its shard within 0\.1 s/);
    dp.parameters.forEach((p, i) => assert.equal(p.grad, before[i], `gradient ${i}`));
  });
});
