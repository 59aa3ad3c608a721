/**
 * What a single run ends with: its figure beside a baseline the project measures on the same
 * images (a softmax regression on raw pixels), and a small report with its learning curve and
 * the trajectory of every p (`report.md`, `learning-curve.svg`, `p-trajectories.svg`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crossEntropy, Generator, Linear, noGrad, optim } from '@ggem/tensor';
import { makeBatch, shuffled } from './data/batches.js';
import type { Split } from './data/dataset.js';
import { accuracy } from './evaluate.js';
import { lineChart, renderSvg, smooth, type CurvePoint } from './plots.js';
import type { TrainOptions } from './options.js';
import type { TrainResult } from './train.js';

/** The full-data figure of the README (vit_mnist_small with patch 4, GGeM, 2 epochs, seed 0; docs/compare-full). */
export const FULL_DATA_REFERENCE =
  'on the full 60k/10k Fashion-MNIST, vit_mnist_small (patch 4) with GGeM reaches 84.1 % in 2 epochs (README; docs/compare-full)';

/**
 * Top-1 of a softmax regression on the normalised pixels, trained as the ViT is fed (batch
 * 64, AdamW 1e-3, no augmentation) for `epochs`: what a ViT must beat to have learned more
 * than a linear map of the pixels.
 */
export function linearBaseline(train: Split, test: Split, epochs = 2, seed = 0): number {
  const px = train.height * train.width;
  const g = new Generator(seed);
  const model = new Linear(px, 10, { generator: g });
  const opt = new optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0 });
  for (let e = 0; e < epochs; e++) {
    const order = shuffled(train.count, g);
    for (let b = 0; b < train.count; b += 64) {
      const { x, y } = makeBatch(train, order.subarray(b, Math.min(train.count, b + 64)), null, null);
      opt.zeroGrad();
      crossEntropy(model.forward(x.reshape([x.shape[0]!, px])), y).backward();
      opt.step();
    }
  }
  const all = Int32Array.from({ length: test.count }, (_, i) => i);
  const { x } = makeBatch(test, all, null, null);
  const predictions = noGrad(() => model.forward(x.reshape([test.count, px])).argmax(1).data);
  return accuracy(predictions, test.labels);
}

/** Writes report.md, learning-curve.svg and (for GeM / GGeM) p-trajectories.svg into the run's folder; returns their paths. */
export async function writeRunReport(o: TrainOptions, r: TrainResult, baseline: number, command: string): Promise<string[]> {
  const steps = readFileSync(join(r.out, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .filter((m) => m.type === 'step') as { step: number; loss: number; p?: number[] }[];
  const window = Math.max(1, Math.round(steps.length / 50));
  const loss: CurvePoint[] = smooth(
    steps.map((s) => s.loss),
    window,
  ).map((v, i) => ({ pooling: o.pooling, step: steps[i]!.step, value: v }));
  const p: CurvePoint[] = steps.flatMap((s) => (s.p ?? []).map((v, g) => ({ pooling: `group ${g}`, step: s.step, value: v })));
  const files = [join(r.out, 'report.md'), join(r.out, 'learning-curve.svg')];
  writeFileSync(files[1]!, await renderSvg(lineChart(`Training loss (moving average over ${window} steps)`, 'cross-entropy', loss, { zeroBased: true })));
  if (p.length > 0) {
    files.push(join(r.out, 'p-trajectories.svg'));
    writeFileSync(files[2]!, await renderSvg(lineChart('p of every group during training', 'p', p)));
  }
  const pct = (v: number) => `${(100 * v).toFixed(2)} %`;
  const last = r.history[r.history.length - 1];
  const lines = [
    `# ${o.preset}, ${o.pooling} pooling, ${o.epochs} epochs on the ${o.data} data`,
    '',
    `Command: \`${command}\``,
    '',
    '| | test top-1 |',
    '|---|---:|',
    `| this ViT | ${pct(r.final.testAcc)} |`,
    `| ${r.final.k}-NN on its pooled features | ${pct(r.final.knnAcc)} |`,
    `| softmax regression on the raw pixels, same images, 2 epochs (measured in this run) | ${pct(baseline)} |`,
    '',
    `For scale: ${FULL_DATA_REFERENCE}.`,
    '',
    '| epoch | train loss | train top-1 | test top-1 | p | seconds |',
    '|---:|---:|---:|---:|---|---:|',
    ...r.history.map(
      (h) =>
        `| ${h.epoch} | ${h.trainLoss.toFixed(4)} | ${pct(h.trainAcc)} | ${pct(h.testAcc)} | ${h.p.map((v) => v.toFixed(3)).join(' ')} | ${h.seconds.toFixed(0)} |`,
    ),
    '',
    '![training loss](learning-curve.svg)',
    ...(p.length > 0 ? ['', `![p of every group](p-trajectories.svg) (final: ${last?.p.map((v) => v.toFixed(3)).join(', ')})`] : []),
    '',
  ];
  writeFileSync(files[0]!, lines.join('\n'));
  return files;
}
