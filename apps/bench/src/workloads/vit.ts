import { availableParallelism } from 'node:os';
import { Generator, getCpuThreads, noGrad, randn, scope, setCpuThreads, tensor, type Tensor } from '@ggem/tensor';
import { DataParallel } from '@ggem/tensor/node';
import type { PresetName } from '@ggem/vit';
import type { Impl, Workload } from '../harness.js';
import { gpujsVitStep } from '../engines/gpujs.js';
import { jaxVit } from '../engines/jax-vit.js';
import { jsPytorchVit } from '../engines/jspytorch.js';
import { ortNodeVit, ortWebVit } from '../engines/onnxruntime.js';
import { tfjsVit } from '../engines/tfjs-vit.js';
import { torchVit } from '../engines/torch.js';
import { benchVit, type VitReplicaArg } from './vit-replica.js';
import { ggemStep, trainStep } from './vit-step.js';
import { chromiumVitStep } from '../engines/chromium.js';

/** tsx's loader for the data-parallel workers (its --import reaches the main thread only). */
const TSX_WORKER = new URL('../../../../scripts/tsx-worker.mjs', import.meta.url);

/**
 * The same ViT, weights and batch for every engine. Engines build the model from `weights`
 * (timm names, row-major float32) and run either one training step (forward, cross-entropy,
 * backward, AdamW with lr 1e-3, weight decay 0.05 on every parameter, betas 0.9/0.999,
 * eps 1e-8) or a forward pass.
 */
export interface VitSpec {
  img: number;
  patch: number;
  inChans: number;
  dim: number;
  depth: number;
  heads: number;
  hidden: number;
  classes: number;
  /** avg: mean of the patch tokens, then fc_norm; token: norm on all tokens, the class token. */
  pooling: 'avg' | 'token';
  batch: number;
  weights: Map<string, { shape: number[]; data: Float32Array }>;
  /** Images `[batch, inChans, img, img]` and int labels. */
  x: Float32Array;
  labels: Int32Array;
}

/**
 * The same step on every core: DataParallel splits the batch over one replica per thread,
 * the parameters shared, and sums the shards' gradients before AdamW.
 */
function ggemParallelStep(arg: VitReplicaArg, names: string[], weights: VitSpec['weights'], x: Tensor, y: Tensor): Impl {
  const threads = availableParallelism();
  let dp: DataParallel | undefined;
  return {
    engine: `ggem, ${threads} threads`,
    threads,
    async setup() {
      dp = await DataParallel.create({ module: new URL('./vit-replica.ts', import.meta.url), arg, workers: threads - 1, preload: [TSX_WORKER] });
      dp.parameters.forEach((p, i) => p.data.set(weights.get(names[i]!)!.data));
      const params = dp.parameters;
      return trainStep(
        names.map((n, i) => [n, params[i]!]),
        () => scope(() => dp!.step(x, y)),
      );
    },
    teardown: () => dp?.close(),
  };
}

/**
 * The step with every kernel on this thread (the bar for one core): a model of its own from
 * the same weights, and one thread set for each run only, so that in one process (with
 * `--in-process`) the other rows keep their threads and their weights.
 */
function ggemOneThreadStep(arg: VitReplicaArg, spec: VitSpec, x: Tensor, y: Tensor): Impl {
  return {
    engine: 'ggem, 1 thread',
    threads: 1,
    setup() {
      const model = benchVit(arg);
      for (const [name, p] of model.namedParameters()) p.data.set(spec.weights.get(name)!.data);
      const step = ggemStep(model, x, y);
      return () => {
        const before = getCpuThreads();
        setCpuThreads(1);
        return step().finally(() => setCpuThreads(before));
      };
    },
  };
}

