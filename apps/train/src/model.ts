/**
 * The model a run trains and its optimizer's parameter groups, from the run's options.
 * Runtime-neutral: the CLI and the web app's training worker build the same model.
 */
import { optim } from '@ggem/tensor';
import { checkGroups } from '@ggem/pooling';
import { createVit, presets, type VisionTransformer, type VitConfig } from '@ggem/vit';
import { P_LR_SCALE, trainsP, type TrainOptions } from './options.js';
import { NormSoftmax } from './retrieval.js';

export function buildModel(o: TrainOptions): VisionTransformer {
  const base = presets[o.preset];
  const config: Partial<VitConfig> = { pooling: o.pooling, poolP: o.p, trainP: o.trainP, seed: o.seed };
  if (o.patch !== undefined) config.patchSize = o.patch;
  if (o.dim !== undefined) config.embedDim = o.dim;
  if (o.depth !== undefined) config.depth = o.depth;
  if (o.heads !== undefined) config.numHeads = o.heads;
  if (o.mlpRatio !== undefined) config.mlpRatio = o.mlpRatio;
  if (o.groups !== undefined) config.poolGroups = o.groups;
  const dim = config.embedDim ?? base.embedDim;
  if (o.pooling === 'ggem') checkGroups(dim, config.poolGroups ?? config.numHeads ?? base.numHeads);
  if (o.task === 'classify') return createVit(o.preset, o.pooling, config);
  const model = createVit(o.preset, o.pooling, { ...config, numClasses: 0 });
  model.head = new NormSoftmax(dim, SEEN.length, o.temperature, model._rng);
  return model;
}

/** Retrieval protocol: train on the first half of the classes, retrieve among the other half. */
export const SEEN = [0, 1, 2, 3, 4];
export const UNSEEN = [5, 6, 7, 8, 9];

/** Freezes the patch embedding, class token, position embedding and the first k blocks. */
export function freeze(model: VisionTransformer, k: number): void {
  if (k > model.blocks.length) throw new Error(`train: --freeze-blocks ${k} exceeds the model's ${model.blocks.length} blocks`);
  if (k === 0) return;
  for (const [name, p] of model.namedParameters()) {
    const m = /^blocks\.(\d+)\./.exec(name);
    if (name.startsWith('patch_embed.') || name === 'cls_token' || name === 'pos_embed' || (m && Number(m[1]) < k)) p.setRequiresGrad(false);
  }
}

/**
 * AdamW's groups: decayed weights, the rest without decay (timm's split), and with
 * --p-lr-scale the pooling p in a group of its own at that multiple of --lr.
 */
export function parameterGroups(model: VisionTransformer, o: TrainOptions): optim.ParamGroup[] {
  const named = model.namedParameters();
  const scale = o.pLrScale ?? (trainsP(o) ? P_LR_SCALE : 1);
  if (scale === 1) return optim.splitWeightDecay(named, o.weightDecay);
  const p = named.filter(([n, t]) => n === 'pool.p' && t.requiresGrad).map(([, t]) => t);
  return [
    ...optim.splitWeightDecay(
      named.filter(([n]) => n !== 'pool.p'),
      o.weightDecay,
    ),
    { params: p, weightDecay: 0, lr: o.lr * scale },
  ];
}
