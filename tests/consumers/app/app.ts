/**
 * The consumer program of the matrix: what a user's app does with the published packages,
 * in any runtime. Tensors and backward; a GGeM ViT forward, backward and one AdamW step;
 * the weights saved to bytes and loaded into a fresh model, from bytes, a Blob and a URL.
 * Every build of the matrix runs it and must give the Node build's numbers.
 */
import { crossEntropy, Generator, optim, randn, tensor } from '@ggem/tensor';
import { createVit, loadWeights, weightsToBlob, weightsToBytes } from '@ggem/vit';

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
  return { grad: [...x.grad!.data], loss: loss.item(), logits: [...logits.data], reloaded, sources: sources.map(([name]) => name) };
}
