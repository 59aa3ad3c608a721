import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { defaults, validate, type TrainOptions } from './options.js';
import { buildModel, parameterGroups } from './model.js';
import { formatDuration, Smoothed, train } from './train.js';
import { accuracy, knnAccuracy, predict } from './evaluate.js';
import { tensor } from '@ggem/tensor';
import { readSafetensorsFile } from '@ggem/vit/node';

/** A run small enough for CI: a 1-block, 32-wide ViT on 96 images. */
const tiny = (out: string, o: Partial<TrainOptions> = {}): TrainOptions => ({
  ...defaults,
  preset: 'vit_mnist_tiny',
  dim: 32,
  depth: 1,
  heads: 2,
  pooling: 'ggem',
  epochs: 2,
  batchSize: 32,
  limit: 96,
  testLimit: 64,
  knnK: 3,
  quiet: true,
  threads: 1,
  out,
  ...o,
});
const silent = () => {};

describe('training', () => {
  it('2 epochs straight equal 1 epoch + resume + 1 epoch, bit for bit (on data-parallel replicas)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-train-'));
    const straight = await train(tiny(join(dir, 'a'), { threads: 2 }), silent);
    await train(tiny(join(dir, 'b'), { stopAfter: 1, threads: 2 }), silent); // as if killed after epoch 1
    const resumed = await train(tiny(join(dir, 'b'), { resume: true, threads: 2 }), silent);
    const a = straight.model.namedParameters();
    const b = resumed.model.namedParameters();
    a.forEach(([name, p], i) => assert.deepEqual(b[i]![1].data, p.data, name));
    assert.deepEqual(
      resumed.history.map((h) => h.trainLoss),
      straight.history.map((h) => h.trainLoss),
    );
    const lines = readFileSync(join(dir, 'a', 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.filter((l) => l.type === 'step').length, 6);
    assert.equal(lines.filter((l) => l.type === 'epoch').length, 2);
    assert.deepEqual(readdirSync(join(dir, 'a', 'checkpoints')).sort(), ['epoch-1', 'epoch-2', 'latest.json']);
    assert.ok(straight.final.knnAcc >= 0 && straight.final.testAcc >= 0);
  });
  it('a NaN loss stops the run naming the step and keeps the last good checkpoint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-nan-'));
    await assert.rejects(
      train(tiny(dir, { lr: 1e30, clip: 0, epochs: 3 }), silent),
      /train: the loss is (NaN|Infinity|-Infinity) at step \d+ \(epoch \d, batch \d\); stopped, the last good checkpoint is/,
    );
    if (existsSync(join(dir, 'checkpoints', 'latest.json'))) {
      const { dir: last } = JSON.parse(readFileSync(join(dir, 'checkpoints', 'latest.json'), 'utf8'));
      assert.ok(existsSync(join(dir, 'checkpoints', last, 'model.safetensors')));
    }
  });
  it('weights poisoned on the last step of an epoch are neither evaluated, saved nor reported', async () => {
    // lr 1e39 passes validation; the loss of each step is computed before its update, so only the weights show it
    for (const epochs of [1, 2]) {
      const dir = mkdtempSync(join(tmpdir(), 'ggem-poison-'));
      await assert.rejects(
        train(tiny(dir, { lr: 1e39, clip: 0, epochs, limit: 32, warmupEpochs: 0 }), silent),
        /train: after step 1 \(the end of epoch 1\) .* holds (NaN|-?Infinity) at index \d+; stopped before evaluating or saving it, the last good checkpoint is none/,
      );
      assert.ok(!existsSync(join(dir, 'checkpoints', 'latest.json')), 'no checkpoint of non-finite weights');
      assert.ok(!existsSync(join(dir, 'result.json')), 'no result');
      const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        lines.map((l) => l.type),
        ['step'],
        'no epoch metrics of non-finite weights',
      );
    }
  });
  it('saveCheckpoint itself refuses non-finite parameters and optimizer buffers, writing nothing', async () => {
    const { saveCheckpoint } = await import('./checkpoint.js');
    const { buildModel } = await import('./model.js');
    const { optim } = await import('@ggem/tensor');
    const dir = mkdtempSync(join(tmpdir(), 'ggem-save-'));
    const model = buildModel(tiny(dir));
    const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
    const state = {
      epoch: 1,
      step: 1,
      rng: { data: [0, 0, 0, 1], model: [0, 0, 0, 1] },
      schedule: { t: 1, base: [1e-3] },
      options: {},
      history: [],
    } as unknown as Parameters<typeof saveCheckpoint>[3];
    const w = model.namedParameters().find(([k]) => k === 'head.weight')![1];
    w.storage = w.backend.fromArray(Float32Array.from(w.data, (v, i) => (i === 3 ? NaN : v)));
    await assert.rejects(
      saveCheckpoint(join(dir, 'ck'), model, opt, state),
      /saveCheckpoint: parameter head\.weight holds NaN at index 3; epoch 1 is not saved/,
    );
    assert.deepEqual(readdirSync(join(dir, 'ck')), []);
  });
  it('a new run refuses a folder that holds a run; --overwrite replaces it whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-rerun-'));
    await train(tiny(dir, { epochs: 1 }), silent);
    await assert.rejects(
      train(tiny(dir, { epochs: 1, seed: 5 }), silent),
      new RegExp(
        `train: ${dir} holds another run \\(checkpoints, metrics.jsonl, result.json\\); continue it with --resume, write to a new --out, or replace it with --overwrite`,
      ),
    );
    const logs: string[] = [];
    await train(tiny(dir, { epochs: 1, seed: 5, overwrite: true }), (s) => logs.push(s));
    assert.ok(logs.includes(`replaced the run in ${dir}`));
    const result = JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8'));
    assert.equal(result.options.seed, 5);
    assert.equal(readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').length, 3 + 1, "only the new run's 3 steps and 1 epoch");
  });
  it("resume refuses changed options, naming each, and never reports another run's result", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-resume-'));
    await train(tiny(join(dir, 'a'), { stopAfter: 1 }), silent);
    await assert.rejects(
      train(tiny(join(dir, 'a'), { resume: true, lr: 5e-3, cropPad: 2, trainP: false }), silent),
      /cannot resume .*epoch-1 with other options \(trainP: true then, false now; lr: 0\.002 then, 0\.005 now; cropPad: 0 then, 2 now\)/,
    );
    // a finished run, then its checkpoints replaced by another run's: the old result must not come back
    const b = join(dir, 'b');
    await train(tiny(b), silent);
    const other = await train(tiny(join(dir, 'c'), { seed: 9 }), silent);
    const { cpSync, rmSync } = await import('node:fs');
    rmSync(join(b, 'checkpoints'), { recursive: true });
    cpSync(join(dir, 'c', 'checkpoints'), join(b, 'checkpoints'), { recursive: true });
    await assert.rejects(train(tiny(b, { resume: true }), silent), /other options \(seed: 9 then, 0 now\)/);
    const again = await train(tiny(b, { resume: true, seed: 9 }), silent);
    assert.equal(again.final.testAcc, other.final.testAcc, 'evaluated from the checkpoint that is there');
    const runOf = (d: string) => JSON.parse(readFileSync(join(d, 'result.json'), 'utf8')).runId;
    assert.notEqual(runOf(join(dir, 'c')), undefined);
    assert.equal(runOf(b), runOf(join(dir, 'c')), 'the result is re-evaluated from the run whose checkpoint is there');
  });
  it("after a kill and resume every step is logged once; killed runs' temporary folders go", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-kill-'));
    await train(tiny(dir, { stopAfter: 1 }), silent);
    // what a kill -9 in epoch 2 leaves: steps past the checkpoint, a cut line, a temporary folder
    appendFileSync(join(dir, 'metrics.jsonl'), `${JSON.stringify({ type: 'step', epoch: 2, step: 4, loss: 1 })}\n{"type": "st`);
    mkdirSync(join(dir, 'checkpoints', 'epoch-2.tmp-99999'));
    writeFileSync(join(dir, 'checkpoints', 'epoch-2.tmp-99999', 'model.safetensors'), 'partial');
    await train(tiny(dir, { resume: true }), silent);
    const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === 'step')
      .map((l) => l.step);
    assert.deepEqual(steps, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(readdirSync(join(dir, 'checkpoints')).sort(), ['epoch-1', 'epoch-2', 'latest.json']);
    // the optimizer's state is keyed by parameter name
    const opt = (await readSafetensorsFile(join(dir, 'checkpoints', 'epoch-2', 'optimizer.safetensors'))).tensors;
    assert.ok(Object.keys(opt).includes('blocks.0.attn.qkv.weight:expAvg'), Object.keys(opt).slice(0, 3).join(', '));
  });
  it('an empty or broken checkpoint is an error naming the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-broken-'));
    await train(tiny(dir, { stopAfter: 1 }), silent);
    const latest = join(dir, 'checkpoints', 'latest.json');
    for (const [text, err] of [
      ['', /latest\.json: cannot read the checkpoint pointer/],
      ['{}', /latest\.json: expected \{"epoch": N, "dir": "epoch-N"\}, got \{\}/],
    ] as const) {
      writeFileSync(latest, text);
      await assert.rejects(train(tiny(dir, { resume: true }), silent), err);
    }
    writeFileSync(latest, JSON.stringify({ epoch: 1, dir: 'epoch-1' }));
    const { writeSafetensorsFile } = await import('@ggem/vit/node');
    await writeSafetensorsFile(join(dir, 'checkpoints', 'epoch-1', 'optimizer.safetensors'), {});
    await assert.rejects(train(tiny(dir, { resume: true }), silent), /optimizer\.safetensors holds no optimizer state after 3 steps/);
    await writeSafetensorsFile(join(dir, 'checkpoints', 'epoch-1', 'optimizer.safetensors'), { 'blocks.9.mlp.fc1.weight:expAvg': tensor([1]) });
    await assert.rejects(
      train(tiny(dir, { resume: true }), silent),
      /optimizer buffer 'blocks\.9\.mlp\.fc1\.weight:expAvg' names no parameter this run trains/,
    );
    await writeSafetensorsFile(join(dir, 'checkpoints', 'epoch-1', 'optimizer.safetensors'), { 'head.weight:expAvg': tensor([1, 2]) });
    await assert.rejects(train(tiny(dir, { resume: true }), silent), /optimizer buffer 'head\.weight:expAvg' has 2 values, the parameter 320/);
    const state = JSON.parse(readFileSync(join(dir, 'checkpoints', 'epoch-1', 'state.json'), 'utf8'));
    delete state.rng;
    writeFileSync(join(dir, 'checkpoints', 'epoch-1', 'state.json'), JSON.stringify(state));
    await assert.rejects(train(tiny(dir, { resume: true }), silent), /state\.json: the checkpoint state has no 'rng'/);
  });
  it('--threads 2 splits each batch over two replicas: the same steps as one thread, within rounding, and a seed repeats it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-dp-'));
    const steps = (out: string) =>
      readFileSync(join(out, 'metrics.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; loss: number })
        .filter((l) => l.type === 'step')
        .map((l) => l.loss);
    const one = await train(tiny(join(dir, 'one')), silent);
    const two = await train(tiny(join(dir, 'two'), { threads: 2 }), silent);
    const again = await train(tiny(join(dir, 'again'), { threads: 2 }), silent);
    const [a, b] = [steps(join(dir, 'one')), steps(join(dir, 'two'))];
    assert.equal(b.length, a.length);
    b.forEach((l, i) => assert.ok(Math.abs(l - a[i]!) <= 1e-4 * Math.abs(a[i]!), `step ${i + 1}: ${l} on two threads, ${a[i]} on one`));
    assert.deepEqual(steps(join(dir, 'again')), b);
    // the evaluations ran split over the replicas: the same as this thread's of the same weights
    const { train: seen, test } = two.splits;
    const [here, trainHere] = [predict(two.model, test), predict(two.model, seen)];
    assert.equal(two.final.testAcc, accuracy(here.predictions, test.labels));
    assert.equal(two.history.at(-1)!.testAcc, two.final.testAcc);
    const knn = knnAccuracy({ features: trainHere.features, labels: seen.labels }, { features: here.features, labels: test.labels }, here.dim, 3);
    assert.equal(two.final.knnAcc, knn);
    two.model.namedParameters().forEach(([n, p], i) => {
      assert.deepEqual(again.model.namedParameters()[i]![1].data, p.data, n);
      const q = one.model.namedParameters()[i]![1].data;
      p.data.forEach((v, j) => assert.ok(Math.abs(v - q[j]!) <= 1e-3 * (1 + Math.abs(q[j]!)), `${n}[${j}]: ${v} vs ${q[j]}`));
    });
  });
  it('fine-tunes from a checkpoint with another pooling, and freezes blocks (on data-parallel replicas)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ggem-ft-'));
    const base = await train(tiny(join(dir, 'gem'), { pooling: 'gem', epochs: 1 }), silent);
    const logs: string[] = [];
    const ft = await train(
      tiny(join(dir, 'avg'), { pooling: 'avg', epochs: 1, freezeBlocks: 1, threads: 2, initFrom: join(base.checkpoint, 'model.safetensors') }),
      (s) => logs.push(s),
    );
    assert.match(logs.join('\n'), /skipped pool\.p \(not in this model\)/);
    const frozen = ft.model.namedParameters().filter(([n]) => n.startsWith('blocks.0.') || n === 'pos_embed');
    const src = Object.fromEntries(base.model.namedParameters());
    for (const [n, p] of frozen) assert.deepEqual(p.data, src[n]!.data, `${n} stayed frozen`);
    assert.match(logs.join('\n'), /loaded \d+ of \d+ tensors; .*config pooling: the file's "gem", the model's "avg"/);
    // weights of another width: nothing of a block fits, so the run refuses instead of training from random weights
    await assert.rejects(
      train(tiny(join(dir, 'wide'), { dim: 48, heads: 2, epochs: 1, initFrom: join(base.checkpoint, 'model.safetensors') }), silent),
      /--init-from .*model\.safetensors: nothing of blocks\.0 fits this model \(.*expected \[48\], got \[32\].*\): not weights of this architecture/,
    );
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
    await assert.rejects(
      train(tiny(mkdtempSync(join(tmpdir(), 'ggem-g-')), { groups: 60, dim: 64 }), silent),
      /ggem: 60 groups do not fit 64 channels .* allowed:/,
    );
    await assert.rejects(train(tiny(mkdtempSync(join(tmpdir(), 'ggem-r-')), { resume: true }), silent), /--resume found no checkpoint/);
    const bad: [Partial<TrainOptions>, RegExp][] = [
      [{ heads: 128, dim: 64 }, /--heads 128 does not divide --dim 64/],
      [{ pooling: 'gem', groups: 4 }, /--groups applies to --pooling ggem only \(got --pooling gem\)/],
      [{ cropPad: 15 }, /--crop-pad 15 is more than half the 28-pixel image/],
      [{ preset: 'vit_small_patch16_224' }, /--preset vit_small_patch16_224 takes 224×224×3 images; Fashion-MNIST's are 28×28×1/],
      [{ patch: 5 }, /--patch 5 does not divide the 28-pixel image/],
    ];
    for (const [o, err] of bad) {
      const dir = mkdtempSync(join(tmpdir(), 'ggem-bad-'));
      await assert.rejects(train(tiny(dir, o), silent), err);
      assert.deepEqual(readdirSync(dir), [], 'nothing written before the check');
    }
    await assert.rejects(train(tiny(mkdtempSync(join(tmpdir(), 'ggem-k-')), { knnK: 97 }), silent), /--knn-k 97 is more than the 96 training images/);
    // a data folder whose test split is empty: an error, not NaN metrics
    const data = mkdtempSync(join(tmpdir(), 'ggem-empty-data-'));
    const { encodeIdx } = await import('./data/idx.js');
    writeFileSync(join(data, 'train-images-idx3-ubyte'), encodeIdx([4, 28, 28], new Uint8Array(4 * 784)));
    writeFileSync(join(data, 'train-labels-idx1-ubyte'), encodeIdx([4], Uint8Array.from([0, 1, 2, 3])));
    writeFileSync(join(data, 't10k-images-idx3-ubyte'), encodeIdx([0, 28, 28], new Uint8Array(0)));
    writeFileSync(join(data, 't10k-labels-idx1-ubyte'), encodeIdx([0], new Uint8Array(0)));
    await assert.rejects(train(tiny(mkdtempSync(join(tmpdir(), 'ggem-e-')), { data, limit: 0, knnK: 1 }), silent), /train: no test images in --data/);
    // Node's recursive mkdir loops for ever under /proc
    await assert.rejects(train(tiny('/proc/ggem/out'), silent), /train: --out: cannot create \/proc\/ggem \(the file system does not allow it there, ENOENT\)/);
  });
  it('--p-lr-scale gives p a group of its own at that multiple of --lr, without decay', async () => {
    const o = tiny('unused', { pLrScale: 20, lr: 1e-3 });
    const model = buildModel(o);
    const groups = parameterGroups(model, o);
    const p = model.namedParameters().find(([n]) => n === 'pool.p')![1];
    assert.equal(groups.length, 3);
    assert.deepEqual([groups[2]!.params, groups[2]!.lr, groups[2]!.weightDecay], [[p], 0.02, 0]);
    assert.ok(!groups.slice(0, 2).some((g) => g.params.includes(p)), 'p in no other group');
    assert.equal(parameterGroups(model, { ...o, pLrScale: 1 }).length, 2);
    assert.equal(parameterGroups(model, { ...o, pLrScale: undefined }).at(-1)!.lr, 0.03, 'the default: 30×');
    assert.equal(parameterGroups(buildModel(tiny('unused', { pooling: 'avg' })), tiny('unused', { pooling: 'avg' })).length, 2, 'no p, no group');
    // the run: p moves further with a larger rate
    const dir = mkdtempSync(join(tmpdir(), 'ggem-plr-'));
    const moved = async (pLrScale: number, out: string) =>
      Math.max(...(await train(tiny(join(dir, out), { pLrScale, epochs: 1 }), silent)).model.currentP().map((v) => Math.abs(v - 3)));
    assert.ok((await moved(30, 'fast')) > 3 * (await moved(1, 'slow')));
    assert.throws(() => validate({ ...defaults, pooling: 'avg', pLrScale: 10 }), /--p-lr-scale applies to a trainable p/);
    assert.throws(() => validate({ ...defaults, pLrScale: 0 }), /--p-lr-scale must be > 0/);
  });
  it("the progress bar's ETA never reads 4m60s, and its rate is smoothed", () => {
    assert.deepEqual([299.6, 59.4, 59.6, 0.2, 3725, NaN, -1].map(formatDuration), ['5m00s', '59s', '1m00s', '0s', '1h02m', '-', '-']);
    const r = new Smoothed();
    assert.equal(r.add(200), 200, 'the first step is its own average');
    const seen = [28, 319, 250, 30, 300, 260].map((x) => r.add(x));
    assert.ok(Math.max(...seen) - Math.min(...seen) < 120, `a 28-319 img/s swing shows as ${seen.map(Math.round).join(', ')}`);
  });
  it('the CLI puts its figure beside a baseline it measures, and writes a report with plots', () => {
    const out = mkdtempSync(join(tmpdir(), 'ggem-report-'));
    const r = spawnSync(
      process.execPath,
      [
        '--conditions=@ggem/source',
        '--import',
        'tsx',
        new URL('./cli.ts', import.meta.url).pathname,
        '--preset',
        'vit_mnist_tiny',
        '--dim',
        '32',
        '--depth',
        '1',
        '--heads',
        '2',
        '--limit',
        '600',
        '--test-limit',
        '200',
        '--knn-k',
        '3',
        '--epochs',
        '1',
        '--out',
        out,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const m = /softmax regression on the raw pixels of the same images reaches (\d+\.\d+)% in 2 epochs/.exec(r.stdout);
    assert.ok(m && Number(m[1]) > 50, `a linear model on 600 images beats chance by far: ${m?.[1]}`);
    assert.match(
      r.stdout,
      new RegExp(`written: .*epoch-1, ${out}/metrics.jsonl, ${out}/result.json, ${out}/report.md, ${out}/learning-curve.svg, ${out}/p-trajectories.svg`),
    );
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    assert.match(report, /\| softmax regression on the raw pixels, same images, 2 epochs \(measured in this run\) \| \d+\.\d+ % \|/);
    assert.match(readFileSync(join(out, 'p-trajectories.svg'), 'utf8'), /^<svg/);
  });
  it('npm run train -- --help lists the training options', () => {
    const r = spawnSync(process.execPath, ['--conditions=@ggem/source', '--import', 'tsx', new URL('./cli.ts', import.meta.url).pathname, '--help'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0);
    for (const flag of ['--pooling', '--epochs', '--lr', '--resume', '--overwrite', 'compare --help']) assert.ok(r.stdout.includes(flag), flag);
  });
  it('the CLI refuses values its parser would bend', () => {
    const cli = new URL('./cli.ts', import.meta.url).pathname;
    for (const [args, err] of [
      [['--seed', ''], /--seed must be an integer from 0 to 9007199254740991, got ''/],
      [['--seed', '1.5'], /--seed must be an integer .* got '1\.5'/],
      [['--dim', '1e15'], /--dim must be an integer from 1 to 4096, got '1e15'/],
    ] as const) {
      const r = spawnSync(process.execPath, ['--conditions=@ggem/source', '--import', 'tsx', cli, ...args, '--out', mkdtempSync(join(tmpdir(), 'ggem-cli-'))], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, err);
    }
  });
});
