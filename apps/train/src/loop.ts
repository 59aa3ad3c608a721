/**
 * A training run's steps, runtime-neutral: the optimizer and schedule a run uses, the
 * batches of an epoch in the order the run draws them, one forward and backward, and the
 * update. The CLI (./train.ts) and the web app's training worker take their steps through
 * these, so that a seed gives the same losses in Node and in a browser.
 */
import { crossEntropy, optim, type Generator as Rng, type Tensor } from '@ggem/tensor';
import type { VisionTransformer } from '@ggem/vit';
import { makeBatch, shuffled } from './data/batches.js';
import type { Split } from './data/split.js';
import { parameterGroups } from './model.js';
import type { TrainOptions } from './options.js';

export interface Optimization {
  opt: optim.AdamW;
  schedule: optim.WarmupCosineSchedule;
  stepsPerEpoch: number;
  totalSteps: number;
}

/** AdamW on the run's parameter groups, with linear warmup and cosine decay over the run. */
export function optimization(model: VisionTransformer, o: TrainOptions, trainImages: number): Optimization {
  const stepsPerEpoch = Math.ceil(trainImages / o.batchSize);
  const totalSteps = stepsPerEpoch * o.epochs;
  const opt = new optim.AdamW(parameterGroups(model, o), { lr: o.lr, weightDecay: o.weightDecay });
  const schedule = new optim.WarmupCosineSchedule(opt, { warmupSteps: Math.min(totalSteps, Math.round(o.warmupEpochs * stepsPerEpoch)), totalSteps });
  return { opt, schedule, stepsPerEpoch, totalSteps };
}

/** One epoch's batches: a permutation drawn from `rng`, then each batch (augmented from `rng`) as it is asked for. */
export function* epochBatches(s: Split, o: TrainOptions, rng: Rng): Generator<{ x: Tensor; y: Tensor; index: number; size: number }> {
  const order = shuffled(s.count, rng);
  const steps = Math.ceil(s.count / o.batchSize);
  for (let b = 0; b < steps; b++) {
    const idx = order.subarray(b * o.batchSize, Math.min(s.count, (b + 1) * o.batchSize));
    yield { ...makeBatch(s, idx, { cropPad: o.cropPad, flip: o.flip }, rng), index: b, size: idx.length };
  }
}

/** The loss of a batch and its gradient in every parameter's `.grad` (no backward when the loss is not finite). */
export function forwardBackward(model: VisionTransformer, x: Tensor, y: Tensor, o: TrainOptions): { loss: number; logits: Tensor } {
  const logits = model.forward(x);
  const loss = crossEntropy(logits, y, { labelSmoothing: o.labelSmoothing });
  const lv = loss.item();
  if (Number.isFinite(lv)) loss.backward();
  return { loss: lv, logits };
}

/**
 * The same on a backend that computes asynchronously (gpu.js on WebGPU): the loss, then
 * every parameter and gradient, read back before `update` reads them.
 */
export async function forwardBackwardAsync(model: VisionTransformer, x: Tensor, y: Tensor, o: TrainOptions): Promise<{ loss: number; logits: Tensor }> {
  const logits = model.forward(x);
  const loss = crossEntropy(logits, y, { labelSmoothing: o.labelSmoothing });
  const lv = (await loss.dataAsync())[0]!;
  if (!Number.isFinite(lv)) return { loss: lv, logits };
  loss.backward();
  const params = model.parameters().filter((p) => p.requiresGrad && p.grad !== null);
  await Promise.all(params.flatMap((p) => [p.dataAsync(), p.grad!.dataAsync()]));
  return { loss: lv, logits };
}

/** After the gradient: clipping, AdamW at the learning rate in effect (returned), and the schedule's step. */
export function update(model: VisionTransformer, { opt, schedule }: Optimization, o: TrainOptions): number {
  if (o.clip > 0)
    optim.clipGradNorm(
      model.parameters().filter((p) => p.requiresGrad),
      o.clip,
    );
  const lr = opt.groups[0]!.lr;
  opt.step();
  schedule.step();
  return lr;
}

/** `update` on a backend that computes asynchronously: the clipped gradients are read back before AdamW reads them. */
export async function updateAsync(model: VisionTransformer, { opt, schedule }: Optimization, o: TrainOptions): Promise<number> {
  if (o.clip > 0)
    optim.clipGradNorm(
      model.parameters().filter((p) => p.requiresGrad),
      o.clip,
    );
  const lr = opt.groups[0]!.lr;
  await opt.stepAsync();
  schedule.step();
  return lr;
}
