import { crossEntropy, Generator, nn, type Tensor } from '@ggem/tensor';
import type { Replica } from '@ggem/tensor/node';
import { createVit, type PresetName } from '@ggem/vit';

export interface VitReplicaArg {
  preset: PresetName;
  pooling: Parameters<typeof createVit>[1];
  seed: number;
}

/** The benchmark's ViT: timm's initialisation, but a drawn head (timm's zero head leaves every other gradient of the first step zero). */
export function benchVit({ preset, pooling, seed }: VitReplicaArg): ReturnType<typeof createVit> {
  const model = createVit(preset, pooling, { seed });
  nn.init.truncNormal(model.head.parameters()[0]!, { std: 0.02, generator: new Generator(seed + 7) });
  return model;
}

/** One replica of the benchmark's ViT for DataParallel: the cross-entropy of its logits. */
export function replica(arg: VitReplicaArg): Replica {
  const model = benchVit(arg);
  return { parameters: model.parameters(), loss: (x: Tensor, y: Tensor) => crossEntropy(model.forward(x), y) };
}
