/**
 * The consumer program of the matrix: what a user's app does with the published packages,
 * in any runtime. Tensors and backward; a GGeM ViT forward, backward and one AdamW step;
 * the weights saved to bytes and loaded into a fresh model, from bytes, a Blob and a URL;
 * an RGBA image (a real `ImageData` where the runtime has one) through timm's eval transform,
 * and the top-3 classes.
 * Every build of the matrix runs it and must give the Node build's numbers.
 */
import { crossEntropy, Generator, optim, randn, tensor } from '@ggem/tensor';
import { createVit, loadWeights, predict, preprocess, weightsToBlob, weightsToBytes } from '@ggem/vit';

export interface Result {
  /** d/dx of sum(x² · 3 + x), = 6x + 1 at x = [[1, 2], [3, -4]]. */
  grad: number[];
  loss: number;
  /** The logits after the AdamW step. */
  logits: number[];
  /** The logits of a fresh model that loaded the weights from bytes, a Blob and (where a URL can be made of it) a URL. */
  reloaded: number[][];
  /** How the weights were loaded, in the order of `reloaded`. */
  sources: string[];
  /** A 37×23 RGBA image preprocessed to 28² gray (every value), and the top-3 classes the model gives it. */
  preprocessed: number[];
  top: number[];
  /** Whether the pixels were a real ImageData. */
  imageData: boolean;
}

export async function run(): Promise<Result> {
  const x = tensor(
    [
      [1, 2],
      [3, -4],
    ],
    { requiresGrad: true },
  );
  x.mul(x).mul(3).add(x).sum().backward();

  const model = createVit('vit_mnist_tiny', 'ggem', { seed: 7 });
  const g = new Generator(11);
  const images = randn([4, 1, 28, 28], { generator: g });
  const labels = tensor([3, 1, 4, 1], { dtype: 'int32' });
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-3 });
  const loss = crossEntropy(model.forward(images), labels);
  loss.backward();
  opt.step();
  model.eval();
  const logits = model.forward(images);

  const bytes = weightsToBytes(model, { format: 'pt' });
  const blob = weightsToBlob(model);
  const sources: [string, Parameters<typeof loadWeights>[1]][] = [
    ['bytes', bytes],
    ['blob', blob],
  ];
  if (typeof URL.createObjectURL === 'function') sources.push(['url', URL.createObjectURL(blob)]);
  const reloaded: number[][] = [];
  for (const [, source] of sources) {
    const fresh = createVit('vit_mnist_tiny', 'ggem', { seed: 8 }).eval();
    await loadWeights(fresh, source);
    reloaded.push([...fresh.forward(images).data]);
  }
  const rgba = Uint8ClampedArray.from({ length: 37 * 23 * 4 }, (_, i) => (i * 37 + (i >> 5) * 11) % 256);
  const imageData = typeof ImageData === 'function';
  const pixels = imageData ? new ImageData(rgba, 37, 23) : { data: rgba, width: 37, height: 23 };
  const pre = preprocess(pixels, { inputSize: 28, cropPct: 0.9, mean: [0.5], std: [0.5] });
  const top = predict(model, pre, { k: 3 })[0]!.map((p) => p.index);
  return {
    grad: [...x.grad!.data],
    loss: loss.item(),
    logits: [...logits.data],
    reloaded,
    sources: sources.map(([name]) => name),
    preprocessed: [...pre.data],
    top,
    imageData,
  };
}
