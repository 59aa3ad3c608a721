import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, scope, setCpuThreads, type Tensor } from '@ggem/tensor';
import { DataParallel } from '@ggem/tensor/node';
import type { VisionTransformer } from '@ggem/vit';
import { loadWeightsFile } from '@ggem/vit/node';
import { SingleBar } from 'cli-progress';
import { loadLatestCheckpoint, makeDirs, nonFinite, optimizerState, saveCheckpoint, type CheckpointState } from './checkpoint.js';
import { filterClasses, limitSplit, loadData, type Data, type Split } from './data/dataset.js';
import { accuracy, features, knnAccuracy, predict } from './evaluate.js';
import { epochBatches, forwardBackward, optimization, update } from './loop.js';
import { buildModel, freeze, SEEN, UNSEEN } from './model.js';
import { validate, type TrainOptions } from './options.js';
import type { TrainReplica } from './replica.js';
import { retrievalMetrics, type RetrievalMetrics } from './retrieval.js';

export interface EpochMetrics {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testAcc: number;
  p: number[];
  seconds: number;
}

export interface TrainResult {
  model: VisionTransformer;
  history: EpochMetrics[];
  /** classify: test top-1 and k-NN; retrieval: top-1 on the seen classes' test images and retrieval among the unseen ones. */
  final: { testAcc: number; knnAcc: number; k: number; retrieval?: RetrievalMetrics };
  checkpoint: string;
  out: string;
  /** The images the run trained and was tested on (after --limit, --test-limit and the task's classes). */
  splits: { train: Split; test: Split };
}

/**
 * An exponential moving average of a rate (images per second): single steps swing several
 * fold with the machine's load, so the bar shows the average of the last ~20 steps.
 */
export class Smoothed {
  private value = 0;
  private weight = 0;
  constructor(private readonly keep = 0.9) {}
  add(x: number): number {
    this.value = this.keep * this.value + (1 - this.keep) * x;
    this.weight = this.keep * this.weight + (1 - this.keep);
    return this.value / this.weight; // bias-corrected, so the first steps are not pulled toward 0
  }
}

/** `4m05s`, `59s`, `1h02m`: whole seconds, rounded once (never `4m60s`). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '-';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What a run leaves in its folder. */
const RUN_FILES = ['checkpoints', 'metrics.jsonl', 'result.json'];

/** A new run's folder must hold no other run, unless it is to be replaced. */
function clearRun(out: string, overwrite: boolean, log: (s: string) => void): void {
  const found = RUN_FILES.filter((f) => existsSync(join(out, f)));
  if (found.length === 0) return;
  if (!overwrite)
    throw new Error(`train: ${out} holds another run (${found.join(', ')}); continue it with --resume, write to a new --out, or replace it with --overwrite`);
  for (const f of found) rmSync(join(out, f), { recursive: true, force: true });
  log(`replaced the run in ${out}`);
}

/**
 * After a kill the metrics can hold steps past the checkpoint the run resumes from: keep
 * the lines up to it (steps <= step, epochs <= epoch) so each step is logged once.
 */
function trimMetrics(file: string, epoch: number, step: number): void {
  if (!existsSync(file)) return;
  const keep = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => {
      if (line.trim() === '') return false;
      try {
        const m = JSON.parse(line) as { type?: string; step?: number; epoch?: number };
        return m.type === 'epoch' ? (m.epoch ?? Infinity) <= epoch : (m.step ?? Infinity) <= step;
      } catch {
        return false; // a line cut off by the kill
      }
    });
  writeFileSync(`${file}.tmp`, keep.map((l) => `${l}\n`).join(''));
  renameSync(`${file}.tmp`, file);
}

/**
 * Trains a ViT on Fashion-MNIST: AdamW (no decay on biases, norms, embeddings and p),
 * linear warmup + cosine, gradient clipping; metrics per step and per epoch as JSON lines in
 * `out/metrics.jsonl`; a checkpoint each epoch in `out/checkpoints`; top-1 and k-NN at the end.
 */
export async function train(o: TrainOptions, log: (s: string) => void = console.log): Promise<TrainResult> {
  validate(o);
  const data: Data = loadData(o.data);
  const retrieval = o.task === 'retrieval';
  const limitedTrain = o.limit > 0 ? limitSplit(data.train, o.limit) : data.train;
  const limitedTest = o.testLimit > 0 ? limitSplit(data.test, o.testLimit) : data.test;
  const trainSplit = retrieval ? filterClasses(limitedTrain, SEEN) : limitedTrain;
  const testSplit = retrieval ? filterClasses(limitedTest, SEEN) : limitedTest;
  if (trainSplit.count === 0 || testSplit.count === 0)
    throw new Error(`train: no ${trainSplit.count === 0 ? 'training' : 'test'} images in --data ${o.data}${retrieval ? ' (classes 0-4)' : ''}`);
  const splits = { train: trainSplit, test: testSplit };
  if (!retrieval && o.knnK > trainSplit.count) throw new Error(`train: --knn-k ${o.knnK} is more than the ${trainSplit.count} training images`);
  const stepper = await makeStepper(o);
  const model = stepper.model;
  try {
    return await trainModel(o, model, stepper, splits, limitedTest, log);
  } finally {
    await stepper.close();
  }
}

