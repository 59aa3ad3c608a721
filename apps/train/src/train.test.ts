import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { defaults, validate, type TrainOptions } from './options.js';
import { train } from './train.js';

/** A run small enough for CI: a 1-block, 32-wide ViT on 96 images. */
const tiny = (out: string, o: Partial<TrainOptions> = {}): TrainOptions => ({
  ...defaults, preset: 'vit_mnist_tiny', dim: 32, depth: 1, heads: 2, pooling: 'ggem', epochs: 2, batchSize: 32,
  limit: 96, testLimit: 64, knnK: 3, quiet: true, out, ...o,
});
const silent = () => {};

describe('training', () => {
  it('2 epochs straight equal 1 epoch + resume + 1 epoch, bit for bit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-train-'));
    const straight = await train(tiny(join(dir, 'a')), silent);
    await train(tiny(join(dir, 'b'), { stopAfter: 1 }), silent); // as if killed after epoch 1
    const resumed = await train(tiny(join(dir, 'b'), { resume: true }), silent);
    const a = straight.model.namedParameters();
    const b = resumed.model.namedParameters();
    a.forEach(([name, p], i) => assert.deepEqual(b[i]![1].data, p.data, name));
    assert.deepEqual(resumed.history.map((h) => h.trainLoss), straight.history.map((h) => h.trainLoss));
    const lines = readFileSync(join(dir, 'a', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.type === 'step').length, 6);
    assert.equal(lines.filter((l) => l.type === 'epoch').length, 2);
    assert.deepEqual(readdirSync(join(dir, 'a', 'checkpoints')).sort(), ['epoch-1', 'epoch-2', 'latest.json']);
    assert.ok(straight.final.knnAcc >= 0 && straight.final.testAcc >= 0);
  });
  it('a NaN loss stops the run naming the step and keeps the last good checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-nan-'));
    await assert.rejects(train(tiny(dir, { lr: 1e30, clip: 0, epochs: 3 }), silent), /train: the loss is (NaN|Infinity|-Infinity) at step \d+ \(epoch \d, batch \d\); stopped, the last good checkpoint is/);
    if (existsSync(join(dir, 'checkpoints', 'latest.json'))) {
      const { dir: last } = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
      assert.ok(existsSync(join(dir, 'checkpoints', last, 'model.safetensors')));
    }
  });
  it('fine-tunes from a checkpoint with another pooling, and freezes blocks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-ft-'));
    const base = await train(tiny(join(dir, 'gem'), { pooling: 'gem', epochs: 1 }), silent);
    const logs: string[] = [];
    const ft = await train(tiny(join(dir, 'avg'), { pooling: 'avg', epochs: 1, freezeBlocks: 1, initFrom: join(base.checkpoint, 'model.safetensors') }), (s) => logs.push(s));
    assert.match(logs.join('\n'), /skipped pool\.p \(not in this model\)/);
    const frozen = ft.model.namedParameters().filter(([n]) => n.startsWith('blocks.0.') || n === 'pos_embed');
    const src = Object.fromEntries(base.model.namedParameters());
    for (const [n, p] of frozen) assert.deepEqual(p.data, src[n]!.data, `${n} stayed frozen`);
  });
  it('retrieval: Norm-softmax on classes 0-4, metrics on the unseen classes 5-9', async () => {
    const r = await train(tiny(mkdtempSync(join(tmpdir(), 'ggem-ret-')), { task: 'retrieval', limit: 200, testLimit: 200, epochs: 1 }), silent);
    const m = r.final.retrieval!;
    for (const v of [m.recallAt1, m.rPrecision, m.mapAtR]) assert.ok(v >= 0 && v <= 1);
    assert.ok(m.mapAtR <= m.rPrecision + 1e-12, 'MAP@R <= R-Precision');
    assert.deepEqual(r.model.namedParameters().find(([n]) => n === 'head.weight')![1].shape, [5, 32]);
  });
  it('rejects bad options with what is allowed', async () => {
    assert.throws(() => validate({ ...defaults, lr: -1 }), /--lr must be > 0, got -1/);
    assert.throws(() => validate({ ...defaults, pooling: 'mean' as 'avg' }), /unknown pooling 'mean'; expected one of token, avg, max, gem, ggem/);
    assert.throws(() => validate({ ...defaults, batchSize: 0 }), /--batch-size must be a positive integer/);
    await assert.rejects(train(tiny(mkdtempSync(join(tmpdir(), 'ggem-g-')), { groups: 60, dim: 64 }), silent), /ggem: 60 groups do not fit 64 channels .* allowed:/);
    await assert.rejects(train(tiny(mkdtempSync(join(tmpdir(), 'ggem-r-')), { resume: true }), silent), /--resume found no checkpoint/);
  });
});