function makeSpec(preset: PresetName, pooling: 'avg' | 'token', batch: number, seed: number) {
  const model = benchVit({ preset, pooling, seed });
  const c = model.config;
  const g = new Generator(seed + 1);
  const x = randn([batch, c.inChans, c.imgSize, c.imgSize], { generator: g });
  const labels = Int32Array.from({ length: batch }, () => Math.floor(g.uniform() * c.numClasses));
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, p] of model.namedParameters()) weights.set(name, { shape: [...p.shape], data: (p.data as Float32Array).slice() });
  const spec: VitSpec = {
    img: c.imgSize,
    patch: c.patchSize,
    inChans: c.inChans,
    dim: c.embedDim,
    depth: c.depth,
    heads: c.numHeads,
    hidden: Math.round(c.embedDim * c.mlpRatio),
    classes: c.numClasses,
    pooling,
    batch,
    weights,
    x: x.data as Float32Array,
    labels,
  };
  return { model, spec, x };
}

/**
 * One training step of the small ViT (SPEC: batch 64 of 28×28×1, patch 4, D 64, 4 heads,
 * depth 4, MLP 128, exact GELU, pre-norm, average pooling, head to 10 classes,
 * cross-entropy, backward, AdamW). About 3 GFLOP.
 */
export function vitStepWorkload(batch = 64): Workload {
  const arg = { preset: 'vit_mnist_small', pooling: 'avg', seed: 0 } as const satisfies VitReplicaArg;
  const { model, spec, x } = makeSpec(arg.preset, arg.pooling, batch, arg.seed);
  const y = tensor(spec.labels);
  const ours: Impl = {
    engine: 'ggem',
    threads: getCpuThreads(),
    setup: () => ggemStep(model, x, y),
  };
  const oneThread = getCpuThreads() > 1 ? [ggemOneThreadStep(arg, spec, x, y)] : [];
  const names = model.namedParameters().map(([name]) => name);
  // on one core the data-parallel row would be the 'ggem' row again
  const parallel = availableParallelism() > 1 ? [ggemParallelStep(arg, names, spec.weights, x, y)] : [];
  const n = (spec.img / spec.patch) ** 2 + 1;
  const flop = 3 * 2 * batch * n * (spec.depth * (4 * spec.dim * spec.dim + 2 * spec.dim * spec.hidden + 2 * n * spec.dim));
  return {
    name: `small-ViT training step (batch ${batch})`,
    flop,
    tolerance: 2e-3,
    budgetMs: 120_000,
    impls: [
      ours,
      ...oneThread,
      ...parallel,
      chromiumVitStep(spec),
      tfjsVit(spec, 'step'),
      jaxVit(spec, 'step'),
      jsPytorchVit(),
      torchVit(spec, 'step'),
      gpujsVitStep(spec),
    ],
  };
}

/** ViT-S/16 (timm's vit_small_patch16_224, class-token pooling) forward on a batch of 224×224×3 images. */
export function vitForwardWorkload(batch: number, preset: PresetName = 'vit_small_patch16_224'): Workload {
  const { model, spec, x } = makeSpec(preset, 'token', batch, 1);
  model.eval();
  const ours: Impl = {
    engine: 'ggem',
    threads: getCpuThreads(),
    setup: () => async () => scope(() => Float64Array.from(noGrad(() => model.forward(x)).data.slice(0, 256))),
  };
  const ortThreads = availableParallelism() > 1 ? [1, 2] : [1];
  const n = (spec.img / spec.patch) ** 2 + 1;
  const flop =
    2 * batch * (n * spec.depth * (4 * spec.dim * spec.dim + 2 * spec.dim * spec.hidden + 2 * n * spec.dim) + n * spec.inChans * spec.patch ** 2 * spec.dim);
  return {
    name: `${preset} forward (batch ${batch})`,
    flop,
    tolerance: 2e-3,
    budgetMs: 120_000,
    impls: [
      ours,
      tfjsVit(spec, 'forward'),
      jaxVit(spec, 'forward'),
      jsPytorchVit(),
      torchVit(spec, 'forward'),
      ...ortThreads.map((t) => ortWebVit(spec, t)),
      ...ortThreads.map((t) => ortNodeVit(spec, t)),
    ],
  };
}