/** One training step's forward and backward: on this thread, or split over data-parallel replicas. */
interface Stepper {
  model: VisionTransformer;
  /** Adds the batch's gradient to every parameter's `.grad`; the batch's loss, and the logits of the rows it has (all, or this thread's shard). */
  step(x: Tensor, y: Tensor): { loss: number; logits: Tensor; rows: number };
  /** The pooled features of a batch in eval mode, for evaluation: on this thread, or split over the replicas too. */
  features(x: Tensor): Tensor;
  close(): Promise<void>;
}

/** Images a step of evaluation runs (split over the replicas under data parallelism). */
const EVAL_BATCH = 256;

/** The tsx loader for the replicas' threads (`node --import tsx` does not reach workers). */
const TSX_WORKER = new URL('../../../scripts/tsx-worker.mjs', import.meta.url);

/**
 * `--threads 1`: the model on this thread, its kernels on this thread only. More: one replica per thread (DataParallel, the
 * parameters shared, the batch split by rows), which measured faster than threaded kernels
 * for this model (README); each replica's kernels then run on one thread.
 */
async function makeStepper(o: TrainOptions): Promise<Stepper> {
  if (o.threads <= 1) {
    setCpuThreads(1); // one core: the kernels' worker threads too
    const model = buildModel(o);
    freeze(model, o.freezeBlocks);
    return {
      model,
      step(x, y) {
        return { ...forwardBackward(model, x, y, o), rows: x.shape[0]! };
      },
      features: (x) => features(model, x),
      close: async () => {},
    };
  }
  const underTsx = import.meta.url.endsWith('.ts');
  const dp = await DataParallel.create({
    module: new URL(`./replica${underTsx ? '.ts' : '.js'}`, import.meta.url),
    arg: o,
    workers: o.threads - 1,
    preload: underTsx ? [TSX_WORKER] : [],
  });
  const main = dp.replica as TrainReplica;
  return {
    model: main.model,
    step(x, y) {
      const loss = dp.step(x, y);
      return { loss, logits: main.logits!, rows: main.logits!.shape[0]! };
    },
    features: (x) => dp.infer(x),
    close: () => dp.close(),
  };
}

