import type { PoolingName } from '@ggem/pooling';
import { VisionTransformer, type VitConfig } from './vit.js';

type Preset = Omit<VitConfig, 'pooling' | 'numClasses'> & { numClasses: number };

const imagenet = { imgSize: 224, patchSize: 16, inChans: 3, numClasses: 1000, mlpRatio: 4 };

/** timm's ViT sizes (224², patch 16) and small models for 28×28 grayscale images. */
export const presets = {
  vit_tiny_patch16_224: { ...imagenet, embedDim: 192, depth: 12, numHeads: 3 },
  vit_small_patch16_224: { ...imagenet, embedDim: 384, depth: 12, numHeads: 6 },
  vit_base_patch16_224: { ...imagenet, embedDim: 768, depth: 12, numHeads: 12 },
  vit_large_patch16_224: { ...imagenet, embedDim: 1024, depth: 24, numHeads: 16 },
  /** Fashion-MNIST / MNIST: patch 4 (49 patches), D 64, depth 4, 4 heads, MLP 128. */
  vit_mnist_small: { imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 64, depth: 4, numHeads: 4, mlpRatio: 2 },
  /** The same with 2 blocks: quick tests and overfitting checks. */
  vit_mnist_tiny: { imgSize: 28, patchSize: 4, inChans: 1, numClasses: 10, embedDim: 64, depth: 2, numHeads: 4, mlpRatio: 2 },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof presets;

/** A model from a preset, with the pooling and any override: `createVit('vit_mnist_small', 'ggem')`. */
export function createVit(name: PresetName, pooling: PoolingName, overrides: Partial<VitConfig> = {}): VisionTransformer {
  const p = presets[name];
  if (p === undefined) throw new Error(`createVit: unknown preset '${name as string}'; expected one of ${Object.keys(presets).join(', ')}`);
  return new VisionTransformer({ ...p, pooling, ...overrides });
}