async function trainModel(
  o: TrainOptions,
  model: VisionTransformer,
  stepper: Stepper,
  splits: { train: Split; test: Split },
  limitedTest: Split,
  log: (s: string) => void,
): Promise<TrainResult> {
  const { train: trainSplit, test: testSplit } = splits;
  const retrieval = o.task === 'retrieval';
  if (o.initFrom) {
    const names = model.namedParameters().map(([k]) => k);
    const r = await loadWeightsFile(model, o.initFrom, { strict: false });
    const mismatched = new Set(r.mismatched.map((m) => m.slice(0, m.indexOf(':'))));
    const loaded = names.filter((k) => !r.missing.includes(k) && !mismatched.has(k));
    const empty = model.blocks.map((_, i) => `blocks.${i}.`).filter((b) => !loaded.some((k) => k.startsWith(b)));
    if (empty.length > 0) {
      const why = r.mismatched.filter((m) => empty.some((b) => m.startsWith(b)));
      throw new Error(
        `train: --init-from ${o.initFrom}: nothing of ${empty.join(', ').replace(/\.(,|$)/g, '$1')} fits this model (${why.slice(0, 3).join('; ') || 'no such keys in the file'}${why.length > 3 ? '; ...' : ''}): not weights of this architecture`,
      );
    }
    const skipped = [
      ...r.missing.map((k) => `${k} (not in the file)`),
      ...r.unexpected.map((k) => `${k} (not in this model)`),
      ...r.mismatched,
      ...r.config.map((c) => `config ${c}`),
    ];
    log(`init from ${o.initFrom}: loaded ${loaded.length} of ${names.length} tensors${skipped.length ? `; skipped ${skipped.join(', ')}` : ''}`);
  }
  const optimizing = optimization(model, o, trainSplit.count);
  const { opt, schedule, stepsPerEpoch } = optimizing;
  const dataRng = new Generator(o.seed + 1);
  if (!o.resume) clearRun(o.out, Boolean(o.overwrite), log);
  makeDirs(o.out, 'train: --out');
  const ckptDir = join(o.out, 'checkpoints');
  const metricsFile = join(o.out, 'metrics.jsonl');
  let epoch = 0;
  let step = 0;
  let history: EpochMetrics[] = [];
  let checkpoint = '';
  let lastTest: ReturnType<typeof predict> | undefined;
  // what the run is: every option but those of one invocation (where it goes, how it shows, when it stops)
  // (the thread count changes only the rounding of the gradient's sum: a run may resume on another machine)
  const options: Record<string, unknown> = {
    ...o,
    resume: undefined,
    quiet: undefined,
    out: undefined,
    stopAfter: undefined,
    overwrite: undefined,
    threads: undefined,
  };
  /** Identifies this run in its checkpoints and result (a folder can later hold another run's). */
  let runId: string = globalThis.crypto.randomUUID();
  if (o.resume) {
    const ck = await loadLatestCheckpoint(ckptDir);
    if (ck === null) throw new Error(`train: --resume found no checkpoint in ${ckptDir}`);
    const changed = [...new Set([...Object.keys(options), ...Object.keys(ck.state.options)])]
      .filter((k) => JSON.stringify(ck.state.options[k]) !== JSON.stringify(options[k]))
      .map((k) => `${k}: ${JSON.stringify(ck.state.options[k]) ?? 'unset'} then, ${JSON.stringify(options[k]) ?? 'unset'} now`);
    if (changed.length)
      throw new Error(
        `train: cannot resume ${ck.path} with other options (${changed.join('; ')}); resume with the run's options, or start a new run in another --out`,
      );
    model.loadStateDict(ck.weights);
    opt.loadStateDict(optimizerState(ck.optimizer, opt, model, ck.path));
    schedule.loadStateDict(ck.state.schedule);
    dataRng.setState(ck.state.rng.data);
    model._rng.setState(ck.state.rng.model);
    ({ epoch, step } = ck.state);
    history = ck.state.history as unknown as EpochMetrics[];
    checkpoint = ck.path;
    runId = ck.state.runId ?? runId;
    trimMetrics(metricsFile, epoch, step);
    log(`resumed from ${ck.path} (epoch ${epoch}, step ${step})`);
    // a finished run whose evaluation was written from this very checkpoint: nothing left to do
    const done = join(o.out, 'result.json');
    if (epoch >= o.epochs && existsSync(done)) {
      const r = JSON.parse(readFileSync(done, 'utf8')) as { final: TrainResult['final']; runId?: string; epoch?: number };
      if (r.runId === ck.state.runId && r.epoch === epoch) return { model, history, final: r.final, checkpoint, out: o.out, splits };
    }
  }
  const bar = o.quiet
    ? null
    : new SingleBar({
        format: 'epoch {epoch}/{epochs} {bar} {percentage}% | loss {loss} | acc {acc} | {ips} img/s | ETA {eta}',
        noTTYOutput: true,
        notTTYSchedule: 5000,
        hideCursor: true,
      });
  // Ctrl-C: stop the bar first, which gives the terminal back its cursor and line wrap
  const interrupted = () => {
    bar?.stop();
    process.stderr.write(`\ninterrupted; the last checkpoint is ${checkpoint || 'none'}${checkpoint ? `; continue with --resume --out ${o.out}` : ''}\n`);
    process.exit(130);
  };
  if (bar !== null) process.once('SIGINT', interrupted);
  const rate = new Smoothed();
  model.train();
  const last = o.stopAfter > 0 ? Math.min(o.epochs, epoch + o.stopAfter) : o.epochs;
  try {
    for (; epoch < last; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      bar?.start(stepsPerEpoch, 0, { epoch: epoch + 1, epochs: o.epochs, loss: '-', acc: '-', ips: '-', eta: '-' });
      for (const { x, y, index: b, size } of epochBatches(trainSplit, o, dataRng)) {
        const ts = performance.now();
        // the step's tensors go back to the pool when it ends (scope), for the next to reuse
        const { lv, lr, ok } = scope(() => {
          opt.zeroGrad();
          const { loss: lv, logits, rows } = stepper.step(x, y);
          if (!Number.isFinite(lv)) {
            bar?.stop();
            throw new Error(
              `train: the loss is ${lv} at step ${step + 1} (epoch ${epoch + 1}, batch ${b + 1}); stopped, the last good checkpoint is ${checkpoint || 'none (no epoch completed)'}`,
            );
          }
          const lr = update(model, optimizing, o);
          // the rows this thread computed: all of them, or its shard under data parallelism
          return { lv, lr, ok: accuracy(logits.argmax(1).data, y.data.subarray(0, rows)) };
        });
        step++;
        lossSum += lv * size;
        correct += ok * size;
        seen += size;
        const ips = size / ((performance.now() - ts) / 1000);
        appendFileSync(
          metricsFile,
          `${JSON.stringify({ type: 'step', epoch: epoch + 1, step, loss: lv, acc: ok, lr, imagesPerSecond: Math.round(ips), ...(model.currentP().length ? { p: model.currentP() } : {}) })}\n`,
        );
        const smooth = rate.add(ips);
        bar?.update(b + 1, {
          loss: (lossSum / seen).toFixed(4),
          acc: (correct / seen).toFixed(3),
          ips: Math.round(smooth),
          eta: formatDuration((trainSplit.count - Math.min(trainSplit.count, (b + 1) * o.batchSize)) / smooth),
        });
        await new Promise((r) => setImmediate(r)); // let the progress bar's timer redraw (logs, CI)
      }
      bar?.stop();
      // the last steps of an epoch can poison the weights while every loss was finite
      const bad = nonFinite(model.namedParameters().map(([k, p]) => [k, p.data] as const));
      if (bad !== null)
        throw new Error(
          `train: after step ${step} (the end of epoch ${epoch + 1}) ${bad}; stopped before evaluating or saving it, the last good checkpoint is ${checkpoint || 'none (no epoch completed)'}`,
        );
      lastTest = predict(model, testSplit, EVAL_BATCH, stepper.features);
      const testAcc = accuracy(lastTest.predictions, testSplit.labels);
      const m: EpochMetrics = {
        epoch: epoch + 1,
        trainLoss: lossSum / seen,
        trainAcc: correct / seen,
        testAcc,
        p: model.currentP(),
        seconds: (performance.now() - t0) / 1000,
      };
      history.push(m);
      appendFileSync(metricsFile, `${JSON.stringify({ type: 'epoch', ...m })}\n`);
      const state: Omit<CheckpointState, 'optimizer'> = {
        epoch: epoch + 1,
        step,
        runId,
        rng: { data: dataRng.getState(), model: model._rng.getState() },
        schedule: schedule.stateDict(),
        options,
        history: history as unknown as Record<string, unknown>[],
      };
      checkpoint = await saveCheckpoint(ckptDir, model, opt, state);
      log(
        `epoch ${epoch + 1}/${o.epochs}: train loss ${m.trainLoss.toFixed(4)}, train acc ${(100 * m.trainAcc).toFixed(2)}%, test acc ${(100 * testAcc).toFixed(2)}%${m.p.length ? `, p ${m.p.map((v) => v.toFixed(3)).join(' ')}` : ''} (${m.seconds.toFixed(0)} s)`,
      );
    }
  } finally {
    process.off('SIGINT', interrupted);
  }
  if (epoch < o.epochs) {
    log(`stopped after epoch ${epoch} of ${o.epochs}; continue with --resume --out ${o.out}`);
    return { model, history, final: { testAcc: history[history.length - 1]?.testAcc ?? 0, knnAcc: NaN, k: o.knnK }, checkpoint, out: o.out, splits };
  }
  // the last epoch's evaluation is of these weights when this invocation trained it
  const testPred = lastTest ?? predict(model, testSplit, EVAL_BATCH, stepper.features);
  let final: TrainResult['final'];
  if (retrieval) {
    const unseen = filterClasses(limitedTest, UNSEEN);
    const emb = predict(model, unseen, EVAL_BATCH, stepper.features);
    final = {
      testAcc: accuracy(testPred.predictions, testSplit.labels),
      knnAcc: NaN,
      k: o.knnK,
      retrieval: retrievalMetrics(emb.features, unseen.labels, emb.dim),
    };
  } else if (o.knnK === 0) {
    final = { testAcc: accuracy(testPred.predictions, testSplit.labels), knnAcc: NaN, k: 0 };
  } else {
    const trainPred = predict(model, trainSplit, EVAL_BATCH, stepper.features);
    final = {
      testAcc: accuracy(testPred.predictions, testSplit.labels),
      knnAcc: knnAccuracy(
        { features: trainPred.features, labels: trainSplit.labels },
        { features: testPred.features, labels: testSplit.labels },
        trainPred.dim,
        o.knnK,
      ),
      k: o.knnK,
    };
  }
  writeFileSync(join(o.out, 'result.json'), JSON.stringify({ options, history, final, checkpoint, runId, epoch }, null, 2));
  return { model, history, final, checkpoint, out: o.out, splits };
}
